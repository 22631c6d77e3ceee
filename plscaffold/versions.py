"""A template's version and changelog: what ``status`` compares and ``update`` tells.

A cookiecutter-format template says its version in ``cookiecutter.json`` under
``_template_version`` (a private variable: plain cookiecutter neither prompts for it nor
renders it) and what changed in a ``CHANGELOG.md`` beside it, one ``## VERSION`` section
per version, newest first. Both are optional for a user's template; the bundled one has
both, and its tests tie the rendered output to the version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version

from plscaffold.answers import check_version
from plscaffold.errors import TemplateError
from plscaffold.templates import Template, read_variables

VERSION_KEY = "_template_version"
CHANGELOG_NAME = "CHANGELOG.md"
_MAX_CHANGELOG_BYTES = 1_000_000
_HEADING = re.compile(r"^## +(\S+)[ \t]*$", re.MULTILINE)
# A changelog is a template's text printed on the user's terminal: no control characters
# (an escape sequence could rewrite what the terminal shows) but line breaks and tabs.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class ChangelogEntry:
    """One version's section of a template's changelog: what changed, what to do."""

    version: str
    text: str


def template_version(template: Template) -> str | None:
    """Return the version ``cookiecutter.json`` gives the template, or None if it gives none.

    Raises:
        TemplateError: the value is not a version.
    """
    value = read_variables(template).get(VERSION_KEY)
    if value is None:
        return None
    try:
        return check_version(value, f"{template.context_file_abspath}: {VERSION_KEY}")
    except ValueError as err:
        raise TemplateError(str(err)) from err


def read_changelog(template: Template) -> list[ChangelogEntry]:
    """Return the template's changelog sections, newest first; [] without a changelog.

    Raises:
        TemplateError: a section's heading is not a version, or the file is not UTF-8
            text of a reasonable size.
    """
    path = template.root_abspath / CHANGELOG_NAME
    if path.is_symlink() or not path.is_file():
        return []
    if path.stat().st_size > _MAX_CHANGELOG_BYTES:
        raise TemplateError(f"{path} is larger than a changelog may be (1 MB)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TemplateError(f"cannot read {path}: {err}") from err
    text = _CONTROL.sub("", text)
    headings = list(_HEADING.finditer(text))
    entries = []
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        try:
            version = check_version(heading.group(1), f"{path}: the heading")
        except ValueError as err:
            raise TemplateError(f"{err}; each section is headed `## VERSION`") from err
        end = following.start() if following else len(text)
        entries.append(ChangelogEntry(version, text[heading.end() : end].strip()))
    return entries


def changes_since(template: Template, recorded: str | None) -> list[ChangelogEntry]:
    """Return the changelog entries newer than ``recorded`` up to the template's version.

    ``recorded`` None (a project made before its template had versions) gets every
    entry up to the template's version.
    """
    current = template_version(template)
    return [e for e in read_changelog(template) if between(e.version, recorded, current)]


def between(version: str, recorded: str | None, installed: str | None) -> bool:
    """Whether ``version`` comes after ``recorded`` and no later than ``installed``; a
    missing end does not bound (None recorded: a project made before template versions)."""
    at = Version(version)
    return (recorded is None or at > Version(recorded)) and (
        installed is None or at <= Version(installed)
    )
