"""Golden trees: the full rendering of four option sets, reviewed in the diff when it changes.

Regenerate on purpose with ``PLSCAFFOLD_UPDATE_GOLDEN=1 pytest tests/test_golden.py``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from plscaffold.answers import PRISTINE_DIR_RELPATH
from plscaffold.api import project_options, render_project
from plscaffold.render import Rendering

GOLDEN_DIR = Path(__file__).parent / "golden"
CASES = {
    "defaults": {},
    "gpus-2-bf16": {"gpus": 2, "precision": "bf16-mixed"},
    "mlp-csv": {"model": "mlp", "logger": "csv"},
    "gan-gpus-2": {"model": "gan", "gpus": 2},
}


def snapshot(rendering: Rendering) -> str:
    """Return a rendering as one reviewable text: each file's path, mode and content."""
    parts = []
    for relpath, rendered in sorted(rendering.items()):
        if relpath.startswith(PRISTINE_DIR_RELPATH + "/"):
            # Checked byte for byte against the rendering itself below.
            continue
        try:
            body = rendered.content.decode("utf-8")
        except UnicodeDecodeError:
            body = f"<binary sha256={hashlib.sha256(rendered.content).hexdigest()}>\n"
        parts.append(f"===== {relpath} (mode {rendered.mode:o}) =====\n{body}")
    return "".join(parts)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_matches_golden_tree(case: str) -> None:
    _, rendering = render_project(project_options("golden", **CASES[case]))
    golden_path = GOLDEN_DIR / f"{case}.txt"
    text = snapshot(rendering)
    if os.environ.get("PLSCAFFOLD_UPDATE_GOLDEN"):
        golden_path.write_text(text, encoding="utf-8")

    assert text == golden_path.read_text(encoding="utf-8")
    for relpath, rendered in rendering.items():
        if relpath.startswith(PRISTINE_DIR_RELPATH + "/"):
            assert rendering[relpath.removeprefix(PRISTINE_DIR_RELPATH + "/")] == rendered
