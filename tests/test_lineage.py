"""One rule for an experiment's lineage: plscaffold and the generated project walk it alike.

Each case gives the experiments (name: ``lineage.parent``, None for none; a list or "oops"
is a ``lineage`` that is no mapping), the one asked for, and the chain of files, farthest
parent first, or words of the error.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from plscaffold.errors import ExperimentError
from plscaffold.experiments.configs import experiment_chain

CASES: list[tuple[dict[str, object], str, list[str] | str]] = [
    ({"a": None}, "a", ["a"]),
    ({"a": "default"}, "a", ["a"]),
    ({"a": "template:lr-find"}, "a", ["a"]),
    ({"a": None, "b": "a", "c": "b"}, "c", ["a", "b", "c"]),
    ({"a": None, "b": "a", "c": "b"}, "b", ["a", "b"]),
    ({"b": "a"}, "b", "names the parent 'a'"),
    ({"a": None, "b": "a", "c": "gone"}, "c", "names the parent 'gone'"),
    ({"a": "b", "b": "a"}, "a", "own ancestor"),
    ({"a": "a"}, "a", "own ancestor"),
    ({"a": "../a"}, "a", "names the parent '../a'"),
    ({"a": "sub/a"}, "a", "names the parent 'sub/a'"),
    ({"a": None}, "nosuch", "no experiment 'nosuch'"),
    ({"a": [1, 2]}, "a", "lineage must be a mapping"),
    ({"a": "oops", "b": "a"}, "b", "lineage must be a mapping"),
]


def _write(project: Path, experiments: dict[str, object]) -> None:
    folder = project / "configs" / "experiments"
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.yaml"):
        path.unlink()
    for name, parent in experiments.items():
        # A list or "oops" is a lineage that is no mapping; a name, a parent's.
        if isinstance(parent, list) or parent == "oops":
            lineage: dict[str, object] = {"lineage": parent}
        else:
            lineage = {"lineage": {"parent": parent}} if parent else {}
        document = {**lineage, "trainer": {"max_epochs": len(name)}}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")


def _project_configs(project: Path) -> ModuleType:
    """The generated project's own configs module (it imports nothing of the package)."""
    path = project / "src" / "proj" / "configs.py"
    spec = importlib.util.spec_from_file_location("proj_configs_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lineage_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from plscaffold.api import new_project, project_options

    output = tmp_path_factory.mktemp("lineage")
    return new_project(project_options("proj"), output_dir=output, git=False).project_abspath


@pytest.mark.parametrize(("experiments", "asked", "expected"), CASES)
def test_plscaffold_and_the_project_walk_one_lineage(
    lineage_project: Path,
    experiments: dict[str, object],
    asked: str,
    expected: list[str] | str,
) -> None:
    _write(lineage_project, experiments)
    project_walk = _project_configs(lineage_project).experiment_configs

    if isinstance(expected, str):
        with pytest.raises(ExperimentError, match=expected):
            experiment_chain(lineage_project, asked)
        with pytest.raises(FileNotFoundError, match=expected):
            project_walk(asked)
        return
    files = [lineage_project / "configs" / "experiments" / f"{name}.yaml" for name in expected]
    assert experiment_chain(lineage_project, asked) == files
    assert [path.resolve() for path in project_walk(asked)] == [path.resolve() for path in files]
