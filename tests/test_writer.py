"""Writing a rendering: all of it atomically, or nothing at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plscaffold import writer
from plscaffold.errors import OutputNotWritableError, TargetExistsError
from plscaffold.render import RenderedFile
from plscaffold.writer import apply_changes, write_new_project
from tests.conftest import tree_state


def test_files_and_modes_are_written(tmp_path: Path) -> None:
    rendering = {
        "a/b.txt": RenderedFile(b"b\n"),
        "run.sh": RenderedFile(b"#!/bin/sh\n", 0o755),
    }

    write_new_project(rendering, {}, tmp_path / "proj")

    assert (tmp_path / "proj" / "a" / "b.txt").read_bytes() == b"b\n"
    assert (tmp_path / "proj" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_the_project_folder_gets_the_usual_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        write_new_project({"x": RenderedFile(b"")}, {}, tmp_path / "proj")
    finally:
        os.umask(umask)

    assert (tmp_path / "proj").stat().st_mode & 0o777 == 0o755


def test_a_failure_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    # "a" is written as a file, then "a/z" needs it to be a folder: the write fails midway.
    rendering = {"a": RenderedFile(b"1"), "a/z": RenderedFile(b"2"), "b": RenderedFile(b"3")}
    before = tree_state(tmp_path)

    with pytest.raises(OutputNotWritableError):
        write_new_project(rendering, {}, tmp_path / "new" / "parents" / "proj")

    assert tree_state(tmp_path) == before


def test_a_non_empty_target_is_refused_untouched(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "mine.py").write_text("keep me\n")
    before = tree_state(tmp_path)

    with pytest.raises(TargetExistsError, match="exists and is not empty"):
        write_new_project({"x": RenderedFile(b"")}, {}, tmp_path / "proj")

    assert tree_state(tmp_path) == before


def test_an_empty_target_survives_a_failed_write(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()

    with pytest.raises(OutputNotWritableError):
        write_new_project(
            {"a": RenderedFile(b"1"), "a/z": RenderedFile(b"2")}, {}, tmp_path / "proj"
        )

    assert (tmp_path / "proj").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


@pytest.mark.parametrize("write", ["new", "changes"])
def test_a_temporary_name_already_taken_is_never_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write: str
) -> None:
    # Temporary names are recorded before they are created, so that an interrupt can
    # clean them up; a name someone else holds must not be cleaned up as ours.
    monkeypatch.setattr(writer.secrets, "token_hex", lambda n: "taken")
    project = tmp_path / "proj"
    if write == "new":
        theirs = tmp_path / f".proj.plscaffold-{os.getpid()}-taken"
        theirs.mkdir()
        (theirs / "keep.txt").write_text("theirs\n")
    else:
        project.mkdir()
        theirs = project / ".a.txt.taken.plscaffold-tmp"
        theirs.write_text("theirs\n")
    before = tree_state(tmp_path)

    with pytest.raises(OutputNotWritableError):
        if write == "new":
            write_new_project({"a.txt": RenderedFile(b"a\n")}, {}, project)
        else:
            apply_changes(project, [("a.txt", RenderedFile(b"a\n"))])

    assert tree_state(tmp_path) == before
