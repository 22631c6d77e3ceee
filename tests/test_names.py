"""Project names become a folder, a package and a class prefix, or a clear error."""

from __future__ import annotations

import pytest

from plscaffold.errors import InvalidNameError
from plscaffold.names import validate_project_name


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
