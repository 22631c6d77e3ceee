"""A generated project on disk: found, locked, recovered after a killed run, changed at once."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plscaffold.answers import (
    ANSWERS_RELPATH,
    PRISTINE_DIR_RELPATH,
    STATE_DIR_RELPATH,
    AnswersDocument,
    pristine_relpath,
)
from plscaffold.errors import (
    AnswersFileError,
    InvalidNameError,
    PlscaffoldNotice,
    ProjectBusyError,
    ProjectNotFoundError,
    UnsafePathError,
)
from plscaffold.names import project_names
from plscaffold.paths import project_path
from plscaffold.render import RenderedFile
from plscaffold.writer import Change, apply_changes, recover_changes

JOURNAL_RELPATH = f"{STATE_DIR_RELPATH}/journal.json"
"""Present only while a command changes the project: what to undo or finish if it dies."""


@dataclass(frozen=True)
class ProjectState:
    """A generated project on disk: its root, its answers and its pristine files.

    Hold one only inside :func:`open_project`, whose lock keeps other commands out while
    it is changed.
    """

    root_abspath: Path
    document: AnswersDocument

    @property
    def project_name(self) -> str:
        """The project name the answers file records.

        Raises:
            AnswersFileError: it records none.
        """
        project_name = self.document.answers.get("project_name")
        if not isinstance(project_name, str):
            raise AnswersFileError(
                f"{self.root_abspath / ANSWERS_RELPATH} records no project_name; restore it "
                "from version control"
            )
        return project_name

    @property
    def package_name(self) -> str:
        """The project's importable package (``my-proj`` is ``my_proj``).

        The answers file is data that a clone or an edit may have changed: the name is
        checked as ``new`` checks it, since the package is imported and written into
        scripts.

        Raises:
            AnswersFileError: the recorded project name is not one a package can have.
        """
        try:
            return project_names(self.project_name).package_name
        except InvalidNameError as err:
            raise AnswersFileError(
                f"{self.root_abspath / ANSWERS_RELPATH}: {err}; restore it from version control"
            ) from err

    def read(self, relpath: str) -> RenderedFile | None:
        """Return a project file as it is on disk now, or None if it is not there."""
        path = self.root_abspath / relpath
        if not path.is_file():
            return None
        return RenderedFile(path.read_bytes(), path.stat().st_mode & 0o7777)

    def pristine(self, relpath: str) -> RenderedFile | None:
        """Return the file as plscaffold last rendered it, or None if it never did."""
        return self.read(pristine_relpath(relpath))

    def pristine_relpaths(self) -> list[str]:
        """Return every project file that has a pristine copy."""
        root = self.root_abspath / PRISTINE_DIR_RELPATH
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def write(self, changes: list[Change]) -> None:
        """Write (or, for None, remove) project files, all or none; see :func:`write_files`."""
        write_files(self.root_abspath, changes)

    def commit(
        self,
        file_changes: list[Change],
        pristine_changes: list[Change],
        document: AnswersDocument,
    ) -> None:
        """Write project files, then their pristine copies, then the answers file, in one commit.

        The record of what was written comes last, and the journal lets the next run finish
        a commit that was killed half way, so the record never describes files that are not
        on disk.
        """
        record = [(pristine_relpath(relpath), new) for relpath, new in pristine_changes]
        answers_file = document.to_file()
        current = self.read(ANSWERS_RELPATH)
        if current is None or current.content != answers_file.content:
            record.append((ANSWERS_RELPATH, answers_file))
        apply_changes(self.root_abspath, file_changes, JOURNAL_RELPATH, record=record)


def write_files(root_abspath: Path, changes: Sequence[Change]) -> None:
    """Write (or, for None, remove) files of the project at ``root_abspath``, all or none.

    The project's own files only: a path in ``.git`` or ``.plscaffold`` is refused (see
    :mod:`plscaffold.paths`). A journal records the run while it writes, so the next
    command finishes or undoes the writes of one that was killed half way.
    """
    apply_changes(root_abspath, changes, JOURNAL_RELPATH)


def write_state_files(root_abspath: Path, changes: Sequence[Change]) -> None:
    """Write (or, for None, remove) files of plscaffold's own state folder, all or none.

    Only the state code names ``.plscaffold``: its caches, say; anything else is refused.
    """
    apply_changes(root_abspath, (), JOURNAL_RELPATH, record=changes)


def find_project_root(start_abspath: Path) -> Path:
    """Return the nearest folder at or above ``start_abspath`` holding an answers file.

    Raises:
        ProjectNotFoundError: no folder up to the file system root has one.
    """
    try:
        start_abspath = start_abspath.resolve()
        for folder in (start_abspath, *start_abspath.parents):
            if (folder / ANSWERS_RELPATH).is_file():
                return folder
    except (OSError, ValueError) as err:
        raise ProjectNotFoundError(
            f"{str(start_abspath)!r} is not a folder plscaffold can look in ({err}); pass "
            "--project PATH"
        ) from err
    raise ProjectNotFoundError(
        f"no plscaffold project at or above {start_abspath} (no {ANSWERS_RELPATH}); "
        "run this inside a project made by `plscaffold new`, or pass --project PATH"
    )


def _lock(root_abspath: Path) -> int | None:
    """Take the project's lock: an exclusive ``flock`` on its ``.plscaffold`` folder.

    A folder, not a file, so that locking adds nothing for git to see. Returns the open
    descriptor to close when done, or None where the platform has no ``flock``.

    Raises:
        ProjectBusyError: another plscaffold command holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks on folders
        return None
    # Refuses a link in the folder's place, by name, as every other path.
    folder = project_path(root_abspath, ANSWERS_RELPATH, state=True).parent
    try:
        # The folder itself, never a link in its place.
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as err:
        raise UnsafePathError(
            f"{folder} is not a folder ({err.strerror}); plscaffold keeps its record of the "
            "project there and never follows a link: restore it from version control"
        ) from err
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        os.close(descriptor)
        raise ProjectBusyError(
            f"another plscaffold command is changing {root_abspath} right now; run this "
            "again when it has finished"
        ) from err
    return descriptor


@contextmanager
def open_project(start_abspath: Path) -> Iterator[ProjectState]:
    """Find the project around ``start_abspath``, lock it and read its answers file.

    The lock is held until the block ends, so two commands never change one project at
    once. A run killed while it changed the project left a journal: its temporary files
    are removed, or its commit finished, before the answers are read.

    Raises:
        ProjectNotFoundError: no project at or above ``start_abspath``.
        ProjectBusyError: another plscaffold command is changing the project.
        AnswersFileError: the answers file cannot be read.
    """
    root = find_project_root(start_abspath)
    descriptor = _lock(root)
    try:
        recovered = recover_changes(root, JOURNAL_RELPATH)
        if recovered:
            warnings.warn(f"{root}: {recovered}", PlscaffoldNotice, stacklevel=3)
        answers_abspath = project_path(root, ANSWERS_RELPATH, state=True)
        document = AnswersDocument.from_bytes(answers_abspath.read_bytes(), answers_abspath)
        yield ProjectState(root, document)
    finally:
        if descriptor is not None:
            os.close(descriptor)
