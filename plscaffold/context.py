"""The context a template renders with, built as ``cookiecutter --no-input`` builds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2.exceptions import SecurityError

from plscaffold.environment import compiled, sandbox_refusal, template_environment
from plscaffold.errors import PlscaffoldError, TemplateError, failure
from plscaffold.templates import Template, read_variables


def build_context(template: Template, answers: dict[str, Any]) -> dict[str, Any]:
    """Build the rendering context as ``cookiecutter --no-input`` would, answers as data.

    Variables are taken in ``cookiecutter.json`` order. An answer is a value: it is
    checked against a choice variable's options and converted for a boolean one, and
    never rendered as a template. Without an answer, a variable's default is rendered
    with the values before it (a choice's first option, a dictionary's keys and values
    in a second pass), in the template's environment: the sandbox unless trusted.
    ``_private`` variables are copied and ``__private`` ones rendered, as cookiecutter does.

    Raises:
        TemplateError: a default cannot be rendered, or an answer is not one of its choices.
        UntrustedTemplateError: a default needs more than the sandbox allows.
    """
    variables = read_variables(template)
    env = template_environment(template, variables)
    values: dict[str, Any] = {}

    def render(raw: Any) -> Any:
        if raw is None or isinstance(raw, bool):
            return raw
        if isinstance(raw, dict):
            return {render(key): render(value) for key, value in raw.items()}
        if isinstance(raw, list):
            return [render(item) for item in raw]
        return compiled(env, str(raw)).render(cookiecutter=values)

    for dictionaries in (False, True):
        for key, raw in variables.items():
            if key == "__prompts__" or isinstance(raw, dict) != dictionaries:
                continue
            try:
                if key.startswith("_") and not key.startswith("__"):
                    values[key] = raw
                elif key in answers and not key.startswith("_"):
                    values[key] = _answer_value(template, key, raw, answers[key], render)
                else:
                    values[key] = render(raw[0] if isinstance(raw, list) and raw else raw)
            except SecurityError as err:
                where = f"{template.context_file_abspath}: variable {key!r}"
                raise sandbox_refusal(where, err) from err
            except PlscaffoldError:
                raise
            except Exception as err:
                where = f"{template.context_file_abspath}: cannot render variable {key!r}"
                raise TemplateError(failure(where, err)) from err
    return {"cookiecutter": values}


def _answer_value(
    template: Template, key: str, raw: Any, answer: Any, render: Callable[[Any], Any]
) -> Any:
    """Return an answer as the context holds it: a choice's option, a boolean, or text."""
    if isinstance(raw, list):
        options = render(raw)
        chosen = next((option for option in options if str(option) == str(answer)), None)
        if chosen is None:
            raise TemplateError(
                f"{answer!r} is not one of the choices of {key!r} in {template.ref}: "
                f"{', '.join(str(option) for option in options)}"
            )
        return chosen
    if isinstance(raw, bool) and not isinstance(answer, bool):
        text = str(answer).strip().lower()
        if text not in _BOOLEANS:
            raise TemplateError(f"{answer!r} for {key!r} in {template.ref} is not yes or no")
        return _BOOLEANS[text]
    if answer is None or isinstance(answer, (bool, dict, list)):
        return answer
    return str(answer)  # as cookiecutter holds every scalar: text


_BOOLEANS = {
    **dict.fromkeys(("1", "true", "t", "yes", "y", "on"), True),
    **dict.fromkeys(("0", "false", "f", "no", "n", "off"), False),
}
