"""The project state kept inside a generated project: its answers and pristine renderings."""

from __future__ import annotations

import json
from typing import Any

from plscaffold.render import RenderedFile, Rendering

STATE_DIR_RELPATH = ".plscaffold"
ANSWERS_RELPATH = f"{STATE_DIR_RELPATH}/answers.json"
PRISTINE_DIR_RELPATH = f"{STATE_DIR_RELPATH}/pristine"


def answers_document(version: str, template_ref: str, answers: dict[str, Any]) -> dict[str, Any]:
    """Return what the answers file records: plscaffold's version, the template, every answer."""
    return {"plscaffold_version": version, "template": template_ref, "answers": answers}


def with_project_state(rendering: Rendering, document: dict[str, Any]) -> Rendering:
    """Return ``rendering`` plus the answers file and a pristine copy of every rendered file.

    The pristine copies are the common base of the three-way merge when a component is
    regenerated later, so they must be byte-identical to what was rendered.
    """
    state: Rendering = {
        f"{PRISTINE_DIR_RELPATH}/{relpath}": rendered for relpath, rendered in rendering.items()
    }
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    state[ANSWERS_RELPATH] = RenderedFile(text.encode("utf-8"))
    return {**rendering, **state}
