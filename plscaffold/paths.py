"""The one path policy of a project: which paths a rendering, a write or a journal may name.

Two folders of a project belong to nobody but their owners: ``.git/`` to git, whose config
can name programs that git then runs, and ``.plscaffold/`` to plscaffold's state code, whose
record (answers, pristine copies, the journal) every later command trusts. No rendering,
trusted or not, may produce a path in either; every write, rename and removal plscaffold
makes inside a project passes :func:`project_path`, which refuses those folders (the state
code alone may name ``.plscaffold/``), any path outside the project and any symbolic link
on the way.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from plscaffold.errors import UnsafePathError

STATE_DIR_RELPATH = ".plscaffold"
"""plscaffold's own folder in a project: its answers, pristine copies, journal and caches."""

GIT_DIR_NAME = ".git"

RESERVED_FOLDERS = (GIT_DIR_NAME, STATE_DIR_RELPATH)
"""Folder names that no rendering may produce at any depth, whatever their case."""

MAX_NAME_BYTES = 255
"""The longest file or folder name, in UTF-8 bytes, that common file systems take."""
MAX_PATH_DEPTH = 100
"""Folders a path plscaffold creates may nest: ten times a real project's depth, and well
below where Python's own folder tools, which recurse once per folder, fail."""


def check_relpath(relpath: str) -> str:
    """Return ``relpath`` if it stays inside the project root.

    Raises:
        UnsafePathError: the path is absolute, empty, or climbs out with ``..``; or it
            nests deeper than :data:`MAX_PATH_DEPTH`, or has a name longer than
            :data:`MAX_NAME_BYTES`, which no file could be written at.
    """
    path = PurePosixPath(relpath)
    if "\0" in relpath:
        raise UnsafePathError(
            f"rendered path {relpath!r} holds a NUL byte, which no file name can; fix the "
            "template's file names"
        )
    if not relpath or path.is_absolute() or ".." in path.parts or "\\" in relpath:
        raise UnsafePathError(
            f"rendered path {relpath!r} would land outside the project folder; "
            "fix the template's file names"
        )
    shown = relpath if len(relpath) <= 80 else f"{relpath[:77]}..."
    # A pristine copy (.plscaffold/pristine/RELPATH) counts as the file it copies.
    depth = len(path.parts[2:] if path.parts[:1] == (STATE_DIR_RELPATH,) else path.parts) - 1
    if depth > MAX_PATH_DEPTH:
        raise UnsafePathError(
            f"rendered path {shown!r} nests {depth} folders deep, more than the "
            f"{MAX_PATH_DEPTH} plscaffold writes; fix the template's file names"
        )
    size = max((_name_bytes(part) for part in path.parts), default=0)
    if size > MAX_NAME_BYTES:
        raise UnsafePathError(
            f"rendered path {shown!r} holds a name of {size} bytes, longer than the "
            f"{MAX_NAME_BYTES} a file system takes; fix the template's file names"
        )
    return path.as_posix()


def _name_bytes(name: str) -> int:
    """Return the length of a name as the file system gets it."""
    try:
        return len(os.fsencode(name))
    except UnicodeEncodeError:  # a lone surrogate that no file name holds
        return len(name.encode("utf-8", "surrogatepass"))


# What some file systems drop from a name or read it as: HFS+ ignores these code points
# (as git's own check of `.git` names knows), NTFS ignores trailing dots and spaces and
# what follows a `:` (a stream), and answers to an 8.3 short name.
_IGNORED_CODE_POINTS = dict.fromkeys(
    map(ord, "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u206a\u206b\u206c"
        "\u206d\u206e\u206f\ufeff")
)  # fmt: skip
_SHORT_NAMES = {"git~1": GIT_DIR_NAME, "plscaf~1": STATE_DIR_RELPATH}


def _as_file_systems_read(part: str) -> str:
    """Return the name that a file system ignoring case, some code points, trailing dots
    and spaces, or streams may take ``part`` for."""
    name = part.translate(_IGNORED_CODE_POINTS).casefold()
    return name.split(":", 1)[0].rstrip(". ")


def reserved_folder(relpath: str) -> str | None:
    """Return the reserved folder (``.git`` or ``.plscaffold``) a path lies in or names.

    Any part counts, as any file system may read it: ``sub/.git`` is a repository git
    finds from ``sub/``; ``.PLScaffold`` is ``.plscaffold`` where case is ignored (by
    Unicode's folding, so a long s counts as an s); ``.git.``, ``GIT~1`` and ``.git`` with
    a zero-width joiner in it are ``.git`` on NTFS or HFS+.
    """
    for part in PurePosixPath(relpath).parts:
        name = _as_file_systems_read(part)
        if name in RESERVED_FOLDERS:
            return name
        if name in _SHORT_NAMES:
            return _SHORT_NAMES[name]
    return None


def is_state_relpath(relpath: str) -> bool:
    """Whether ``relpath`` lies in plscaffold's state folder, exactly as the state code names it."""
    parts = PurePosixPath(relpath).parts
    return (
        len(parts) > 1
        and parts[0] == STATE_DIR_RELPATH
        and reserved_folder(PurePosixPath(*parts[1:]).as_posix()) is None
    )


def owner_of(reserved: str) -> str:
    """Name who a reserved folder (as :func:`reserved_folder` returns it) belongs to."""
    return "git" if reserved == GIT_DIR_NAME else "plscaffold"


def check_rendered_relpath(relpath: str, where: str) -> str:
    """Return a path a template rendered, unless it leaves the project or is reserved.

    Raises:
        UnsafePathError: the path leaves the project, or lies in ``.git`` or ``.plscaffold``;
            the message names the path and where it was rendered.
    """
    relpath = check_relpath(relpath)
    reserved = reserved_folder(relpath)
    if reserved == GIT_DIR_NAME:
        raise UnsafePathError(
            f"{where} renders {relpath!r}, inside a .git folder: a template may not write "
            "git's own files, whose config can run programs, trusted or not; remove it from "
            "the template (`plscaffold new` starts the repository itself)"
        )
    if reserved is not None:
        raise UnsafePathError(
            f"{where} renders {relpath!r}, inside .plscaffold/, where plscaffold keeps its own "
            "record of the project (answers, pristine copies, journal): a template may not "
            "write there, trusted or not; remove it from the template"
        )
    return relpath


def project_path(root_abspath: Path, relpath: str, *, state: bool = False) -> Path:
    """Return where ``relpath`` lies in the project, if plscaffold may write or read it there.

    The one policy every write, rename and removal inside a project passes: the path stays
    inside the project, no folder on the way and not the file itself is a symbolic link, it
    is not in ``.git``, and it is in ``.plscaffold`` only for the state code (``state``),
    which names nothing else.

    Raises:
        UnsafePathError: ``relpath`` leaves the project, lies behind a link, or is reserved.
    """
    relpath = check_relpath(relpath)
    if state and not is_state_relpath(relpath):
        raise UnsafePathError(
            f"{relpath} is not in {STATE_DIR_RELPATH}/, where plscaffold keeps its state; "
            "nothing was written"
        )
    reserved = None if state else reserved_folder(relpath)
    if reserved is not None:
        raise UnsafePathError(
            f"{relpath} lies in {reserved}/, which belongs to {owner_of(reserved)} alone; "
            "plscaffold never writes there for a template, a migration or an experiment, so "
            "nothing was written. Choose another path"
        )
    target = root_abspath / relpath
    part = root_abspath
    for name in PurePosixPath(relpath).parts:
        part = part / name
        if part.is_symlink():
            raise UnsafePathError(
                f"{part} is a symbolic link; plscaffold never writes through links, so "
                f"{relpath} was not written and nothing else was either. Replace the link "
                "with a real folder or file, then run this again"
            )
    return target
