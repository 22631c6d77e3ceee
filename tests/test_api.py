"""The public API reads at its call sites: every flag is named where it is passed."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import plscaffold.api as api

FUNCTIONS = sorted(
    (name, value)
    for name, value in vars(api).items()
    if name in api.__all__ and inspect.isfunction(value)
)


def _flags(function: Callable[..., Any]) -> list[inspect.Parameter]:
    # The modules postpone annotations: each is the text written in the signature.
    hints = inspect.get_annotations(function)
    return [
        parameter
        for parameter in inspect.signature(function).parameters.values()
        if hints.get(parameter.name) in (bool, "bool")
    ]


def test_the_api_has_functions_with_flags() -> None:
    # The check below means something only if it sees the functions that take flags.
    flagged = {name for name, function in FUNCTIONS if _flags(function)}
    assert {"new_project", "regenerate", "update", "add_component"} <= flagged


@pytest.mark.parametrize(("name", "function"), FUNCTIONS, ids=[name for name, _ in FUNCTIONS])
def test_every_boolean_parameter_is_keyword_only(name: str, function: Callable[..., Any]) -> None:
    positional = [p.name for p in _flags(function) if p.kind is not inspect.Parameter.KEYWORD_ONLY]

    assert positional == [], f"{name} takes {positional} by position"
