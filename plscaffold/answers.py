"""The project state kept inside a generated project: its answers and pristine renderings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plscaffold.errors import AnswersFileError, PlscaffoldError, ProjectNotFoundError
from plscaffold.render import RenderedFile, Rendering

STATE_DIR_RELPATH = ".plscaffold"
ANSWERS_RELPATH = f"{STATE_DIR_RELPATH}/answers.json"
PRISTINE_DIR_RELPATH = f"{STATE_DIR_RELPATH}/pristine"


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

    def to_file(self) -> RenderedFile:
        document = {
            "plscaffold_version": self.plscaffold_version,
            "template": self.template,
            "answers": self.answers,
            "added_components": [{"kind": c.kind, "name": c.name} for c in self.added],
        }
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
            answers = dict(document["answers"])
            added = tuple(
                AddedComponent(str(c["kind"]), str(c["name"]))
                for c in document.get("added_components", [])
            )
            parsed = cls(
                str(document["plscaffold_version"]), str(document["template"]), answers, added
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise AnswersFileError(
                f"{where} is not a readable answers file ({err}); {fix}"
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
    start_abspath = start_abspath.resolve()
    for folder in (start_abspath, *start_abspath.parents):
        if (folder / ANSWERS_RELPATH).is_file():
            return folder
    raise ProjectNotFoundError(
        f"no plscaffold project at or above {start_abspath} (no {ANSWERS_RELPATH}); "
        "run this inside a project made by `plscaffold new`, or pass --project PATH"
    )


def load_project(start_abspath: Path) -> ProjectState:
    """Find the project around ``start_abspath`` and read its answers file."""
    from plscaffold.writer import project_path

    root = find_project_root(start_abspath)
    answers_abspath = project_path(root, ANSWERS_RELPATH)
    return ProjectState(
        root, AnswersDocument.from_bytes(answers_abspath.read_bytes(), answers_abspath)
    )
