"""The ``plscaffold`` command line: parse options, call the API, print; errors become exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plscaffold import __version__
from plscaffold.errors import PlscaffoldError

if TYPE_CHECKING:
    from plscaffold.api import NewProjectResult

app = typer.Typer(
    name="plscaffold",
    help="Start and grow PyTorch Lightning projects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich's markdown renderer would triple the start-up time of --help.
    rich_markup_mode=None,
)


def _print(text: str = "") -> None:
    typer.echo(text)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn plscaffold's errors into a one-line message on stderr and their exit code."""
    try:
        yield
    except PlscaffoldError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(err.exit_code) from err
    except KeyboardInterrupt:
        typer.echo("Interrupted; nothing was written.", err=True)
        raise typer.Exit(130) from None


def _version_callback(value: bool) -> None:
    if value:
        _print(f"plscaffold {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Start and grow PyTorch Lightning projects."""


def _tree_lines(relpaths: list[str]) -> list[str]:
    """Indent sorted POSIX paths as a folder tree, folders before the files inside them."""
    lines: list[str] = []
    seen: set[str] = set()
    for relpath in relpaths:
        parts = relpath.split("/")
        for depth in range(len(parts) - 1):
            folder = "/".join(parts[: depth + 1])
            if folder not in seen:
                seen.add(folder)
                lines.append("  " * depth + parts[depth] + "/")
        lines.append("  " * (len(parts) - 1) + parts[-1])
    return lines


def _report_new(result: NewProjectResult) -> None:
    from plscaffold.answers import PRISTINE_DIR_RELPATH, STATE_DIR_RELPATH

    project_relpaths = [p for p in result.relpaths if not p.startswith(STATE_DIR_RELPATH + "/")]
    state_count = len(result.relpaths) - len(project_relpaths)
    verb = "Would create" if result.dry_run else "Created"
    _print(f"{verb} {result.project_abspath}/ ({len(project_relpaths)} files):")
    for line in _tree_lines(project_relpaths):
        _print("  " + line)
    _print(
        f"  {STATE_DIR_RELPATH}/  answers.json and {state_count - 1} pristine copies "
        f"under {PRISTINE_DIR_RELPATH}/, the base for later regeneration"
    )
    if result.dry_run:
        _print("Dry run: nothing was written.")
        return
    package = result.names.package_name
    _print()
    _print("Next steps:")
    _print(f"  cd {result.project_abspath}")
    _print('  pip install -e ".[test]"')
    _print("  pytest                      # the project's own tests, offline")
    _print(f"  {package} fit              # train with configs/default.yaml")
    _print(f"  {package} test --ckpt_path best")


def _ask(label: str, default: Any, choices: list[str] | None = None) -> Any:
    import click

    kind: Any = click.Choice(choices) if choices else type(default)
    return typer.prompt(label, default=default, type=kind)


@app.command()
def new(
    name: Annotated[
        str, typer.Argument(help="Project name: the folder, and the package with '-' as '_'.")
    ],
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-o", help="Folder to create the project in.")
    ] = Path("."),
    gpus: Annotated[
        int | None, typer.Option(help="GPUs per node: 0 trains on the CPU; N > 1 adds DDP.")
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="32-true, 16-mixed (GPU only) or bf16-mixed.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Network: cnn or mlp.")] = None,
    max_epochs: Annotated[int | None, typer.Option(help="Maximum training epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size per process.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    logger: Annotated[
        str | None, typer.Option(help="Experiment logger: tensorboard or csv.")
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="One-line description of the project.")
    ] = None,
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--input/--no-input",
            help="Prompt for options not given. Default: prompt only when stdin is a terminal.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the tree that would be written; write nothing.")
    ] = False,
) -> None:
    """Create a ready-to-run, tested PyTorch Lightning project in NAME/."""
    from plscaffold.api import new_project, project_defaults, project_options

    with _user_errors():
        given: dict[str, Any] = {
            "description": description,
            "gpus": gpus,
            "precision": precision,
            "model": model,
            "max_epochs": max_epochs,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "logger": logger,
        }
        if interactive is None:
            interactive = sys.stdin.isatty()
        if interactive:
            from plscaffold.options import template_choices
            from plscaffold.templates import bundled_project_template

            defaults = project_defaults()
            choices = template_choices(bundled_project_template())
            for key, value in given.items():
                if value is None:
                    given[key] = _ask(key.replace("_", " "), defaults[key], choices.get(key))
        options = project_options(name, **{k: v for k, v in given.items() if v is not None})
        result = new_project(options, output_dir=output_dir, dry_run=dry_run)
    _report_new(result)


def main() -> None:
    """Entry point of the ``plscaffold`` console script."""
    app()
