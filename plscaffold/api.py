"""plscaffold's operations as functions: no prompts, no printing; errors are raised."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from plscaffold import __version__
from plscaffold.answers import (
    ANSWERS_RELPATH,
    PRISTINE_DIR_RELPATH,
    STATE_DIR_RELPATH,
    AddedComponent,
    AnswersDocument,
    ProjectState,
    commit,
    open_project,
    pristine_relpath,
    with_project_state,
)
from plscaffold.errors import (
    AnswersFileError,
    ComponentExistsError,
    ConflictError,
    ConflictMarkersError,
    DirtyWorkTreeError,
    DowngradeError,
    ForeignTemplateError,
    InvalidNameError,
    InvalidOptionError,
    PlscaffoldError,
    TemplateError,
    UnknownComponentError,
)
from plscaffold.merge import CONFLICTS, FilePlan, Outcome, has_conflict_markers, plan_file
from plscaffold.names import (
    ProjectNames,
    package_name_for,
    project_names,
    validate_component_name,
    validate_project_name,
)
from plscaffold.options import (
    GenerationOption,
    ProjectOptions,
    option_flag,
    resolve_options,
    template_choices,
    template_defaults,
    validate_options,
)
from plscaffold.options import generation_options as options_of_template
from plscaffold.render import (
    RenderedFile,
    Rendering,
    render_components_relpaths,
    render_template_bounded,
    render_tree,
)
from plscaffold.templates import (
    build_context,
    bundled_components_template,
    bundled_project_template,
    component_kinds,
)
from plscaffold.writer import Change, check_target, project_path, write_new_project

if TYPE_CHECKING:  # experiments import subprocess and more: only their commands need them
    from collections.abc import Callable

    from plscaffold.check import CheckResult
    from plscaffold.experiments.compare import Comparison
    from plscaffold.experiments.listing import Experiment
    from plscaffold.experiments.sweeps import PointRun


@dataclass(frozen=True)
class NewProjectResult:
    """What ``new_project`` did, or would do on a dry run.

    Attributes:
        names: The project's names; None for a user template, whose layout is its own.
    """

    project_abspath: Path
    names: ProjectNames | None
    rendering: Rendering
    dry_run: bool

    @property
    def relpaths(self) -> list[str]:
        return sorted(self.rendering)

    @property
    def project_relpaths(self) -> list[str]:
        """The project's own files, without plscaffold's state folder."""
        return [p for p in self.relpaths if not p.startswith(STATE_DIR_RELPATH + "/")]

    @property
    def pristine_count(self) -> int:
        """How many pristine copies the state folder keeps."""
        return sum(p.startswith(PRISTINE_DIR_RELPATH + "/") for p in self.relpaths)


@dataclass(frozen=True)
class ProjectRendering:
    """Every file of a project rendered in memory, and which component each belongs to."""

    names: ProjectNames
    files: Rendering
    components: dict[str, list[str]]


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


def project_defaults() -> dict[str, Any]:
    """Return the default of each ``new`` option, read from the bundled template."""
    return template_defaults(bundled_project_template())


def generation_options() -> list[GenerationOption]:
    """Return the answers ``new`` and ``generate`` take as options, from the bundled template."""
    return options_of_template(bundled_project_template())


def check_project_options(options: ProjectOptions) -> None:
    """Check a project's name and options as ``new`` would, rendering nothing.

    Raises:
        InvalidNameError, InvalidOptionError: the message names the value and the fix.
    """
    validate_project_name(options.project_name)
    validate_options(options, bundled_project_template())


def project_options(project_name: str, **given: Any) -> ProjectOptions:
    """Return the options of a new project: those ``given``, the template's defaults for the rest.

    Raises:
        InvalidOptionError: an option is unknown or has the wrong type.
    """
    return resolve_options(bundled_project_template(), project_name, given)


def render_components(
    options: ProjectOptions, added: tuple[AddedComponent, ...] = ()
) -> ProjectRendering:
    """Validate ``options`` and render the project template and added components in memory.

    Raises:
        InvalidNameError, InvalidOptionError: an option is not usable; nothing was rendered.
        ComponentExistsError: an added component takes a name already in use.
        TemplateError: a template failed to render.
    """
    names = project_names(options.project_name)
    template = bundled_project_template()
    validate_options(options, template)
    context = build_context(template, options.answers())
    if context["cookiecutter"]["package_name"] != names.package_name:
        raise TemplateError(
            f"project name {options.project_name!r} renders to package "
            f"{context['cookiecutter']['package_name']!r}, not {names.package_name!r}"
        )
    files = render_tree(template, context)
    components = render_components_relpaths(template, context)
    kinds = component_kinds() if added else {}
    taken = {package_name_for(name): name for name in components}
    for component in added:
        module = package_name_for(component.name)
        if module in taken:
            same = (
                ""
                if taken[module] == component.name
                else (f", which is {component.name!r} once '-' is '_' and case is ignored")
            )
            raise ComponentExistsError(
                f"the project already has a component named {taken[module]!r}{same}; "
                "choose another name"
            )
        taken[module] = component.name
        check_kind(component.kind, kinds)
        component_files = render_component(component, context["cookiecutter"], kinds)
        components[component.name] = sorted(component_files)
        files.update(component_files)
    return ProjectRendering(names, files, components)


def check_kind(kind: str, kinds: dict[str, list[str]]) -> None:
    """Refuse a component kind the components template does not define.

    Raises:
        InvalidOptionError: the message lists the kinds there are.
    """
    if kind not in kinds:
        raise InvalidOptionError(
            f"unknown component kind {kind!r}; choose one of {', '.join(sorted(kinds))}"
        )


def render_component(
    component: AddedComponent, project_context: dict[str, Any], kinds: dict[str, list[str]]
) -> Rendering:
    """Render the files of one added component with the project's answers and its names."""
    template = bundled_components_template()
    names = validate_component_name(component.name)
    answers = {
        **project_context,
        "component_name": names.project_name,
        "component_module": names.package_name,
        "component_class": names.class_name,
    }
    return render_tree(template, build_context(template, answers), kinds[component.kind])


def render_project(options: ProjectOptions) -> tuple[ProjectNames, Rendering]:
    """Render a new project in memory, with its answers file and pristine copies.

    Raises:
        InvalidNameError: as for :func:`check_project_options`.
    """
    validate_project_name(options.project_name)  # a new name must shadow nothing
    project = render_components(options)
    document = AnswersDocument(__version__, bundled_project_template().ref, options.answers())
    return project.names, with_project_state(project.files, document)


def new_project(
    options: ProjectOptions, output_dir: Path = Path("."), dry_run: bool = False
) -> NewProjectResult:
    """Create a new Lightning project folder named after ``options.project_name``.

    Everything is rendered in memory first and written through a temporary folder, so a
    failure leaves the disk as it was. With ``dry_run`` nothing is written.

    Raises:
        UserError: a bad name or option, or a target that exists and is not empty.
        TemplateError: the template failed to render.
    """
    names, rendering = render_project(options)
    project_abspath = (output_dir / options.project_name).absolute()
    check_target(project_abspath)
    if not dry_run:
        write_new_project(rendering, project_abspath)
    return NewProjectResult(project_abspath, names, rendering, dry_run)


def new_project_from_template(
    source: str,
    project_name: str,
    output_dir: Path = Path("."),
    given: dict[str, Any] | None = None,
    trust: bool = False,
    dry_run: bool = False,
    checkout: str | None = None,
) -> NewProjectResult:
    """Create a project from any cookiecutter-format template: a folder or a repository URL.

    A repository template is rendered at ``checkout`` (a branch, tag or commit; default:
    its default branch), and the commit it resolved to is recorded for ``update``.

    The same in-memory rendering and atomic write as :func:`new_project`. Hooks and Jinja
    extensions run only with ``trust``; hooks run inside the staging folder.

    Raises:
        TemplateSourceError: the template cannot be found or fetched.
        UntrustedTemplateError: it has hooks or extensions and ``trust`` is false.
        InvalidOptionError: an option names a variable the template does not have.
        UnsafePathError: a path or link would leave the template or the project folder.
        TemplateError: a file fails to render (the message names the file and line).
    """
    from plscaffold.sources import (
        check_trust,
        is_remote,
        open_template,
        template_commit,
        template_hooks,
    )
    from plscaffold.templates import read_variables

    with open_template(source, checkout) as template:
        check_trust(template, trust)
        template = replace(template, trusted=trust)
        variables = read_variables(template)
        answers = dict(given or {})
        unknown = sorted(key for key in answers if key not in variables)
        if unknown:
            raise InvalidOptionError(
                f"template {template.ref} has no variable {', '.join(unknown)}; its variables: "
                f"{', '.join(k for k in variables if not k.startswith('_'))}"
            )
        if "project_name" in variables:
            answers["project_name"] = project_name
        rendered = render_template_bounded(template, answers)
        recorded = {k: v for k, v in rendered.values.items() if not k.startswith("_")}
        commit = template_commit(template) if is_remote(source) else None
        document = AnswersDocument(__version__, template.ref, recorded, template_commit=commit)
        rendering = with_project_state(rendered.files, document)
        project_abspath = (output_dir / rendered.folder_name).absolute()
        check_target(project_abspath)
        run_hook = None
        if trust and template_hooks(template):
            run_hook = _hook_runner(template, {"cookiecutter": rendered.values})
        if not dry_run:
            write_new_project(rendering, project_abspath, run_hook)
    return NewProjectResult(project_abspath, None, rendering, dry_run)


def _hook_runner(template: Any, context: dict[str, Any]) -> Any:
    """Return a function running the template's hooks with cookiecutter's own runner."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.hooks import run_hook_from_repo_dir

    def run_hook(hook_name: str, staging_abspath: Path) -> None:
        try:
            run_hook_from_repo_dir(
                template.root_abspath, hook_name, staging_abspath, context, False
            )
        except CookiecutterException as err:
            raise TemplateError(f"{template.ref}: hook {hook_name} failed: {err}") from err

    return run_hook


def _project_name(state: ProjectState) -> str:
    """Return the project name the answers file records.

    Raises:
        AnswersFileError: it records none.
    """
    project_name = state.document.answers.get("project_name")
    if not isinstance(project_name, str):
        raise AnswersFileError(
            f"{state.root_abspath / ANSWERS_RELPATH} records no project_name; restore it from "
            "version control"
        )
    return project_name


def _options_of(state: ProjectState, changes: dict[str, Any]) -> ProjectOptions:
    template = bundled_project_template()
    if state.document.template != template.ref:
        raise ForeignTemplateError(
            f"{state.root_abspath} was made from the template {state.document.template}; "
            f"generation options, `add` and `status` work on projects made from {template.ref} "
            "(plscaffold's own template); `update` and `generate COMPONENT` work on both"
        )
    answers = dict(state.document.answers)
    project_name = _project_name(state)
    answers.pop("project_name")
    try:
        recorded = resolve_options(template, project_name, answers)
        project_names(project_name)
        validate_options(recorded, template)
    except (InvalidOptionError, InvalidNameError) as err:
        raise AnswersFileError(
            f"{state.root_abspath / ANSWERS_RELPATH} records an answer no flag would take: "
            f"{err}. Fix that answer, or restore the file from version control"
        ) from err
    if not changes:
        return recorded
    return resolve_options(template, project_name, {**answers, **changes})


def _made_from_bundled(state: ProjectState) -> bool:
    return state.document.template == bundled_project_template().ref


def _user_template_rendering(
    state: ProjectState, trust: bool, checkout: str | None = None, force: bool = False
) -> tuple[Rendering, dict[str, list[str]] | None, str | None]:
    """Render the project's own template again with its recorded answers.

    A folder is rendered as it is now. A git repository is rendered at ``checkout``, or
    else at its newest version tag (its default branch when it has no tag).

    Returns:
        Every file; the template's components (``_components`` in its
        ``cookiecutter.json``), or None where it names none; the commit rendered, for a
        repository.

    Raises:
        TemplateSourceError: the template is gone, or cannot be fetched.
        UntrustedTemplateError: it has hooks or extensions and ``trust`` is false.
        DowngradeError: the commit to render is an ancestor of the recorded one, and not
            ``force``.
    """
    from plscaffold.sources import (
        check_trust,
        is_remote,
        newest_tag,
        open_template,
        template_commit,
    )

    source = state.document.template
    if is_remote(source) and checkout is None:
        checkout = newest_tag(source)
    with open_template(source, checkout) as template:
        check_trust(template, trust)
        template = replace(template, trusted=trust)
        commit = template_commit(template) if is_remote(source) else None
        recorded = state.document.template_commit
        if commit and recorded and commit != recorded and not force:
            _refuse_template_downgrade(template, recorded, commit, checkout)
        # The recorded answers enter the context as values, never rendered.
        rendered = render_template_bounded(template, dict(state.document.answers))
    return rendered.files, rendered.components, commit


def _refuse_template_downgrade(
    template: Any, recorded: str, commit: str, checkout: str | None
) -> None:
    """Refuse to render a commit older than the recorded one (one it descends from).

    Raises:
        DowngradeError: ``commit`` is an ancestor of ``recorded``.
    """
    from plscaffold.git import git_output

    older = git_output(template.root_abspath, "merge-base", "--is-ancestor", commit, recorded)
    if older is not None:
        raise DowngradeError(
            f"{template.ref} at {checkout or commit[:12]} ({commit[:12]}) is older than the "
            f"commit this project was rendered from ({recorded[:12]}): updating would undo "
            "the template's later changes. Pass --force to go back on purpose"
        )


def _sync(
    state: ProjectState,
    document: AnswersDocument,
    relpaths: set[str],
    new_files: Rendering,
    restore: bool,
    no_conflicts: bool,
    dry_run: bool,
    refusal: str | None = None,
) -> SyncResult:
    """Plan every file in ``relpaths`` against its pristine copy and apply the plan.

    ``refusal``, on a dry run, is why the real run would refuse to write.
    """
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
        commit(state, files, pristine, document)
    return result


def project_components(project_dir: Path = Path(".")) -> dict[str, list[str]]:
    """Return the components of the project around ``project_dir`` and their files."""
    with open_project(project_dir) as state:
        return render_components(_options_of(state, {}), state.document.added).components


def regenerate(
    component: str,
    project_dir: Path = Path("."),
    changes: dict[str, Any] | None = None,
    restore: bool = False,
    no_conflicts: bool = False,
    dry_run: bool = False,
    only: bool = False,
    allow_dirty: bool = False,
    trust: bool = False,
) -> SyncResult:
    """Re-render one component from the recorded answers, changed by ``changes``.

    A project made from a local template folder is rendered from that folder as it is
    now, with its recorded answers, where the template names its components
    (``_components``); ``trust`` as for ``new --template``.

    Each file is replaced, kept, merged or left as the user deleted it (see
    :func:`plscaffold.merge.plan_file`); the new answers are recorded. Other components
    that the changed answers render differently are regenerated with it, so the project
    never contradicts itself, unless ``only``: then they are named in the result.

    Raises:
        UnknownComponentError: the project has no such component.
        DirtyWorkTreeError: the project has uncommitted changes and not ``allow_dirty``.
        ConflictMarkersError: a file to regenerate holds conflict markers.
        ConflictError: with ``no_conflicts``, a file would conflict.
    """
    with open_project(project_dir) as state:
        if not _made_from_bundled(state):
            return _regenerate_from_own_template(
                state, component, changes, restore, no_conflicts, dry_run, allow_dirty, trust
            )
        recorded = _options_of(state, {})
        options = _options_of(state, changes or {})
        old = render_components(recorded, state.document.added)
        new = old if options == recorded else render_components(options, state.document.added)
        if component not in new.components:
            raise UnknownComponentError(
                f"no component {component!r} in {state.root_abspath}; choose one of "
                f"{', '.join(new.components)} (`plscaffold list` shows their files)"
            )
        refusal = _check_clean_work_tree(state.root_abspath, allow_dirty, dry_run)

        def files_of(name: str) -> set[str]:
            return set(new.components.get(name, [])) | set(old.components.get(name, []))

        affected = tuple(
            name
            for name in new.components
            if name != component
            and any(new.files.get(p) != old.files.get(p) for p in files_of(name))
        )
        names = (component,) if only else (component, *affected)
        relpaths = set().union(*(files_of(name) for name in names))
        document = replace(state.document, answers=options.answers())
        result = _sync(
            state, document, relpaths, new.files, restore, no_conflicts, dry_run, refusal
        )
        return replace(result, stale_components=affected if only else ())


def _check_clean_work_tree(root_abspath: Path, allow_dirty: bool, dry_run: bool) -> str | None:
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
    status = git_output(root_abspath, "status", "--porcelain", "--", ".")
    if not (status and status.strip()):
        return None
    changed = ", ".join(line[3:] for line in status.splitlines()[:5])
    error = DirtyWorkTreeError(
        f"{root_abspath} has uncommitted changes ({changed}); commit or stash them so "
        "the change can be reviewed and undone, or pass --allow-dirty"
    )
    if dry_run:
        return str(error)
    raise error


def _regenerate_from_own_template(
    state: ProjectState,
    component: str,
    changes: dict[str, Any] | None,
    restore: bool,
    no_conflicts: bool,
    dry_run: bool,
    allow_dirty: bool,
    trust: bool,
) -> SyncResult:
    """Regenerate a component of a project made from a local template folder."""
    if changes:
        raise InvalidOptionError(
            f"{state.root_abspath} was made from the template {state.document.template}; "
            "generation options belong to plscaffold's own template: regenerate without them"
        )
    files, components, commit = _user_template_rendering(state, trust)
    if components is None:
        raise UnknownComponentError(
            f"the template {state.document.template} names no components (a _components "
            "mapping in its cookiecutter.json); `plscaffold update` re-renders the whole project"
        )
    if component not in components:
        raise UnknownComponentError(
            f"no component {component!r} in {state.root_abspath}; choose one of "
            f"{', '.join(components)}"
        )
    refusal = _check_clean_work_tree(state.root_abspath, allow_dirty, dry_run)
    document = replace(state.document, plscaffold_version=__version__, template_commit=commit)
    relpaths = set(components[component])
    return _sync(state, document, relpaths, files, restore, no_conflicts, dry_run, refusal)


def update(
    project_dir: Path = Path("."),
    allow_dirty: bool = False,
    restore: bool = False,
    no_conflicts: bool = False,
    dry_run: bool = False,
    force: bool = False,
    trust: bool = False,
    checkout: str | None = None,
) -> SyncResult:
    """Re-render every component with the installed plscaffold's templates.

    A project made from a user template is rendered from it with its recorded answers and
    merged the same way (its hooks do not run again): a folder as it is now, a git
    repository at ``checkout`` or its newest version tag, whose commit is recorded;
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
        refusal = _check_clean_work_tree(state.root_abspath, allow_dirty, dry_run)
        commit = None
        if _made_from_bundled(state):
            if checkout is not None:
                raise InvalidOptionError(
                    f"--checkout picks a commit of a repository template; {state.root_abspath} "
                    "was made from plscaffold's own template"
                )
            files = render_components(_options_of(state, {}), state.document.added).files
        else:
            files, _, commit = _user_template_rendering(state, trust, checkout, force)
        relpaths = set(files) | set(state.pristine_relpaths())
        document = replace(state.document, plscaffold_version=__version__, template_commit=commit)
        return _sync(state, document, relpaths, files, restore, no_conflicts, dry_run, refusal)


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
    """What ``status`` reports: changed files, and answers the files contradict."""

    files: list[FileStatus]
    contradicted: list[ContradictedAnswer]


def project_status(project_dir: Path = Path(".")) -> ProjectStatus:
    """Return the generated files that the user changed or deleted, or an update would change,
    and the recorded answers that the files the user changed no longer agree with."""
    with open_project(project_dir) as state:
        options = _options_of(state, {})
        new = render_components(options, state.document.added)
        relpaths = sorted(set(new.files) | set(state.pristine_relpaths()))
        statuses = [_file_status(state, relpath, new.files.get(relpath)) for relpath in relpaths]
        modified = {
            status.relpath: current.content
            for status in statuses
            if status.modified and (current := state.read(status.relpath)) is not None
        }
        contradicted = _contradicted_answers(options, state.document.added, new, modified)
    return ProjectStatus([status for status in statuses if status.changed], contradicted)


def _contradicted_answers(
    options: ProjectOptions,
    added: tuple[AddedComponent, ...],
    rendered: ProjectRendering,
    modified: dict[str, bytes],
) -> list[ContradictedAnswer]:
    """Return the answers whose rendered lines are all gone from a file the user changed.

    The lines an answer renders in a file are those that change when the answer alone
    changes; a file holding none of them any more no longer says what the answer records.
    """
    if not modified:
        return []
    component_of = {
        relpath: name for name, paths in rendered.components.items() for relpath in paths
    }
    # Each modified file's lines as the user has them, and as the recorded answers render.
    files = {
        relpath: (set(_lines(current)), set(_lines(rendered.files[relpath].content)))
        for relpath, current in sorted(modified.items())
        if relpath in rendered.files
    }
    choices = template_choices(bundled_project_template())
    found = []
    for name, value in options.answers().items():
        if name == "project_name":
            continue  # the folder and package: not an answer a file can contradict
        other = _other_rendering(options, added, name, choices.get(name, []))
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
    options: ProjectOptions, added: tuple[AddedComponent, ...], name: str, choices: list[str]
) -> ProjectRendering | None:
    """Render the project with one answer changed to another valid value, or None if none is."""
    value = getattr(options, name)
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
            return render_components(replace(options, **{name: candidate}), added)
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


MODEL_KINDS = {"network": "model", "gan": "gan"}
"""``add model --kind``: a network for the project's LightningModule, or a GAN of its own."""


def component_kind(kind: str, model_kind: str | None) -> str:
    """Return the component kind ``add KIND --kind MODEL_KIND`` creates.

    Raises:
        InvalidOptionError: ``--kind`` is unknown, or given for another kind than model.
    """
    if model_kind is None:
        return kind
    if kind != "model":
        raise InvalidOptionError(
            f"--kind {model_kind} applies to `plscaffold add model` only; leave it out for {kind}"
        )
    if model_kind not in MODEL_KINDS:
        raise InvalidOptionError(
            f"--kind {model_kind!r} is not a kind of model; choose one of {', '.join(MODEL_KINDS)}"
        )
    return MODEL_KINDS[model_kind]


def addable_kinds() -> list[str]:
    """Return the kinds ``plscaffold add KIND`` takes; a GAN is ``model --kind gan``."""
    via_kind = set(MODEL_KINDS.values()) - {"model"}
    return sorted(set(component_kinds()) - via_kind)


def add_component(
    kind: str,
    name: str,
    project_dir: Path = Path("."),
    *,
    dry_run: bool = False,
    allow_dirty: bool = False,
) -> SyncResult:
    """Add a new component (a second model or GAN, a datamodule, a callback) to the project.

    As :func:`regenerate`, it refuses a git work tree with uncommitted changes unless
    ``allow_dirty``.

    Raises:
        DirtyWorkTreeError: the project has uncommitted changes and not ``allow_dirty``.
        InvalidOptionError: ``kind`` is not a bundled component kind.
        InvalidNameError: ``name`` cannot be a Python module.
        ComponentExistsError: the name is taken, or one of its files already exists.
    """
    check_kind(kind, component_kinds())
    validate_component_name(name)
    with open_project(project_dir) as state:
        added = (*state.document.added, AddedComponent(kind, name))
        new = render_components(_options_of(state, {}), added)  # refuses a name already taken
        relpaths = set(new.components[name])
        clashes = [
            relpath
            for relpath in sorted(relpaths)
            if (current := state.read(relpath)) is not None
            and current.content != new.files[relpath].content
        ]
        if clashes:
            raise ComponentExistsError(
                f"{', '.join(clashes)} already exist{'s' if len(clashes) == 1 else ''}; "
                f"choose another name for the {kind}"
            )
        document = replace(state.document, added=added)
        refusal = _check_clean_work_tree(state.root_abspath, allow_dirty, dry_run)
        return _sync(state, document, relpaths, new.files, False, True, dry_run, refusal)


def check_new_project(options: ProjectOptions, project_abspath: Path) -> CheckResult:
    """Smoke-train a project ``new`` just wrote, in this Python; see :mod:`plscaffold.check`."""
    from plscaffold.check import check_project

    package = package_name_for(options.project_name)
    return check_project(project_abspath, package, options.gpus)


@dataclass(frozen=True)
class CreatedExperiment:
    """What ``new_experiment`` wrote.

    Attributes:
        path: The experiment's file.
        parent: Its lineage's parent (``default``, an experiment, ``template:NAME``).
        keys: The keys it sets, flat (``trainer.max_epochs``), lineage left out.
        command: How to train it.
    """

    path: Path
    parent: str
    keys: dict[str, Any]
    command: str


def new_experiment(
    name: str,
    project_dir: Path = Path("."),
    parent: str = "default",
    assignments: list[str] | None = None,
    description: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> CreatedExperiment:
    """Write configs/experiments/NAME.yaml; see :func:`plscaffold.experiments.create`."""
    from plscaffold.experiments import configs, create

    changes = configs.changes_of(assignments or [])
    with open_project(project_dir) as state:  # held while the experiment is checked and written
        package = package_name_for(_project_name(state))
        path, document = create.new_experiment(
            state.root_abspath, package, name, parent, changes, description, on_progress
        )
    keys = {k: v for k, v in configs.flatten(document).items() if not k.startswith("lineage")}
    lineage = document["lineage"]["parent"]
    return CreatedExperiment(path, lineage, keys, f"{package} fit --experiment {name}")


def experiment_templates() -> dict[str, tuple[str, dict[str, Any]]]:
    """Return the built-in experiment templates: name -> (description, flat keys)."""
    from plscaffold.experiments import configs

    return {
        name: (description, configs.flatten(keys))
        for name, (description, keys) in configs.builtin_experiments().items()
    }


def experiment_names(project_dir: Path = Path(".")) -> list[str]:
    """Return the names of the project's experiments (its files in configs/experiments/)."""
    from plscaffold.experiments import configs

    with open_project(project_dir) as state:
        return configs.experiment_names(state.root_abspath)


def sweep_names(project_dir: Path = Path(".")) -> dict[str, list[str]]:
    """Return the project's sweeps, each with its points (``NAME-0``, ``NAME-1``, ...)."""
    from plscaffold.experiments.compare import sweeps

    with open_project(project_dir) as state:
        return sweeps(state.root_abspath)


def list_experiments(project_dir: Path = Path(".")) -> list[Experiment]:
    """Return the project's experiments with their lineage and their latest run's best."""
    from plscaffold.experiments.listing import list_experiments as listed

    with open_project(project_dir) as state:
        return listed(state.root_abspath)


@dataclass(frozen=True)
class ComparedExperiments:
    """What ``compare_experiments`` found and drew.

    Attributes:
        comparison: The runs compared, their differing config keys and the best run.
        plot: The PNG drawn, or None.
        plot_note: Why there is no plot (no metrics yet, or no matplotlib), else None.
    """

    comparison: Comparison
    plot: Path | None
    plot_note: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the ``--json`` document."""
        from plscaffold.experiments.compare import comparison_json

        return comparison_json(self.comparison, self.plot)


def compare_experiments(
    names: list[str], project_dir: Path = Path("."), all_runs: bool = False, plot: bool = True
) -> ComparedExperiments:
    """Compare experiments by what their runs used and logged; draw the metrics to a PNG."""
    from plscaffold.errors import PlotUnavailableError
    from plscaffold.experiments.compare import compare_experiments as compared
    from plscaffold.experiments.plot import plot_comparison
    from plscaffold.experiments.runs import runs_root

    with open_project(project_dir) as state:
        root, package = state.root_abspath, package_name_for(_project_name(state))
        comparison = compared(root, package, names, all_runs)
    if not plot:
        return ComparedExperiments(comparison, None, None)
    logs = runs_root(root, comparison.experiments[0].name).parent
    png = logs / f"compare-{'-vs-'.join(names)}.png"
    try:
        drawn = plot_comparison(comparison, png, " vs ".join(names))
    except PlotUnavailableError as err:
        return ComparedExperiments(comparison, None, str(err))
    note = None if drawn else "no plot: none of the compared runs has metrics that can be read yet"
    return ComparedExperiments(comparison, drawn, note)


@dataclass(frozen=True)
class CreatedSweep:
    """What ``new_sweep`` wrote: each point's experiment and values, and the SLURM script."""

    points: list[tuple[str, dict[str, Any]]]
    slurm_script: Path | None


def new_sweep(
    name: str,
    grids: list[str],
    project_dir: Path = Path("."),
    parent: str = "default",
    assignments: list[str] | None = None,
    sample: int | None = None,
    seed: int = 0,
    description: str | None = None,
    slurm: bool = False,
    throttle: int | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> CreatedSweep:
    """Write one experiment per grid point, ``NAME-0``, ``NAME-1``, ..., and with ``slurm``
    the job array ``scripts/sweep-NAME.sbatch``: all or none."""
    from plscaffold.experiments import configs, sweeps

    changes = configs.changes_of(assignments or [])
    points = sweeps.grid_points([sweeps.parse_grid(text) for text in grids], sample, seed)
    with open_project(project_dir) as state:
        package = package_name_for(_project_name(state))
        written, script = sweeps.create_sweep(
            state.root_abspath, package, name, parent, points, changes, description,
            on_progress, throttle, slurm,
        )  # fmt: skip
    return CreatedSweep(list(zip(written, points, strict=True)), script)


def run_optuna_study(
    name: str,
    trials: int,
    project_dir: Path = Path("."),
    parent: str = "default",
    grids: list[str] | None = None,
    ranges: list[str] | None = None,
    assignments: list[str] | None = None,
    seed: int | None = None,
    on_progress: Callable[[str], None] | None = None,
    on_trial: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run trials of the Optuna study NAME (created, or joined without grids and ranges).

    The project's lock is taken only while each trial's experiment is checked and written.

    Returns:
        The study's best trial so far: ``experiment``, ``value`` and ``point``.
    """
    from plscaffold.experiments import configs, studies, sweeps

    if trials < 1:
        raise InvalidOptionError(f"--optuna {trials}: run 1 trial or more")
    changes = configs.changes_of(assignments or [])
    grid_values = [sweeps.parse_grid(text) for text in grids or []]
    range_values = [studies.parse_range(text) for text in ranges or []]
    with studies.project_lock(project_dir) as state:  # processes beside this one share it
        root, package = state.root_abspath, package_name_for(_project_name(state))
        space = None
        if grid_values or range_values or changes:
            space = studies.search_space(root, package, parent, changes, grid_values, range_values)
    return studies.run_study(root, package, name, space, trials, seed, on_progress, on_trial)


def sweep_slurm_script(
    name: str, project_dir: Path = Path("."), throttle: int | None = None
) -> Path:
    """Write scripts/sweep-NAME.sbatch, a SLURM job array over the sweep's points."""
    from plscaffold.experiments import sweeps

    with open_project(project_dir) as state:
        package = package_name_for(_project_name(state))
        points = sweeps.existing_points(state.root_abspath, name)
        return sweeps.write_slurm_script(state.root_abspath, package, name, points, throttle)


def run_sweep(
    name: str,
    project_dir: Path = Path("."),
    devices_per_run: int | None = None,
    on_start: Callable[[str, list[str]], None] | None = None,
) -> list[PointRun]:
    """Train a sweep's points on this machine (the project's lock is not held meanwhile).

    Raises:
        SweepRunError: a point's training exited with an error; the others still ran.
    """
    from plscaffold.errors import SweepRunError
    from plscaffold.experiments import sweeps

    if devices_per_run is not None and devices_per_run < 1:
        raise InvalidOptionError(f"--devices-per-run {devices_per_run}: give 1 or more")
    with open_project(project_dir) as state:
        root, package = state.root_abspath, package_name_for(_project_name(state))
        points = sweeps.existing_points(root, name)
    runs = sweeps.run_points(root, package, points, devices_per_run, on_start)
    failed = [run for run in runs if run.returncode != 0]
    if failed:
        raise SweepRunError(
            f"{len(failed)} of {len(runs)} points failed: "
            + ", ".join(f"{run.point} (exit {run.returncode})" for run in failed)
            + f"; rerun one with `{package} fit --experiment POINT`"
        )
    return runs


__all__ = [
    "PRISTINE_DIR_RELPATH",
    "STATE_DIR_RELPATH",
    "ComparedExperiments",
    "ContradictedAnswer",
    "CreatedExperiment",
    "CreatedSweep",
    "FileStatus",
    "NewProjectResult",
    "Outcome",
    "ProjectOptions",
    "ProjectStatus",
    "SyncResult",
    "add_component",
    "check_new_project",
    "check_project_options",
    "compare_experiments",
    "experiment_templates",
    "generation_options",
    "list_experiments",
    "new_experiment",
    "new_project",
    "new_project_from_template",
    "new_sweep",
    "project_components",
    "project_defaults",
    "project_options",
    "project_status",
    "regenerate",
    "render_project",
    "run_optuna_study",
    "run_sweep",
    "sweep_names",
    "sweep_slurm_script",
    "update",
]
