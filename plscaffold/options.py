"""The generation options of ``plscaffold new``: their defaults, choices and checks, all read
from the template's ``cookiecutter.json``."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plscaffold.errors import InvalidOptionError, TemplateError
from plscaffold.names import project_names, validate_project_name
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


CHECKS_VARIABLE = "_option_checks"
"""``cookiecutter.json``'s checks of single options: ``{option: {field: value}}``, in the
order they are made. Fields: ``min`` and ``max`` (inclusive bounds), ``above`` (an
exclusive lower bound, for a float that must also be finite), ``below`` (what is said,
after the flag and its value, of a value under the lower bound; default ``must be at least
MIN``) and ``one_line`` (text without a line break or other control character)."""

REQUIREMENTS_VARIABLE = "_option_requirements"
"""``cookiecutter.json``'s combinations that cannot work: a list of ``{"when": {option:
choice}, "at_least": {option: number}, "says": text}``; ``says`` follows the flag and the
choice it refuses (``--precision 16-mixed needs a GPU: ...``)."""

_CHECK_FIELDS = {"min", "max", "above", "below", "one_line"}


@dataclass(frozen=True)
class OptionCheck:
    """The checks ``cookiecutter.json`` declares for one option (see :data:`CHECKS_VARIABLE`)."""

    name: str
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False
    below: str | None = None
    one_line: bool = False

    def refusal(self, value: Any) -> str | None:
        """Return why ``value`` fails these checks, after its flag; None where it passes."""
        if self.one_line and not str(value).isprintable():
            return (
                f"{value!r} holds a line break or another control character; give one line of text"
            )
        number_checked = self.low is not None or self.high is not None
        if not number_checked or isinstance(value, str):
            return None
        below = self.below or f"must be at least {_number(self.low)}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{value} {below}"
        if self.low is not None and (value <= self.low if self.low_exclusive else value < self.low):
            return f"{value} {below}"
        if self.high is not None and value > self.high:
            shown = str(value) if len(str(value)) <= 20 else f"{str(value)[:20]}..."
            return f"{shown} is out of range; give {_number(self.low)} to {_number(self.high)}"
        return None


@dataclass(frozen=True)
class OptionRequirement:
    """A choice that works only with another option at least some number (16-mixed: a GPU)."""

    option: str
    choice: str
    at_least: dict[str, float]
    says: str

    def refusal(self, options: ProjectOptions) -> str | None:
        """Return the whole message where ``options`` make this choice without its needs."""
        if str(options[self.option]) != self.choice:
            return None
        if all(options[name] >= least for name, least in self.at_least.items()):
            return None
        return f"{option_flag(self.option)} {self.choice} {self.says}"


def _number(value: float | None) -> str:
    return "" if value is None else str(int(value) if float(value).is_integer() else value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def option_checks(template: Template) -> list[OptionCheck]:
    """Return the checks of single options ``cookiecutter.json`` declares, in its order.

    Raises:
        TemplateError: :data:`CHECKS_VARIABLE` is not a mapping of the template's options
            to fields it knows, of the right types.
    """
    declared = read_variables(template).get(CHECKS_VARIABLE, {})
    known = {option.name for option in generation_options(template)}
    where = f"{template.context_file_abspath}: {CHECKS_VARIABLE}"
    if not isinstance(declared, dict):
        raise TemplateError(f"{where} must map options to their checks")
    checks = []
    for name, fields in declared.items():
        if name not in known or not isinstance(fields, dict) or not fields:
            raise TemplateError(
                f"{where} names {name!r}, which is not one of the options "
                f"({', '.join(sorted(known))}), or gives it no checks"
            )
        unknown = sorted(set(fields) - _CHECK_FIELDS)
        bounds = [fields[key] for key in ("min", "max", "above") if key in fields]
        if (
            unknown
            or not all(_is_number(bound) for bound in bounds)
            or ("min" in fields and "above" in fields)
            or not isinstance(fields.get("below", ""), str)
            or fields.get("one_line", True) is not True
        ):
            raise TemplateError(
                f"{where}: the checks of {name!r} must be min, max or above (numbers, not "
                "both min and above), below (text) or one_line (true); fix "
                f"{', '.join(unknown) or 'their values'}"
            )
        low = fields.get("min", fields.get("above"))
        checks.append(
            OptionCheck(
                name,
                low=low,
                high=fields.get("max"),
                low_exclusive="above" in fields,
                below=fields.get("below"),
                one_line=bool(fields.get("one_line", False)),
            )
        )
    return checks


def option_requirements(template: Template) -> list[OptionRequirement]:
    """Return the combinations ``cookiecutter.json`` refuses, in its order.

    Raises:
        TemplateError: :data:`REQUIREMENTS_VARIABLE` is not a list of requirements on the
            template's options, each a choice, the numbers it needs and what is said.
    """
    declared = read_variables(template).get(REQUIREMENTS_VARIABLE, [])
    options = {option.name: option for option in generation_options(template)}
    where = f"{template.context_file_abspath}: {REQUIREMENTS_VARIABLE}"
    if not isinstance(declared, list):
        raise TemplateError(f"{where} must be a list of requirements")
    requirements = []
    for entry in declared:
        when = entry.get("when") if isinstance(entry, dict) else None
        needs = entry.get("at_least") if isinstance(entry, dict) else None
        if not (
            isinstance(entry, dict)
            and set(entry) == {"when", "at_least", "says"}
            and isinstance(entry["says"], str)
            and isinstance(when, dict)
            and len(when) == 1
            and all(
                name in options and str(choice) in options[name].choices
                for name, choice in when.items()
            )
            and isinstance(needs, dict)
            and needs
            and all(
                name in options and options[name].value_type in (int, float) and _is_number(n)
                for name, n in needs.items()
            )
        ):
            raise TemplateError(
                f"{where}: {str(entry)[:80]!r} is not a requirement; give "
                '{"when": {OPTION: CHOICE}, "at_least": {NUMBER_OPTION: N}, "says": TEXT}, '
                "with options and choices of the template"
            )
        [(option, choice)] = when.items()
        requirements.append(OptionRequirement(option, str(choice), dict(needs), entry["says"]))
    return requirements


def validate_options(options: ProjectOptions, template: Template) -> None:
    """Check each option's choices, then the checks and requirements of ``cookiecutter.json``.

    Raises:
        InvalidOptionError: the message names the option, the value and the fix.
        TemplateError: the template's checks or requirements are malformed.
    """
    for option in generation_options(template):
        value = options[option.name]
        if option.choices and str(value) not in option.choices:
            raise InvalidOptionError(
                f"{option_flag(option.name)} {value!r} is not one of "
                f"{', '.join(option.choices)}; pick one of those"
            )
    for check in option_checks(template):
        refusal = check.refusal(options[check.name])
        if refusal is not None:
            raise InvalidOptionError(f"{option_flag(check.name)} {refusal}")
    for requirement in option_requirements(template):
        message = requirement.refusal(options)
        if message is not None:
            raise InvalidOptionError(message)


def checked_options(
    template: Template, answers: Mapping[str, Any], *, new_project: bool = False
) -> ProjectOptions:
    """Return ``answers`` (the project name among them) as options, once every check passed.

    This is the one check of a project's options, for a new project, a recorded answers
    file and a changed option alike: the name, each option's type (defaults filling the
    ones left out), then :func:`validate_options`.

    Args:
        template: The template the options are for.
        answers: Its variables' answers, by name.
        new_project: Also refuse a name whose package would shadow a module the project
            imports (a project that exists may well have its package installed).

    Raises:
        InvalidNameError: the project name cannot be a folder and a package.
        InvalidOptionError: an option is unknown, of the wrong type, or refused by a check.
    """
    given = dict(answers)
    project_name = str(given.pop("project_name", ""))
    if new_project:
        validate_project_name(project_name)
    options = resolve_options(template, project_name, given)
    if not new_project:
        project_names(options.project_name)
    validate_options(options, template)
    return options
