"""Bring a project's files to a new rendering: plan each against its pristine copy, commit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plscaffold.answers import AnswersDocument, pristine_relpath
from plscaffold.errors import ConflictError, ConflictMarkersError, DirtyWorkTreeError
from plscaffold.merge import CONFLICTS, FilePlan, Outcome, has_conflict_markers, plan_file
from plscaffold.render import Rendering
from plscaffold.state import ProjectState
from plscaffold.writer import Change, project_path


@dataclass(frozen=True)
class SyncResult:
    """What ``regenerate``, ``update`` or ``add_component`` did, or would do on a dry run.

    Attributes:
        stale_components: Other components that render differently with the new answers.
        refusal: On a dry run, why the real run would refuse to write (uncommitted
            changes); None when it would write.
    """

    project_abspath: Path
    plans: list[FilePlan]
    dry_run: bool
    stale_components: tuple[str, ...] = ()
    refusal: str | None = None

    @property
    def conflicts(self) -> list[str]:
        return [plan.relpath for plan in self.plans if plan.outcome in CONFLICTS]

    @property
    def binary_conflicts(self) -> list[str]:
        """Conflicted files that are not text: kept as they were, with no markers."""
        return [p.relpath for p in self.plans if p.outcome is Outcome.BINARY_CONFLICT]


def check_clean_work_tree(state: ProjectState, *, allow_dirty: bool, dry_run: bool) -> str | None:
    """Refuse uncommitted changes inside the project folder (not elsewhere in its repository).

    A dry run refuses nothing: it returns what the real run would refuse with, to say so.

    Returns:
        The refusal a real run would raise, on a dry run; else None.

    Raises:
        DirtyWorkTreeError: ``git status`` lists changes under the project root, and
            neither ``allow_dirty`` nor ``dry_run``.
    """
    from plscaffold.git import git_output

    if allow_dirty:
        return None
    status = git_output(state.root_abspath, "status", "--porcelain", "--", ".")
    if not (status and status.strip()):
        return None
    changed = ", ".join(line[3:] for line in status.splitlines()[:5])
    error = DirtyWorkTreeError(
        f"{state.root_abspath} has uncommitted changes ({changed}); commit or stash them so "
        "the change can be reviewed and undone, or pass --allow-dirty"
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
) -> SyncResult:
    """Plan every file in ``relpaths`` against its pristine copy and apply the plan.

    The work tree is checked first (see :func:`check_clean_work_tree`); then each file
    is replaced, kept, merged or left as the user deleted it (see
    :func:`plscaffold.merge.plan_file`), and ``document`` recorded with them.

    Raises:
        DirtyWorkTreeError: uncommitted changes, and neither ``allow_dirty`` nor ``dry_run``.
        ConflictMarkersError: a file to write still holds conflict markers.
        ConflictError: with ``no_conflicts``, a file would conflict.
    """
    refusal = check_clean_work_tree(state, allow_dirty=allow_dirty, dry_run=dry_run)
    for relpath in sorted(relpaths):  # refuse links before reading through them
        project_path(state.root_abspath, relpath)
        project_path(state.root_abspath, pristine_relpath(relpath))
    plans = [
        plan_file(
            relpath, state.pristine(relpath), state.read(relpath), new_files.get(relpath), restore
        )
        for relpath in sorted(relpaths)
    ]
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
    result = SyncResult(state.root_abspath, plans, dry_run, refusal=refusal)
    conflicts = result.conflicts
    if no_conflicts and conflicts:
        raise ConflictError(
            f"regenerating would conflict in {', '.join(conflicts)}; nothing was written. "
            "Run without --no-conflicts to write conflict markers, or --dry-run to see the diff"
        )
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
