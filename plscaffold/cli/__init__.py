"""The ``plscaffold`` command line: parse options, call the API, print; errors become exit codes.

Each command lives with its family (``project``, ``experiment``); only the API is called,
and only ``output.user_errors`` turns plscaffold's errors into messages and exit codes.
"""

from __future__ import annotations

from typing import Annotated

import typer

from plscaffold import __version__
from plscaffold.api import bundled_template_version
from plscaffold.cli import experiment, project
from plscaffold.cli.output import echo, watch_signals

app = typer.Typer(
    name="plscaffold",
    help="Start and grow PyTorch Lightning projects.",
    no_args_is_help=True,
    # --install-completion and --show-completion (bash, zsh, fish, PowerShell).
    add_completion=True,
    pretty_exceptions_enable=False,
    # Plain help text: rich's markdown renderer would triple the start-up time of --help.
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        template = bundled_template_version() or "unversioned"
        echo(f"plscaffold {__version__} (bundled project template {template})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version_callback,
            is_eager=True,
            help="Print plscaffold's version and its bundled template's.",
        ),
    ] = False,
) -> None:
    """Start and grow PyTorch Lightning projects."""


# Short summaries for the command table: Click cuts a longer docstring at 80 columns.
app.command(short_help="Create a new, tested Lightning project.")(project.new)
app.command(short_help="Regenerate one component, keeping your edits.")(project.generate)
app.command("g", hidden=True, help="Alias of generate.")(project.generate)
app.command(short_help="Re-render the project with this plscaffold's templates.")(project.update)
app.command(short_help="Add a model, GAN, datamodule or callback.")(project.add)
app.command("list", short_help="List the project's components and their files.")(
    project.list_components
)
app.command(short_help="List changed files and what an update would change.")(project.status)
app.add_typer(
    experiment.app, name="experiment", short_help="Create, list, compare and sweep experiments."
)


def main() -> None:
    """Entry point of the ``plscaffold`` console script."""
    watch_signals()
    app()


__all__ = ["app", "main"]
