"""The ``plscaffold`` command line: parse options, call the API, print; errors become exit codes.

Each command lives with its kind (``project``, ``experiment``); only the API is called,
and only ``output.user_errors`` turns plscaffold's errors into messages and exit codes.
"""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from plscaffold import __version__
from plscaffold.cli import experiment, project
from plscaffold.cli.output import echo, interrupt

app = typer.Typer(
    name="plscaffold",
    help="Start and grow PyTorch Lightning projects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich's markdown renderer would triple the start-up time of --help.
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        echo(f"plscaffold {__version__}")
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


app.command()(project.new)
app.command()(project.generate)
app.command("g", hidden=True, help="Alias of generate.")(project.generate)
app.command()(project.update)
app.command()(project.add)
app.command("list")(project.list_components)
app.command()(project.status)
app.add_typer(experiment.app, name="experiment")


def main() -> None:
    """Entry point of the ``plscaffold`` console script."""
    signal.signal(signal.SIGTERM, interrupt)
    app()


__all__ = ["app", "main"]
