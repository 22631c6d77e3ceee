"""Golden trees: the full rendering of four option sets, reviewed in the diff when it changes.

Regenerate on purpose with ``PLSCAFFOLD_UPDATE_GOLDEN=1 pytest tests/test_golden.py``. The
golden files are tied to the template's version (``golden/template-version.json``): a
change of the rendered output is recorded only with a new ``_template_version`` and its
section in the template's ``CHANGELOG.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from plscaffold.answers import PRISTINE_DIR_RELPATH
from plscaffold.api import project_options, render_project
from plscaffold.render import Rendering
from plscaffold.templates import bundled_project_template
from plscaffold.versions import read_changelog, template_version

GOLDEN_DIR = Path(__file__).parent / "golden"
VERSION_FILE = GOLDEN_DIR / "template-version.json"
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


def _golden_digest() -> str:
    digest = hashlib.sha256()
    for case in sorted(CASES):
        digest.update((GOLDEN_DIR / f"{case}.txt").read_bytes())
    return digest.hexdigest()


def test_the_rendered_output_changes_only_with_a_new_template_version_and_changelog() -> None:
    """Runs after the golden trees above (file order), so it sees the files they wrote."""
    template = bundled_project_template()
    version = template_version(template)
    assert version is not None, "templates/project/cookiecutter.json gives no _template_version"
    recorded = json.loads(VERSION_FILE.read_text(encoding="utf-8"))
    digest = _golden_digest()
    if os.environ.get("PLSCAFFOLD_UPDATE_GOLDEN") and digest != recorded["sha256"]:
        assert version != recorded["template_version"], (
            f"the rendered output changed, but the template is still {version}: bump "
            "_template_version in templates/project/cookiecutter.json and say what changed "
            "in templates/project/CHANGELOG.md"
        )
        recorded = {"template_version": version, "sha256": digest}
        VERSION_FILE.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    assert digest == recorded["sha256"], (
        "the golden files differ from those recorded with the template version; regenerate "
        "them with PLSCAFFOLD_UPDATE_GOLDEN=1 (and a new _template_version)"
    )
    assert recorded["template_version"] == version, (
        f"the template is {version} but the golden files were recorded with "
        f"{recorded['template_version']}; regenerate them with PLSCAFFOLD_UPDATE_GOLDEN=1"
    )
    entries = read_changelog(template)
    assert entries and entries[0].version == version and entries[0].text, (
        f"templates/project/CHANGELOG.md has no section for {version} at its top"
    )
