"""Shell completion of names: a project's components and experiments, built-in templates.

Each function runs when the shell asks (``plscaffold generate <TAB>``); a folder that is no
project completes to nothing rather than to an error.
"""

from __future__ import annotations

from pathlib import Path

import typer

from plscaffold.errors import PlscaffoldError


def _starting(names: list[str], incomplete: str) -> list[str]:
    """The names that start with what is typed; a name holding a control character (from a
    file name) is left out, since the shell would print it raw."""
    from plscaffold.cli.output import printable

    return [name for name in names if name.startswith(incomplete) and printable(name) == name]


def _project(ctx: typer.Context) -> Path:
    """The project the command names with --project, when given before the completed word."""
    return Path(ctx.params.get("project") or ".")


def _experiments(ctx: typer.Context) -> list[str]:
    from plscaffold.api import experiment_names

    try:
        return experiment_names(_project(ctx))
    except PlscaffoldError:
        return []


def complete_component(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete a component of the project (``model``, ``config``, an added one, ...)."""
    from plscaffold.api import project_components

    try:
        # A TAB clones nothing; a template with extensions needs --trust on the line.
        trust = bool(ctx.params.get("trust"))
        names = list(project_components(_project(ctx), trust=trust, fetch=False))
    except PlscaffoldError:
        return []
    return _starting(names, incomplete)


def complete_compared(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete what ``experiment compare`` takes: experiments, and sweeps by their name.

    A sweep's points (``lr-0``, ``lr-1``, ...) are offered once its name and ``-`` are
    typed; names already on the command line are not offered again.
    """
    from plscaffold.api import sweep_names

    try:
        sweeps = sweep_names(_project(ctx))
    except PlscaffoldError:
        return []
    typed_sweep = any(incomplete.startswith(f"{sweep}-") for sweep in sweeps)
    points = {point for members in sweeps.values() for point in members}
    names = [name for name in _experiments(ctx) if typed_sweep or name not in points]
    given = set(ctx.params.get("names") or [])
    return [name for name in _starting(sorted({*names, *sweeps}), incomplete) if name not in given]


def complete_parent(ctx: typer.Context, incomplete: str) -> list[str]:
    """Complete a parent: ``default``, an experiment, or a built-in template."""
    from plscaffold.api import experiment_templates

    return _starting(["default", *_experiments(ctx), *experiment_templates()], incomplete)


def complete_kind(incomplete: str) -> list[str]:
    """Complete what ``plscaffold add`` adds (a GAN is ``model --kind gan``)."""
    from plscaffold.api import addable_kinds

    return _starting(addable_kinds(), incomplete)
