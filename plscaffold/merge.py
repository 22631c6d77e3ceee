"""Decide, file by file, how a new rendering meets the user's copy: keep, replace or merge.

The base of every decision is the pristine copy, the file exactly as plscaffold last
rendered it. Text merges are ``git merge-file``'s where git is installed, else merge3's
(the three-way merge of bzr and breezy) with every line counted as git counts it.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from plscaffold.paths import STATE_DIR_RELPATH
from plscaffold.render import RenderedFile

YOURS_LABEL = "yours"
TEMPLATE_LABEL = "template"
# The marker lines plscaffold writes, and only those: a file that documents a git
# conflict (<<<<<<< HEAD) is not taken for one of ours.
_MARKER_LINE = re.compile(
    rb"^(<<<<<<< " + YOURS_LABEL.encode() + rb"|>>>>>>> " + TEMPLATE_LABEL.encode() + rb")\r?$",
    re.MULTILINE,
)


class Outcome(str, Enum):
    """What happens to one file; the value is what the CLI prints."""

    CREATED = "created"  # new in the template, not on disk
    UPDATED = "updated"  # untouched by the user: replaced by the new rendering
    MODE = "mode changed"  # same content; the template changed its permission bits
    MERGED = "merged"  # both changed, merged cleanly
    CONFLICT = "conflict"  # both changed on the same lines: written with markers
    BINARY_CONFLICT = "conflict (binary)"  # both changed, cannot merge: the user's kept
    IDENTICAL = "identical"  # the new rendering is what the file already is
    KEPT = "kept"  # edited by the user, template unchanged
    DELETED = "deleted"  # deleted by the user: not recreated without --restore
    RESTORED = "restored"  # deleted by the user, recreated with --restore
    REMOVED = "removed"  # no longer in the template, untouched by the user: deleted
    ORPHANED = "orphaned"  # no longer in the template, edited by the user: kept
    MOVED = "moved"  # a migration moved it: the user's copy goes on at its new path
    MIGRATED = "migrated"  # a migration changed it (config keys moved), nothing else did


WRITES = {
    Outcome.CREATED,
    Outcome.UPDATED,
    Outcome.MODE,
    Outcome.MERGED,
    Outcome.CONFLICT,
    Outcome.RESTORED,
    Outcome.MIGRATED,
}
CONFLICTS = {Outcome.CONFLICT, Outcome.BINARY_CONFLICT}


@dataclass(frozen=True)
class FilePlan:
    """The decision for one file.

    Attributes:
        relpath: The file, relative to the project root.
        outcome: What happens to it.
        current: The file on disk now, or None.
        result: What the file will hold afterwards if ``outcome`` writes it.
        pristine: The new pristine copy, or None to drop it.
        base: The pristine copy the decision was made against, or None.
    """

    relpath: str
    outcome: Outcome
    current: RenderedFile | None
    result: RenderedFile | None
    pristine: RenderedFile | None
    base: RenderedFile | None = None

    @property
    def writes(self) -> bool:
        return self.outcome in WRITES

    @property
    def removes(self) -> bool:
        moved = self.outcome is Outcome.MOVED and self.current is not None
        return self.outcome is Outcome.REMOVED or moved

    @property
    def diff(self) -> str:
        """A unified diff of what the plan does to the file on disk ('' if nothing)."""
        return plan_diff(self)


def has_conflict_markers(content: bytes) -> bool:
    """Return whether a file holds a marker line plscaffold writes around a conflict.

    Either line is enough: a set the user half removed still blocks the file, so that a
    later run never nests a second set inside it.
    """
    return _MARKER_LINE.search(content) is not None


def _as_text(content: bytes) -> str | None:
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _LineMatcher:
    """difflib's matcher without its popular-line heuristic, for merge3.

    By default a line making up over 1% of a file of 200 lines or more (a blank line in a
    README) is junk to difflib: it never anchors a match, so two edits that one unchanged
    blank line separates meet in one conflict that git merges cleanly.
    """

    def __init__(
        self,
        isjunk: Callable[[str], bool] | None = None,
        a: Sequence[str] = (),
        b: Sequence[str] = (),
        autojunk: bool = False,
    ) -> None:
        # autojunk is off whatever the caller asks: that is this matcher's reason to exist
        self._matcher = difflib.SequenceMatcher(isjunk, a, b, autojunk=False)

    def get_matching_blocks(self) -> list[tuple[int, int, int]]:
        return [(m.a, m.b, m.size) for m in self._matcher.get_matching_blocks()]


def three_way_merge(base: bytes, yours: bytes, template: bytes) -> tuple[bytes, bool] | None:
    """Merge the user's and the template's changes to ``base``, as ``git merge-file`` does.

    With git on the PATH, git merges; without it, merge3 does (see :func:`merge3_merge`).

    Returns:
        The merged bytes and whether they hold conflict markers, or None when one of the
        three is not UTF-8 text and cannot be merged line by line.
    """
    if any(_as_text(content) is None for content in (base, yours, template)):
        return None
    return git_merge_file(base, yours, template) or merge3_merge(base, yours, template)


def git_merge_file(base: bytes, yours: bytes, template: bytes) -> tuple[bytes, bool] | None:
    """Merge with ``git merge-file`` in a folder of its own; None where git cannot.

    The conflict style is fixed (a user's ``merge.conflictStyle = diff3`` would add a
    base section plscaffold's markers do not have), and no program git's config names runs.
    """
    from plscaffold.git import run_git

    with tempfile.TemporaryDirectory(prefix="plscaffold-merge-") as tmp:
        for name, content in (("yours", yours), ("base", base), ("template", template)):
            (Path(tmp) / name).write_bytes(content)
        labels = ("-L", YOURS_LABEL, "-L", "base", "-L", TEMPLATE_LABEL)
        result = run_git(
            Path(tmp), "-c", "merge.conflictStyle=merge", "merge-file", "-p", *labels,
            "yours", "base", "template",
        )  # fmt: skip
    # The exit status counts the conflicts (at most 127); an error is negative (255).
    if result is None or not 0 <= result.returncode <= 127:
        return None
    return result.stdout, result.returncode > 0


def merge3_merge(base: bytes, yours: bytes, template: bytes) -> tuple[bytes, bool]:
    """Merge UTF-8 texts with merge3, matching lines as git does (see :class:`_LineMatcher`).

    It conflicts where git does on plscaffold's corpus of edit pairs; where a change's
    lines are ambiguous (which of two blank lines was deleted), it may conflict where git
    picks an alignment that merges.
    """
    from merge3 import Merge3

    base_lines, your_lines, template_lines = (
        content.decode("utf-8").splitlines(keepends=True) for content in (base, yours, template)
    )
    merger = Merge3(base_lines, your_lines, template_lines, sequence_matcher=_LineMatcher)
    merged = "".join(
        merger.merge_lines(
            name_a=YOURS_LABEL,
            name_b=TEMPLATE_LABEL,
            start_marker="<<<<<<<",
            mid_marker="=======",
            end_marker=">>>>>>>",
        )
    )
    conflicted = any(region[0] == "conflict" for region in merger.merge_regions())
    return merged.encode("utf-8"), conflicted


def plan_file(
    relpath: str,
    pristine: RenderedFile | None,
    current: RenderedFile | None,
    new: RenderedFile | None,
    restore: bool = False,
) -> FilePlan:
    """Decide what happens to one file; the plan keeps ``pristine`` as its base.

    Args:
        relpath: The file, relative to the project root.
        pristine: The file as last rendered (the merge base), or None if there is none.
        current: The file on disk now, or None if it is not there.
        new: The new rendering, or None if the template no longer renders the file.
        restore: Recreate files the user deleted.
    """
    return replace(_decide(relpath, pristine, current, new, restore), base=pristine)


def _decide(
    relpath: str,
    pristine: RenderedFile | None,
    current: RenderedFile | None,
    new: RenderedFile | None,
    restore: bool,
) -> FilePlan:
    """Apply the decision table of :func:`plan_file`."""
    base = pristine.content if pristine else None
    if new is None:
        if current is None:
            return FilePlan(relpath, Outcome.IDENTICAL, None, None, None)
        if base is not None and current.content == base:
            return FilePlan(relpath, Outcome.REMOVED, current, None, None)
        return FilePlan(relpath, Outcome.ORPHANED, current, None, None)
    if current is None:
        if base is None:
            return FilePlan(relpath, Outcome.CREATED, None, new, new)
        if restore:
            return FilePlan(relpath, Outcome.RESTORED, None, new, new)
        return FilePlan(relpath, Outcome.DELETED, None, None, new)
    # Permission bits the user changed (chmod +x) win; otherwise the template's apply.
    user_mode = pristine is not None and current.mode != pristine.mode
    mode = current.mode if user_mode else new.mode
    if current.content == new.content or (base is not None and new.content == base):
        same = current.content == new.content
        if mode != current.mode:
            return FilePlan(
                relpath, Outcome.MODE, current, RenderedFile(current.content, mode), new
            )
        return FilePlan(relpath, Outcome.IDENTICAL if same else Outcome.KEPT, current, None, new)
    if base is not None and current.content == base:
        return FilePlan(relpath, Outcome.UPDATED, current, RenderedFile(new.content, mode), new)
    merged = three_way_merge(base or b"", current.content, new.content)
    if merged is None:
        return FilePlan(relpath, Outcome.BINARY_CONFLICT, current, None, new)
    content, conflicted = merged
    outcome = Outcome.CONFLICT if conflicted else Outcome.MERGED
    return FilePlan(relpath, outcome, current, RenderedFile(content, mode), new)


def plan_diff(plan: FilePlan) -> str:
    """Return a unified diff of what ``plan`` does to the file on disk ('' if nothing)."""
    import difflib

    before = plan.current.content if plan.current else b""
    if plan.writes and plan.result is not None:
        after = plan.result.content
    elif plan.removes:
        after = b""
    else:
        return ""
    before_text, after_text = _as_text(before), _as_text(after)
    old_name = f"a/{plan.relpath}" if plan.current else "/dev/null"
    new_name = "/dev/null" if plan.removes else f"b/{plan.relpath}"
    if before_text is None or after_text is None:
        return f"Binary files {old_name} and {new_name} differ\n"
    lines = difflib.unified_diff(
        before_text.splitlines(keepends=True),
        after_text.splitlines(keepends=True),
        fromfile=old_name,
        tofile=new_name,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


_DEFINITION = re.compile(r"^[ \t]*(?:async[ \t]+)?(class|def)[ \t]+([A-Za-z_]\w*)", re.MULTILINE)


@dataclass(frozen=True)
class RemovedDefinition:
    """A class or function in a conflict whose template side is empty: the template
    removed code the user had edited. ``now_in`` is the file of the new rendering that
    defines the same name (where the template moved it), or None if none does."""

    kind: str
    name: str
    now_in: str | None


def _conflict_sides(text: str) -> list[tuple[str, str]]:
    """Return the user's and the template's side of each conflict plscaffold marked.

    One pass over the lines: a start marker that is never closed costs nothing more,
    where a pattern searching ahead from each would scan the rest of the text per marker
    (40,000 of them: minutes). A start marker inside the user's side, or a middle one
    inside the template's, is that side's text.
    """
    start, middle, end = f"<<<<<<< {YOURS_LABEL}", "=======", f">>>>>>> {TEMPLATE_LABEL}"
    sides: list[tuple[str, str]] = []
    yours: list[str] | None = None
    theirs: list[str] | None = None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        whole = line + "\n" if index < len(lines) - 1 else line
        bare = line.removesuffix("\r")
        if yours is None:
            if bare == start and whole.endswith("\n"):
                yours = []
        elif theirs is None:
            if bare == middle and whole.endswith("\n"):
                theirs = []
            else:
                yours.append(whole)
        elif line.startswith(end):
            sides.append(("".join(yours), "".join(theirs)))
            yours = theirs = None
        else:
            theirs.append(whole)
    return sides


def removed_code(
    relpath: str, merged: bytes, base: bytes, rendering: dict[str, RenderedFile]
) -> list[RemovedDefinition] | None:
    """Say where code went that the template removed and the user had edited.

    Returns:
        None if no conflict of ``merged`` has an empty template side; else each class or
        function defined on the user's side of such a conflict that ``base`` defines too
        (the user's own additions are not the template's to move), with the file of
        ``rendering`` (other than ``relpath``) that now defines it.
    """
    text = merged.decode("utf-8", "replace")
    yours_sides = [yours for yours, template in _conflict_sides(text) if not template.strip()]
    if not yours_sides:
        return None
    found = []
    ours = set(_DEFINITION.findall(base.decode("utf-8", "replace")))
    for kind, name in _DEFINITION.findall("".join(yours_sides)):
        if (kind, name) not in ours:
            continue
        pattern = re.compile(rf"^[ \t]*(?:async[ \t]+)?{kind}[ \t]+{name}\b".encode(), re.MULTILINE)
        now_in = next(
            (
                other
                for other, rendered in sorted(rendering.items())
                if other != relpath
                and not other.startswith(f"{STATE_DIR_RELPATH}/")
                and pattern.search(rendered.content)
            ),
            None,
        )
        found.append(RemovedDefinition(kind, name, now_in))
    return found
