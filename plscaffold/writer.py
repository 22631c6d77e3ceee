"""Write to disk, all or nothing: a new project through a staging folder moved into place,
changes to an existing one through a journal that the next command replays after a crash."""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from plscaffold.errors import (
    InterruptedAfterWrite,
    OutputNotWritableError,
    TargetExistsError,
    UnsafePathError,
)
from plscaffold.render import RenderedFile, Rendering, check_relpath


def _default_dir_mode() -> int:
    """Return the mode a plain ``mkdir`` would give a folder under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def check_target(target_abspath: Path) -> None:
    """Refuse a target that is a file or a non-empty folder.

    Raises:
        TargetExistsError: ``target_abspath`` exists and is not an empty folder.
        OutputNotWritableError: the path cannot be a folder here (too long, a NUL byte...).
    """
    try:
        os.lstat(target_abspath)
    except (FileNotFoundError, NotADirectoryError):
        return  # a new folder; whether its parent can hold it shows when it is written
    except (OSError, ValueError) as err:
        raise OutputNotWritableError(
            f"{str(target_abspath)!r} cannot be the project folder ({err}); choose another "
            "name or --output-dir"
        ) from err
    if target_abspath.is_symlink() or (target_abspath.exists() and not target_abspath.is_dir()):
        raise TargetExistsError(
            f"{target_abspath} exists and is not a folder; choose another name or --output-dir"
        )
    if target_abspath.is_dir() and any(target_abspath.iterdir()):
        raise TargetExistsError(
            f"{target_abspath}/ exists and is not empty; choose another name or --output-dir, "
            "or move the folder away"
        )


def _write_files(rendering: Rendering, root_abspath: Path) -> None:
    for relpath, rendered in sorted(rendering.items()):
        file_abspath = root_abspath / check_relpath(relpath)
        file_abspath.parent.mkdir(parents=True, exist_ok=True)
        file_abspath.write_bytes(rendered.content)
        os.chmod(file_abspath, rendered.mode)


def _remove_created(folders: list[Path]) -> None:
    """Remove the folders this run created, deepest first, as long as they are empty."""
    for folder in folders:
        if folder.is_dir():
            try:
                folder.rmdir()
            except OSError:
                continue  # not empty: something else lives there


def _temporary_name(folder: Path, prefix: str, suffix: str = "") -> Path:
    """Return a fresh random name in ``folder`` for a temporary file or folder; create nothing.

    Callers record the name before creating the path, so that an interrupt arriving
    between the two still finds it to clean up.
    """
    return folder / f"{prefix}{secrets.token_hex(6)}{suffix}"


def _staging_prefix(target_abspath: Path) -> str:
    return f".{target_abspath.name}.plscaffold-"


def _remove_abandoned_staging(target_abspath: Path) -> None:
    """Remove staging folders that killed runs left beside the target.

    A staging folder's name holds the id of the process that made it; one whose process
    is gone was abandoned (SIGKILL), and nothing else will ever remove it.
    """
    prefix = _staging_prefix(target_abspath)
    parent = target_abspath.parent
    for folder in parent.glob(f"{glob.escape(prefix)}*") if parent.is_dir() else []:
        pid = folder.name.removeprefix(prefix).split("-")[0]
        if pid.isdigit() and not folder.is_symlink() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


HookRunner = Callable[[str, Path], None]
"""Runs a template hook (``pre_gen_project``, ``post_gen_project``) in the staging folder."""


def write_new_project(
    rendering: Rendering, target_abspath: Path, run_hook: HookRunner | None = None
) -> None:
    """Write ``rendering`` as the new folder ``target_abspath``, atomically.

    The files are written into a temporary folder beside the target, which is then renamed
    into place; trusted template hooks run in that folder before the rename. On any
    failure, Ctrl-C included, the temporary folder and any parent folder this call created
    are removed, so the disk is left as it was.

    Raises:
        TargetExistsError: the target exists and is not an empty folder.
        OutputNotWritableError: the output folder cannot be created or written to.
    """
    check_target(target_abspath)
    parent_abspath = target_abspath.parent
    _remove_abandoned_staging(target_abspath)
    # Deepest first, so that a failure can remove them in this order.
    created = [p for p in (parent_abspath, *parent_abspath.parents) if not p.exists()]
    staging_abspath: Path | None = None
    emptied_target = False
    done = False
    try:
        parent_abspath.mkdir(parents=True, exist_ok=True)
        staging_abspath = _temporary_name(
            parent_abspath, f"{_staging_prefix(target_abspath)}{os.getpid()}-"
        )
        try:
            staging_abspath.mkdir(mode=0o700)
        except FileExistsError:
            staging_abspath = None  # not ours: never remove it
            raise
        os.chmod(staging_abspath, _default_dir_mode())
        if run_hook:
            run_hook("pre_gen_project", staging_abspath)
        _write_files(rendering, staging_abspath)
        if run_hook:
            run_hook("post_gen_project", staging_abspath)
        with _signals_deferred():
            if target_abspath.is_dir():
                target_abspath.rmdir()  # empty, checked above; rename needs it gone
                emptied_target = True
            os.rename(staging_abspath, target_abspath)
            done = True
    except OSError as err:
        raise OutputNotWritableError(
            f"cannot write the project into {parent_abspath}: {err.strerror or err}; "
            "choose a folder you can write to with --output-dir"
        ) from err
    finally:
        if not done:
            if staging_abspath is not None:
                shutil.rmtree(staging_abspath, ignore_errors=True)
            if emptied_target:
                target_abspath.mkdir(exist_ok=True)
            _remove_created(created)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then raise InterruptedAfterWrite.

    Python runs signal handlers between bytecodes, so swapping the handlers (rather than
    blocking the signals) also catches a signal that arrived just before the block.
    """
    received: list[int] = []

    def record(signum: int, frame: object) -> None:
        received.append(signum)

    try:
        previous = {sig: signal.signal(sig, record) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals cannot reach this code anyway
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise InterruptedAfterWrite(received[0])


def project_path(root_abspath: Path, relpath: str) -> Path:
    """Return where ``relpath`` lies in the project, refusing any symbolic link on the way.

    Every folder from the project root down to the file, and the file itself, must be a
    real folder or file (or not exist yet), so that a write never lands outside the
    project through a link.

    Raises:
        UnsafePathError: ``relpath`` leaves the project, or one of its parts is a link.
    """
    target = root_abspath / check_relpath(relpath)
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


Change = tuple[str, RenderedFile | None]
"""One step of a commit: a project-relative path and its new content, or None to remove it."""

TEMP_SUFFIX = ".plscaffold-tmp"
JOURNAL_PARTIAL_SUFFIX = ".partial"


def apply_changes(
    root_abspath: Path, changes: Sequence[Change], journal_relpath: str | None = None
) -> None:
    """Write and remove files inside an existing project, in order, all or nothing.

    Every target is checked first (no symbolic link on its way). Every new content is
    written to a temporary file beside its target; only when all are written are the
    changes made, renames over the targets and removals, in the order given: callers put
    the record of what was written last. Signals wait until the commit is complete.

    With ``journal_relpath``, the temporary names and then the commit are recorded there
    first, so that a run killed at any instant (SIGKILL) leaves what
    :func:`recover_changes` needs to undo the staging or finish the commit.

    Raises:
        UnsafePathError: a target lies behind a symbolic link; nothing was written.
        OutputNotWritableError: a file cannot be written; nothing was changed, or, if the
            commit itself failed, the journal is left for the next run to finish.
    """
    targets = [project_path(root_abspath, relpath) for relpath, _ in changes]
    journal = project_path(root_abspath, journal_relpath) if journal_relpath else None
    steps = [
        (
            _temporary_name(target.parent, f".{target.name}.", TEMP_SUFFIX) if new else None,
            target,
            new,
        )
        for target, (_, new) in zip(targets, changes, strict=True)
    ]
    staged: list[Path] = []
    created_dirs: list[Path] = []
    committing = done = False
    try:
        if journal:
            _write_journal(journal, "staging", steps, root_abspath)
        for temp, target, new in steps:
            if temp is None or new is None:
                continue
            missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            created_dirs = missing + created_dirs
            staged.append(temp)
            try:
                with open(temp, "xb") as stream:  # x: a name taken meanwhile is an error
                    stream.write(new.content)
            except FileExistsError:
                staged.pop()  # not ours: never remove it
                raise
            os.chmod(temp, new.mode)
        # The renames and removals are the commit: signals wait until it is complete, so
        # an interrupt leaves the project either as it was or fully written.
        with _signals_deferred():
            if journal:
                _write_journal(journal, "commit", steps, root_abspath)
            committing = True
            _commit(steps, root_abspath)
            if journal:
                journal.unlink()
            done = True
    except OSError as err:
        if committing:
            raise OutputNotWritableError(
                f"cannot write {err.filename or root_abspath}: {err.strerror or err}; the "
                "change is half made: run the command again, which finishes it"
            ) from err
        raise OutputNotWritableError(
            f"cannot write {err.filename or root_abspath}: {err.strerror or err}; "
            "nothing was changed"
        ) from err
    finally:
        if not done and not committing:
            for temp in staged:
                temp.unlink(missing_ok=True)
            if journal:
                journal.unlink(missing_ok=True)
            _remove_created(sorted(set(created_dirs), key=lambda p: len(p.parts), reverse=True))


Step = tuple[Path | None, Path, RenderedFile | None]


def _commit(steps: Sequence[Step], root_abspath: Path) -> None:
    """Make the staged changes: rename each temporary file over its target, or remove it."""
    emptied: set[Path] = set()
    for temp, target, _ in steps:
        if temp is None:
            target.unlink(missing_ok=True)
            emptied.update(p for p in target.parents if p.is_relative_to(root_abspath))
        elif temp.exists():  # a finished commit's files are in place already
            os.replace(temp, target)
    emptied.discard(root_abspath)
    # Folders left empty by the removals go too, deepest first.
    _remove_created(sorted(emptied, key=lambda p: len(p.parts), reverse=True))


def _write_journal(journal: Path, phase: str, steps: Sequence[Step], root_abspath: Path) -> None:
    """Replace the journal in one rename: it is always whole, never half written."""
    document = {
        "phase": phase,
        "steps": [
            [temp.relative_to(root_abspath).as_posix() if temp else None,
             target.relative_to(root_abspath).as_posix()]
            for temp, target, _ in steps
        ],
    }  # fmt: skip
    partial = journal.with_name(journal.name + JOURNAL_PARTIAL_SUFFIX)
    partial.write_text(json.dumps(document, indent=1), encoding="utf-8")
    os.replace(partial, journal)


def recover_changes(root_abspath: Path, journal_relpath: str) -> str | None:
    """Undo the staging, or finish the commit, of a run that was killed; say which.

    Returns:
        None when no run was interrupted; otherwise what was done, for the user.

    Raises:
        UnsafePathError: the journal names a path outside the project or behind a link.
    """
    journal = project_path(root_abspath, journal_relpath)
    journal.with_name(journal.name + JOURNAL_PARTIAL_SUFFIX).unlink(missing_ok=True)
    if not journal.is_file():
        return None
    try:
        document = json.loads(journal.read_text(encoding="utf-8"))
        phase = document["phase"]
        steps: list[Step] = [
            (project_path(root_abspath, temp) if temp else None,
             project_path(root_abspath, target), None)
            for temp, target in document["steps"]
        ]  # fmt: skip
    except (ValueError, KeyError, TypeError) as err:
        raise UnsafePathError(
            f"{journal} is not a journal plscaffold wrote ({err}); look at the project's "
            "changes (git status), then delete that file"
        ) from err
    if phase == "commit":
        _commit(steps, root_abspath)
        done = "finished the changes an interrupted run had begun to make"
    else:
        for temp, _, _ in steps:
            if temp is not None:
                temp.unlink(missing_ok=True)
        done = "removed the temporary files of an interrupted run"
    journal.unlink()
    return done
