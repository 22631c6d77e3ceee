"""The boundary as a property: whatever tree a template holds (reserved names in any case,
links, deep paths, control characters, names from variables), ``new`` and then ``update``
leave nothing outside the project, nothing in ``.git`` or ``.plscaffold`` but plscaffold's
own record, and run no program."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import tree_state

SAFE = ["a", "b", "src", "docs", "c.txt"]
HOSTILE = [
    ".git", ".GIT", ".Git", ".plscaffold", ".PLSCAFFOLD", ".PlScaffold", "..",
    "x\x1b]52;c;aGk=\x07", "y\x1b[31m", "{{ cookiecutter.v }}", "{{ cookiecutter.w }}",
    "journal.json", "config", "HEAD", ".git.", "GIT~1", ".g\u200cit", ".pl\u017fcaffold",
]  # fmt: skip
VALUES = [".git", ".plscaffold", ".PLScaffold", "x", "../..", "a/b", "", "\x1b]0;t\x07"]
KINDS = ["file", "file", "config", "link-out", "link-up", "link-in"]


def _entries(segments: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    relpaths = st.lists(st.sampled_from(segments), min_size=1, max_size=6).map("/".join)
    return st.lists(st.tuples(relpaths, st.sampled_from(KINDS)), min_size=1, max_size=8)


# The first tree is mostly ordinary, so that many projects are made and then updated to
# the second, which is as hostile as the first is ordinary.
ordinary = _entries(SAFE * 6 + HOSTILE)
hostile = _entries(SAFE + HOSTILE)


def _write_tree(folder: Path, tree: list[tuple[str, str]], marker: Path, victim: Path) -> None:
    """Write a template's project folder: files, git configs that run ``touch``, and links."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    config = f'[core]\n\tfsmonitor = touch {marker}\n[filter "x"]\n\tclean = touch {marker}\n'
    for relpath, kind in tree:
        path = folder / relpath
        try:
            path.resolve().relative_to(folder.resolve())
        except (ValueError, RuntimeError, OSError):
            continue  # the template's own tree stays inside its folder; its names may not
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "file":
                path.write_text("{{ cookiecutter.project_name }}\n")
            elif kind == "config":
                path.write_text(config)
            else:
                target = {"link-out": victim, "link-up": Path("../.."), "link-in": Path("a")}[kind]
                path.symlink_to(target)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            continue  # a name the tree already uses for the other kind
    (folder / "README.md").write_text("# {{ cookiecutter.project_name }}\n")


def _template(root: Path, tree: list[tuple[str, str]], values: tuple[str, str], version: str,
              marker: Path, victim: Path) -> None:  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    variables = {"project_name": "x", "v": values[0], "w": values[1],
                 "_template_version": version}  # fmt: skip
    (root / "cookiecutter.json").write_text(json.dumps(variables))
    _write_tree(root / "{{cookiecutter.project_name}}", tree, marker, victim)


def _check_invariants(project: Path, outside: Path, before: dict[str, tuple[str, int]],
                      marker: Path) -> None:  # fmt: skip
    assert tree_state(outside) == before, "something outside the project changed"
    assert not marker.exists(), "a program named by a template ran"
    if not project.exists():
        return
    files = set()
    for parent, dirnames, filenames in os.walk(project):
        for name in [*dirnames, *filenames]:
            relpath = (Path(parent) / name).relative_to(project).as_posix()
            parts = relpath.split("/")
            assert ".git" not in {p.lower() for p in parts}, relpath
            lowered = [p.lower() for p in parts]
            if ".plscaffold" in lowered:
                assert parts[0] == ".plscaffold" and lowered.count(".plscaffold") == 1, relpath
            elif name in filenames:
                files.add(relpath)
    state = project / ".plscaffold"
    recorded = {
        p.relative_to(state / "pristine").as_posix()
        for p in (state / "pristine").rglob("*")
        if not p.is_dir()
    }
    assert recorded <= files, "a pristine copy records a file that is not in the project"
    assert {p.name for p in state.iterdir()} <= {"answers.json", "pristine", "cache"}


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    first=ordinary,
    second=hostile,
    values=st.tuples(st.sampled_from(VALUES), st.sampled_from(VALUES)),
)
def test_new_then_update_never_cross_the_boundary(
    first: list[tuple[str, str]], second: list[tuple[str, str]], values: tuple[str, str]
) -> None:
    runner = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        outside = base / "outside"
        outside.mkdir()
        victim = outside / "victim.txt"
        victim.write_text("the user's file\n")
        marker = outside.parent / "PWNED"
        out = base / "work" / "out"
        out.mkdir(parents=True)
        before = tree_state(outside)
        template = base / "work" / "t"
        _template(template, first, values, "1.0.0", marker, victim)

        # No repository of plscaffold's own: any .git in the project is the template's.
        made = runner.invoke(
            app, ["new", "proj", "--template", str(template), "-o", str(out), "--no-git"]
        )

        event(f"new exits {made.exit_code}")
        assert made.exit_code in (0, 1, 2), made.output
        assert made.exception is None or isinstance(made.exception, SystemExit), made.exception
        project = out / "proj"
        _check_invariants(project, outside, before, marker)
        if made.exit_code != 0:
            assert list(out.iterdir()) == [], "a refused project left files behind"
            return

        _template(template, second, values, "1.1.0", marker, victim)
        updated = runner.invoke(app, ["update", "--project", str(project)])

        event(f"update exits {updated.exit_code}")
        assert updated.exit_code in (0, 1, 2), updated.output
        assert updated.exception is None or isinstance(updated.exception, SystemExit), (
            updated.exception
        )
        _check_invariants(project, outside, before, marker)
