"""Golden trees: the full rendering of four option sets, reviewed in the diff when it changes.

Regenerate on purpose with ``PLSCAFFOLD_UPDATE_GOLDEN=1 pytest tests/test_golden.py``. What
the template renders is tied to its version (``golden/template-version.json``): a digest of
every variant it renders (each combination of its choices, of the integer values its
conditions tell apart, with a component of each kind added), recorded once per version. A
change of any variant's output is recorded only with a new ``_template_version`` and its
section in the template's ``CHANGELOG.md``; a version's digest, once recorded, never changes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from plscaffold.answers import PRISTINE_DIR_RELPATH, AddedComponent
from plscaffold.api import project_options, render_project
from plscaffold.errors import InvalidOptionError
from plscaffold.render import Rendering
from plscaffold.sources import open_source
from plscaffold.templates import (
    bundled_project_template,
    bundled_templates_abspath,
    component_kinds,
    read_variables,
)
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


# The values of the integer answers that the template's conditions tell apart
# (`gpus|int > 0`, `gpus|int > 1`, `num_nodes|int > 1`); every other answer that is not a
# choice is only written out as a value.
INT_VARIANTS = {"gpus": (0, 1, 2), "num_nodes": (1, 2)}
_CONDITION = re.compile(  # {% if ... %}, {% elif ... %}, {{ A if ... else B }}
    r"\{%-?\s*(?:if|elif)\b(.*?)-?%\}|\{\{((?:(?!\}\}).)*?\bif\b(?:(?!\}\}).)*)\}\}",
    re.DOTALL,
)


def _choices() -> dict[str, list[Any]]:
    variables = read_variables(bundled_project_template())
    return {
        name: value
        for name, value in variables.items()
        if isinstance(value, list) and not name.startswith("_")
    }


def every_variant() -> Iterator[tuple[dict[str, Any], Rendering]]:
    """Yield each variant of the project the template renders, with the answers given.

    Every combination of every choice and of :data:`INT_VARIANTS` that the options accept
    (16-mixed needs a GPU, say), each with one component of every kind added.
    """
    names = [*_choices(), *INT_VARIANTS]
    added = tuple(AddedComponent(kind, f"added_{kind}") for kind in sorted(component_kinds()))
    with open_source(None) as source:
        for values in itertools.product(*_choices().values(), *INT_VARIANTS.values()):
            given = dict(zip(names, values, strict=True))
            try:
                answers = source.new_answers("golden", given)
            except InvalidOptionError:
                continue  # a combination `new` refuses: not a variant
            yield given, source.render(answers, added).files


def variants_digest() -> tuple[int, str]:
    """Return how many variants the template renders, and one digest of them all."""
    digest, count = hashlib.sha256(), 0
    for given, files in every_variant():
        digest.update(json.dumps(given, sort_keys=True).encode())
        digest.update(hashlib.sha256(snapshot(files).encode()).digest())
        count += 1
    return count, digest.hexdigest()


def test_every_answer_a_condition_reads_is_a_choice_or_an_integer_variant() -> None:
    """What :func:`every_variant` crosses covers each branch the template has."""
    texts = [
        path.read_text(encoding="utf-8")
        for path in sorted(bundled_templates_abspath().rglob("*"))
        if path.is_file() and path.suffix not in (".png", ".pyc")
    ]
    read = {
        name
        for text in texts
        for condition in _CONDITION.finditer(text)
        for name in re.findall(r"cookiecutter\.(\w+)", condition[1] or condition[2])
    }
    derived = {name for name in read if name.startswith("_")}  # computed from the others
    assert set(INT_VARIANTS) <= read
    assert read - derived <= set(_choices()) | set(INT_VARIANTS)
    # Each comparison of an integer answer is both true and false among its variants.
    compare = {">": int.__gt__, ">=": int.__ge__, "<": int.__lt__, "<=": int.__le__}
    found = re.findall(r"cookiecutter\.(\w+)\s*\|\s*int\s*(>=|<=|>|<)\s*(\d+)", "".join(texts))
    assert found
    for name, op, bound in found:
        outcomes = {compare[op](value, int(bound)) for value in INT_VARIANTS[name]}
        assert outcomes == {True, False}, f"{name}|int {op} {bound}: {INT_VARIANTS[name]}"


def test_the_rendered_output_changes_only_with_a_new_template_version_and_changelog() -> None:
    template = bundled_project_template()
    version = template_version(template)
    assert version is not None, "templates/project/cookiecutter.json gives no _template_version"
    recorded: dict[str, dict[str, Any]] = json.loads(VERSION_FILE.read_text(encoding="utf-8"))
    count, digest = variants_digest()
    now = {"variants": count, "sha256": digest}
    if os.environ.get("PLSCAFFOLD_UPDATE_GOLDEN") and version not in recorded:
        recorded[version] = now
        VERSION_FILE.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    assert version in recorded, (
        f"no rendering is recorded for template {version}; record it with "
        "PLSCAFFOLD_UPDATE_GOLDEN=1 once its changelog section says what changed"
    )
    assert recorded[version] == now, (
        f"what template {version} renders changed (of its {count} variants, one or more): "
        "bump _template_version in templates/project/cookiecutter.json, say what changed in "
        "templates/project/CHANGELOG.md, then record it with PLSCAFFOLD_UPDATE_GOLDEN=1"
    )
    assert max(recorded, key=Version) == version, "a newer version is recorded than the template's"
    entries = read_changelog(template)
    assert entries and entries[0].version == version and entries[0].text, (
        f"templates/project/CHANGELOG.md has no section for {version} at its top"
    )
