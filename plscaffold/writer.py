"""Apply a rendering to disk: all of it, through a temporary folder moved into place, or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from plscaffold.errors import OutputNotWritableError, TargetExistsError
from plscaffold.render import Rendering, check_relpath


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
                return


def write_new_project(rendering: Rendering, target_abspath: Path) -> None:
    """Write ``rendering`` as the new folder ``target_abspath``, atomically.

    The files are written into a temporary folder beside the target, which is then renamed
    into place. On any failure, Ctrl-C included, the temporary folder and any parent folder
    this call created are removed, so the disk is left as it was.

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
        staging_abspath = Path(
            tempfile.mkdtemp(prefix=f".{target_abspath.name}.plscaffold-", dir=parent_abspath)
        )
        os.chmod(staging_abspath, _default_dir_mode())
        _write_files(rendering, staging_abspath)
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
