"""Project names become a folder, a package and a class prefix, or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from plscaffold.errors import InvalidNameError
from plscaffold.names import (
    check_component_name,
    check_experiment_name,
    component_names,
    validate_project_name,
)


@pytest.mark.parametrize(
    ("name", "package", "class_name"),
    [
        ("myproj", "myproj", "Myproj"),
        ("my-proj", "my_proj", "MyProj"),
        ("Mnist_Net", "mnist_net", "MnistNet"),
        ("a--b__c", "a__b__c", "ABC"),
    ],
)
def test_names_are_derived(name: str, package: str, class_name: str) -> None:
    names = validate_project_name(name)

    assert (names.package_name, names.class_name) == (package, class_name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("class", "Python keyword"),
        ("9lives", "starts with a digit"),
        ("my proj", "holds ' '"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("café", "holds 'é'"),
        ("json", "would shadow"),
        ("pytorch-lightning", "would shadow"),
        ("numpy", "would shadow"),  # a dependency of every generated project
        ("yaml", "would shadow"),
        ("merge3", "would shadow"),  # importable in this Python
        ("typer", "would shadow"),
    ],
)
def test_bad_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(InvalidNameError, match=message):
        validate_project_name(name)


def test_a_module_installed_in_a_venv_inside_the_working_directory_is_shadowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder right in the working directory is excused (only ``python -m`` would import
    it), but a virtual environment there (``.venv``, the README's set-up) holds modules the
    project does import."""
    site = tmp_path / ".venv" / "lib" / "site-packages"
    (site / "installedmod").mkdir(parents=True)
    (site / "installedmod" / "__init__.py").write_text("")
    (tmp_path / "localmod").mkdir()
    (tmp_path / "localmod" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.raises(InvalidNameError, match="would shadow the installed module 'installedmod'"):
        validate_project_name("installedmod")
    assert validate_project_name("localmod").package_name == "localmod"


def test_a_component_name_gives_its_module_and_class_names() -> None:
    names = component_names("big-net")
    assert (names.package_name, names.class_name) == ("big_net", "BigNet")
    with pytest.raises(InvalidNameError, match="component name 'class' is a Python keyword"):
        component_names("class")
    with pytest.raises(InvalidNameError, match=r"component name '\.\./x' holds a path separator"):
        check_component_name("../x")


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("experiment", "9lives", "experiment name '9lives' starts with a digit"),
        ("experiment", "a/b", "experiment name 'a/b' holds a path separator"),
        ("experiment", "class", "(for example: class-experiment)"),
        ("sweep", "", "the sweep name is empty"),
        ("sweep", "lr grid", "sweep name 'lr grid' holds ' '"),
    ],
)
def test_an_experiment_or_sweep_name_is_refused_by_its_own_name(
    kind: str, name: str, message: str
) -> None:
    with pytest.raises(InvalidNameError) as refused:
        check_experiment_name(name, kind)
    assert message in str(refused.value)
    assert "component" not in str(refused.value)


def test_a_plain_experiment_name_passes() -> None:
    check_experiment_name("lr-small")
    check_experiment_name("grid_1", "sweep")
