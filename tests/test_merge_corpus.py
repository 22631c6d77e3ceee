"""plscaffold's three-way merge against ``git merge-file`` on a corpus of edit pairs.

Each case is a base, the user's edit and the template's edit. plscaffold conflicts only
where git does, and where neither conflicts both merge to the same bytes, so no edit is
lost that git would keep: through git where it is installed, and through merge3 where it
is not.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from plscaffold.merge import merge3_merge, three_way_merge


def _readme(sections: int) -> list[str]:
    """A README-like file: headings, prose and blank lines (many repeated lines)."""
    lines = ["# demo", "", "A PyTorch Lightning project on MNIST digits.", ""]
    for index in range(sections):
        lines += [
            f"## Section {index}",
            "",
            f"Text of section {index}.",
            "",
            "```bash",
            "pytest",
            "```",
            "",
        ]
    return lines


def _case(base: list[str], yours: list[str], template: list[str]) -> tuple[bytes, bytes, bytes]:
    return tuple("".join(line + "\n" for line in text).encode() for text in (base, yours, template))  # type: ignore[return-value]


def _edit(lines: list[str], index: int, text: str) -> list[str]:
    changed = list(lines)
    changed[index] = text
    return changed


_SHORT = [f"line {index}" for index in range(10)]
_LONG = _readme(40)  # over 200 lines: where difflib's popular-line heuristic used to bite
_LAST_TEXT = len(_LONG) - 6  # "Text of section 39."

CORPUS = {
    "same line": _case(_SHORT, _edit(_SHORT, 4, "yours"), _edit(_SHORT, 4, "template")),
    "same line, same edit": _case(_SHORT, _edit(_SHORT, 4, "both"), _edit(_SHORT, 4, "both")),
    "adjacent lines": _case(_SHORT, _edit(_SHORT, 4, "yours"), _edit(_SHORT, 5, "template")),
    "separated by one line": _case(_SHORT, _edit(_SHORT, 3, "yours"), _edit(_SHORT, 5, "template")),
    "far apart": _case(_SHORT, _edit(_SHORT, 1, "yours"), _edit(_SHORT, 8, "template")),
    "both append at the end": _case(_SHORT, [*_SHORT, "yours"], [*_SHORT, "template"]),
    "one appends, one edits the first line": _case(
        _SHORT, _edit(_SHORT, 0, "yours"), [*_SHORT, "template"]
    ),
    "both prepend": _case(_SHORT, ["yours", *_SHORT], ["template", *_SHORT]),
    "a line moved down, another edited": _case(
        _SHORT,
        _SHORT[:2] + _SHORT[3:7] + [_SHORT[2]] + _SHORT[7:],
        _edit(_SHORT, 9, "template"),
    ),
    "a block moved to the end, an edit inside it": _case(
        _SHORT,
        _SHORT[:2] + _SHORT[5:] + _SHORT[2:5],
        _edit(_SHORT, 3, "template"),
    ),
    "one deletes a line the other edits": _case(
        _SHORT, _SHORT[:4] + _SHORT[5:], _edit(_SHORT, 4, "template")
    ),
    "both delete the same line": _case(_SHORT, _SHORT[:4] + _SHORT[5:], _SHORT[:4] + _SHORT[5:]),
    "long file: description edited, section appended": _case(
        _LONG, _edit(_LONG, 2, "An edited description."), [*_LONG, "## New", "", "More."]
    ),
    "long file: last section edited, section appended": _case(
        _LONG, _edit(_LONG, _LAST_TEXT, "Edited text."), [*_LONG, "## New", "", "More."]
    ),
    "long file: section appended by each": _case(
        _LONG, [*_LONG, "## Mine", "", "Mine."], [*_LONG, "## Theirs", "", "Theirs."]
    ),
    "long file: blank line removed, heading edited": _case(
        _LONG, _LONG[:9] + _LONG[10:], _edit(_LONG, 12, "## Renamed")
    ),
}


def _git_merge(tmp_path: Path, base: bytes, yours: bytes, template: bytes) -> tuple[bytes, bool]:
    for name, content in (("yours", yours), ("base", base), ("template", template)):
        (tmp_path / name).write_bytes(content)
    result = subprocess.run(
        ["git", "merge-file", "-p", "yours", "base", "template"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert result.returncode >= 0, result.stderr
    return result.stdout, result.returncode > 0


NO_GIT = shutil.which("git") is None


@pytest.mark.skipif(NO_GIT, reason="compares with git merge-file")
@pytest.mark.parametrize("engine", ["git", "merge3"])
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_plscaffold_conflicts_only_where_git_does_and_merges_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, engine: str
) -> None:
    base, yours, template = CORPUS[name]
    git_content, git_conflicted = _git_merge(tmp_path, base, yours, template)
    if engine == "merge3":
        monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # the fallback's turn
    merged = three_way_merge(base, yours, template)
    assert merged is not None
    content, conflicted = merged
    assert conflicted == git_conflicted, name
    if not conflicted:
        assert content == git_content, name
    if engine == "merge3":
        assert (content, conflicted) == merge3_merge(base, yours, template)


@pytest.mark.skipif(NO_GIT, reason="runs git merge-file")
def test_a_users_git_conflict_style_does_not_change_plscaffolds_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git reads its config inside a repository: here the temporary folder is in one."""
    repository = tmp_path / "repository"
    repository.mkdir()
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    (repository / ".git" / "config").write_text("[merge]\n\tconflictStyle = diff3\n")
    monkeypatch.setattr(tempfile, "tempdir", str(repository))
    merged = three_way_merge(*CORPUS["same line"])
    assert merged is not None
    content, conflicted = merged
    assert conflicted
    assert b"<<<<<<< yours\n" in content and b">>>>>>> template\n" in content
    assert b"|||||||" not in content


def test_a_section_appended_below_an_edited_line_merges_in_a_long_file() -> None:
    """The README case: one unchanged blank line between the user's and the template's edit."""
    base, yours, template = CORPUS["long file: last section edited, section appended"]
    content, conflicted = merge3_merge(base, yours, template)
    assert not conflicted
    assert b"Edited text.\n" in content
    assert content.endswith(b"## New\n\nMore.\n")
