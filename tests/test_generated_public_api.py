"""The generated project uses public APIs only: no library's underscore names, in every variant.

A use is ``obj._name`` on anything but the project's own ``self``/``cls`` attributes, a name
imported from an underscore module or an underscore name imported, or an ``@override`` of an
underscore method (a base class's private hook).
"""

from __future__ import annotations

import ast

import pytest

from plscaffold.api import project_options, render_project

VARIANTS = {
    "default": {},
    "csv": {"logger": "csv"},
    "mlflow": {"logger": "mlflow"},
    "wandb": {"logger": "wandb"},
    "mlp": {"model": "mlp"},
    "gan": {"model": "gan", "gpus": 2},
}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def own_names(trees: dict[str, ast.Module]) -> set[str]:
    """Return the functions the project defines and the attributes it assigns on self/cls."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets = [node.target]
            names |= {
                t.attr
                for t in targets
                if isinstance(t, ast.Attribute)
                and isinstance(t.value, ast.Name)
                and t.value.id in ("self", "cls")
            }
    return names


def private_uses(trees: dict[str, ast.Module]) -> list[str]:
    """Return each use of another library's private API, as ``path:line: what``."""
    own, uses = own_names(trees), []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            where = f"{path}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Attribute) and private(node.attr):
                mine = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
                if not mine or node.attr not in own:
                    uses.append(f"{where}: {ast.unparse(node)}")
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if any(private(part) for part in module.split(".")):
                    uses.append(f"{where}: from {module}")
                uses += [f"{where}: import {a.name}" for a in node.names if private(a.name)]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if any(private(part) for part in alias.name.split(".")):
                        uses.append(f"{where}: import {alias.name}")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and private(node.name):
                decorators = [ast.unparse(d) for d in node.decorator_list]
                if any(d.split(".")[-1] == "override" for d in decorators):
                    uses.append(f"{where}: overrides {node.name}")
    return uses


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_generated_file_uses_a_private_api(variant: str) -> None:
    _, rendering = render_project(project_options("probe", **VARIANTS[variant]))
    trees = {
        relpath: ast.parse(rendered.content.decode("utf-8"), relpath)
        for relpath, rendered in rendering.items()
        if relpath.endswith(".py") and not relpath.startswith(".plscaffold/")
    }
    assert any(path.startswith("src/") for path in trees)

    assert private_uses(trees) == []


def test_the_check_finds_each_kind_of_use() -> None:
    source = """
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from lightning_fabric.utilities._x import y
from pytorch_lightning.core.saving import _load_state
import torch._dynamo


class Logger(ExperimentWriter):
    @override
    def _check_log_dir_exists(self):
        self._own = 1
        return self._own, self._fs, logger._run_id
"""
    uses = private_uses({"m.py": ast.parse(source)})

    assert [use.split(": ", 1)[1] for use in uses] == [
        "from lightning_fabric.utilities._x",
        "import _load_state",
        "import torch._dynamo",
        "overrides _check_log_dir_exists",
        "self._fs",
        "logger._run_id",
    ]
