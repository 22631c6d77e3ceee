"""The answers file inside a generated project, and where its pristine renderings are kept."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from plscaffold.errors import AnswersFileError, PlscaffoldError, TemplateError, one_line
from plscaffold.names import check_component_name
from plscaffold.paths import STATE_DIR_RELPATH as STATE_DIR_RELPATH
from plscaffold.render import RenderedFile, Rendering

ANSWERS_RELPATH = f"{STATE_DIR_RELPATH}/answers.json"
PRISTINE_DIR_RELPATH = f"{STATE_DIR_RELPATH}/pristine"
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class AddedComponent:
    """A component created with ``plscaffold add KIND NAME``.

    Attributes:
        answers: The project's answers it was added with that it keeps, whatever the
            project's are later (see :func:`plscaffold.templates.pinned_answers`).
    """

    kind: str
    name: str
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnswersDocument:
    """What the answers file records: plscaffold's version, the template, every answer."""

    plscaffold_version: str
    template: str
    answers: dict[str, Any]
    added: tuple[AddedComponent, ...] = field(default=())
    # The commit a repository template was rendered from; None for folders and bundled.
    template_commit: str | None = None
    # The template's own version (`_template_version`) the project was last updated to;
    # None where the template has none, or the project predates template versions.
    template_version: str | None = None

    def to_file(self) -> RenderedFile:
        document: dict[str, Any] = {
            "plscaffold_version": self.plscaffold_version,
            "template": self.template,
            "answers": self.answers,
            "added_components": [
                {"kind": c.kind, "name": c.name, **({"answers": c.answers} if c.answers else {})}
                for c in self.added
            ],
        }
        if self.template_commit is not None:
            document["template_commit"] = self.template_commit
        if self.template_version is not None:
            document["template_version"] = self.template_version
        return RenderedFile((json.dumps(document, indent=2, sort_keys=True) + "\n").encode())

    @classmethod
    def from_bytes(cls, content: bytes, where: Path) -> AnswersDocument:
        """Parse an answers file; every value in it is data, checked before use.

        Raises:
            AnswersFileError: the file is not JSON of the shape plscaffold writes, or an
                added component has a name or kind no component can have.
        """
        fix = f"restore {where} from version control"
        try:
            document = json.loads(content)
            _check_depth(document, MAX_DEPTH)
            version = check_version(document["plscaffold_version"], "plscaffold_version")
            template_version = document.get("template_version")
            if template_version is not None:
                template_version = check_version(template_version, "template_version")
            answers = dict(document["answers"])
            added = tuple(
                AddedComponent(str(c["kind"]), str(c["name"]), dict(c.get("answers", {})))
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
                template_version,
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
                check_component_name(component.name)
                check_component_name(component.kind)
            except PlscaffoldError as err:
                raise AnswersFileError(
                    f"{where}: an added component is not valid: {err}; {fix}"
                ) from err
        return parsed


def check_version(value: Any, key: str) -> str:
    """Return a version (``1.2.0``) as text; ``key`` names it in the error.

    Raises:
        ValueError: it is not a version as pip orders them.
    """
    text = str(value)
    if len(text) > 64:
        raise ValueError(f"{key} {text[:20]!r}... is not a version")
    try:
        Version(text)
    except InvalidVersion as err:
        raise ValueError(f"{key} {text!r} is not a version such as 1.2.0") from err
    return text


MAX_DEPTH = 32
"""How deeply an answers file may nest its values: answers are flat, a few levels at most."""


ANSWER_DEPTH = MAX_DEPTH - 2
"""How deeply one answer may nest: the answers file holds it two levels down."""


def check_answer(value: Any) -> None:
    """Refuse an answer the answers file, once written, could not read back.

    Raises:
        ValueError: the value nests deeper than :data:`ANSWER_DEPTH`.
    """
    _check_depth(value, ANSWER_DEPTH)


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


def project_state(rendering: Rendering, document: AnswersDocument) -> Rendering:
    """Return a new project's state files: its answers file and a pristine copy of every
    rendered file.

    The pristine copies are the common base of the three-way merge when a component is
    regenerated later, so they must be byte-identical to what was rendered.

    Raises:
        TemplateError: an answer nests too deeply for the answers file to read it back.
    """
    for name, value in document.answers.items():
        try:
            check_answer(value)
        except ValueError as err:
            raise TemplateError(
                f"{document.template}: the answer {name} is not one the answers file could "
                f"read back ({err}); nothing was written. Flatten it in the template's "
                "cookiecutter.json"
            ) from err
    state: Rendering = {
        pristine_relpath(relpath): rendered for relpath, rendered in rendering.items()
    }
    state[ANSWERS_RELPATH] = document.to_file()
    return state
