"""Commands on projects: new, generate, update, add, list and status."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plscaffold.api import (
    PRISTINE_DIR_RELPATH,
    STATE_DIR_RELPATH,
    add_component,
    check_new_request,
    check_project_options,
    component_kind,
    generation_options,
    new_project,
    new_project_from_template,
    project_components,
    project_options,
    project_status,
    regenerate,
)
from plscaffold.api import update as update_project
from plscaffold.cli.completion import complete_component, complete_kind
from plscaffold.cli.output import echo, user_errors
from plscaffold.cli.params import (
    AllowDirtyOption,
    CheckoutOption,
    DryRunOption,
    JsonOption,
    NoConflictsOption,
    ProjectOption,
    RestoreOption,
    TrustOption,
    with_generation_options,
)
from plscaffold.errors import DirtyWorkTreeError, PlscaffoldError, one_line
from plscaffold.git import RepositoryStart

if TYPE_CHECKING:
    from plscaffold.api import NewProjectResult, ProjectStatus, RemovedDefinition, SyncResult


def _tree_lines(relpaths: list[str]) -> list[str]:
    """Indent sorted POSIX paths as a folder tree, folders before the files inside them."""
    lines: list[str] = []
    seen: set[str] = set()
    for relpath in relpaths:
        parts = relpath.split("/")
        for depth in range(len(parts) - 1):
            folder = "/".join(parts[: depth + 1])
            if folder not in seen:
                seen.add(folder)
                lines.append("  " * depth + parts[depth] + "/")
        lines.append("  " * (len(parts) - 1) + parts[-1])
    return lines


def _report_new(result: NewProjectResult) -> None:
    verb = "Would create" if result.dry_run else "Created"
    echo(f"{verb} {result.project_abspath}/ ({len(result.project_relpaths)} files):")
    for line in _tree_lines(result.project_relpaths):
        echo("  " + line)
    echo(
        f"  {STATE_DIR_RELPATH}/  answers.json and {result.pristine_count} pristine copies "
        f"under {PRISTINE_DIR_RELPATH}/, the base for later regeneration"
    )
    if result.dry_run:
        echo("Dry run: nothing was written.")
        return
    _report_repository(result)
    echo()
    echo("Next steps:")
    echo(f"  cd {result.project_abspath}")
    if result.names is None:
        return  # a user template: its own README says what comes next
    package = result.names.package_name
    steps = [
        ('pip install -e ".[test]"', ""),
        ("pytest", "the project's own tests, offline"),
        (f"{package} fit", "train with configs/default.yaml"),
        (f"{package} test --ckpt_path best", "test the best checkpoint"),
    ]
    width = max(len(command) for command, _ in steps)
    for command, comment in steps:
        echo(f"  {command:<{width}}  # {comment}" if comment else f"  {command}")


def _report_repository(result: NewProjectResult) -> None:
    """Say what became of the project's git repository, and what to do where git could not."""
    said = result.git_said
    notes = {
        RepositoryStart.COMMITTED: "Started a git repository: the project is its first commit.",
        RepositoryStart.STAGED: (
            f"Started a git repository with the files staged, not committed ({said}): "
            "plscaffold commits only as you. Set user.name and user.email (git config "
            "--global), then run `git commit -m 'Create the project'`."
        ),
        RepositoryStart.INSIDE_WORK_TREE: (
            "Started no git repository: the project is inside one already; commit it there."
        ),
        RepositoryStart.NO_GIT: (
            "Started no git repository: git is not installed. pre-commit and plscaffold's "
            "check for uncommitted changes need one: run `git init` once git is there."
        ),
        RepositoryStart.FAILED: f"Started no git repository: git failed ({said}).",
    }
    if result.repository is not None:
        echo(notes[result.repository])


def _ask_until_valid(question: str, default: Any, value_type: type, check: Any) -> Any:
    """Ask until ``check(answer)`` accepts it; each refusal is shown, the question asked again."""
    while True:
        answer = typer.prompt(question, default=default, type=value_type)
        try:
            check(answer)
        except PlscaffoldError as err:
            echo(f"Error: {err}", err=True)
            continue
        return answer


def _ask_for_options(name: str | None, answers: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Ask for the project name and every option not given, checking each at its question.

    A choice is asked among its choices; an answer that makes the project impossible with
    the answers before it (16-mixed precision without a GPU, say) is refused right there.
    """

    def check_name(candidate: str) -> None:
        check_project_options(project_options(candidate))

    if name is None:
        name = _ask_until_valid("Project name (the folder; '-' becomes '_' in the package)",
                                None, str, check_name)  # fmt: skip
    for option in generation_options():
        if option.name in answers:
            continue
        question = option.question
        if option.choices:
            question += f" ({', '.join(option.choices)})"

        def check(answer: Any, key: str = option.name) -> None:
            check_project_options(project_options(str(name), **{**answers, key: answer}))

        answers[option.name] = _ask_until_valid(question, option.default, option.value_type, check)
    return name, answers


@with_generation_options
def new(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="[NAME]",
            help="Project name: the folder, and the package with '-' as '_'. Asked for on a "
            "terminal when left out.",
            show_default=False,
        ),
    ] = None,
    output_dir: Annotated[
        str, typer.Option("--output-dir", "-o", help="Folder to create the project in.")
    ] = ".",
    interactive: Annotated[
        bool | None,
        typer.Option(
            "--input/--no-input",
            help="Ask for the options not given. Default: ask only when stdin is a terminal.",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRunOption = False,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="Another cookiecutter-format template: a folder, or a git/hg/zip URL.",
        ),
    ] = None,
    trust: TrustOption = False,
    checkout: CheckoutOption = None,
    git: Annotated[
        bool,
        typer.Option(
            "--git/--no-git",
            help="Make the project a git repository with its files as the first commit (only "
            "the files when git has no user.name and user.email; none inside a repository).",
        ),
    ] = True,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Then smoke-train it here, offline: import, configs, fast_dev_run on the "
            "CPU, and one step on a GPU with --gpus.",
        ),
    ] = False,
    answers: dict[str, Any] | None = None,
) -> None:
    """Create a ready-to-run, tested PyTorch Lightning project in NAME/."""
    # Looked up when the check runs, since tests replace it on plscaffold.api.
    from plscaffold.api import check_new_project

    answers = dict(answers or {})
    with user_errors():
        if interactive is None:
            interactive = sys.stdin.isatty()
        if name is None and not (interactive and template is None):
            raise typer.BadParameter("give the project's NAME", param_hint="NAME")
        check_new_request(template, checkout=checkout, dry_run=dry_run, check=check)
        if template is not None:
            result = new_project_from_template(
                template, str(name), Path(output_dir), answers, trust=trust, dry_run=dry_run,
                checkout=checkout, git=git,
            )  # fmt: skip
        else:
            if interactive:
                name, answers = _ask_for_options(name, answers)
            options = project_options(str(name), **answers)
            result = new_project(options, output_dir=Path(output_dir), dry_run=dry_run, git=git)
    _report_new(result)
    if check:
        echo("Checking the project: import, configs, fast_dev_run ...", err=True)
        checked = check_new_project(options, result.project_abspath)
        verdict = "passed" if checked.passed else "FAILED"
        echo(f"Check {verdict} in {checked.seconds:.1f} s: {checked.summary}")
        if not checked.passed:
            if checked.detail:
                echo(checked.detail.rstrip(), err=True)
            echo(f"The project is in place at {result.project_abspath}.", err=True)
            raise typer.Exit(1)


def _report_sync(
    result: SyncResult, done: str, planned: str, *, dry_run: bool, as_json: bool
) -> None:
    """Print what a regenerate, update or add did (``done``) or would do (``planned``).

    Exits 1 if it wrote conflicts.
    """
    if as_json:
        files = [
            {
                "path": plan.relpath,
                "outcome": plan.outcome.value,
                "writes": plan.writes or plan.removes,
                "diff": plan.diff,
            }
            for plan in result.plans
        ]
        document: dict[str, Any] = {
            "project": str(result.project_abspath),
            "dry_run": result.dry_run,
            "files": files,
            "conflicts": result.conflicts,
            "refused": result.refusal,
        }
        if result.moves or result.unmoved_keys:
            document["moves"] = result.moves
            document["unmoved_keys"] = result.unmoved_keys
        if result.migrated_values:
            document["migrated_values"] = {
                relpath: [
                    {"key": each.key, "value": each.value, "moved_to": each.moved_to}
                    for each in changes
                ]
                for relpath, changes in result.migrated_values.items()
            }
        if result.template_versions is not None:
            before, after = result.template_versions
            document["template_version"] = {"from": before, "to": after}
            if before is None:
                document["template_version"]["layout"] = result.layout_version
            document["unloadable_checkpoints"] = result.unloadable_checkpoints
            document["changelog"] = [
                {"version": entry.version, "text": entry.text} for entry in result.changelog
            ]
        echo(json.dumps(document, indent=2))
    else:
        _print_unloadable(result.unloadable_checkpoints, will="will" if dry_run else "")
        if dry_run:
            for plan in result.plans:
                if plan.diff:
                    echo(plan.diff.rstrip("\n"))
        _print_plans(result, planned if dry_run else done)
        if dry_run and result.conflicts:
            echo(
                f"Conflicts expected in {', '.join(result.conflicts)}: a real run exits 1 "
                "and leaves them for you to resolve."
            )
        if dry_run:
            echo("Dry run: nothing was written.")
        _print_changelog(result)
        if result.stale_components:
            names = " ".join(result.stale_components)
            echo(
                f"With the new answers these components render differently too: {names}. "
                f"Regenerate them with `plscaffold generate NAME`, or all with `plscaffold update`."
            )
    if result.refusal is not None:
        echo(f"Error: a real run would refuse: {one_line(result.refusal)}", err=True)
        raise typer.Exit(DirtyWorkTreeError.exit_code)
    if result.conflicts and not dry_run:
        marked = [relpath for relpath in result.conflicts if relpath not in result.binary_conflicts]
        if marked:
            echo(
                f"Conflicts in {len(marked)} file(s): {', '.join(marked)}. Each holds both "
                "sides between <<<<<<< yours and >>>>>>> template; keep what you want, delete "
                "the markers, then run your tests.",
                err=True,
            )
        for relpath, definitions in result.removed_code.items():
            echo(_removed_code_message(relpath, definitions), err=True)
        for relpath in result.binary_conflicts:
            echo(
                f"{relpath} is not UTF-8 text, so it cannot be merged: your file is kept as it "
                f"is, with no markers, and the template's new version is in "
                f"{PRISTINE_DIR_RELPATH}/{relpath}; bring over what you want by hand.",
                err=True,
            )
        raise typer.Exit(1)


# How the text output names an outcome where its JSON value alone would mislead.
_OUTCOME_LABELS = {
    "deleted": "kept deleted (by you)",
    "orphaned": "orphaned (kept, untracked)",
}


def _print_plans(result: SyncResult, verb: str) -> None:
    """Print one line per file the run changes or the user should know about.

    Files left as they are (as rendered, or with the user's edits kept) are only counted;
    with nothing else, one line says so.
    """
    shown = [plan for plan in result.plans if plan.outcome.value not in ("identical", "kept")]
    same = len(result.plans) - len(shown)
    if not shown:
        echo(
            f"{verb} in {result.project_abspath}: nothing to change ({same} files as rendered "
            "or with your edits kept)."
        )
        return
    echo(f"{verb} in {result.project_abspath}:")
    labels = [_OUTCOME_LABELS.get(plan.outcome.value, plan.outcome.value) for plan in shown]
    width = max(len(label) for label in labels)
    for label, plan in zip(labels, shown, strict=True):
        moved = f" -> {result.moves[plan.relpath]}" if plan.relpath in result.moves else ""
        echo(f"  {label:<{width}}  {plan.relpath}{moved}")
    if same:
        echo(f"  ({same} other files unchanged: as rendered, or with your edits kept)")
    orphaned = [plan.relpath for plan in shown if plan.outcome.value == "orphaned"]
    if orphaned:
        echo(
            f"Orphaned: the template no longer has {', '.join(orphaned)}. Your edited copy "
            "stays as your own file, no longer tracked by plscaffold: move what you still "
            "need to where the template now puts it (the changelog says where), then "
            "delete the old file."
        )
    for relpath, moves in result.unmoved_keys.items():
        echo(
            f"{relpath}: the template changed keys ({'; '.join(moves)}), but this file's text "
            "could not be changed safely (flow-style YAML, or a key already at the new "
            "place): change it by hand."
        )
    for relpath, changes in result.migrated_values.items():
        again = (
            " Set a removed one again where you still want it."
            if any(each.moved_to is None for each in changes)
            else ""
        )
        echo(
            f"{relpath}: the template's migrations move or remove values you set: "
            f"{'; '.join(str(each) for each in changes)}.{again}"
        )


def _print_unloadable(checkpoints: dict[str, str], *, will: str = "") -> None:
    """Name the checkpoints the new template's code cannot load, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for relpath, reason in checkpoints.items():
        by_reason.setdefault(reason, []).append(relpath)
    verb = f"{will} not load" if will else "do not load"
    for reason, relpaths in by_reason.items():
        echo(
            f"Checkpoints that {verb} with the updated project (left as they are): "
            f"{', '.join(relpaths)}. {reason}"
        )


def _print_changelog(result: SyncResult) -> None:
    """Print the template's changelog entries an update brings, after its file list."""
    if result.template_versions is None:
        return
    before, after = result.template_versions
    if before == after:
        return
    since = before or (
        f"(made before template versions, in {result.layout_version}'s layout)"
        if result.layout_version
        else "(made before template versions)"
    )
    changed = "; what changed, from its changelog:" if result.changelog else "."
    echo(f"Template {since} -> {after or '(unversioned)'}{changed}")
    for entry in result.changelog:
        echo(f"\n## {entry.version}\n\n{entry.text}")


def _removed_code_message(relpath: str, definitions: list[RemovedDefinition]) -> str:
    """Say where code went that a conflict shows the template removed."""
    moved = [d for d in definitions if d.now_in is not None]
    gone = [d for d in definitions if d.now_in is None]
    parts = [f"{d.kind} {d.name} is now in {d.now_in}" for d in moved]
    parts += [f"{d.kind} {d.name} is in no file of the template any more" for d in gone]
    where = f": {'; '.join(parts)}" if parts else ""
    return (
        f"In {relpath} the template removed lines you had edited (a conflict with an empty "
        f"template side){where}. Carry your edits there, or keep the lines if you still "
        "need them; the changelog says what replaced them."
    )


@with_generation_options
def generate(
    component: Annotated[
        str,
        typer.Argument(
            help="Component to regenerate; `plscaffold list` shows them.",
            metavar="COMPONENT",
            autocompletion=complete_component,
        ),
    ],
    project: ProjectOption = ".",
    restore: RestoreOption = False,
    no_conflicts: NoConflictsOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    only: Annotated[
        bool,
        typer.Option(
            "--only",
            help="Regenerate this component alone, even when the new answers change others.",
        ),
    ] = False,
    allow_dirty: AllowDirtyOption = False,
    trust: TrustOption = False,
    answers: dict[str, Any] | None = None,
) -> None:
    """Regenerate one component, merging the template's changes with yours (alias: g).

    Files you did not touch are replaced; files you edited keep your edits, merged with the
    template's changes; lines both changed get conflict markers and the command exits 1.
    Options given here change the recorded answers first, and the other components they
    render differently are regenerated too (--only: not).
    """
    with user_errors():
        result = regenerate(
            component, Path(project), answers, restore=restore, no_conflicts=no_conflicts,
            dry_run=dry_run, only=only, allow_dirty=allow_dirty, trust=trust,
        )  # fmt: skip
    _report_sync(
        result, f"Regenerated {component}", f"Would regenerate {component}",
        dry_run=dry_run, as_json=as_json,
    )  # fmt: skip


def update(
    project: ProjectOption = ".",
    allow_dirty: AllowDirtyOption = False,
    restore: RestoreOption = False,
    no_conflicts: NoConflictsOption = False,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Update even with an older plscaffold than wrote the project, or to an "
            "older commit of its git template.",
        ),
    ] = False,
    trust: TrustOption = False,
    checkout: CheckoutOption = None,
) -> None:
    """Re-render every component with this plscaffold's templates, keeping your edits.

    A project made from a template folder is re-rendered from that folder as it is now; one
    made from a git template, from its newest version tag (or --checkout REF).
    """
    with user_errors():
        result = update_project(
            Path(project), allow_dirty=allow_dirty, restore=restore, no_conflicts=no_conflicts,
            dry_run=dry_run, force=force, trust=trust, checkout=checkout,
        )  # fmt: skip
    _report_sync(result, "Updated", "Would update", dry_run=dry_run, as_json=as_json)


def add(
    kind: Annotated[
        str,
        typer.Argument(
            help="What to add: model, datamodule or callback.",
            metavar="KIND",
            autocompletion=complete_kind,
        ),
    ],
    name: Annotated[
        str, typer.Argument(help="Its name: letters, digits, '-' and '_'.", metavar="NAME")
    ],
    model_family: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="With model: network (for the project's LightningModule, the default) or gan "
            "(a LightningModule of its own: a generator and a discriminator, two optimizers).",
            metavar="[network|gan]",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = ".",
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    allow_dirty: AllowDirtyOption = False,
) -> None:
    """Add a component with its config and its test, selectable from the entry point."""
    with user_errors():
        kind = component_kind(kind, model_family)
        result = add_component(kind, name, Path(project), dry_run=dry_run, allow_dirty=allow_dirty)
    _report_sync(
        result, f"Added {kind} {name}", f"Would add {kind} {name}", dry_run=dry_run,
        as_json=as_json,
    )  # fmt: skip


def list_components(project: ProjectOption = ".", trust: TrustOption = False) -> None:
    """List the project's components and their files.

    A project made from your own template lists that template's components (its
    _components), as `plscaffold generate COMPONENT` renders them.
    """
    with user_errors():
        components = project_components(Path(project), trust=trust)
    if not components:
        echo(
            "The project's template names no components (a _components mapping in its "
            "cookiecutter.json); `plscaffold update` re-renders the whole project."
        )
    for name, relpaths in components.items():
        echo(f"{name}:")
        for relpath in relpaths:
            echo(f"  {relpath}")


def _versions(found: ProjectStatus) -> str:
    """Say which template version (and commit) the project has, and which an update renders."""
    if found.template is None:
        recorded = found.template_version or "from before template versions"
        return f"{recorded} here, {found.installed_version or 'unversioned'} installed"

    def version(number: str | None, commit: str | None) -> str:
        return (number or "unversioned") + (f" (commit {commit[:12]})" if commit else "")

    here = version(found.template_version, found.template_commit)
    there = version(found.installed_version, found.installed_commit)
    return f"{here} here, {there} in {found.template}"


def _check_line(found: ProjectStatus) -> str:
    """Say in one line whether the project is current, and if not, why (``status --check``)."""
    if found.current:
        return f"Current: template {_versions(found)}; an update would change nothing."
    reasons = [f"template {_versions(found)}"] if found.behind else []
    if found.update_refusal:
        reasons.append(f"an update would refuse: {one_line(found.update_refusal).rstrip('.')}")
    if found.update_writes:
        reasons.append(f"an update would change {len(found.update_writes)} file(s)")
    if found.update_conflicts:
        reasons.append(f"conflicts expected in {', '.join(found.update_conflicts)}")
    if found.recovery_pending:
        reasons.append("an interrupted run's change waits to be finished or undone")
    return f"Not current: {'; '.join(reasons)}."


def status(
    project: ProjectOption = ".",
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Print one line and exit 0 if the project is current (an update would "
            "change nothing), 1 if not: behind its template, an update would write, "
            "conflict or refuse, or a killed run's change waits. For the project's CI.",
        ),
    ] = False,
    trust: TrustOption = False,
    checkout: CheckoutOption = None,
) -> None:
    """List generated files you changed or deleted, and those an update would change.

    The project is compared with what `plscaffold update` would render: this plscaffold's
    template, or your own template's folder as it is now, or a git template's newest
    version tag (or --checkout REF).
    """
    with user_errors():
        found = project_status(Path(project), trust=trust, checkout=checkout)
    if check:
        echo(_check_line(found))
        if not found.current:
            raise typer.Exit(1)
        return
    echo(f"Template: {_versions(found)}.")
    if not found.files and not found.contradicted and found.current:
        echo("Every generated file is as plscaffold rendered it, and an update changes nothing.")
        return
    _print_unloadable(found.unloadable_checkpoints, will="would")
    if found.update_refusal:
        echo(f"An update would refuse: {one_line(found.update_refusal)}")
    elif found.update_writes:
        conflicts = ", ".join(found.update_conflicts)
        expected = f"conflicts expected in {conflicts}" if conflicts else "no conflicts expected"
        echo(f"An update would change {len(found.update_writes)} file(s); {expected}.")
    elif found.behind:
        echo("An update would change no file; it would record the template's new version.")
    for item in found.files:
        marks = [
            label
            for label, flag in (
                ("modified", item.modified),
                ("deleted", item.deleted),
                ("conflict markers", item.conflict_markers),
                ("update changes it", item.update_changes),
            )
            if flag
        ]
        echo(f"  {item.relpath}: {', '.join(marks)}")
    listed = {item.relpath for item in found.files}
    for relpath in found.update_writes:
        if relpath not in listed:  # a config of your own that a migration changes
            echo(f"  {relpath}: yours, the template's migrations change it")
    for answer in found.contradicted:
        command = f"plscaffold generate {answer.component or 'COMPONENT'} {answer.flag} VALUE"
        echo(
            f"  answer {answer.name}: .plscaffold/answers.json records {answer.value!r}, but "
            f"{answer.relpath} no longer says so; record the value you chose with "
            f"`{command}`"
        )
