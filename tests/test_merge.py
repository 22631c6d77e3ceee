"""The per-file decision table and the three-way merge, without a disk."""

from __future__ import annotations

import pytest

from plscaffold.merge import Outcome, has_conflict_markers, plan_diff, plan_file
from plscaffold.render import RenderedFile as F

BASE = b"one\ntwo\nthree\nfour\nfive\n"
YOURS = b"one\nTWO (mine)\nthree\nfour\nfive\n"
THEIRS = b"one\ntwo\nthree\nfour\nFIVE (template)\n"


@pytest.mark.parametrize(
    ("pristine", "current", "new", "restore", "outcome"),
    [
        (None, None, F(BASE), False, Outcome.CREATED),
        (F(BASE), F(BASE), F(THEIRS), False, Outcome.UPDATED),
        (F(BASE), F(YOURS), F(THEIRS), False, Outcome.MERGED),
        (F(BASE), F(YOURS), F(BASE), False, Outcome.KEPT),
        (F(BASE), F(BASE), F(BASE), False, Outcome.IDENTICAL),
        (F(BASE), F(THEIRS), F(THEIRS), False, Outcome.IDENTICAL),
        (F(BASE), None, F(THEIRS), False, Outcome.DELETED),
        (F(BASE), None, F(THEIRS), True, Outcome.RESTORED),
        (F(BASE), F(BASE), None, False, Outcome.REMOVED),
        (F(BASE), F(YOURS), None, False, Outcome.ORPHANED),
        (F(BASE), F(b"one\nTWO\n"), F(b"one\nDEUX\n"), False, Outcome.CONFLICT),
        (F(b"\x00a"), F(b"\x00b"), F(b"\x00c"), False, Outcome.BINARY_CONFLICT),
        (None, F(b"mine\n"), F(b"template\n"), False, Outcome.CONFLICT),
    ],
)
def test_outcomes(
    pristine: F | None, current: F | None, new: F | None, restore: bool, outcome: Outcome
) -> None:
    assert plan_file("f", pristine, current, new, restore).outcome is outcome


def test_a_clean_merge_holds_both_changes() -> None:
    plan = plan_file("f", F(BASE), F(YOURS), F(THEIRS))

    assert plan.result == F(b"one\nTWO (mine)\nthree\nfour\nFIVE (template)\n")
    assert plan.pristine == F(THEIRS)


def test_a_conflict_holds_both_sides_in_git_markers() -> None:
    plan = plan_file("f", F(b"a\nb\nc\n"), F(b"a\nB1\nc\n"), F(b"a\nB2\nc\n"))

    assert plan.result is not None
    assert plan.result.content == b"a\n<<<<<<< yours\nB1\n=======\nB2\n>>>>>>> template\nc\n"
    assert has_conflict_markers(plan.result.content)


def test_windows_line_endings_survive_a_merge() -> None:
    plan = plan_file("f", F(b"a\r\nb\r\nc\r\n"), F(b"A\r\nb\r\nc\r\n"), F(b"a\r\nb\r\nC\r\n"))

    assert plan.result == F(b"A\r\nb\r\nC\r\n")


def test_modes_the_user_changed_win_and_template_modes_apply_otherwise() -> None:
    by_user = plan_file("f", F(BASE, 0o644), F(BASE, 0o755), F(THEIRS, 0o644))
    by_template = plan_file("f", F(BASE, 0o644), F(BASE, 0o644), F(THEIRS, 0o755))

    assert by_user.result is not None and by_user.result.mode == 0o755
    assert by_template.result is not None and by_template.result.mode == 0o755


@pytest.mark.parametrize(
    ("content", "marked"),
    [
        (b"<<<<<<< yours\na\n=======\nb\n>>>>>>> template\n", True),
        (b"<<<<<<< yours\r\na\r\n=======\r\nb\r\n>>>>>>> template\r\n", True),
        (b"a\n=======\nb\n>>>>>>> template\n", True),  # half removed: still ours
        (b"<<<<<<< yours\na\nb\n", True),
        (b"x = '<<<<<<< yours'\n", False),
        (b"Resolve it:\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> main\n", False),
        (b"Title\n=======\n", False),
        (b"<<<<<<< yours, said the docs\n", False),
        (b"text\n", False),
    ],
)
def test_only_the_marker_lines_plscaffold_writes_block_a_file(content: bytes, marked: bool) -> None:
    assert has_conflict_markers(content) is marked


def test_a_mode_the_template_changes_is_applied_even_with_the_same_content() -> None:
    untouched = plan_file("f", F(BASE, 0o644), F(BASE, 0o644), F(BASE, 0o755))
    edited = plan_file("f", F(BASE, 0o644), F(THEIRS, 0o644), F(BASE, 0o755))
    user_mode = plan_file("f", F(BASE, 0o644), F(BASE, 0o700), F(BASE, 0o755))

    for plan, content in ((untouched, BASE), (edited, THEIRS)):
        assert plan.outcome is Outcome.MODE and plan.writes
        assert plan.result == F(content, 0o755)
    assert user_mode.outcome is Outcome.IDENTICAL and not user_mode.writes


def test_plan_diff_is_a_unified_diff() -> None:
    diff = plan_diff(plan_file("f", F(BASE), F(BASE), F(THEIRS)))

    assert diff.startswith("--- a/f\n+++ b/f\n")
    assert "-five\n+FIVE (template)\n" in diff
    assert plan_diff(plan_file("f", F(BASE), F(BASE), F(BASE))) == ""


def test_removed_code_reads_a_flood_of_unclosed_markers_in_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pattern searching ahead from each of 100,000 start markers that are never closed
    scans the rest of the text for each (about ten minutes of CPU); one pass over the lines
    finds the conflict before them well inside a 60 s budget of the bounded runner."""
    from plscaffold.bounds import SECONDS_VARIABLE, run_bounded
    from plscaffold.merge import RemovedDefinition, removed_code

    monkeypatch.setenv(SECONDS_VARIABLE, "60")
    conflict = b"<<<<<<< yours\ndef gone():\n    return 2\n=======\n>>>>>>> template\n"
    merged = conflict + b"<<<<<<< yours\n" * 100_000
    base = b"def gone():\n    return 1\n"
    rendering = {"a.py": F(b""), "b.py": F(b"def gone():\n    pass\n")}

    found = run_bounded(lambda report: removed_code("a.py", merged, base, rendering), "merge")

    assert found == [RemovedDefinition("def", "gone", "b.py")]


@pytest.mark.parametrize(
    ("merged", "sides"),
    [
        (b"<<<<<<< yours\nx\n=======\n>>>>>>> template\n", [("x\n", "")]),
        (b"<<<<<<< yours\r\nx\r\n=======\r\ny\r\n>>>>>>> template\r\n", [("x\r\n", "y\r\n")]),
        (
            b"<<<<<<< yours\n<<<<<<< yours\n=======\n=======\n>>>>>>> template",
            [("<<<<<<< yours\n", "=======\n")],
        ),
        (b"<<<<<<< yours\nx\n=======\n", []),
        (
            b"<<<<<<< yours\n=======\n>>>>>>> template\n<<<<<<< yours\n=======\n>>>>>>> template\n",
            [("", ""), ("", "")],
        ),
    ],
    ids=["empty-template-side", "crlf", "markers-inside-a-side", "unclosed", "two"],
)
def test_conflict_sides_read_as_the_markers_lie(
    merged: bytes, sides: list[tuple[str, str]]
) -> None:
    from plscaffold.merge import _conflict_sides

    assert _conflict_sides(merged.decode()) == sides
