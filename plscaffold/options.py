"""The generation options of ``plscaffold new``: their defaults, choices and checks."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from plscaffold.errors import InvalidOptionError
from plscaffold.templates import Template, read_variables


@dataclass(frozen=True)
class ProjectOptions:
    """Every answer ``new`` records; field names match the template's variables.

    Build one with :func:`resolve_options`, which takes the defaults from the template.
    """

    project_name: str
    description: str
    gpus: int
    strategy: str
    num_nodes: int
    precision: str
    model: str
    max_epochs: int
    batch_size: int
    lr: float
    seed: int
    logger: str

    def answers(self) -> dict[str, Any]:
        """Return the options as the template's variables, for the context and answers file."""
        return asdict(self)


OPTION_NAMES = tuple(field.name for field in fields(ProjectOptions))


@dataclass(frozen=True)
class GenerationOption:
    """An answer that ``new`` and ``generate`` take as a command-line option.

    Attributes:
        name: The template variable, and the option's name with ``-`` for ``_``.
        kind: ``int``, ``float`` or ``str``.
        default: The template's default (a choice variable's first choice).
        choices: The choices of a choice variable; empty otherwise.
        question: What ``new`` asks for it (the template's ``__prompts__``).
    """

    name: str
    kind: type
    default: Any
    choices: tuple[str, ...]
    question: str


def generation_options(template: Template) -> list[GenerationOption]:
    """Return every answer but the project name, as ``cookiecutter.json`` defines it."""
    prompts = read_variables(template).get("__prompts__") or {}
    defaults, choices = template_defaults(template), template_choices(template)
    return [
        GenerationOption(
            field.name,
            _KINDS.get(str(field.type), str),
            defaults[field.name],
            tuple(choices.get(field.name, ())),
            str(prompts.get(field.name) or field.name.replace("_", " ")),
        )
        for field in fields(ProjectOptions)
        if field.name != "project_name"
    ]


_KINDS: dict[str, type] = {"int": int, "float": float}


def template_choices(template: Template) -> dict[str, list[str]]:
    """Return the choice variables of the template (``precision``, ``model``, ...)."""
    return {
        key: [str(choice) for choice in value]
        for key, value in read_variables(template).items()
        if isinstance(value, list)
    }


def template_defaults(template: Template) -> dict[str, Any]:
    """Return each option's default as the template declares it (first choice for lists)."""
    variables = read_variables(template)
    defaults: dict[str, Any] = {}
    for name in OPTION_NAMES:
        value = variables.get(name)
        defaults[name] = value[0] if isinstance(value, list) else value
    return defaults


def resolve_options(template: Template, project_name: str, given: dict[str, Any]) -> ProjectOptions:
    """Combine the options a user gave with the template's defaults for the others.

    Raises:
        InvalidOptionError: an option is unknown or its value has the wrong type.
    """
    unknown = sorted(set(given) - set(OPTION_NAMES))
    if unknown:
        raise InvalidOptionError(
            f"unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTION_NAMES)}"
        )
    values: dict[str, Any] = {**template_defaults(template), **given, "project_name": project_name}
    converted: dict[str, Any] = {}
    for field in fields(ProjectOptions):
        kind = _KINDS.get(str(field.type), str)
        converted[field.name] = _converted(field.name, values[field.name], kind)
    return ProjectOptions(**converted)


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def _converted(name: str, value: Any, kind: type) -> Any:
    """Return ``value`` as ``kind``, refusing what a flag of that type would refuse.

    An answer read back from a file is held to the same: ``1.5`` is no batch size, and
    ``true`` no number of GPUs.

    Raises:
        InvalidOptionError: the value is not of the option's type.
    """
    shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:40]}..."
    if isinstance(value, bool) or (kind is not str and isinstance(value, str) and not value):
        ok = False
    elif kind is int:
        ok = (isinstance(value, int) and abs(value) < 10**18) or (
            isinstance(value, str) and _INTEGER.fullmatch(value.strip()) is not None
        )
    elif kind is float:
        ok = isinstance(value, (int, float)) or (
            isinstance(value, str) and len(value) <= 40 and _is_float(value)
        )
    else:
        ok = isinstance(value, str)
    try:
        if ok:
            return kind(value)
    except (OverflowError, ValueError):  # a whole number too large for a float
        pass
    raise InvalidOptionError(f"{option_flag(name)} {shown} is not a valid {kind.__name__}")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def option_flag(name: str) -> str:
    """Return the command-line option of an answer: ``max_epochs`` is ``--max-epochs``."""
    return "--" + name.replace("_", "-")


RANGES: dict[str, tuple[int, int]] = {
    "gpus": (0, 1024),  # per node; 0 trains on the CPU
    "num_nodes": (1, 100_000),
    "max_epochs": (1, 10_000_000),
    "batch_size": (1, 1 << 24),
    "seed": (0, 2**32 - 1),  # what seed_everything accepts
}
"""The whole-number options' ranges, for flags and for answers read back alike."""


def validate_options(options: ProjectOptions, template: Template) -> None:
    """Check each option's range and choices, and the combinations Lightning refuses.

    Raises:
        InvalidOptionError: the message names the option, the value and the fix.
    """
    for name, choices in template_choices(template).items():
        value = getattr(options, name, None)
        if value is not None and str(value) not in choices:
            raise InvalidOptionError(
                f"{option_flag(name)} {value!r} is not one of {', '.join(choices)}; "
                "pick one of those"
            )
    if options.gpus < 0:
        raise InvalidOptionError(
            f"--gpus {options.gpus} is negative; pass 0 to train on the CPU or N >= 1 for N GPUs"
        )
    for name, (low, high) in RANGES.items():
        value = getattr(options, name)
        if value < low:
            raise InvalidOptionError(f"{option_flag(name)} {value} must be at least {low}")
        if value > high:
            shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:20]}..."
            raise InvalidOptionError(
                f"{option_flag(name)} {shown} is out of range; give {low} to {high}"
            )
    if not options.description.isprintable():
        raise InvalidOptionError(
            f"--description {options.description!r} holds a line break or another control "
            "character; give one line of text"
        )
    if not (options.lr > 0 and math.isfinite(options.lr)):
        raise InvalidOptionError(f"--lr {options.lr} must be a positive number, such as 0.001")
    if options.precision == "16-mixed" and options.gpus == 0:
        raise InvalidOptionError(
            "--precision 16-mixed needs a GPU: float16 mixed precision is not supported on the "
            "CPU, where Lightning silently trains in bf16-mixed instead; pass --gpus 1 or more, "
            "or use --precision bf16-mixed on the CPU"
        )
    if options.strategy == "fsdp" and options.gpus == 0:
        raise InvalidOptionError(
            "--strategy fsdp needs GPUs: Lightning's FSDP strategy requires a GPU accelerator; "
            "pass --gpus 1 or more, or use --strategy ddp to train on several CPU processes"
        )
