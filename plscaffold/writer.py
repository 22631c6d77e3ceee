"""Apply a rendering to disk: all of it, through a temporary folder moved into place, or nothing."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
from collections.abc import Callable, Iterator
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
    """
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
    # Deepest first, so that a failure can remove them in this order.
    created = [p for p in (parent_abspath, *parent_abspath.parents) if not p.exists()]
    staging_abspath: Path | None = None
    emptied_target = False
    done = False
    try:
        parent_abspath.mkdir(parents=True, exist_ok=True)
        staging_abspath = _temporary_name(parent_abspath, f".{target_abspath.name}.plscaffold-")
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


def apply_changes(root_abspath: Path, writes: dict[str, RenderedFile], removals: list[str]) -> None:
    """Write and remove files inside an existing project, all or nothing as far as possible.

    Every target is checked first (no symbolic link on its way); every new content is
    then written to a temporary file beside its target; only when all are written are
    they renamed over their targets, and then ``removals`` deleted. A failure while
    staging removes the temporary files and any folder made for them.

    Raises:
        UnsafePathError: a target lies behind a symbolic link; nothing was written.
        OutputNotWritableError: a file cannot be written.
    """
    for relpath in [*writes, *removals]:
        project_path(root_abspath, relpath)
    staged: list[tuple[Path, Path]] = []
    created_dirs: list[Path] = []
    done = False
    try:
        for relpath, rendered in sorted(writes.items()):
            target = root_abspath / check_relpath(relpath)
            missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            created_dirs = missing + created_dirs
            temp = _temporary_name(target.parent, f".{target.name}.", ".plscaffold-tmp")
            staged.append((temp, target))
            try:
                with open(temp, "xb") as stream:  # x: a name taken meanwhile is an error
                    stream.write(rendered.content)
            except FileExistsError:
                staged.pop()  # not ours: never remove it
                raise
            os.chmod(temp, rendered.mode)
        # The renames and removals are the commit: signals wait until it is complete, so
        # an interrupt leaves the project either as it was or fully written.
        with _signals_deferred():
            for temp, target in staged:
                os.replace(temp, target)
            emptied: set[Path] = set()
            for relpath in removals:
                removed = root_abspath / check_relpath(relpath)
                removed.unlink(missing_ok=True)
                emptied.update(p for p in removed.parents if p.is_relative_to(root_abspath))
            emptied.discard(root_abspath)
            # Folders left empty by the removals go too, deepest first.
            _remove_created(sorted(emptied, key=lambda p: len(p.parts), reverse=True))
            done = True
    except OSError as err:
        raise OutputNotWritableError(
            f"cannot write {err.filename or root_abspath}: {err.strerror or err}; "
            "nothing was changed"
        ) from err
    finally:
        if not done:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            _remove_created(sorted(set(created_dirs), key=lambda p: len(p.parts), reverse=True))
