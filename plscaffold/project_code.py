"""A generated project's code as plscaffold reads and runs it: dotted config keys, its Python.

Below both the engine (migrations moving config keys, ``new --check``) and the experiments,
which use them alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Return a nested mapping as ``{"a.b.c": leaf}``; lists and empty mappings are leaves."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def project_python_env(root_abspath: Path) -> dict[str, str]:
    """Return this process's environment with the project's ``src/`` first on the path.

    The project then imports from its sources in a child of this Python, installed or not.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root_abspath / "src"), env.get("PYTHONPATH", "")) if p
    )
    return env
