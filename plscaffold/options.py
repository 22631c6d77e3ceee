"""The generation options of ``plscaffold new``: their defaults, choices and checks."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plscaffold.errors import InvalidOptionError
from plscaffold.templates import Template, read_variables


@dataclass(frozen=True)
class ProjectOptions:
    """Every answer ``new`` records, named as the template's variables.

    ``cookiecutter.json`` defines them (see :func:`generation_options`); build one with
    :func:`resolve_options`, which takes the defaults from there.
    """

    values: Mapping[str, Any]

    @property
    def project_name(self) -> str:
        return str(self.values["project_name"])

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def answers(self) -> dict[str, Any]:
        """Return the options as the template's variables, for the context and answers file."""
        return dict(self.values)

    def with_answer(self, name: str, value: Any) -> ProjectOptions:
        """Return these options with one answer changed, unchecked."""
        return ProjectOptions({**self.values, name: value})


@dataclass(frozen=True)
class GenerationOption:
    """An answer that ``new`` and ``generate`` take as a command-line option.

    Attributes:
        name: The template variable, and the option's name with ``-`` for ``_``.
        value_type: ``int``, ``float`` or ``str``, as the default in ``cookiecutter.json``.
        default: The template's default (a choice variable's first choice).
        choices: The choices of a choice variable; empty otherwise.
        question: What ``new`` asks for it (the template's ``__prompts__``).
    """

    name: str
    value_type: type
    default: Any
    choices: tuple[str, ...]
    question: str


def _is_derived(raw: Any) -> bool:
    """Whether a variable's default is rendered from others (``package_name``), not asked."""
    return isinstance(raw, str) and ("{{" in raw or "{%" in raw)


def _option_variables(template: Template) -> dict[str, Any]:
    """Return the variables ``new`` records as answers: ``project_name`` and the options."""
    return {
        key: raw
        for key, raw in read_variables(template).items()
        if not key.startswith("_") and not _is_derived(raw) and not isinstance(raw, dict)
    }


def _value_type(raw: Any) -> type:
    if isinstance(raw, bool):
        return str  # not an option type the bundled template has: taken as text
    return type(raw) if isinstance(raw, (int, float)) else str


def generation_options(template: Template) -> list[GenerationOption]:
    """Return every answer but the project name, as ``cookiecutter.json`` defines it."""
    prompts = read_variables(template).get("__prompts__") or {}
    return [
        GenerationOption(
            name,
            _value_type(raw),
            raw[0] if isinstance(raw, list) else raw,
            tuple(str(choice) for choice in raw) if isinstance(raw, list) else (),
            str(prompts.get(name) or name.replace("_", " ")),
        )
        for name, raw in _option_variables(template).items()
        if name != "project_name"
    ]


def template_defaults(template: Template) -> dict[str, Any]:
    """Return each option's default as the template declares it (first choice for lists)."""
    return {option.name: option.default for option in generation_options(template)}


def resolve_options(template: Template, project_name: str, given: dict[str, Any]) -> ProjectOptions:
    """Combine the options a user gave with the template's defaults for the others.

    Raises:
        InvalidOptionError: an option is unknown or its value has the wrong type.
    """
    options = generation_options(template)
    known = ("project_name", *(option.name for option in options))
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidOptionError(
            f"unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    values: dict[str, Any] = {"project_name": _converted("project_name", project_name, str)}
    for option in options:
        value = given.get(option.name, option.default)
        values[option.name] = _converted(option.name, value, option.value_type)
    return ProjectOptions(values)


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
    for option in generation_options(template):
        value = options[option.name]
        if option.choices and str(value) not in option.choices:
            raise InvalidOptionError(
                f"{option_flag(option.name)} {value!r} is not one of "
                f"{', '.join(option.choices)}; pick one of those"
            )
    if options["gpus"] < 0:
        raise InvalidOptionError(
            f"--gpus {options['gpus']} is negative; pass 0 to train on the CPU or N >= 1 for N GPUs"
        )
    for name, (low, high) in RANGES.items():
        value = options[name]
        if value < low:
            raise InvalidOptionError(f"{option_flag(name)} {value} must be at least {low}")
        if value > high:
            shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:20]}..."
            raise InvalidOptionError(
                f"{option_flag(name)} {shown} is out of range; give {low} to {high}"
            )
    if not options["description"].isprintable():
        raise InvalidOptionError(
            f"--description {options['description']!r} holds a line break or another control "
            "character; give one line of text"
        )
    if not (options["lr"] > 0 and math.isfinite(options["lr"])):
        raise InvalidOptionError(f"--lr {options['lr']} must be a positive number, such as 0.001")
    if options["precision"] == "16-mixed" and options["gpus"] == 0:
        raise InvalidOptionError(
            "--precision 16-mixed needs a GPU: float16 mixed precision is not supported on the "
            "CPU, where Lightning silently trains in bf16-mixed instead; pass --gpus 1 or more, "
            "or use --precision bf16-mixed on the CPU"
        )
    if options["strategy"] == "fsdp" and options["gpus"] == 0:
        raise InvalidOptionError(
            "--strategy fsdp needs GPUs: Lightning's FSDP strategy requires a GPU accelerator; "
            "pass --gpus 1 or more, or use --strategy ddp to train on several CPU processes"
        )
