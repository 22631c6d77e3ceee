"""Ask git about a generated project, when git is installed and the project is a work tree."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_output(root_abspath: Path, *args: str) -> str | None:
    """Return what ``git ARGS`` prints in ``root_abspath``, or None without git or a work tree."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=root_abspath, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return None
    return result.stdout if result.returncode == 0 else None
