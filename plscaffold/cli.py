"""The ``plscaffold`` command line: parse options, call the API, print; errors become exit codes."""

from __future__ import annotations

import json
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plscaffold import __version__
from plscaffold.errors import InterruptedAfterWrite, PlscaffoldError, PlscaffoldNotice

if TYPE_CHECKING:
    from plscaffold.api import NewProjectResult, SyncResult

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
    """Turn plscaffold's errors and interrupts into a message on stderr and an exit code.

    Once the work is done, SIGINT and SIGTERM get their default action back: an interrupt
    while the result is printed ends the process without a misleading message.
    """
    try:
        with warnings.catch_warnings(record=True) as notices:
            warnings.simplefilter("always", PlscaffoldNotice)
            try:
                yield
            finally:
                for notice in notices:
                    if issubclass(notice.category, PlscaffoldNotice):
                        typer.echo(f"Note: {notice.message}", err=True)
    except PlscaffoldError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(err.exit_code) from err
    except KeyboardInterrupt as interrupt:
        signum = interrupt.args[0] if interrupt.args else signal.SIGINT
        name = signal.Signals(signum).name
        if isinstance(interrupt, InterruptedAfterWrite):
            typer.echo(f"Interrupted by {name} after every change was written.", err=True)
        else:
            typer.echo(f"Interrupted by {name}; nothing was written.", err=True)
        raise typer.Exit(128 + signum) from None
    if signal.getsignal(signal.SIGTERM) is _interrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


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
    _print()
    _print("Next steps:")
    _print(f"  cd {result.project_abspath}")
    if result.names is None:
        return  # a user template: its own README says what comes next
    package = result.names.package_name
    _print('  pip install -e ".[test]"')
    _print("  pytest                      # the project's own tests, offline")
    _print(f"  {package} fit              # train with configs/default.yaml")
    _print(f"  {package} test --ckpt_path best")


def _ask(label: str, default: Any, choices: list[str] | None = None) -> Any:
    import click

    kind: Any = click.Choice(choices) if choices else type(default)
    return typer.prompt(label, default=default, type=kind)


GpusOption = Annotated[
    int | None, typer.Option(help="GPUs per node: 0 trains on the CPU; N > 1 adds DDP.")
]
StrategyOption = Annotated[
    str | None,
    typer.Option(help="auto (ddp for more than one GPU), ddp or fsdp (GPU only)."),
]
NumNodesOption = Annotated[int | None, typer.Option(help="Machines to train on.")]
PrecisionOption = Annotated[
    str | None, typer.Option(help="32-true, 16-mixed (GPU only) or bf16-mixed.")
]
ModelOption = Annotated[str | None, typer.Option(help="Network: cnn or mlp.")]
MaxEpochsOption = Annotated[int | None, typer.Option(help="Maximum training epochs.")]
BatchSizeOption = Annotated[int | None, typer.Option(help="Batch size per process.")]
LrOption = Annotated[float | None, typer.Option(help="Learning rate.")]
SeedOption = Annotated[int | None, typer.Option(help="Random seed.")]
LoggerOption = Annotated[str | None, typer.Option(help="Experiment logger: tensorboard or csv.")]
DescriptionOption = Annotated[str | None, typer.Option(help="One-line description of the project.")]
# Paths are taken as text and checked by plscaffold, which names a bad one (a NUL byte,
# a name too long) instead of failing inside the argument parser.
ProjectOption = Annotated[
    str,
    typer.Option(
        "--project", "-p", help="The project; default: the one around the current folder."
    ),
]
DryRunDiffOption = Annotated[
    bool, typer.Option("--dry-run", help="Print a unified diff of each change; write nothing.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")]
RestoreOption = Annotated[
    bool, typer.Option("--restore", help="Recreate generated files you deleted.")
]
AllowDirtyOption = Annotated[
    bool,
    typer.Option("--allow-dirty", help="Write into a git work tree with uncommitted changes."),
]
NoConflictsOption = Annotated[
    bool,
    typer.Option(
        "--no-conflicts", help="Refuse, writing nothing, if any file would get conflict markers."
    ),
]


@app.command()
def new(
    name: Annotated[
        str, typer.Argument(help="Project name: the folder, and the package with '-' as '_'.")
    ],
    output_dir: Annotated[
        str, typer.Option("--output-dir", "-o", help="Folder to create the project in.")
    ] = ".",
    gpus: GpusOption = None,
    strategy: StrategyOption = None,
    num_nodes: NumNodesOption = None,
    precision: PrecisionOption = None,
    model: ModelOption = None,
    max_epochs: MaxEpochsOption = None,
    batch_size: BatchSizeOption = None,
    lr: LrOption = None,
    seed: SeedOption = None,
    logger: LoggerOption = None,
    description: DescriptionOption = None,
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
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="Another cookiecutter-format template: a folder, or a git/hg/zip URL.",
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option("--trust", help="Allow the template's hooks and Jinja extensions to run."),
    ] = False,
) -> None:
    """Create a ready-to-run, tested PyTorch Lightning project in NAME/."""
    from plscaffold.api import (
        new_project,
        new_project_from_template,
        project_defaults,
        project_options,
    )

    with _user_errors():
        given: dict[str, Any] = {
            "description": description,
            "gpus": gpus,
            "strategy": strategy,
            "num_nodes": num_nodes,
            "precision": precision,
            "model": model,
            "max_epochs": max_epochs,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "logger": logger,
        }
        if template is not None:
            result = new_project_from_template(
                template, name, Path(output_dir), _changes(**given), trust=trust, dry_run=dry_run
            )
            _report_new(result)
            return
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
        options = project_options(name, **_changes(**given))
        result = new_project(options, output_dir=Path(output_dir), dry_run=dry_run)
    _report_new(result)


def _report_sync(result: SyncResult, verb: str, dry_run: bool, as_json: bool) -> None:
    """Print what a regenerate, update or add did; exit 1 if it wrote conflicts."""
    from plscaffold.merge import plan_diff

    if as_json:
        files = [
            {
                "path": plan.relpath,
                "outcome": plan.outcome.value,
                "writes": plan.writes or plan.removes,
                "diff": plan_diff(plan),
            }
            for plan in result.plans
        ]
        document = {
            "project": str(result.project_abspath),
            "dry_run": result.dry_run,
            "files": files,
            "conflicts": result.conflicts,
        }
        _print(json.dumps(document, indent=2))
    else:
        if dry_run:
            for plan in result.plans:
                diff = plan_diff(plan)
                if diff:
                    _print(diff.rstrip("\n"))
        _print(f"{'Would ' + verb.lower() if dry_run else verb} in {result.project_abspath}:")
        width = max((len(plan.outcome.value) for plan in result.plans), default=0)
        for plan in result.plans:
            _print(f"  {plan.outcome.value:<{width}}  {plan.relpath}")
        if dry_run:
            _print("Dry run: nothing was written.")
        if result.stale_components:
            names = " ".join(result.stale_components)
            _print(
                f"With the new answers these components render differently too: {names}. "
                f"Regenerate them with `plscaffold generate NAME`, or all with `plscaffold update`."
            )
    if result.conflicts and not dry_run:
        from plscaffold.merge import Outcome

        binary = [p.relpath for p in result.plans if p.outcome is Outcome.BINARY_CONFLICT]
        marked = [relpath for relpath in result.conflicts if relpath not in binary]
        if marked:
            typer.echo(
                f"Conflicts in {len(marked)} file(s): {', '.join(marked)}. Each holds both "
                "sides between <<<<<<< yours and >>>>>>> template; keep what you want, delete "
                "the markers, then run your tests.",
                err=True,
            )
        for relpath in binary:
            typer.echo(
                f"{relpath} is not UTF-8 text, so it cannot be merged: your file is kept as it "
                f"is, with no markers, and the template's new version is in "
                f".plscaffold/pristine/{relpath}; bring over what you want by hand.",
                err=True,
            )
        raise typer.Exit(1)


def _changes(**given: Any) -> dict[str, Any]:
    """Return the options given on the command line (those not left at None)."""
    return {key: value for key, value in given.items() if value is not None}


@app.command()
def generate(
    component: Annotated[
        str, typer.Argument(help="Component to regenerate; `plscaffold list` shows them.")
    ],
    project: ProjectOption = ".",
    gpus: GpusOption = None,
    strategy: StrategyOption = None,
    num_nodes: NumNodesOption = None,
    precision: PrecisionOption = None,
    model: ModelOption = None,
    max_epochs: MaxEpochsOption = None,
    batch_size: BatchSizeOption = None,
    lr: LrOption = None,
    seed: SeedOption = None,
    logger: LoggerOption = None,
    description: DescriptionOption = None,
    restore: RestoreOption = False,
    no_conflicts: NoConflictsOption = False,
    dry_run: DryRunDiffOption = False,
    as_json: JsonOption = False,
    only: Annotated[
        bool,
        typer.Option(
            "--only",
            help="Regenerate this component alone, even when the new answers change others.",
        ),
    ] = False,
    allow_dirty: AllowDirtyOption = False,
) -> None:
    """Regenerate one component, merging the template's changes with yours (alias: g).

    Files you did not touch are replaced; files you edited keep your edits, merged with the
    template's changes; lines both changed get conflict markers and the command exits 1.
    Options given here change the recorded answers first, and the other components they
    render differently are regenerated too (--only: not).
    """
    from plscaffold.api import regenerate

    changes = _changes(
        gpus=gpus, strategy=strategy, num_nodes=num_nodes, precision=precision, model=model,
        max_epochs=max_epochs, batch_size=batch_size, lr=lr, seed=seed, logger=logger,
        description=description,
    )  # fmt: skip
    with _user_errors():
        result = regenerate(
            component, Path(project), changes, restore=restore, no_conflicts=no_conflicts,
            dry_run=dry_run, only=only, allow_dirty=allow_dirty,
        )  # fmt: skip
    _report_sync(result, f"Regenerated {component}", dry_run, as_json)


app.command("g", hidden=True, help="Alias of generate.")(generate)


@app.command()
def update(
    project: ProjectOption = ".",
    allow_dirty: AllowDirtyOption = False,
    restore: RestoreOption = False,
    no_conflicts: NoConflictsOption = False,
    dry_run: DryRunDiffOption = False,
    as_json: JsonOption = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Update even with an older plscaffold than wrote the project."
        ),
    ] = False,
) -> None:
    """Re-render every component with this plscaffold's templates, keeping your edits."""
    from plscaffold.api import update as update_project

    with _user_errors():
        result = update_project(
            Path(project), allow_dirty=allow_dirty, restore=restore, no_conflicts=no_conflicts,
            dry_run=dry_run, force=force,
        )  # fmt: skip
    _report_sync(result, "Updated", dry_run, as_json)


@app.command()
def add(
    kind: Annotated[str, typer.Argument(help="What to add: model, datamodule or callback.")],
    name: Annotated[str, typer.Argument(help="Its name: letters, digits, '-' and '_'.")],
    project: ProjectOption = ".",
    dry_run: DryRunDiffOption = False,
) -> None:
    """Add a component with its config and its test, selectable from the entry point."""
    from plscaffold.api import add_component

    with _user_errors():
        result = add_component(kind, name, Path(project), dry_run=dry_run)
    _report_sync(result, f"Added {kind} {name}", dry_run, as_json=False)


@app.command("list")
def list_components(project: ProjectOption = ".") -> None:
    """List the project's components and their files."""
    from plscaffold.api import project_components

    with _user_errors():
        components = project_components(Path(project))
    for name, relpaths in components.items():
        _print(f"{name}:")
        for relpath in relpaths:
            _print(f"  {relpath}")


@app.command()
def status(project: ProjectOption = ".") -> None:
    """List generated files you changed or deleted, and those an update would change."""
    from plscaffold.api import project_status

    with _user_errors():
        statuses = project_status(Path(project))
    if not statuses:
        _print("Every generated file is as plscaffold rendered it, and an update changes nothing.")
        return
    for item in statuses:
        marks = [
            label
            for label, flag in (
                ("modified", item.modified),
                ("deleted", item.deleted),
                ("conflict markers", item.conflict_markers),
                ("update changes it", item.update_changes),
            )
            if flag
        ]
        _print(f"  {item.relpath}: {', '.join(marks)}")


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows as left-aligned columns under a header."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        _print("  ".join(cells).rstrip())


experiment_app = typer.Typer(
    help="Experiments: config files under configs/experiments/ that hold only what they change.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("new")
def experiment_new(
    name: Annotated[str, typer.Argument(help="Experiment name; its logs go to logs/NAME/.")],
    parent: Annotated[
        str,
        typer.Option("--from", help="Parent: default, another experiment, or a built-in template."),
    ] = "default",
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE to change, such as trainer.max_epochs=20."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What this experiment tries.")] = None,
    project: ProjectOption = ".",
) -> None:
    """Write configs/experiments/NAME.yaml, checked by the project's own entry point."""
    from plscaffold.api import new_experiment, project_package

    with _user_errors():
        path, document = new_experiment(name, Path(project), parent, assignments or [], description)
    _print(f"Created {path} (parent: {document['lineage']['parent']}).")
    from plscaffold.experiments import flatten

    for key, value in flatten(document).items():
        if not key.startswith("lineage"):
            _print(f"  {key}: {value}")
    _, package = project_package(Path(project))
    _print(f"Run it with: {package} fit --experiment {name}")


@experiment_app.command("templates")
def experiment_templates() -> None:
    """List the built-in experiment templates (use them with --from NAME)."""
    from plscaffold.experiments import builtin_experiments, flatten

    with _user_errors():
        for name, (description, keys) in builtin_experiments().items():
            _print(f"{name}: {description}")
            for key, value in flatten(keys).items():
                _print(f"    {key}: {value}")


@experiment_app.command("list")
def experiment_list(project: ProjectOption = ".") -> None:
    """Table of experiments: parent, changed keys, best monitored metric, last checkpoint."""
    from plscaffold.api import list_experiments

    with _user_errors():
        experiments = list_experiments(Path(project))
    if not experiments:
        _print("No experiments yet; create one with `plscaffold experiment new NAME`.")
        return
    header = ("name", "parent", "changed keys", "best", "epoch", "last checkpoint")
    rows = [
        (
            e.name,
            e.parent,
            ", ".join(e.changed_keys) or "-",
            f"{e.monitor}={e.best_value:.4f}" if e.best_value is not None else "-",
            str(e.best_epoch) if e.best_epoch is not None else "-",
            e.last_checkpoint_relpath or "-",
        )
        for e in experiments
    ]
    _print_table(header, rows)


@experiment_app.command("compare")
def experiment_compare(
    names: Annotated[list[str], typer.Argument(help="Two or more experiment names.")],
    project: ProjectOption = ".",
) -> None:
    """Show config differences side by side and plot validation curves to a PNG."""
    from plscaffold.api import compare_experiments

    with _user_errors():
        rows, png = compare_experiments(names, Path(project))
    header = ("key", *names)
    table = [(key, *(str(v) for v in values)) for key, values in rows]
    _print_table(header, table)
    if not table:
        _print("(the resolved configs are identical)")
    _print(f"Validation curves: {png}")


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into the same clean-up as Ctrl-C: every write path undoes itself."""
    raise KeyboardInterrupt(signum)


def main() -> None:
    """Entry point of the ``plscaffold`` console script."""
    signal.signal(signal.SIGTERM, _interrupt)
    app()
