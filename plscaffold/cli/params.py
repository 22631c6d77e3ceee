"""The options commands share, and the generation options, defined once from cookiecutter.json."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from plscaffold.api import generation_options

# Paths are taken as text and checked by plscaffold, which names a bad one (a NUL byte,
# a name too long) instead of failing inside the argument parser.
ProjectOption = Annotated[
    str,
    typer.Option(
        "--project", "-p", help="The project; default: the one around the current folder."
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Show what would be written (new: the tree; others: a diff of each change); "
        "write nothing.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")]
RestoreOption = Annotated[
    bool, typer.Option("--restore", help="Recreate generated files you deleted.")
]
AllowDirtyOption = Annotated[
    bool,
    typer.Option("--allow-dirty", help="Write into a git work tree with uncommitted changes."),
]
TrustOption = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Render a template with hooks or Jinja extensions unsandboxed, with its "
        "extensions; its hooks run when a project is created, never again.",
    ),
]
CheckoutOption = Annotated[
    str | None,
    typer.Option(
        "--checkout",
        help="For a git template: the branch, tag or commit to render (new: default "
        "branch; update: the newest version tag).",
    ),
]
NoConflictsOption = Annotated[
    bool,
    typer.Option(
        "--no-conflicts", help="Refuse, writing nothing, if any file would get conflict markers."
    ),
]


def _completing(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """Return a shell completion of one option's choices."""

    def complete(incomplete: str) -> list[str]:
        return [choice for choice in choices if choice.startswith(incomplete)]

    return complete


def _generation_parameters() -> list[inspect.Parameter]:
    """One keyword parameter per generation option, typed and described for Typer.

    A choice's values show in --help as its metavar ([cnn|mlp]); the API checks them, so a
    wrong one gets plscaffold's message like any other bad option.
    """
    parameters = []
    for option in generation_options():
        metavar = f"[{'|'.join(option.choices)}]" if option.choices else None
        parameter_info = typer.Option(
            help=f"{option.question}. [default: {option.default}]",
            metavar=metavar,
            show_default=False,
            autocompletion=_completing(option.choices) if option.choices else None,
        )
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[option.value_type | None, parameter_info],
            )
        )
    return parameters


def with_generation_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command one option per answer of the bundled template, passed as ``answers``.

    ``answers`` holds the options given on the command line only.
    """
    signature = inspect.signature(command, eval_str=True)
    extra = _generation_parameters()
    names = [parameter.name for parameter in extra]

    @functools.wraps(command)
    def with_answers(*args: Any, **kwargs: Any) -> None:
        given = {name: kwargs.pop(name) for name in names}
        answers = {name: value for name, value in given.items() if value is not None}
        command(*args, answers=answers, **kwargs)

    kept = [p for p in signature.parameters.values() if p.name != "answers"]
    with_answers.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*kept, *extra]
    )
    return with_answers
