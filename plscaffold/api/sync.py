"""Bring a project's files to a new rendering: plan each against its pristine copy, commit."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from plscaffold.answers import AnswersDocument, pristine_relpath
from plscaffold.errors import (
    ConflictError,
    ConflictMarkersError,
    DirtyWorkTreeError,
    TargetExistsError,
)
from plscaffold.merge import (
    CONFLICTS,
    FilePlan,
    Outcome,
    RemovedDefinition,
    has_conflict_markers,
    plan_file,
    removed_code,
)
from plscaffold.migrations import (
    CONFIGS_RELPATH,
    ChangedValue,
    Migration,
    is_config,
    move_keys,
)
from plscaffold.paths import project_path
from plscaffold.render import RenderedFile, Rendering
from plscaffold.state import ProjectState
from plscaffold.versions import ChangelogEntry
from plscaffold.writer import Change


@dataclass(frozen=True)
class SyncResult:
    """What ``regenerate``, ``update`` or ``add_component`` did, or would do on a dry run.

    Attributes:
        stale_components: Other components that render differently with the new answers.
        refusal: On a dry run, why the real run would refuse to write (uncommitted
            changes); None when it would write.
        template_versions: For ``update``: the template version the project had and the
            one it gets (either None where unknown).
        changelog: For ``update``: the template's changelog entries between the two.
        removed_code: Conflicted files where the template removed lines the user had
            edited, each with the classes and functions of those lines and where the new
            rendering defines them now.
        moves: Files a migration moved, mapped to their new paths.
        unmoved_keys: Configs holding a key a migration moves that could not be moved in
            their text (flow style, say), each with those moves: for the user to make.
        migrated_values: Configs where a migration moved or removed a value of the user's
            (see :func:`plscaffold.migrations.move_keys`), each with the key, the value and
            what became of it: for the user to see, and to set again where still wanted.
        layout_version: For ``update`` of a project made before template versions: the
            version whose layout its pristine copies show, after which its migrations and
            changelog entries start; None where every one applies, or it records a version.
        unloadable_checkpoints: For ``update``: the project's checkpoints that the new
            version cannot load, each with the migration's reason; left as they are.
    """

    project_abspath: Path
    plans: list[FilePlan]
    dry_run: bool
    stale_components: tuple[str, ...] = ()
    refusal: str | None = None
    template_versions: tuple[str | None, str | None] | None = None
    changelog: tuple[ChangelogEntry, ...] = ()
    removed_code: dict[str, list[RemovedDefinition]] = field(default_factory=dict)
    moves: dict[str, str] = field(default_factory=dict)
    unmoved_keys: dict[str, list[str]] = field(default_factory=dict)
    unloadable_checkpoints: dict[str, str] = field(default_factory=dict)
    migrated_values: dict[str, list[ChangedValue]] = field(default_factory=dict)
    layout_version: str | None = None

    @property
    def conflicts(self) -> list[str]:
        return [plan.relpath for plan in self.plans if plan.outcome in CONFLICTS]

    @property
    def binary_conflicts(self) -> list[str]:
        """Conflicted files that are not text: kept as they were, with no markers."""
        return [p.relpath for p in self.plans if p.outcome is Outcome.BINARY_CONFLICT]


def check_clean_work_tree(state: ProjectState, *, allow_dirty: bool, dry_run: bool) -> str | None:
    """Refuse uncommitted changes inside the project folder (not elsewhere in its repository).

    What plscaffold wrote itself and the user has not changed since is not theirs to
    commit first: see :meth:`ProjectState.is_plscaffolds_own`. A dry run refuses nothing:
    it returns what the real run would refuse with, to say so.

    Returns:
        The refusal a real run would raise, on a dry run; else None.

    Raises:
        DirtyWorkTreeError: ``git status`` lists changes of the user's under the project
            root, or git fails in the repository around it (it cannot tell), and neither
            ``allow_dirty`` nor ``dry_run``.
    """
    from plscaffold.git import GitStatusError, has_commit, uncommitted_changes

    if allow_dirty:
        return None
    try:
        listed = uncommitted_changes(state.root_abspath)
    except GitStatusError as err:
        error = DirtyWorkTreeError(
            f"{state.root_abspath} is in a git repository, but git cannot list its "
            f"uncommitted changes ({err}); fix what git says so that `git status` runs "
            "there, or pass --allow-dirty"
        )
    else:
        if not listed:
            return None
        users = state.users_changes(listed, has_commit=has_commit(state.root_abspath))
        if not users:
            return None
        error = DirtyWorkTreeError(
            f"{state.root_abspath} has uncommitted changes ({', '.join(users[:5])}); commit "
            "or stash them so the change can be reviewed and undone, or pass --allow-dirty"
        )
    if dry_run:
        return str(error)
    raise error


def sync_files(
    state: ProjectState,
    document: AnswersDocument,
    relpaths: set[str],
    new_files: Rendering,
    *,
    restore: bool,
    no_conflicts: bool,
    dry_run: bool,
    allow_dirty: bool,
    migrations: Sequence[Migration] = (),
    moves: dict[str, str] | None = None,
) -> SyncResult:
    """Plan every file in ``relpaths`` against its pristine copy and apply the plan.

    The work tree is checked first (see :func:`check_clean_work_tree`); then each file
    is replaced, kept, merged or left as the user deleted it (see
    :func:`plscaffold.merge.plan_file`), and ``document`` recorded with them. Before
    that, ``migrations`` are applied to what is merged: the files in ``moves`` are merged
    at their new paths from their old ones (file and pristine copy), and the keys they
    move are moved in every YAML config, generated (file and pristine copy) or the user's.

    Raises:
        DirtyWorkTreeError: uncommitted changes, and neither ``allow_dirty`` nor ``dry_run``.
        ConflictMarkersError: a file to write still holds conflict markers.
        ConflictError: with ``no_conflicts``, a file would conflict.
        TargetExistsError: a move would overwrite a file (see :func:`_check_moves`).
    """
    refusal = check_clean_work_tree(state, allow_dirty=allow_dirty, dry_run=dry_run)
    moves = moves or {}
    _check_moves(state, moves)
    relpaths = set(relpaths) | set(moves) | set(moves.values())
    own_configs = (
        [relpath for relpath in _config_files(state.root_abspath) if relpath not in relpaths]
        if any(migration.changes_configs for migration in migrations)
        else []
    )
    for relpath in sorted(relpaths | set(own_configs)):  # refuse links before reading
        project_path(state.root_abspath, relpath)
        project_path(state.root_abspath, pristine_relpath(relpath), state=True)
    unmoved: dict[str, list[str]] = {}
    told: dict[str, list[ChangedValue]] = {}
    origins = {new: old for old, new in moves.items()}
    plans = [
        _plan(state, relpath, new_files.get(relpath), origins, migrations, (unmoved, told), restore)
        if relpath not in moves
        else FilePlan(
            relpath, Outcome.MOVED, state.read(relpath), None, None, state.pristine(relpath)
        )
        for relpath in sorted(relpaths)
    ]
    for relpath in own_configs:
        current = state.read(relpath)
        if current is None:
            continue
        migrated = _migrate_config(relpath, current, None, migrations, (unmoved, told))
        if migrated != current:
            plans.append(FilePlan(relpath, Outcome.MIGRATED, current, migrated, None))
    marked = [
        plan.relpath
        for plan in plans
        if plan.current is not None and has_conflict_markers(plan.current.content)
    ]
    if marked:
        raise ConflictMarkersError(
            f"{', '.join(marked)} still hold{'s' if len(marked) == 1 else ''} conflict markers "
            "from an earlier run; resolve them (keep the lines you want, delete the <<<<<<<, "
            "======= and >>>>>>> lines), then run this again. Nothing was written."
        )
    removed = {
        plan.relpath: found
        for plan in plans
        if plan.outcome is Outcome.CONFLICT
        and plan.result is not None
        and (found := removed_code(plan.relpath, plan.result.content, _base(plan), new_files))
        is not None
    }
    result = SyncResult(
        state.root_abspath, plans, dry_run, refusal=refusal, removed_code=removed, moves=moves,
        unmoved_keys=unmoved, migrated_values=told,
    )  # fmt: skip
    conflicts = result.conflicts
    if no_conflicts and conflicts:
        error = ConflictError(
            f"regenerating would conflict in {', '.join(conflicts)}; nothing was written. "
            "Run without --no-conflicts to write conflict markers"
            + ("" if dry_run else ", or --dry-run to see the diff")
        )
        if not dry_run:
            raise error
        # A dry run refuses nothing: it says what the real run would refuse with.
        result = replace(result, refusal=result.refusal or str(error))
    if not dry_run:
        files: list[Change] = [(p.relpath, p.result) for p in plans if p.writes and p.result]
        files += [(plan.relpath, None) for plan in plans if plan.removes]
        pristine: list[Change] = [
            (plan.relpath, plan.pristine)
            for plan in plans
            if plan.pristine != plan.base and (plan.pristine is not None or plan.base is not None)
        ]
        state.commit(files, pristine, document)
    return result


def _check_moves(state: ProjectState, moves: dict[str, str]) -> None:
    """Refuse moves that would overwrite a file: a move never replaces what is there.

    Raises:
        TargetExistsError: two files move onto one path, or a file moves onto one that
            exists (the user's own, or one the template made) and does not move away itself.
    """
    taken: dict[str, str] = {}
    for old, new in sorted(moves.items()):
        if new in taken:
            raise TargetExistsError(
                f"the template's migrations move both {taken[new]} and {old} to {new}, and one "
                "would overwrite the other; nothing was written. Ask the template's author to "
                "fix its moved_files, or move one of them yourself first"
            )
        taken[new] = old
        target = state.root_abspath / new
        if new not in moves and os.path.lexists(target):
            raise TargetExistsError(
                f"the template's migrations move {old} to {new}, which exists already and would "
                f"be overwritten; nothing was written. Move {new} out of the way (or merge it "
                f"into {old}), then run this again"
            )


# Where a config's migration is noted: the key changes its text could not take, and the
# values of the user's that moved or went, each by the config's path.
_Notes = tuple[dict[str, list[str]], dict[str, list[ChangedValue]]]


def _migrate_config(
    relpath: str,
    config: RenderedFile,
    base: RenderedFile | None,
    migrations: Sequence[Migration],
    notes: _Notes,
) -> RenderedFile:
    """Return a config with the migrations' keys moved and dropped.

    ``notes`` is where to name, under ``relpath``, what could not be changed in its text
    (the first) and the values of the user's that moved or went (the second): those that
    differ from ``base``, its pristine copy, or all for a config of the user's own (None).
    """
    unmoved, told = notes
    content, refused, users = move_keys(
        config.content, migrations, relpath, base=base.content if base else None
    )
    if refused:
        unmoved[relpath] = refused
    if users:
        told[relpath] = users
    return RenderedFile(content, config.mode)


def _plan(
    state: ProjectState,
    relpath: str,
    new: RenderedFile | None,
    origins: dict[str, str],
    migrations: Sequence[Migration],
    notes: _Notes,
    restore: bool,
) -> FilePlan:
    """Plan one file, merged from where a migration moved it and with its keys moved.

    The plan keeps the file on disk and its pristine copy as they are now, so that what
    it writes is judged against them.
    """
    origin = origins.get(relpath, relpath)
    on_disk, pristine = state.read(relpath), state.pristine(relpath)
    # Where the file comes from: the file itself, or the one a migration moves here.
    original = on_disk if origin == relpath else state.read(origin)
    base = pristine if origin == relpath else state.pristine(origin)
    current = original
    if is_config(relpath) and any(migration.changes_configs for migration in migrations):
        if current is not None:
            current = _migrate_config(relpath, current, base, migrations, notes)
        if base is not None:
            where = f"{origin}'s pristine copy"
            base = RenderedFile(move_keys(base.content, migrations, where)[0], base.mode)
    plan = plan_file(relpath, base, current, new, restore)
    if current != on_disk and not plan.writes and current is not None:
        # Kept or identical once migrated: the migrated file is what to write.
        plan = replace(plan, outcome=Outcome.MIGRATED, result=current)
    elif plan.writes and plan.result == on_disk:
        # A migration undone by the new rendering (a dropped key it renders again): the
        # file stays as it is; its pristine copy still follows the rendering. Named as
        # plan_file names a file left as it is: identical to the rendering, or kept with
        # the user's edits.
        same = new is not None and on_disk is not None and on_disk.content == new.content
        plan = replace(plan, outcome=Outcome.IDENTICAL if same else Outcome.KEPT, result=None)
    told = notes[1]
    if relpath in told:  # only what the file written no longer holds is said
        written = plan.result if plan.writes else original
        told[relpath] = _values_gone(told[relpath], original, written)
        if not told[relpath]:
            del told[relpath]
    return replace(plan, current=on_disk, base=pristine)


def _values_gone(
    changes: list[ChangedValue], before: RenderedFile | None, after: RenderedFile | None
) -> list[ChangedValue]:
    """Return the changes whose key no longer holds, in ``after``, what it held ``before``
    (a value that the merge brought back, or the new rendering has too, was not lost)."""
    from plscaffold.yaml_keys import key_values

    def values(config: RenderedFile | None, key: str) -> dict[str, object]:
        try:
            return key_values(config.content.decode("utf-8"), key) if config else {}
        except UnicodeDecodeError:
            return {}

    return [each for each in changes if values(after, each.key) != values(before, each.key)]


def _base(plan: FilePlan) -> bytes:
    """The content a plan merged against: its pristine copy, or nothing."""
    return plan.base.content if plan.base is not None else b""


def _config_files(root_abspath: Path) -> list[str]:
    """Return the project's YAML files under ``configs/``, links left out."""
    folder = root_abspath / CONFIGS_RELPATH
    if folder.is_symlink() or not folder.is_dir():
        return []
    found = []
    for parent, _, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            relpath = path.relative_to(root_abspath).as_posix()
            if is_config(relpath) and not path.is_symlink() and path.is_file():
                found.append(relpath)
    return sorted(found)
