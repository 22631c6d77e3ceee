"""A generated project on disk: found, locked, recovered after a killed run, changed at once."""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
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
    TargetExistsError,
    UnsafePathError,
)
from plscaffold.names import project_names
from plscaffold.paths import project_path
from plscaffold.render import RenderedFile
from plscaffold.writer import (
    Change,
    apply_changes,
    is_staged,
    recover_changes,
    recovery_pending,
)

JOURNAL_RELPATH = f"{STATE_DIR_RELPATH}/journal.json"
"""Present only while a command changes the project: what to undo or finish if it dies."""

CACHE_DIR_RELPATH = f"{STATE_DIR_RELPATH}/cache"
"""What plscaffold keeps for this working copy alone; the generated .gitignore names it."""

WRITTEN_RELPATH = f"{CACHE_DIR_RELPATH}/written.json"
"""A digest of each file :meth:`ProjectState.write` wrote (experiments, sweep scripts, plots), its
content and mode, by path: such a file, just as written, is plscaffold's to write again,
and uncommitted it blocks nothing. It stays in this working copy (git ignores the cache);
without it those files count as the user's, which is safe."""


@dataclass(frozen=True)
class ProjectState:
    """A generated project on disk: its root, its answers and its pristine files.

    Hold one only inside :func:`open_project`, whose lock keeps other commands out while
    it is changed.
    """

    root_abspath: Path
    document: AnswersDocument
    read_only: bool = False
    """Opened to read (``status``, shell completion): a shared lock, nothing recovered."""

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
    def recovery_pending(self) -> bool:
        """Whether a killed run left a change for the next writing command to recover."""
        return recovery_pending(self.root_abspath, JOURNAL_RELPATH)

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
        """Return every project file that has a pristine copy.

        A copy that a killed commit left staged (a read-only command sees it before the next
        writing command recovers) is not one.
        """
        root = self.root_abspath / PRISTINE_DIR_RELPATH
        return sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not is_staged(p.name)
        )

    def users_changes(self, uncommitted: Mapping[str, str], *, has_commit: bool) -> list[str]:
        """Return the uncommitted changes that are the user's: each but plscaffold's own.

        Args:
            uncommitted: Each path git lists under the project, with its porcelain code
                (see :func:`plscaffold.git.uncommitted_changes`).
            has_commit: The repository has a commit (else ``new`` staged the project).
        """
        written = _written(self.root_abspath)
        unsettled = {
            relpath
            for relpath, code in uncommitted.items()
            if relpath.startswith(STATE_DIR_RELPATH + "/")
            and not relpath.startswith(CACHE_DIR_RELPATH + "/")
            and (has_commit or code != "A ")
            and not is_as_written(self.root_abspath, relpath, written=written)
        }
        return [p for p in uncommitted if not self.is_plscaffolds_own(p, unsettled)]

    def is_plscaffolds_own(self, relpath: str, unsettled: Collection[str] = ()) -> bool:
        """Tell whether a file's uncommitted change is plscaffold's, which a command may
        overwrite: nothing of the user's would be lost, and plscaffold can write it again.

        That is a file of plscaffold's cache, or a file just as plscaffold last wrote it:
        equal to its pristine copy (``new``, ``generate``, ``generate --restore``,
        ``update``, ``add``), or to the digest :meth:`write` recorded (``experiment
        new``, sweeps, plots). A file deleted, changed or behind a link is the user's.

        A pristine copy counts only as committed or as plscaffold last wrote it (its
        digest): ``unsettled`` names the files of the state folder (pristine copies, the
        answers file) that are neither, which are the user's, and so is a file equal to
        such a pristine copy. A search-and-replace over the project edits both; a command
        overwriting them would lose the edit, in no commit. What ``new`` staged where git
        could not commit it is settled too (see :meth:`users_changes`).
        """
        if relpath.startswith(CACHE_DIR_RELPATH + "/"):
            return True
        if relpath.startswith(STATE_DIR_RELPATH + "/"):
            return relpath not in unsettled
        try:
            project_path(self.root_abspath, relpath)
        except UnsafePathError:
            return False
        current = self.read(relpath)
        if current is None:
            return False
        if pristine_relpath(relpath) not in unsettled and current == self.pristine(relpath):
            return True
        return is_as_written(self.root_abspath, relpath, current)

    def write(self, changes: Sequence[Change]) -> None:
        """Write (or, for None, remove) project files that no template renders, all or none.

        Such as experiments, sweep scripts and plots. The project's own files only: a path
        in ``.git`` or ``.plscaffold`` is refused (see :mod:`plscaffold.paths`). A journal
        records the run while it writes, so the next command finishes or undoes the writes
        of one that was killed half way. Each file's digest is recorded in
        :data:`WRITTEN_RELPATH` with it.

        A file that is there already is overwritten or removed only as plscaffold last
        wrote it here (its digest): anything else there is the user's, committed or not.

        Raises:
            TargetExistsError: a file to write or remove is there, and is not as plscaffold
                last wrote it; nothing was written.
        """
        self._check_writable()
        written = _written(self.root_abspath)
        for relpath, _ in changes:
            target = project_path(self.root_abspath, relpath)
            if os.path.lexists(target) and not is_as_written(
                self.root_abspath, relpath, written=written
            ):
                raise TargetExistsError(
                    f"{target} is there already and is not the file plscaffold last wrote "
                    "(yours, or changed since); nothing was written. Move or remove it, after "
                    "committing anything of yours in it, and run this again"
                )
        record = [_digests_with(self.root_abspath, changes, written)]
        apply_changes(self.root_abspath, changes, JOURNAL_RELPATH, record=record)

    def commit(
        self,
        file_changes: list[Change],
        pristine_changes: list[Change],
        document: AnswersDocument,
    ) -> None:
        """Write project files, then their pristine copies, then the answers file, in one commit.

        The record of what was written comes last, and the journal lets the next run finish
        a commit that was killed half way, so the record never describes files that are not
        on disk. The digest of each record file goes with it (:data:`WRITTEN_RELPATH`): so
        long as it is uncommitted, that tells plscaffold's record from an edit of the user's.
        """
        record = [(pristine_relpath(relpath), new) for relpath, new in pristine_changes]
        answers_file = document.to_file()
        current = self.read(ANSWERS_RELPATH)
        if current is None or current.content != answers_file.content:
            record.append((ANSWERS_RELPATH, answers_file))
        if record:  # nothing rewritten: nothing touched, the digests neither
            record.append(_digests_with(self.root_abspath, record))
        self._check_writable()
        apply_changes(self.root_abspath, file_changes, JOURNAL_RELPATH, record=record)

    def _check_writable(self) -> None:
        """Refuse a write to a project opened to read: its lock keeps out writers only."""
        if self.read_only:
            raise RuntimeError(f"{self.root_abspath} was opened read-only; nothing was written")


def _digests_with(
    root_abspath: Path, changes: Sequence[Change], written: dict[str, str] | None = None
) -> tuple[str, RenderedFile]:
    """Return :data:`WRITTEN_RELPATH` as it is once ``changes`` are written, to write."""
    written = _written(root_abspath) if written is None else written
    for relpath, new in changes:
        written.pop(relpath, None)
        if new is not None:
            written[relpath] = _digest(new)
    record = json.dumps(written, indent=1, sort_keys=True) + "\n"
    return WRITTEN_RELPATH, RenderedFile(record.encode())


def is_as_written(
    root_abspath: Path,
    relpath: str,
    current: RenderedFile | None = None,
    written: Mapping[str, str] | None = None,
) -> bool:
    """Tell whether a project file is just as :meth:`ProjectState.write` last wrote it, content and
    mode: its digest in :data:`WRITTEN_RELPATH`. A link, a folder or a missing file is not.

    Args:
        current: The file as read already; else it is read.
        written: The digests as read already; else they are read.
    """
    if current is None:
        path = root_abspath / relpath
        if path.is_symlink() or not path.is_file():
            return False
        current = RenderedFile(path.read_bytes(), path.stat().st_mode & 0o7777)
    digests = _written(root_abspath) if written is None else written
    return digests.get(relpath) == _digest(current)


def _digest(file: RenderedFile) -> str:
    """Return a digest of a file's mode and content."""
    return hashlib.sha256(b"%o\0%b" % (file.mode, file.content)).hexdigest()


def _written(root_abspath: Path) -> dict[str, str]:
    """Return :data:`WRITTEN_RELPATH`'s digests; none where it is missing or unreadable."""
    try:
        found = json.loads(project_path(root_abspath, WRITTEN_RELPATH, state=True).read_bytes())
    except (OSError, ValueError, UnsafePathError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


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


def _lock(root_abspath: Path, *, shared: bool = False, wait: float = 0.0) -> int | None:
    """Take the project's lock: a ``flock`` on its ``.plscaffold`` folder.

    A folder, not a file, so that locking adds nothing for git to see. A command that
    changes the project takes it exclusive; one that only reads takes it ``shared``, beside
    other readers. Returns the open descriptor to close when done, or None where the
    platform has no ``flock``.

    Args:
        wait: Seconds to wait for another command to let go, trying every fifth of one;
            0 refuses at once.

    Raises:
        ProjectBusyError: another plscaffold command holds the lock (after ``wait``).
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
    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, operation)
            return descriptor
        except BlockingIOError as err:
            if time.monotonic() < deadline:
                time.sleep(_LOCK_RETRY_SECONDS)
                continue
            os.close(descriptor)
            raise ProjectBusyError(
                f"another plscaffold command is changing {root_abspath} right now; run this "
                "again when it has finished"
            ) from err


_LOCK_RETRY_SECONDS = 0.2


@contextmanager
def open_project(
    start_abspath: Path, *, wait: float = 0.0, read_only: bool = False
) -> Iterator[ProjectState]:
    """Find the project around ``start_abspath``, lock it and read its answers file.

    The lock is held until the block ends, so two commands never change one project at
    once. A run killed while it changed the project left a journal: its temporary files
    are removed, or its commit finished, before the answers are read. A command that only
    reads (``read_only``: ``status``, shell completion) shares the lock with other
    readers and writes nothing, that journal neither: it says the recovery is pending,
    for the next command that changes the project.

    Args:
        wait: Seconds to wait while another command holds the lock (processes sharing an
            Optuna study take it for moments); 0 refuses at once.
        read_only: Open the project to read it; the state refuses to write.

    Raises:
        ProjectNotFoundError: no project at or above ``start_abspath``.
        ProjectBusyError: another plscaffold command is changing the project.
        AnswersFileError: the answers file cannot be read.
    """
    root = find_project_root(start_abspath)
    descriptor = _lock(root, shared=read_only, wait=wait)
    try:
        if read_only:
            if recovery_pending(root, JOURNAL_RELPATH):
                warnings.warn(
                    f"{root}: an interrupted run left a change to finish or undo "
                    f"({JOURNAL_RELPATH}); this command only reads, so it shows the project as "
                    "that run left it: the next command that changes the project (generate, "
                    "update, add, experiment new) recovers it first",
                    PlscaffoldNotice,
                    stacklevel=3,
                )
        else:
            recovered = recover_changes(root, JOURNAL_RELPATH)
            if recovered:
                warnings.warn(f"{root}: {recovered}", PlscaffoldNotice, stacklevel=3)
        answers_abspath = project_path(root, ANSWERS_RELPATH, state=True)
        document = AnswersDocument.from_bytes(answers_abspath.read_bytes(), answers_abspath)
        yield ProjectState(root, document, read_only)
    finally:
        if descriptor is not None:
            os.close(descriptor)
