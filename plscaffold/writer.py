"""Write to disk, all or nothing: a new project through a staging folder moved into place,
changes to an existing one through a journal that the next command replays after a crash."""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from plscaffold.answers import PRISTINE_DIR_RELPATH, pristine_relpath
from plscaffold.errors import (
    InterruptedAfterWrite,
    OutputNotWritableError,
    TargetExistsError,
    UnsafePathError,
)
from plscaffold.paths import (
    MAX_PATH_DEPTH,
    STATE_DIR_RELPATH,
    check_relpath,
    owner_of,
    project_path,
    reserved_folder,
)
from plscaffold.render import RenderedFile, Rendering


def _default_dir_mode() -> int:
    """Return the mode a plain ``mkdir`` would give a folder under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def check_target(target_abspath: Path) -> None:
    """Refuse a target that is a file or a non-empty folder.

    Raises:
        TargetExistsError: ``target_abspath`` exists and is not an empty folder.
        OutputNotWritableError: the path cannot be a folder here (too long, a NUL byte,
            nested deeper than :data:`plscaffold.paths.MAX_PATH_DEPTH` folders...).
    """
    reserved = reserved_folder(_resolved_parent(target_abspath).as_posix())
    if reserved is not None:
        raise UnsafePathError(
            f"{target_abspath} lies in a {reserved} folder, which belongs to "
            f"{owner_of(reserved)} alone; choose another --output-dir"
        )
    depth = len(target_abspath.parts) - 1
    if depth > MAX_PATH_DEPTH:
        raise OutputNotWritableError(
            f"{str(target_abspath)[:60]!r}... is {depth} folders deep, more than the "
            f"{MAX_PATH_DEPTH} plscaffold creates; choose a shallower --output-dir"
        )
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


def _resolved_parent(target_abspath: Path) -> Path:
    """Return the target with its existing folders' links resolved: where it really lies."""
    try:
        return target_abspath.parent.resolve() / target_abspath.name
    except (OSError, RuntimeError, ValueError):  # a loop, a NUL byte: check_target names it
        return target_abspath


def _write_files(rendering: Rendering, root_abspath: Path, *, state: bool) -> None:
    for relpath, rendered in sorted(rendering.items()):
        file_abspath = project_path(root_abspath, relpath, state=state)
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
    files: Rendering,
    state_files: Rendering,
    target_abspath: Path,
    run_hook: HookRunner | None = None,
    finish: Callable[[Path], None] | None = None,
) -> None:
    """Write ``files`` and plscaffold's ``state_files`` as the new folder ``target_abspath``.

    The files are written into a temporary folder beside the target, which is then renamed
    into place; trusted template hooks, then ``finish`` (``git init``), run in that folder
    before the rename. On any
    failure, Ctrl-C included, the temporary folder and any parent folder this call created
    are removed, so the disk is left as it was. Every path passes
    :func:`plscaffold.paths.project_path`: ``files`` outside ``.git`` and ``.plscaffold``,
    ``state_files`` inside ``.plscaffold``.

    Raises:
        TargetExistsError: the target exists and is not an empty folder.
        OutputNotWritableError: the output folder cannot be created or written to.
        UnsafePathError: a path is reserved or leaves the project; nothing was written.
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
        _write_files(files, staging_abspath, state=False)
        _write_files(state_files, staging_abspath, state=True)
        if run_hook:
            run_hook("post_gen_project", staging_abspath)
        if finish:
            finish(staging_abspath)
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
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then raise InterruptedAfterWrite.

    Python runs signal handlers between bytecodes, so swapping the handlers (rather than
    blocking the signals) also catches a signal that arrived just before the block.
    """
    received: list[int] = []
    hangup = getattr(signal, "SIGHUP", None)  # None on Windows
    held = [signal.SIGINT, signal.SIGTERM]
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:  # not nohup's
        held.append(hangup)

    def record(signum: int, frame: object) -> None:
        received.append(signum)

    try:
        previous = {sig: signal.signal(sig, record) for sig in held}
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


def project_folder(root_abspath: Path, relpath: str) -> Path:
    """Make a folder of the project (and those above it) for a program to write into.

    For files plscaffold does not write whole itself (the logs of the runs it starts, an
    Optuna study's database): the folder passes :func:`plscaffold.paths.project_path`.

    Raises:
        UnsafePathError: the folder is reserved, outside the project or behind a link.
    """
    folder = project_path(root_abspath, relpath)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_project_log(root_abspath: Path, relpath: str) -> BinaryIO:
    """Open a project file to append to (a run's output), through the project's path policy.

    Raises:
        UnsafePathError: the file is reserved, outside the project or behind a link.
    """
    path = project_path(root_abspath, relpath)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a link put in the file's place after the check is refused, not followed.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    if os.fstat(descriptor).st_nlink > 1:  # a hard link: the same file may lie elsewhere
        os.close(descriptor)
        raise UnsafePathError(
            f"{path} has another name (a hard link), so appending to it could change a file "
            "elsewhere; remove it, then run this again"
        )
    return os.fdopen(descriptor, "ab")


Change = tuple[str, RenderedFile | None]
"""One step of a commit: a project-relative path and its new content, or None to remove it."""

TEMP_SUFFIX = ".plscaffold-tmp"
JOURNAL_PARTIAL_SUFFIX = ".partial"
MAX_JOURNAL_BYTES = 16 << 20
"""A journal names each file of one change: the bundled project's biggest is a few KiB."""

# A staged file's name, as _staging_name makes it: `.NAME.` + 12 hex digits + TEMP_SUFFIX.
_STAGING_NAME = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}" + re.escape(TEMP_SUFFIX))

Step = tuple[Path | None, Path, RenderedFile | None]
"""A planned change: where its new content is staged (None for a removal), its target, and
that content (None when only its names are known, as in a journal)."""


def _staging_name(target: Path) -> Path:
    return _temporary_name(target.parent, f".{target.name}.", TEMP_SUFFIX)


def is_staged(name: str) -> bool:
    """Whether a file name is one plscaffold stages new content under, before its rename."""
    return _STAGING_NAME.fullmatch(name) is not None


def is_staging_name(temp_relpath: str, target_relpath: str) -> bool:
    """Whether ``temp_relpath`` is a name plscaffold stages ``target_relpath``'s content under."""
    temp, target = PurePosixPath(temp_relpath), PurePosixPath(target_relpath)
    matched = _STAGING_NAME.fullmatch(temp.name)
    return temp.parent == target.parent and matched is not None and matched["name"] == target.name


def apply_changes(
    root_abspath: Path,
    changes: Sequence[Change],
    journal_relpath: str | None = None,
    *,
    record: Sequence[Change] = (),
) -> None:
    """Write and remove files inside an existing project, in order, all or nothing.

    ``changes`` are the project's files, ``record`` plscaffold's own state that describes
    them (pristine copies, answers), committed after them. Every target passes
    :func:`plscaffold.paths.project_path` first (inside the project, no link on its way,
    neither ``.git`` nor, outside ``record``, ``.plscaffold``), and the change is checked to
    be one the commit can finish (no file written where a folder with other files stays).
    Every new content is written to a temporary file beside its target; only when all are
    written are the changes made: the removals, then the renames over the targets in the
    order given. Signals wait until the commit is complete.

    With ``journal_relpath``, the temporary names and then the commit are recorded there
    first, so that a run killed at any instant (SIGKILL) leaves what
    :func:`recover_changes` needs to undo the staging or finish the commit.

    Raises:
        UnsafePathError: a target is reserved or lies behind a symbolic link; nothing was
            written.
        TargetExistsError: a folder stands where a file goes (or the reverse), holding what
            the change keeps; nothing was written.
        OutputNotWritableError: a file cannot be written; nothing was changed, or, if the
            commit itself failed, the journal is left for the next run to finish.
    """
    planned = [(project_path(root_abspath, r), new) for r, new in changes]
    planned += [(project_path(root_abspath, r, state=True), new) for r, new in record]
    journal = project_path(root_abspath, journal_relpath, state=True) if journal_relpath else None
    steps: list[Step] = [
        (_staging_name(target) if new else None, target, new) for target, new in planned
    ]
    _check_finishable(root_abspath, steps)
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


def _check_finishable(root_abspath: Path, steps: Sequence[Step]) -> None:
    """Refuse a change whose commit could not complete, before anything is written.

    A file may replace a folder only when the same change removes everything in it, and
    a folder cannot be made where a file stays.

    Raises:
        TargetExistsError: a folder holding other files stands where a file goes, a folder
            stands where a file is removed, or a file stands where a folder goes.
    """

    def relpath(path: Path) -> str:
        return path.relative_to(root_abspath).as_posix()

    removed = {target for temp, target, _ in steps if temp is None}
    fix = (
        "move it out of the way (or commit it elsewhere), then run this again. Nothing was written"
    )
    for temp, target, _ in steps:
        if temp is None:
            if target.is_dir():
                raise TargetExistsError(
                    f"{relpath(target)}/ is a folder, where this change removes a file "
                    f"plscaffold made; {fix}"
                )
            continue
        if target.is_dir():
            kept = _files_kept(target, removed)
            if kept:
                raise TargetExistsError(
                    f"{relpath(target)}/ is a folder, where this change writes a file, and it "
                    f"holds {kept}, which plscaffold did not make or you changed; {fix}"
                )
        for folder in target.parents:
            if folder == root_abspath or not folder.is_relative_to(root_abspath):
                break
            if folder.exists() and not folder.is_dir():
                raise TargetExistsError(
                    f"{relpath(folder)} is a file, where this change needs a folder for "
                    f"{relpath(target)}; {fix}"
                )


def _files_kept(folder: Path, removed: set[Path]) -> str | None:
    """Name (a few of) the entries under ``folder`` that a change leaves there.

    A file or link the change does not remove stays, and so does a folder that holds no
    file the change removes (an empty one of the user's, say): either keeps ``folder``.
    """
    emptied = {parent for path in removed for parent in path.parents}
    kept = []
    for parent, dirnames, names in os.walk(folder):  # links to folders are not entered
        here = Path(parent)
        kept += [here / name for name in names if here / name not in removed]
        kept += [
            here / name
            for name in dirnames
            if (here / name).is_symlink() or here / name not in emptied
        ]
        if len(kept) > 3:
            break
    if not kept:
        return None
    root = folder.parent
    shown = ", ".join(p.relative_to(root).as_posix() for p in sorted(kept)[:3])
    return shown + (", ..." if len(kept) > 3 else "")


def _commit(steps: Sequence[Step], root_abspath: Path) -> None:
    """Make the staged changes: remove what goes, then rename each staged file over its target.

    Removals come first, with the folders they leave empty, so that a file can take the
    place of a folder whose files the same change removes.

    Raises:
        OSError: a removal or rename failed.
    """
    emptied: set[Path] = set()
    for temp, target, _ in steps:
        if temp is None:
            target.unlink(missing_ok=True)
            emptied.update(p for p in target.parents if p.is_relative_to(root_abspath))
    emptied.discard(root_abspath)
    # Folders left empty by the removals go too, deepest first.
    _remove_created(sorted(emptied, key=lambda p: len(p.parts), reverse=True))
    for temp, target, _ in steps:
        if temp is not None and temp.is_file():  # a finished commit's files are in place
            os.replace(temp, target)


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


class _NotAJournal(ValueError):
    """A journal that plscaffold did not write: a step it would never make."""


def _read_journal(
    journal: Path, root_abspath: Path, journal_relpath: str
) -> tuple[str, list[Step]]:
    """Return a journal's phase and steps, each checked as a change plscaffold makes.

    A journal is read as untrusted data: it may have been committed to a repository,
    edited, or shipped by someone else. Every target must pass the write policy
    (:func:`plscaffold.paths.project_path`; the state folder only for state files, never the
    journal itself), and every staged file must bear the name plscaffold stages that
    target's content under, beside it.

    Raises:
        _NotAJournal: anything else; the message says what.
    """
    if journal.stat().st_size > MAX_JOURNAL_BYTES:
        raise _NotAJournal(f"it is over {MAX_JOURNAL_BYTES >> 20} MiB")
    try:
        document = json.loads(journal.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise _NotAJournal(f"it is not JSON: {err}") from err
    if not isinstance(document, dict) or document.get("phase") not in ("staging", "commit"):
        raise _NotAJournal("it names no phase plscaffold writes")
    raw_steps = document.get("steps")
    if not isinstance(raw_steps, list):
        raise _NotAJournal("it holds no list of steps")
    steps: list[Step] = []
    removals: list[str] = []
    for raw in raw_steps:
        if not (
            isinstance(raw, list)
            and len(raw) == 2
            and (raw[0] is None or isinstance(raw[0], str))
            and isinstance(raw[1], str)
        ):
            raise _NotAJournal(f"step {str(raw)[:80]!r} is not [staged file, target]")
        try:
            # Normalised (``./x`` is ``x``), so that each check below sees the path it names.
            temp_relpath = None if raw[0] is None else check_relpath(raw[0])
            target_relpath = check_relpath(raw[1])
            state = PurePosixPath(target_relpath).parts[:1] == (STATE_DIR_RELPATH,)
            if state and not target_relpath.startswith(JOURNAL_STATE_TARGETS):
                raise _NotAJournal(
                    f"step {raw!r} writes {target_relpath}, where plscaffold keeps no record "
                    "(only pristine copies, the answers file and caches)"
                )
            if temp_relpath is not None and not is_staging_name(temp_relpath, target_relpath):
                raise _NotAJournal(
                    f"step {raw!r} moves a file that is not one plscaffold staged for its target"
                )
            target = project_path(root_abspath, target_relpath, state=state)
            temp = (
                None
                if temp_relpath is None
                else project_path(root_abspath, temp_relpath, state=state)
            )
        except UnsafePathError as err:
            raise _NotAJournal(f"step {raw!r}: {err}") from err
        if temp_relpath is None:
            removals.append(target_relpath)
        steps.append((temp, target, None))
    for relpath in removals:
        if not _removes_what_plscaffold_made(root_abspath, relpath):
            raise _NotAJournal(
                f"step [None, {relpath!r}] removes a file plscaffold did not make (it has no "
                "pristine copy)"
            )
    return document["phase"], steps


JOURNAL_STATE_TARGETS = (
    f"{PRISTINE_DIR_RELPATH}/",
    f"{STATE_DIR_RELPATH}/answers.json",
    f"{STATE_DIR_RELPATH}/cache/",
)
"""What a journal may change in the state folder: what the state code itself writes."""


def _removes_what_plscaffold_made(root_abspath: Path, relpath: str) -> bool:
    """Whether removing ``relpath`` is a step plscaffold takes: a pristine copy, or a file
    plscaffold generated, which has a pristine copy.

    A commit removes a generated file before its pristine copy, so a file whose copy is
    gone already is gone too: removing it again is nothing.
    """
    if relpath.startswith(PRISTINE_DIR_RELPATH + "/"):
        return True
    if (root_abspath / pristine_relpath(relpath)).is_file():
        return True
    return not os.path.lexists(root_abspath / relpath)


def recovery_pending(root_abspath: Path, journal_relpath: str) -> bool:
    """Whether a killed run left a journal for :func:`recover_changes` to replay; reads only."""
    journal = project_path(root_abspath, journal_relpath, state=True)
    return journal.is_file() and not journal.is_symlink()


def recover_changes(root_abspath: Path, journal_relpath: str) -> str | None:
    """Undo the staging, or finish the commit, of a run that was killed; say which.

    The journal is checked whole before anything is replayed (see :func:`_read_journal`).
    A commit step that cannot be made (a folder where its file goes) is not retried by
    every later command: the staged files left are removed, the journal too, and the
    returned text says what stayed undone.

    Returns:
        None when no run was interrupted; otherwise what was done, for the user.

    Raises:
        UnsafePathError: the journal names a step plscaffold would never make; nothing was
            replayed.
    """
    journal = project_path(root_abspath, journal_relpath, state=True)
    partial = journal.with_name(journal.name + JOURNAL_PARTIAL_SUFFIX)
    fix = "look at the project's changes (git status), then delete that file"
    if partial.is_dir() and not partial.is_symlink():
        raise UnsafePathError(f"{partial} is a folder, not a journal plscaffold wrote; {fix}")
    partial.unlink(missing_ok=True)
    if journal.is_symlink() or not journal.is_file():
        return None
    try:
        phase, steps = _read_journal(journal, root_abspath, journal_relpath)
    except (_NotAJournal, OSError) as err:
        raise UnsafePathError(
            f"{journal} is not a journal plscaffold wrote ({err}); nothing of it was replayed: "
            f"{fix}"
        ) from err
    if phase == "commit":
        try:
            _commit(steps, root_abspath)
            done = "finished the changes an interrupted run had begun to make"
        except OSError as err:
            _remove_staged(steps)
            done = (
                "could not finish the changes an interrupted run had begun to make "
                f"({err.filename}: {err.strerror or err}), so its staged files were removed; "
                "the files it had already replaced stay: see `plscaffold status` and git status"
            )
    else:
        _remove_staged(steps)
        done = "removed the temporary files of an interrupted run"
    journal.unlink()
    return done


def _remove_staged(steps: Sequence[Step]) -> None:
    """Remove the staged files of ``steps`` that are still there."""
    for temp, _, _ in steps:
        if temp is not None and temp.is_file():
            with suppress(OSError):
                temp.unlink()
