"""Updating a project to the installed templates, and what an update would change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.version import Version

from plscaffold import __version__
from plscaffold.answers import AddedComponent
from plscaffold.api.sync import SyncResult, sync_files
from plscaffold.errors import (
    ConflictMarkersError,
    DowngradeError,
    PlscaffoldError,
    TargetExistsError,
)
from plscaffold.merge import CONFLICTS, has_conflict_markers
from plscaffold.migrations import (
    layout_version,
    moved_files,
    pending_migrations,
    pin_answers,
    unloadable_checkpoints,
)
from plscaffold.options import ProjectOptions, option_flag
from plscaffold.render import RenderedFile, TemplateRendering
from plscaffold.sources import (
    BundledSource,
    TemplateSource,
    pin_added_answers,
    project_source,
)
from plscaffold.state import ProjectState, open_project


def update(
    project_dir: Path = Path("."),
    *,
    allow_dirty: bool = False,
    restore: bool = False,
    no_conflicts: bool = False,
    dry_run: bool = False,
    force: bool = False,
    trust: bool = False,
    checkout: str | None = None,
) -> SyncResult:
    """Re-render every component with the installed plscaffold's templates.

    The template's migrations between the project's template version and the new one
    are applied first (see :mod:`plscaffold.migrations`). A project made from a user
    template is rendered from it with its recorded answers and merged the same way (its
    hooks do not run again): a folder as it is now, a git repository at ``checkout`` or
    its newest version tag, whose commit is recorded;
    ``trust`` as for ``new --template``; ``force`` also allows an older template commit.

    Raises:
        DowngradeError: the project was last written by a newer plscaffold, and not ``force``.
        DirtyWorkTreeError: the project is a git work tree with uncommitted changes.
        ConflictMarkersError, ConflictError: as for :func:`regenerate`.
    """
    with open_project(project_dir) as state:
        recorded = state.document.plscaffold_version
        if Version(recorded) > Version(__version__) and not force:
            raise DowngradeError(
                f"{state.root_abspath} was written by plscaffold {recorded}, newer than this "
                f"{__version__}: updating would undo that version's template changes. Upgrade "
                "plscaffold, or pass --force to go back on purpose"
            )
        with project_source(state, trust=trust, checkout=checkout, force=force) as source:
            return _update_from(
                state, source, restore=restore, no_conflicts=no_conflicts, dry_run=dry_run,
                allow_dirty=allow_dirty,
            )  # fmt: skip


def _update_from(
    state: ProjectState,
    source: TemplateSource,
    *,
    restore: bool,
    no_conflicts: bool,
    dry_run: bool,
    allow_dirty: bool,
) -> SyncResult:
    """Migrate, render and merge the project with ``source``: what ``update`` does, and
    what ``status`` foresees on a dry run.

    A project made before template versions gets the migrations and changelog entries
    from the layout its pristine copies show on (see :func:`layout_version`).
    """
    before, after = state.document.template_version, source.version
    generated = state.pristine_relpaths()  # one walk of the pristine copies
    declared = source.migrations()
    since = before
    if before is None:
        since = layout_version(declared, after, generated, _pristine_reader(state))
    migrations = pending_migrations(declared, since, after, state.document.answers)
    recorded = source.changed_answers(state, {})
    answers = pin_answers(recorded, migrations)
    added = pin_added_answers(state.document.added, recorded)
    new = source.render(answers, added)
    changelog = tuple(source.changes_since(since)) if before != after else ()
    moves = moved_files(migrations, new.context or {}, generated, new.files)
    relpaths = set(new.files) | set(generated)
    document = source.document(new.answers, added, state.document)
    result = sync_files(
        state, document, relpaths, new.files, restore=restore, no_conflicts=no_conflicts,
        dry_run=dry_run, allow_dirty=allow_dirty, migrations=migrations, moves=moves,
    )  # fmt: skip
    return replace(
        result,
        template_versions=(before, after),
        changelog=changelog,
        unloadable_checkpoints=unloadable_checkpoints(migrations, state.root_abspath),
        layout_version=since if before is None else None,
    )


def _pristine_reader(state: ProjectState) -> Callable[[str], bytes | None]:
    """Return what reads a pristine copy's content (None where there is none)."""

    def read(relpath: str) -> bytes | None:
        pristine = state.pristine(relpath)
        return pristine.content if pristine is not None else None

    return read


@dataclass(frozen=True)
class FileStatus:
    """How one generated file differs from what plscaffold last rendered."""

    relpath: str
    modified: bool
    deleted: bool
    update_changes: bool
    conflict_markers: bool

    @property
    def changed(self) -> bool:
        return self.modified or self.deleted or self.update_changes or self.conflict_markers


@dataclass(frozen=True)
class ContradictedAnswer:
    """An answer the answers file records that a file of the project no longer agrees with.

    Such as ``max_epochs: 20`` after a conflicted ``generate config --max-epochs 20`` whose
    conflict the user resolved by keeping ``max_epochs: 5``.

    Attributes:
        name: The answer (``max_epochs``).
        value: What the answers file records.
        relpath: A file that no longer holds any of the lines that value renders.
        component: The component of that file, to regenerate with the value the user chose.
    """

    name: str
    value: Any
    relpath: str
    component: str | None

    @property
    def flag(self) -> str:
        """The option that records another value (``--max-epochs``)."""
        return option_flag(self.name)


@dataclass(frozen=True)
class ProjectStatus:
    """What ``status`` reports: changed files, answers the files contradict, and what an
    update would do.

    Attributes:
        template_version: The template version the project was last updated to; None for
            a project made before template versions.
        installed_version: The version of the template an update renders: the installed
            plscaffold's, or a user template's as it is now (None where it has none).
        update_writes: The files an update would write or remove.
        update_conflicts: Those of them that would conflict (both sides changed them).
        update_refusal: Why an update would refuse to run (conflict markers left), or None.
        unloadable_checkpoints: Checkpoints the installed template's code will not load,
            each with the reason its migration gives.
        template: The user template the project was made from, as the answers file names
            it (a folder or a repository URL); None for plscaffold's own.
        template_commit: The repository commit the project was last rendered from, or None.
        installed_commit: The commit an update renders (a repository template's newest
            version tag, or ``checkout``), or None.
        recovery_pending: A killed run left a change half made, which the next command
            that changes the project finishes or undoes; what status saw is that half.
    """

    files: list[FileStatus]
    contradicted: list[ContradictedAnswer]
    template_version: str | None = None
    installed_version: str | None = None
    update_writes: tuple[str, ...] = ()
    update_conflicts: tuple[str, ...] = ()
    update_refusal: str | None = None
    unloadable_checkpoints: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    template_commit: str | None = None
    installed_commit: str | None = None
    recovery_pending: bool = False

    @property
    def behind(self) -> bool:
        """Whether the template moved on: another version or commit than the recorded one."""
        return (
            self.template_version != self.installed_version
            or self.template_commit != self.installed_commit
        )

    @property
    def current(self) -> bool:
        """Whether an update would change nothing: same template version and commit, no
        file to write, none to conflict, no refusal and no recovery pending (``status
        --check``)."""
        return not (
            self.behind
            or self.update_writes
            or self.update_conflicts
            or self.update_refusal
            or self.recovery_pending
        )


def project_status(
    project_dir: Path = Path("."), *, trust: bool = False, checkout: str | None = None
) -> ProjectStatus:
    """Return the generated files that the user changed or deleted, or an update would change,
    and the recorded answers that the files the user changed no longer agree with.

    The project is compared with what ``update`` would render: the installed templates, or
    a user template's folder as it is now, a repository at ``checkout`` or its newest
    version tag (``trust`` as for ``update``). Recorded answers are checked against the
    files only for the bundled template, whose answers are generation options. Nothing is
    written: a recovery that a killed run left pending is named, not made.

    Raises:
        TemplateSourceError, UntrustedTemplateError, DowngradeError: as for
            :func:`plscaffold.sources.project_source`.
    """
    with (
        open_project(project_dir, read_only=True) as state,
        project_source(state, trust=trust, checkout=checkout) as source,
    ):
        answers = source.changed_answers(state, {})
        new = source.render(answers, state.document.added)
        relpaths = sorted(set(new.files) | set(state.pristine_relpaths()))
        statuses = [_file_status(state, relpath, new.files.get(relpath)) for relpath in relpaths]
        try:
            foreseen: SyncResult | None = _update_from(
                state, source, restore=False, no_conflicts=False, dry_run=True, allow_dirty=True
            )
            refusal = None
        except (ConflictMarkersError, TargetExistsError) as err:
            foreseen, refusal = None, str(err)
        plans = foreseen.plans if foreseen else []
        modified = {
            status.relpath: current.content
            for status in statuses
            if status.modified and (current := state.read(status.relpath)) is not None
        }
        contradicted = (
            _contradicted_answers(
                source, source.recorded_options(state), state.document.added, new, modified
            )
            if isinstance(source, BundledSource)
            else []
        )
        installed_version = source.version  # read while a fetched template is still there
    return ProjectStatus(
        [status for status in statuses if status.changed],
        contradicted,
        template_version=state.document.template_version,
        installed_version=installed_version,
        update_writes=tuple(plan.relpath for plan in plans if plan.writes or plan.removes),
        update_conflicts=tuple(plan.relpath for plan in plans if plan.outcome in CONFLICTS),
        update_refusal=refusal,
        unloadable_checkpoints=foreseen.unloadable_checkpoints if foreseen else {},
        template=None if isinstance(source, BundledSource) else state.document.template,
        template_commit=state.document.template_commit,
        installed_commit=source.commit,
        recovery_pending=state.recovery_pending,
    )


def _contradicted_answers(
    source: BundledSource,
    options: ProjectOptions,
    added: tuple[AddedComponent, ...],
    rendered: TemplateRendering,
    modified: dict[str, bytes],
) -> list[ContradictedAnswer]:
    """Return the answers whose rendered lines are all gone from a file the user changed.

    The lines an answer renders in a file are those that change when the answer alone
    changes; a file holding none of them any more no longer says what the answer records.
    """
    if not modified:
        return []
    component_of = {
        relpath: name for name, paths in (rendered.components or {}).items() for relpath in paths
    }
    # Each modified file's lines as the user has them, and as the recorded answers render.
    files = {
        relpath: (set(_lines(current)), set(_lines(rendered.files[relpath].content)))
        for relpath, current in sorted(modified.items())
        if relpath in rendered.files
    }
    choices = {option.name: list(option.choices) for option in source.generation_options()}
    found = []
    for name, value in options.answers().items():
        if name == "project_name":
            continue  # the folder and package: not an answer a file can contradict
        other = _other_rendering(source, options, added, name, choices.get(name, []))
        if other is None:
            continue
        for relpath, (current, mine) in files.items():
            theirs = other.files.get(relpath)
            lines = mine - set(_lines(theirs.content if theirs else b""))
            if lines and lines.isdisjoint(current):
                found.append(ContradictedAnswer(name, value, relpath, component_of.get(relpath)))
    return found


def _lines(content: bytes) -> list[str]:
    return [
        line.strip() for line in content.decode("utf-8", "replace").splitlines() if line.strip()
    ]


def _other_rendering(
    source: BundledSource,
    options: ProjectOptions,
    added: tuple[AddedComponent, ...],
    name: str,
    choices: list[str],
) -> TemplateRendering | None:
    """Render the project with one answer changed to another valid value, or None if none is."""
    value = options[name]
    if choices:
        candidates: list[Any] = [choice for choice in choices if choice != str(value)]
    elif isinstance(value, int):
        candidates = [value + 1, value - 1]
    elif isinstance(value, float):
        candidates = [value * 2]
    else:
        candidates = [f"{value} (other)"]
    for candidate in candidates:
        try:
            return source.render(options.with_answer(name, candidate).answers(), added)
        except PlscaffoldError:
            continue
    return None


def _file_status(state: ProjectState, relpath: str, rendered: RenderedFile | None) -> FileStatus:
    base, current = state.pristine(relpath), state.read(relpath)
    base_content = base.content if base else None
    return FileStatus(
        relpath,
        modified=current is not None and base is not None and current.content != base_content,
        deleted=current is None and base is not None,
        update_changes=(rendered.content if rendered else None) != base_content,
        conflict_markers=current is not None and has_conflict_markers(current.content),
    )
