"""Creating a project: its options, its rendering in memory, and one write of all of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plscaffold import __version__
from plscaffold.answers import PRISTINE_DIR_RELPATH, STATE_DIR_RELPATH, project_state
from plscaffold.errors import InvalidOptionError
from plscaffold.git import RepositoryStart, start_repository
from plscaffold.names import ProjectNames, package_name_for, project_names
from plscaffold.options import (
    GenerationOption,
    ProjectOptions,
    checked_options,
    resolve_options,
    template_defaults,
)
from plscaffold.options import generation_options as options_of_template
from plscaffold.render import Rendering, TemplateRendering
from plscaffold.sources import TemplateSource, check_checkout, open_source
from plscaffold.templates import bundled_project_template
from plscaffold.writer import check_target, write_new_project

if TYPE_CHECKING:
    from plscaffold.check import CheckResult


@dataclass(frozen=True)
class NewProjectResult:
    """What ``new_project`` did, or would do on a dry run.

    Attributes:
        names: The project's names; None for a user template, whose layout is its own.
        repository: With ``git``, what became of the project's git repository (see
            :func:`plscaffold.git.start_repository`); None without ``git`` or on a dry run.
        git_said: git's last words where it failed or could not commit.
    """

    project_abspath: Path
    names: ProjectNames | None
    rendering: Rendering
    dry_run: bool
    repository: RepositoryStart | None = None
    git_said: str = ""

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


def project_defaults() -> dict[str, Any]:
    """Return the default of each ``new`` option, read from the bundled template."""
    return template_defaults(bundled_project_template())


def bundled_template_version() -> str | None:
    """Return the bundled project template's version (``_template_version``); None if none."""
    from plscaffold.versions import template_version

    return template_version(bundled_project_template())


def generation_options() -> list[GenerationOption]:
    """Return the answers ``new`` and ``generate`` take as options, from the bundled template."""
    return options_of_template(bundled_project_template())


def check_project_options(options: ProjectOptions) -> None:
    """Check a new project's name and options as ``new`` does, rendering nothing.

    Raises:
        InvalidNameError, InvalidOptionError: the message names the value and the fix.
    """
    checked_options(bundled_project_template(), options.answers(), new_project=True)


def check_new_request(
    template: str | None, *, checkout: str | None, dry_run: bool, check: bool
) -> None:
    """Refuse a set of ``new``'s choices that cannot go together, before anything is done.

    Args:
        template: A user template's path or URL; None for the bundled one.
        checkout: The commit of a repository template to render.
        dry_run: Write nothing.
        check: Smoke-train the project once written (:func:`check_new_project`).

    Raises:
        InvalidOptionError: ``checkout`` for the bundled template, or ``check`` with a
            user template or a dry run.
    """
    check_checkout(template, checkout)
    if check and (template is not None or dry_run):
        raise InvalidOptionError(
            "--check smoke-trains a project of the bundled template once written; leave "
            "out --template and --dry-run, or --check"
        )


def project_options(project_name: str, **given: Any) -> ProjectOptions:
    """Return the options of a new project: those ``given``, the template's defaults for the rest.

    Raises:
        InvalidOptionError: an option is unknown or has the wrong type.
    """
    return resolve_options(bundled_project_template(), project_name, given)


def render_project(options: ProjectOptions) -> tuple[ProjectNames, Rendering]:
    """Render a new project in memory, with its answers file and pristine copies.

    Raises:
        InvalidNameError, InvalidOptionError: as for :func:`check_project_options`.
    """
    with open_source(None) as source:
        rendered, state = _render_new(source, options.project_name, options.answers())
    return project_names(options.project_name), {**rendered.files, **state}


def new_project(
    options: ProjectOptions,
    output_dir: Path = Path("."),
    *,
    dry_run: bool = False,
    git: bool = False,
) -> NewProjectResult:
    """Create a new Lightning project folder named after ``options.project_name``.

    Everything is rendered in memory first and written through a temporary folder, so a
    failure leaves the disk as it was. With ``dry_run`` nothing is written. With ``git``
    the folder becomes a git repository, the project its first commit, before it moves
    into place (see :func:`plscaffold.git.start_repository`).

    Raises:
        UserError: a bad name or option, or a target that exists and is not empty.
        TemplateError: the template failed to render.
    """
    with open_source(None) as source:
        return _create(
            source, options.project_name, options.answers(), output_dir, dry_run=dry_run, git=git
        )


def new_project_from_template(
    template: str,
    project_name: str,
    output_dir: Path = Path("."),
    given: dict[str, Any] | None = None,
    *,
    trust: bool = False,
    dry_run: bool = False,
    checkout: str | None = None,
    git: bool = False,
) -> NewProjectResult:
    """Create a project from any cookiecutter-format template: a folder or a repository URL.

    A repository template is rendered at ``checkout`` (a branch, tag or commit; default:
    its default branch), and the commit it resolved to is recorded for ``update``.

    The same in-memory rendering, atomic write and ``git`` as :func:`new_project`. Hooks
    and Jinja extensions run only with ``trust``; hooks run inside the staging folder.

    Raises:
        TemplateSourceError: the template cannot be found or fetched.
        UntrustedTemplateError: it has hooks or extensions and ``trust`` is false.
        InvalidOptionError: an option names a variable the template does not have.
        UnsafePathError: a path or link would leave the template or the project folder.
        TemplateError: a file fails to render (the message names the file and line).
    """
    with open_source(template, trust=trust, checkout=checkout) as source:
        return _create(
            source, project_name, dict(given or {}), output_dir, dry_run=dry_run, git=git
        )


def _create(
    source: TemplateSource,
    project_name: str,
    given: dict[str, Any],
    output_dir: Path,
    *,
    dry_run: bool,
    git: bool,
) -> NewProjectResult:
    """Render a new project from ``source`` in memory and, unless ``dry_run``, write it."""
    rendered, state = _render_new(source, project_name, given)
    project_abspath = (output_dir / rendered.folder_name).absolute()
    check_target(project_abspath)
    started: list[tuple[RepositoryStart, str]] = []

    def start(staging_abspath: Path) -> None:
        message = f"Create {project_name} with plscaffold {__version__}"
        started.append(start_repository(staging_abspath, message))

    if not dry_run:
        hooks = source.hook_runner(rendered)
        write_new_project(rendered.files, state, project_abspath, hooks, start if git else None)
    repository, said = started[0] if started else (None, "")
    files = {**rendered.files, **state}
    return NewProjectResult(project_abspath, rendered.names, files, dry_run, repository, said)


def _render_new(
    source: TemplateSource, project_name: str, given: dict[str, Any]
) -> tuple[TemplateRendering, Rendering]:
    """Render a new project in memory: its files, and its state (answers and pristines)."""
    rendered = source.render(source.new_answers(project_name, given))
    return rendered, project_state(rendered.files, source.document(rendered.answers))


def check_new_project(options: ProjectOptions, project_abspath: Path) -> CheckResult:
    """Smoke-train a project ``new`` just wrote, in this Python; see :mod:`plscaffold.check`."""
    from plscaffold.check import smoke_train_project

    package = package_name_for(options.project_name)
    return smoke_train_project(project_abspath, package, options["gpus"])
