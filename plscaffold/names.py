"""Rules that turn a project name into a folder, a Python package and a class prefix."""

from __future__ import annotations

import functools
import keyword
import re
import sys
from dataclasses import dataclass

from plscaffold.errors import InvalidNameError

# What a project, component or experiment name can be: never a path.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# What a generated project's environment imports, whether or not this Python has it: its
# dependencies and theirs. A project package of the same name would shadow them.
_SHADOWED = frozenset(
    {
        "torch", "torchvision", "torchaudio", "torchmetrics", "pytorch_lightning", "lightning",
        "lightning_fabric", "lightning_utilities", "jsonargparse", "yaml", "numpy",
        "tensorboard", "tensorboardX", "typing_extensions", "fsspec", "packaging", "tqdm",
        "triton", "sympy", "networkx", "jinja2", "filelock", "pytest", "ruff", "hatchling",
        "setuptools", "pip", "google", "protobuf", "grpc", "werkzeug", "markdown", "six",
    }
)  # fmt: skip


def shadows_an_importable_module(module_name: str) -> bool:
    """Tell whether a package of that name would hide a module the project's code imports.

    That is Python's own modules, the generated project's dependencies, and any top-level
    module importable in this Python (a project is usually installed next to it), except
    folders of the working directory, which only ``python -m`` puts on the path.
    """
    import importlib.util
    from pathlib import Path

    if module_name in sys.stdlib_module_names or module_name in _SHADOWED:
        return True
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return False
    origin = spec.origin if spec else None
    if not origin or origin == "namespace":
        return False
    # Where the module itself lies: its file, or its package's folder. Only one that sits
    # right in the working directory is excused; a virtual environment there (.venv) holds
    # installed modules that the project does import.
    location = Path(origin).parent if spec and spec.submodule_search_locations else Path(origin)
    return location.parent.resolve() != Path.cwd().resolve()


# Room for the longest file name derived from a name (tests/test_model_<name>.py) within
# the 255 bytes file systems allow, with a margin.
MAX_NAME_LENGTH = 100
_RULE = "use letters, digits, '-' and '_', starting with a letter"


def _fix(name: str) -> str:
    """Return the naming rule with an example: the name itself made valid, where it can be."""
    example = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_")
    example = re.sub(r"^[^A-Za-z]+", "", example)[:MAX_NAME_LENGTH]
    if not NAME_PATTERN.fullmatch(example) or keyword.iskeyword(package_name_for(example)):
        example = "mnist-classifier"
    return f"{_RULE} (for example: {example})"


@dataclass(frozen=True)
class ProjectNames:
    """The names derived from one project (or component) name."""

    project_name: str
    package_name: str
    class_name: str


def package_name_for(project_name: str) -> str:
    """Return the importable package name for a project name (``my-proj`` -> ``my_proj``)."""
    return _derived_name("package_name", project_name)


def class_name_for(project_name: str) -> str:
    """Return the CamelCase class prefix for a project name (``my-proj`` -> ``MyProj``)."""
    return _derived_name("class_name", project_name)


@functools.lru_cache(maxsize=1024)
def _derived_name(variable: str, project_name: str) -> str:
    """Render a name the bundled ``cookiecutter.json`` derives from the project name.

    That file is the one definition of the rules, so that plain ``cookiecutter`` derives
    the same package and class names as plscaffold.
    """
    from plscaffold.environment import compiled, template_environment
    from plscaffold.templates import bundled_project_template, read_variables

    template = bundled_project_template()
    variables = read_variables(template)
    rule = compiled(template_environment(template, variables), str(variables[variable]))
    return rule.render(cookiecutter={"project_name": project_name})


def _check_identifier_name(
    name: str, label: str, where_hint: str, *, keyword_example: str = "model"
) -> str:
    """Check the rules every name a user gives shares; return its module name.

    Raises:
        InvalidNameError: the name is empty or too long, holds a path separator or other
            character a module name cannot have, starts with a digit, or its module is a
            keyword.
    """
    if not name.strip():
        raise InvalidNameError(f"the {label} is empty; {_fix(name)}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"{label} {name[:20]!r}... is {len(name)} characters long; file systems and "
            f"readers take at most {MAX_NAME_LENGTH}: choose a shorter name"
        )
    if "/" in name or "\\" in name:
        raise InvalidNameError(f"{label} {name!r} holds a path separator; {where_hint}")
    if name[0].isdigit():
        raise InvalidNameError(
            f"{label} {name!r} starts with a digit, which a Python module cannot; {_fix(name)}"
        )
    if not NAME_PATTERN.fullmatch(name):
        bad = sorted({c for c in name if not (c.isalnum() or c in "-_") or not c.isascii()})
        shown = ", ".join(repr(c) for c in bad) or "its characters"
        raise InvalidNameError(f"{label} {name!r} holds {shown}; {_fix(name)}")
    module_name = package_name_for(name)
    if keyword.iskeyword(module_name):
        raise InvalidNameError(
            f"{label} {name!r} is a Python keyword and cannot be imported; "
            f"choose another name (for example: {module_name}-{keyword_example})"
        )
    return module_name


def check_component_name(name: str) -> None:
    """Check that a component's name (or kind) can name a Python module.

    Raises:
        InvalidNameError: as for a project name.
    """
    _check_identifier_name(name, "component name", "give a bare name")


def component_names(name: str) -> ProjectNames:
    """Check a component's name, and derive its module and class names from it.

    The names follow the rules of the bundled ``cookiecutter.json``, as a project's do.

    Raises:
        InvalidNameError: as for a project name.
    """
    module_name = _check_identifier_name(name, "component name", "give a bare name")
    return ProjectNames(name, module_name, class_name_for(name))


def check_experiment_name(name: str, kind: str = "experiment") -> None:
    """Check the name of an experiment (or, with ``kind="sweep"``, a sweep).

    It names files (``configs/experiments/<name>.yaml``, ``scripts/sweep-<name>.sbatch``)
    and is held to a component's rules, so that each file name is a module name too.

    Raises:
        InvalidNameError: as for a project name; the message calls it a ``kind`` name.
    """
    _check_identifier_name(name, f"{kind} name", "give a bare name", keyword_example=kind)


def project_names(project_name: str) -> ProjectNames:
    """Check that a name can be a folder and a Python package, and derive its names.

    For a project that exists: its package may well be importable (installed with
    ``pip install -e .``), so the shadowing check of :func:`validate_project_name` does
    not apply.

    Raises:
        InvalidNameError: the name is empty, holds a path separator or other character a
            package name cannot have, starts with a digit, or its package is a keyword.
    """
    package_name = _check_identifier_name(
        project_name,
        "project name",
        "give a bare name and choose the parent folder with --output-dir",
    )
    return ProjectNames(project_name, package_name, class_name_for(project_name))


def validate_project_name(project_name: str) -> ProjectNames:
    """Check a new project's name: as :func:`project_names`, and that it shadows nothing.

    Raises:
        InvalidNameError: as for :func:`project_names`, or the package would shadow a
            module the project imports.
    """
    names = project_names(project_name)
    package_name = names.package_name
    if shadows_an_importable_module(package_name):
        raise InvalidNameError(
            f"project name {project_name!r} would shadow the installed module {package_name!r}; "
            f"choose another name (for example: my-{project_name})"
        )
    return names
