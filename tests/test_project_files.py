"""What every generated project holds: nothing git ignores, and the dependencies it imports."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plscaffold.api import add_component, new_project, project_options
from tests.test_golden import CASES

ADDED = (("model", "wide-cnn"), ("datamodule", "my-images"), ("callback", "timer"))


@pytest.fixture(params=sorted(CASES))
def grown_project(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A project of each golden option set, with one component of every kind added."""
    options = project_options("grown", **CASES[request.param])
    project = new_project(options, output_dir=tmp_path).project_abspath
    for kind, name in ADDED:
        add_component(kind, name, project)
    return project


def test_no_file_plscaffold_writes_is_ignored_by_git(grown_project: Path) -> None:
    written = sorted(
        path.relative_to(grown_project).as_posix()
        for path in grown_project.rglob("*")
        # Its cache (digests of what it wrote) is local state, ignored by design.
        if path.is_file() and ".plscaffold/cache" not in path.relative_to(grown_project).as_posix()
    )
    subprocess.run(["git", "init", "-q", str(grown_project)], check=True)

    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", "--stdin"],
        cwd=grown_project, input="\n".join(written), capture_output=True, text=True,
    )  # fmt: skip

    assert checked.returncode == 1, f"git ignores generated files:\n{checked.stdout}"
    assert "src/grown/data/my_images.py" in written and "configs/data/my_images.yaml" in written
    # What running the project makes stays out of git.
    made = ["data/MNIST/raw/t10k-images-idx3-ubyte", "logs/grown/version_0/config.yaml",
            "slurm-12.out"]  # fmt: skip
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=grown_project, input="\n".join(made), capture_output=True, text=True,
    )  # fmt: skip
    assert ignored.stdout.split() == made


def _top_level_imports(folder: Path) -> set[str]:
    modules: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def _normalized(requirement: str) -> str:
    name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_runtime_import_is_a_declared_dependency(grown_project: Path) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    pyproject = tomllib.loads((grown_project / "pyproject.toml").read_text())["project"]
    declared = {_normalized(requirement) for requirement in pyproject["dependencies"]}
    distributions = importlib.metadata.packages_distributions()
    imported = _top_level_imports(grown_project / "src") - set(sys.stdlib_module_names)
    imported.discard("grown")

    undeclared = {
        module: distributions.get(module)
        for module in imported
        if not {_normalized(d) for d in distributions.get(module, [module])} & declared
    }

    assert not undeclared, f"imported by src/ but not in [project.dependencies]: {undeclared}"
    logger = "tensorboard" in (grown_project / "configs" / "default.yaml").read_text().lower()
    assert ("tensorboard" in declared) == logger


def test_the_deprecation_filter_holds_the_package_and_no_other(tmp_path: Path) -> None:
    # pytest hands an ini filter's module to `warnings` as a regex, which matches the start
    # of a module's name: a package `ml` must not turn `mlflow`'s deprecations into errors.
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later

    project = new_project(project_options("ml"), output_dir=tmp_path).project_abspath
    pytest_options = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["pytest"]
    filters = pytest_options["ini_options"]["filterwarnings"]
    (line,) = [each for each in filters if each.startswith("error:")]  # the package's own
    action, message, category, module = line.split(":")

    assert (action, message, category) == ("error", "", "DeprecationWarning")
    assert re.match(module, "ml") and re.match(module, "ml.model")
    assert not re.match(module, "mlflow") and not re.match(module, "ml_dtypes")
