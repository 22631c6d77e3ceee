"""plscaffold's operations as functions: no prompts, no printing; errors are raised."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plscaffold import __version__
from plscaffold.answers import answers_document, with_project_state
from plscaffold.errors import TemplateError
from plscaffold.names import ProjectNames, validate_project_name
from plscaffold.options import (
    ProjectOptions,
    resolve_options,
    template_defaults,
    validate_options,
)
from plscaffold.render import Rendering, render_tree
from plscaffold.templates import build_context, bundled_project_template
from plscaffold.writer import check_target, write_new_project


@dataclass(frozen=True)
class NewProjectResult:
    """What ``new_project`` did, or would do on a dry run."""

    project_abspath: Path
    names: ProjectNames
    options: ProjectOptions
    rendering: Rendering
    dry_run: bool

    @property
    def relpaths(self) -> list[str]:
        return sorted(self.rendering)


def project_defaults() -> dict[str, Any]:
    """Return the default of each ``new`` option, read from the bundled template."""
    return template_defaults(bundled_project_template())


def project_options(project_name: str, **given: Any) -> ProjectOptions:
    """Return the options of a new project: those ``given``, the template's defaults for the rest.

    Raises:
        InvalidOptionError: an option is unknown or has the wrong type.
    """
    return resolve_options(bundled_project_template(), project_name, given)


def render_project(options: ProjectOptions) -> tuple[ProjectNames, Rendering]:
    """Validate ``options`` and render the bundled project template in memory.

    Raises:
        InvalidNameError, InvalidOptionError: an option is not usable; nothing was rendered.
        TemplateError: the template failed to render.
    """
    names = validate_project_name(options.project_name)
    template = bundled_project_template()
    validate_options(options, template)
    context = build_context(template, options.answers())
    if context["cookiecutter"]["package_name"] != names.package_name:
        raise TemplateError(
            f"project name {options.project_name!r} renders to package "
            f"{context['cookiecutter']['package_name']!r}, not {names.package_name!r}"
        )
    document = answers_document(__version__, template.ref, options.answers())
    return names, with_project_state(render_tree(template, context), document)


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
    return NewProjectResult(project_abspath, names, options, rendering, dry_run)


__all__ = [
    "NewProjectResult",
    "ProjectOptions",
    "new_project",
    "project_defaults",
    "project_options",
    "render_project",
]
