"""Shell completion of names: a project's components and experiments, built-in templates.

Each function runs when the shell asks (``plscaffold generate <TAB>``); a folder that is no
project completes to nothing rather than to an error. A TAB only reads: it writes nothing,
it does not finish or undo a change a killed run left half made (the next command that
changes the project does), and it prints nothing over the line being typed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer

from plscaffold.api import (
    addable_kinds,
    experiment_names,
    experiment_templates,
    project_components,
    sweep_names,
)
from plscaffold.cli.output import printable
from plscaffold.errors import PlscaffoldError, PlscaffoldNotice

T = TypeVar("T")


def _read(names_of: Callable[[Path], T], ctx: typer.Context, empty: T) -> T:
    """Return ``names_of`` the project on the command line, or ``empty`` where that fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlscaffoldNotice)
        try:
            return names_of(_project(ctx))
        except PlscaffoldError:
            return empty


def _starting(names: list[str], incomplete: str) -> list[str]:
    """The names that start with what is typed; a name holding a control character (from a
    file name) is left out, since the shell would print it raw."""
    return [name for name in names if name.startswith(incomplete) and printable(name) == name]


def _project(ctx: typer.Context) -> Path:
    """The project the command names with --project, when given before the completed word."""
    return Path(ctx.params.get("project") or ".")


def _experiments(ctx: typer.Context) -> list[str]:
    return _read(experiment_names, ctx, [])


def complete_component(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete a component of the project (``model``, ``config``, an added one, ...)."""
    # A TAB clones nothing; a template with extensions needs --trust on the line.
    trust = bool(ctx.params.get("trust"))
    names: list[str] = _read(
        lambda project: list(project_components(project, trust=trust, fetch=False)), ctx, []
    )
    return _starting(names, incomplete)


def complete_compared(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete what ``experiment compare`` takes: experiments, and sweeps by their name.

    A sweep's points (``lr-0``, ``lr-1``, ...) are offered once its name and ``-`` are
    typed; names already on the command line are not offered again.
    """
    sweeps: dict[str, list[str]] = _read(sweep_names, ctx, {})
    typed_sweep = any(incomplete.startswith(f"{sweep}-") for sweep in sweeps)
    points = {point for members in sweeps.values() for point in members}
    names = [name for name in _experiments(ctx) if typed_sweep or name not in points]
    given = set(ctx.params.get("names") or [])
    return [name for name in _starting(sorted({*names, *sweeps}), incomplete) if name not in given]


def complete_parent(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete a parent: ``default``, an experiment, or a built-in template."""
    return _starting(["default", *_experiments(ctx), *experiment_templates()], incomplete)


def complete_kind(incomplete: str) -> list[str]:
    """Complete what ``plscaffold add`` adds (a GAN is ``model --kind gan``)."""
    return _starting(addable_kinds(), incomplete)
