"""Options are checked in one place, by the checks their template's cookiecutter.json declares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plscaffold.errors import InvalidNameError, InvalidOptionError, TemplateError
from plscaffold.options import (
    CHECKS_VARIABLE,
    REQUIREMENTS_VARIABLE,
    checked_options,
    generation_options,
    option_checks,
    option_requirements,
)
from plscaffold.templates import Template, bundled_project_template, load_template

REQUIREMENT = {"when": {"mode": "wide"}, "at_least": {"workers": 4}, "says": "needs 4 workers"}


def _template(folder: Path, **variables: Any) -> Template:
    """Write a template whose options are ``workers``, ``rate``, ``note`` and ``mode``."""
    (folder / "{{cookiecutter.project_name}}").mkdir(parents=True)
    declared = {
        "project_name": "x",
        "workers": 2,
        "rate": 0.5,
        "note": "",
        "mode": ["narrow", "wide"],
    }
    (folder / "cookiecutter.json").write_text(json.dumps({**declared, **variables}))
    return load_template(folder, str(folder))


@pytest.fixture
def checked(tmp_path: Path) -> Template:
    return _template(
        tmp_path / "t",
        _option_checks={
            "workers": {"min": 1, "max": 8, "below": "is too few; give 1 or more"},
            "rate": {"above": 0, "below": "must be a positive rate"},
            "note": {"one_line": True},
        },
        _option_requirements=[REQUIREMENT],
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"workers": 0}, "--workers 0 is too few; give 1 or more"),
        ({"workers": 9}, "--workers 9 is out of range; give 1 to 8"),
        ({"rate": 0.0}, "--rate 0.0 must be a positive rate"),
        ({"rate": float("inf")}, "--rate inf must be a positive rate"),
        ({"note": "a\nb"}, "--note 'a\\nb' holds a line break"),
        ({"mode": "tall"}, "--mode 'tall' is not one of narrow, wide"),
        ({"mode": "wide"}, "--mode wide needs 4 workers"),
    ],
)
def test_the_checks_of_cookiecutter_json_refuse_an_option(
    checked: Template, given: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidOptionError) as refused:
        checked_options(checked, {"project_name": "proj", **given})
    assert str(refused.value).startswith(message)


def test_options_within_their_checks_pass_with_defaults_for_the_rest(checked: Template) -> None:
    options = checked_options(checked, {"project_name": "proj", "mode": "wide", "workers": 4})
    assert options.answers() == {
        "project_name": "proj", "workers": 4, "rate": 0.5, "note": "", "mode": "wide",
    }  # fmt: skip


def test_choices_are_checked_before_ranges_and_ranges_before_requirements(
    checked: Template,
) -> None:
    with pytest.raises(InvalidOptionError, match="--mode 'tall' is not one of"):
        checked_options(checked, {"project_name": "p", "workers": 0, "mode": "tall"})
    with pytest.raises(InvalidOptionError, match="--workers 0 is too few"):
        checked_options(checked, {"project_name": "p", "workers": 0, "mode": "wide"})


def test_a_template_without_checks_checks_only_types_and_choices(tmp_path: Path) -> None:
    template = _template(tmp_path / "t")
    assert option_checks(template) == [] and option_requirements(template) == []
    assert checked_options(template, {"project_name": "p", "workers": -5})["workers"] == -5
    with pytest.raises(InvalidOptionError, match="is not a valid int"):
        checked_options(template, {"project_name": "p", "workers": "many"})


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({CHECKS_VARIABLE: {"threads": {"min": 1}}}, "'threads'"),
        ({CHECKS_VARIABLE: {"workers": {"least": 1}}}, "least"),
        ({CHECKS_VARIABLE: {"workers": {"min": "1"}}}, "their values"),
        ({CHECKS_VARIABLE: {"workers": {"min": float("nan")}}}, "their values"),
        ({CHECKS_VARIABLE: {"rate": {"min": 0, "above": 0}}}, "not both min and above"),
        ({CHECKS_VARIABLE: {"note": {"one_line": False}}}, "one_line (true)"),
        ({CHECKS_VARIABLE: ["workers"]}, "must map options"),
        ({REQUIREMENTS_VARIABLE: [{**REQUIREMENT, "when": {"mode": "tall"}}]}, "not a requirement"),
        ({REQUIREMENTS_VARIABLE: [{**REQUIREMENT, "at_least": {"note": 1}}]}, "not a requirement"),
        ({REQUIREMENTS_VARIABLE: [{"when": {"mode": "wide"}}]}, "not a requirement"),
        ({REQUIREMENTS_VARIABLE: {"mode": "wide"}}, "must be a list"),
    ],
)
def test_malformed_checks_are_a_template_error(
    tmp_path: Path, variables: dict[str, Any], named: str
) -> None:
    template = _template(tmp_path / "t", **variables)
    with pytest.raises(TemplateError) as refused:
        checked_options(template, {"project_name": "p"})
    assert named in str(refused.value) and "cookiecutter.json" in str(refused.value)


def test_the_bundled_template_declares_its_checks_for_options_it_has() -> None:
    template = bundled_project_template()
    names = {option.name for option in generation_options(template)}
    checked = [check.name for check in option_checks(template)]
    assert checked == ["gpus", "num_nodes", "max_epochs", "batch_size", "seed", "description", "lr"]
    assert set(checked) <= names
    assert [(r.option, r.choice) for r in option_requirements(template)] == [
        ("precision", "16-mixed"), ("strategy", "fsdp"),
    ]  # fmt: skip


def test_only_a_new_project_name_is_held_to_shadowing_nothing() -> None:
    template = bundled_project_template()
    assert checked_options(template, {"project_name": "torch"}).project_name == "torch"
    with pytest.raises(InvalidNameError, match="would shadow the installed module 'torch'"):
        checked_options(template, {"project_name": "torch"}, new_project=True)
    with pytest.raises(InvalidNameError, match="starts with a digit"):
        checked_options(template, {"project_name": "9lives"})
