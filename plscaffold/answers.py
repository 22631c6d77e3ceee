"""The project state kept inside a generated project: its answers and pristine renderings."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from plscaffold.errors import (
    AnswersFileError,
    PlscaffoldError,
    PlscaffoldNotice,
    ProjectBusyError,
    ProjectNotFoundError,
    one_line,
)
from plscaffold.render import RenderedFile, Rendering

if TYPE_CHECKING:
    from plscaffold.writer import Change

STATE_DIR_RELPATH = ".plscaffold"
ANSWERS_RELPATH = f"{STATE_DIR_RELPATH}/answers.json"
PRISTINE_DIR_RELPATH = f"{STATE_DIR_RELPATH}/pristine"
# Present only while a command changes the project: what to undo or finish if it dies.
JOURNAL_RELPATH = f"{STATE_DIR_RELPATH}/journal.json"
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class AddedComponent:
    """A component created with ``plscaffold add KIND NAME``."""

    kind: str
    name: str


@dataclass(frozen=True)
class AnswersDocument:
    """What the answers file records: plscaffold's version, the template, every answer."""

    plscaffold_version: str
    template: str
    answers: dict[str, Any]
    added: tuple[AddedComponent, ...] = field(default=())
    # The commit a repository template was rendered from; None for folders and bundled.
    template_commit: str | None = None

    def to_file(self) -> RenderedFile:
        document: dict[str, Any] = {
            "plscaffold_version": self.plscaffold_version,
            "template": self.template,
            "answers": self.answers,
            "added_components": [{"kind": c.kind, "name": c.name} for c in self.added],
        }
        if self.template_commit is not None:
            document["template_commit"] = self.template_commit
        return RenderedFile((json.dumps(document, indent=2, sort_keys=True) + "\n").encode())

    @classmethod
    def from_bytes(cls, content: bytes, where: Path) -> AnswersDocument:
        """Parse an answers file; every value in it is data, checked before use.

        Raises:
            AnswersFileError: the file is not JSON of the shape plscaffold writes, or an
                added component has a name or kind no component can have.
        """
        from plscaffold.names import validate_component_name

        fix = f"restore {where} from version control"
        try:
            document = json.loads(content)
            _check_depth(document, MAX_DEPTH)
            version = str(document["plscaffold_version"])
            if len(version) > 64:
                raise ValueError(f"plscaffold_version {version[:20]!r}... is not a version")
            Version(version)  # raises InvalidVersion, a ValueError
            answers = dict(document["answers"])
            added = tuple(
                AddedComponent(str(c["kind"]), str(c["name"]))
                for c in document.get("added_components", [])
            )
            commit = document.get("template_commit")
            if commit is not None and not _COMMIT.fullmatch(str(commit)):
                raise ValueError(f"template_commit {commit!r} is not a commit id")
            parsed = cls(
                version,
                str(document["template"]),
                answers,
                added,
                None if commit is None else str(commit),
            )
        except RecursionError as err:
            raise AnswersFileError(
                f"{where} nests its values too deeply to be read; {fix}"
            ) from err
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise AnswersFileError(
                f"{where} is not a readable answers file ({one_line(str(err))}); {fix}"
            ) from err
        for component in added:
            try:
                validate_component_name(component.name)
                validate_component_name(component.kind)
            except PlscaffoldError as err:
                raise AnswersFileError(
                    f"{where}: an added component is not valid: {err}; {fix}"
                ) from err
        return parsed


MAX_DEPTH = 32
"""How deeply an answers file may nest its values: answers are flat, a few levels at most."""


def _check_depth(value: Any, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit``, without recursing.

    Raises:
        ValueError: a list or object lies deeper than ``limit``.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        if children and depth > limit:
            raise ValueError(f"its values nest more than {limit} levels deep")
        stack.extend((child, depth + 1) for child in children)


def pristine_relpath(relpath: str) -> str:
    """Return where the pristine copy of a project file is kept."""
    return f"{PRISTINE_DIR_RELPATH}/{relpath}"


def with_project_state(rendering: Rendering, document: AnswersDocument) -> Rendering:
    """Return ``rendering`` plus the answers file and a pristine copy of every rendered file.

    The pristine copies are the common base of the three-way merge when a component is
    regenerated later, so they must be byte-identical to what was rendered.
    """
    state: Rendering = {
        pristine_relpath(relpath): rendered for relpath, rendered in rendering.items()
    }
    state[ANSWERS_RELPATH] = document.to_file()
    return {**rendering, **state}


@dataclass(frozen=True)
class ProjectState:
    """A generated project on disk: its root, its answers and its pristine files."""

    root_abspath: Path
    document: AnswersDocument

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
    from plscaffold.writer import project_path

    descriptor = os.open(project_path(root_abspath, STATE_DIR_RELPATH), os.O_RDONLY)
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
    from plscaffold.writer import project_path, recover_changes

    root = find_project_root(start_abspath)
    descriptor = _lock(root)
    try:
        recovered = recover_changes(root, JOURNAL_RELPATH)
        if recovered:
            warnings.warn(f"{root}: {recovered}", PlscaffoldNotice, stacklevel=3)
        answers_abspath = project_path(root, ANSWERS_RELPATH)
        document = AnswersDocument.from_bytes(answers_abspath.read_bytes(), answers_abspath)
        yield ProjectState(root, document)
    finally:
        if descriptor is not None:
            os.close(descriptor)


def commit(
    state: ProjectState,
    file_changes: list[Change],
    pristine_changes: list[Change],
    document: AnswersDocument,
) -> None:
    """Write project files, then their pristine copies, then the answers file, in one commit.

    The record of what was written comes last, and a journal lets the next run finish a
    commit that was killed half way, so the record never describes files that are not
    on disk.
    """
    from plscaffold.writer import apply_changes

    record = [(pristine_relpath(relpath), new) for relpath, new in pristine_changes]
    answers_file = document.to_file()
    current = state.read(ANSWERS_RELPATH)
    if current is None or current.content != answers_file.content:
        record.append((ANSWERS_RELPATH, answers_file))
    apply_changes(state.root_abspath, [*file_changes, *record], JOURNAL_RELPATH)
