"""Template sources: plscaffold's bundled template, a local folder or a repository ref.

Each source renders a project from answers, names its components and says how the answers
file records it, so that every verb (new, generate, update, list) is written once for all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from plscaffold import __version__
from plscaffold.answers import ANSWERS_RELPATH, AddedComponent, AnswersDocument
from plscaffold.errors import (
    AnswersFileError,
    ComponentExistsError,
    DowngradeError,
    ForeignTemplateError,
    InvalidNameError,
    InvalidOptionError,
    TemplateError,
    UnknownComponentError,
)
from plscaffold.migrations import Migration, read_migrations
from plscaffold.names import component_names, package_name_for, project_names
from plscaffold.options import (
    GenerationOption,
    ProjectOptions,
    checked_options,
    generation_options,
)
from plscaffold.render import Rendering, TemplateRendering, render_template
from plscaffold.state import ProjectState
from plscaffold.templates import (
    Template,
    bundled_components_template,
    bundled_project_template,
    component_kinds,
    pinned_answers,
    read_variables,
)
from plscaffold.versions import ChangelogEntry, changes_since, template_version
from plscaffold.writer import HookRunner


class TemplateSource(ABC):
    """A template a project is made from and kept up to date with."""

    template: Template
    ref: str
    """How the answers file names the template (``bundled:project``, a path or a URL)."""
    commit: str | None = None
    """The commit a repository template is at; None for folders and the bundled template."""
    listing_hint = ""
    """Where the user sees the components, said after an unknown one."""

    @abstractmethod
    def new_answers(self, project_name: str, given: dict[str, Any]) -> dict[str, Any]:
        """Return the answers of a new project called ``project_name``.

        Raises:
            InvalidNameError, InvalidOptionError: the name or an option cannot be used.
        """

    @abstractmethod
    def changed_answers(self, state: ProjectState, changes: dict[str, Any]) -> dict[str, Any]:
        """Return a project's recorded answers with ``changes`` (generation options) made.

        Raises:
            AnswersFileError: a recorded answer is one no option would take.
            InvalidOptionError: a change is not an option this template takes.
        """

    @abstractmethod
    def render(
        self, answers: dict[str, Any], added: tuple[AddedComponent, ...] = ()
    ) -> TemplateRendering:
        """Render the whole project in memory, with components added by ``plscaffold add``.

        Raises:
            TemplateError, UnsafePathError, UntrustedTemplateError: a file fails to render.
        """

    def hook_runner(self, rendering: TemplateRendering) -> HookRunner | None:
        """Return what runs the template's hooks on a new project, or None where none run."""
        return None

    @property
    def version(self) -> str | None:
        """The template's own version (``_template_version``), or None if it has none.

        Raises:
            TemplateError: ``cookiecutter.json`` gives a value that is not a version.
        """
        return template_version(self.template)

    def migrations(self) -> list[Migration]:
        """Return the migrations the template declares, in version order.

        Raises:
            TemplateError: ``_migrations`` is malformed.
        """
        return read_migrations(self.template)

    def changes_since(self, recorded: str | None) -> list[ChangelogEntry]:
        """Return the changelog entries after ``recorded`` up to this version, newest first.

        Raises:
            TemplateError: the changelog cannot be read.
        """
        return changes_since(self.template, recorded)

    def document(
        self,
        answers: dict[str, Any],
        added: tuple[AddedComponent, ...] = (),
        recorded: AnswersDocument | None = None,
        *,
        migrated: bool = True,
    ) -> AnswersDocument:
        """Return the answers file of a project this source rendered with ``answers``.

        Args:
            recorded: The project's answers file, for a project rendered again: the
                template stays named as the project names it.
            migrated: The project is at this source's template version (a new project,
                an update); else it stays at the recorded one (a regenerated component:
                no migration ran).
        """
        return AnswersDocument(
            __version__,
            self.ref if recorded is None else recorded.template,
            answers,
            added=added,
            template_commit=self.commit,
            template_version=(
                self.version if migrated or recorded is None else recorded.template_version
            ),
        )

    def component_files(
        self, rendering: TemplateRendering, component: str, project_abspath: Path
    ) -> list[str]:
        """Return the files of one component of ``rendering``, the project at ``project_abspath``.

        Raises:
            UnknownComponentError: the template names no components, or not this one.
        """
        if rendering.components is None:
            raise UnknownComponentError(
                f"the template {self.ref} names no components (a _components mapping in its "
                "cookiecutter.json); `plscaffold update` re-renders the whole project"
            )
        if component not in rendering.components:
            raise UnknownComponentError(
                f"no component {component!r} in {project_abspath}; choose one of "
                f"{', '.join(rendering.components)}{self.listing_hint}"
            )
        return rendering.components[component]


class BundledSource(TemplateSource):
    """plscaffold's own project template, with its generation options and added components."""

    listing_hint = " (`plscaffold list` shows their files)"

    def __init__(self) -> None:
        self.template = bundled_project_template()
        self.ref = self.template.ref

    def generation_options(self) -> list[GenerationOption]:
        """Return the answers ``new`` and ``generate`` take as options."""
        return generation_options(self.template)

    def options(self, answers: dict[str, Any]) -> ProjectOptions:
        """Return ``answers`` as checked options.

        Raises:
            InvalidNameError, InvalidOptionError: a name or an option cannot be used.
        """
        return checked_options(self.template, answers)

    def new_answers(self, project_name: str, given: dict[str, Any]) -> dict[str, Any]:
        answers = {**given, "project_name": project_name}
        return checked_options(self.template, answers, new_project=True).answers()

    def recorded_options(self, state: ProjectState) -> ProjectOptions:
        """Return the options a project's answers file records.

        Raises:
            AnswersFileError: an answer is one no flag would take, or there is no name.
        """
        state.project_name  # noqa: B018 - raises AnswersFileError where none is recorded
        try:
            return self.options(dict(state.document.answers))
        except (InvalidOptionError, InvalidNameError) as err:
            raise AnswersFileError(
                f"{state.root_abspath / ANSWERS_RELPATH} records an answer no flag would take: "
                f"{err}. Fix that answer, or restore the file from version control"
            ) from err

    def changed_answers(self, state: ProjectState, changes: dict[str, Any]) -> dict[str, Any]:
        recorded = self.recorded_options(state).answers()
        if not changes:
            return recorded
        return self.options({**recorded, **changes}).answers()

    def render(
        self, answers: dict[str, Any], added: tuple[AddedComponent, ...] = ()
    ) -> TemplateRendering:
        options = self.options(answers)
        # plscaffold's own template asks for no bounds: it ships with plscaffold.
        rendered = render_template(self.template, options.answers())
        components = dict(rendered.components or {})
        files = dict(rendered.files)
        kinds = component_kinds() if added else {}
        taken = {package_name_for(name): name for name in components}
        for component in added:
            module = package_name_for(component.name)
            if module in taken:
                same = (
                    ""
                    if taken[module] == component.name
                    else f", which is {component.name!r} once '-' is '_' and case is ignored"
                )
                raise ComponentExistsError(
                    f"the project already has a component named {taken[module]!r}{same}; "
                    "choose another name"
                )
            taken[module] = component.name
            check_component_kind(component.kind, kinds)
            component_files = render_component(component, rendered.context, kinds)
            components[component.name] = sorted(component_files)
            files.update(component_files)
        return replace(
            rendered,
            files=files,
            components=components,
            answers=options.answers(),
            names=project_names(options.project_name),
        )


def pin_added_answers(
    added: tuple[AddedComponent, ...], answers: dict[str, Any]
) -> tuple[AddedComponent, ...]:
    """Give each added component the project's ``answers`` its kind pins and it lacks.

    ``answers`` are the recorded ones, before any change: a component added before it
    pinned them keeps what it was rendered with.
    """
    pins = pinned_answers()

    def pinned(component: AddedComponent) -> dict[str, Any]:
        kept = {key: answers[key] for key in pins.get(component.kind, []) if key in answers}
        return {**kept, **component.answers}  # what it recorded wins

    return tuple(replace(component, answers=pinned(component)) for component in added)


def check_component_kind(component_kind: str, kinds: dict[str, list[str]]) -> None:
    """Refuse a component kind the components template does not define.

    Raises:
        InvalidOptionError: the message lists the kinds there are.
    """
    if component_kind not in kinds:
        raise InvalidOptionError(
            f"unknown component kind {component_kind!r}; choose one of {', '.join(sorted(kinds))}"
        )


def render_component(
    component: AddedComponent, project_context: dict[str, Any], kinds: dict[str, list[str]]
) -> Rendering:
    """Render the files of one added component with the project's answers (those it pins,
    as it was added with them) and its names."""
    template = bundled_components_template()
    names = component_names(component.name)
    answers = {
        **project_context,
        **component.answers,
        "component_name": names.project_name,
        "component_module": names.package_name,
        "component_class": names.class_name,
    }
    return render_template(template, answers, kinds[component.kind]).files


class UserSource(TemplateSource):
    """A cookiecutter-format template of the user's: a folder, or a repository at a commit."""

    def __init__(self, template: Template, commit: str | None) -> None:
        self.template = template
        self.ref = template.ref
        self.commit = commit

    def new_answers(self, project_name: str, given: dict[str, Any]) -> dict[str, Any]:
        variables = read_variables(self.template)
        unknown = sorted(key for key in given if key not in variables)
        if unknown:
            raise InvalidOptionError(
                f"template {self.ref} has no variable {', '.join(unknown)}; its variables: "
                f"{', '.join(k for k in variables if not k.startswith('_'))}"
            )
        answers = dict(given)
        if "project_name" in variables:
            answers["project_name"] = project_name
        return answers

    def changed_answers(self, state: ProjectState, changes: dict[str, Any]) -> dict[str, Any]:
        if changes:
            raise InvalidOptionError(
                f"{state.root_abspath} was made from the template {self.ref}; generation "
                "options belong to plscaffold's own template: regenerate without them"
            )
        # The recorded answers enter the context as values, never rendered.
        return dict(state.document.answers)

    def render(
        self, answers: dict[str, Any], added: tuple[AddedComponent, ...] = ()
    ) -> TemplateRendering:
        # A template of the user's runs bounded in time and memory unless it is trusted.
        return render_template(self.template, answers, bounded=not self.template.trusted)

    def hook_runner(self, rendering: TemplateRendering) -> HookRunner | None:
        from plscaffold.fetch import template_hooks

        if not (self.template.trusted and template_hooks(self.template)):
            return None
        template, context = self.template, {"cookiecutter": rendering.context}

        def run_hook(hook_name: str, staging_abspath: Path) -> None:
            """Render each script of the hook as cookiecutter does, then run it in staging."""
            import tempfile

            from cookiecutter.exceptions import CookiecutterException
            from cookiecutter.hooks import find_hook, run_script

            from plscaffold.environment import template_environment

            environment = template_environment(template, read_variables(template))
            hooks_dir = template.root_abspath / "hooks"
            try:
                for script in find_hook(hook_name, str(hooks_dir)) or []:
                    source = Path(script).read_text(encoding="utf-8")
                    with tempfile.TemporaryDirectory(prefix="plscaffold-hook-") as folder:
                        rendered = Path(folder) / Path(script).name
                        rendered.write_text(environment.from_string(source).render(**context))
                        run_script(str(rendered), str(staging_abspath))
            except CookiecutterException as err:
                raise TemplateError(f"{self.ref}: hook {hook_name} failed: {err}") from err

        return run_hook


def check_checkout(ref: str | None, checkout: str | None) -> None:
    """Refuse ``checkout`` for the bundled template (``ref`` None or its own), which has none.

    Raises:
        InvalidOptionError: ``checkout`` is given for the bundled template.
    """
    if checkout is not None and (ref is None or ref == bundled_project_template().ref):
        raise InvalidOptionError(
            "--checkout picks a commit of a --template repository, not of plscaffold's own template"
        )


@contextmanager
def open_source(
    ref: str | None, *, trust: bool = False, checkout: str | None = None
) -> Iterator[TemplateSource]:
    """Yield the bundled template (``ref`` None or its own ref), or a user template.

    A user template is a folder, or a repository or zip URL fetched into a temporary
    folder for the block; a repository is rendered at ``checkout``.

    Raises:
        InvalidOptionError: ``checkout`` is given for the bundled template.
        TemplateSourceError: the template cannot be found or fetched.
        UntrustedTemplateError: it has hooks or extensions and ``trust`` is false.
    """
    from plscaffold.fetch import check_trust, is_remote, open_template, template_commit

    check_checkout(ref, checkout)
    if ref is None or ref == bundled_project_template().ref:
        yield BundledSource()
        return
    with open_template(ref, checkout) as template:
        check_trust(template, trust)
        template = replace(template, trusted=trust)
        yield UserSource(template, template_commit(template) if is_remote(ref) else None)


@contextmanager
def project_source(
    state: ProjectState, *, trust: bool = False, checkout: str | None = None, force: bool = False
) -> Iterator[TemplateSource]:
    """Yield the source a project was made from, to render it again.

    A folder is rendered as it is now; a git repository at ``checkout``, or else at its
    newest version tag (its default branch when it has no tag).

    Raises:
        InvalidOptionError: ``checkout`` for a project of the bundled template.
        TemplateSourceError, UntrustedTemplateError: as for :func:`open_source`.
        DowngradeError: the commit to render is an ancestor of the recorded one, and not
            ``force``.
    """
    from plscaffold.fetch import is_remote, newest_tag

    ref = state.document.template
    if checkout is not None and ref == bundled_project_template().ref:
        raise InvalidOptionError(
            f"--checkout picks a commit of a repository template; {state.root_abspath} "
            "was made from plscaffold's own template"
        )
    if is_remote(ref) and checkout is None:
        checkout = newest_tag(ref)
    with open_source(ref, trust=trust, checkout=checkout) as source:
        recorded = state.document.template_commit
        commit = source.commit
        if (
            isinstance(source, UserSource)
            and commit
            and recorded not in (None, commit)
            and not force
        ):
            _refuse_template_downgrade(source.template, commit, str(recorded), checkout)
        yield source


def bundled_source(state: ProjectState) -> BundledSource:
    """Return the bundled template, for verbs that work only on its projects.

    Raises:
        ForeignTemplateError: the project was made from another template.
    """
    source = BundledSource()
    if state.document.template != source.ref:
        raise ForeignTemplateError(
            f"{state.root_abspath} was made from the template {state.document.template}; "
            f"generation options and `add` work on projects made from {source.ref} "
            "(plscaffold's own template); `update`, `generate COMPONENT`, `status` and `list` "
            "work on both"
        )
    return source


def _refuse_template_downgrade(
    template: Template, commit: str, recorded: str, checkout: str | None
) -> None:
    """Refuse to render a commit older than the recorded one (one it descends from).

    Raises:
        DowngradeError: ``commit`` is an ancestor of ``recorded``.
    """
    from plscaffold.git import git_output

    # `recorded` comes from the project's answers file: after --end-of-options it is a
    # commit to git, never an option.
    older = git_output(
        template.root_abspath, "merge-base", "--is-ancestor", "--end-of-options", commit,
        recorded, isolated=True,
    )  # fmt: skip
    if older is not None:
        raise DowngradeError(
            f"{template.ref} at {checkout or commit[:12]} ({commit[:12]}) is older than the "
            f"commit this project was rendered from ({recorded[:12]}): updating would undo "
            "the template's later changes. Pass --force to go back on purpose"
        )


__all__ = [
    "BundledSource",
    "TemplateSource",
    "UserSource",
    "bundled_source",
    "open_source",
    "project_source",
]
