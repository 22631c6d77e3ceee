"""Rules that turn a project name into a folder, a Python package and a class prefix."""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass

from plscaffold.errors import InvalidNameError

_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Packages a generated project imports: a project package of the same name would shadow them.
_SHADOWED = frozenset(
    {"torch", "torchvision", "torchmetrics", "pytorch_lightning", "lightning", "jsonargparse"}
)
_FIX = "use letters, digits, '-' and '_', starting with a letter (for example: mnist-classifier)"


@dataclass(frozen=True)
class ProjectNames:
    """The names derived from one project name."""

    project_name: str
    package_name: str
    class_name: str


def package_name_for(project_name: str) -> str:
    """Return the importable package name for a project name (``my-proj`` -> ``my_proj``)."""
    return project_name.lower().replace("-", "_")


def class_name_for(project_name: str) -> str:
    """Return the CamelCase class prefix for a project name (``my-proj`` -> ``MyProj``)."""
    parts = re.split(r"[-_]+", project_name)
    return "".join(part[:1].upper() + part[1:] for part in parts if part)


def validate_project_name(project_name: str) -> ProjectNames:
    """Check that a name can be a folder and a Python package, and derive its names.

    Raises:
        InvalidNameError: the name is empty, holds a path separator or other character a
            package name cannot have, starts with a digit, or its package is a keyword.
    """
    if not project_name.strip():
        raise InvalidNameError(f"the project name is empty; {_FIX}")
    if "/" in project_name or "\\" in project_name:
        raise InvalidNameError(
            f"project name {project_name!r} holds a path separator; give a bare name and "
            "choose the parent folder with --output-dir"
        )
    if project_name[0].isdigit():
        raise InvalidNameError(
            f"project name {project_name!r} starts with a digit, which a Python package "
            f"cannot; {_FIX}"
        )
    if not _NAME_PATTERN.fullmatch(project_name):
        bad = sorted({c for c in project_name if not (c.isalnum() or c in "-_") or not c.isascii()})
        shown = ", ".join(repr(c) for c in bad) or "its characters"
        raise InvalidNameError(f"project name {project_name!r} holds {shown}; {_FIX}")
    package_name = package_name_for(project_name)
    if keyword.iskeyword(package_name):
        raise InvalidNameError(
            f"project name {project_name!r} is a Python keyword and cannot be imported; "
            f"choose another name (for example: {package_name}-model)"
        )
    if package_name in _SHADOWED or package_name in sys.stdlib_module_names:
        raise InvalidNameError(
            f"project name {project_name!r} would shadow the installed module {package_name!r}; "
            f"choose another name (for example: my-{project_name})"
        )
    return ProjectNames(project_name, package_name, class_name_for(project_name))
