"""Locate project templates and read their cookiecutter.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from plscaffold.errors import TemplateError, UnsafePathError, one_line

CONTEXT_FILE = "cookiecutter.json"
BUNDLED_PROJECT_TEMPLATE = "project"
BUNDLED_COMPONENTS_TEMPLATE = "components"
COMPONENTS_VARIABLE = "_components"
KINDS_VARIABLE = "_kinds"
PINNED_VARIABLE = "_pinned_answers"


@dataclass(frozen=True)
class Template:
    """A cookiecutter-format template on disk.

    Attributes:
        root_abspath: The folder holding ``cookiecutter.json``.
        project_dir_abspath: Its one ``{{cookiecutter.*}}`` folder, the project's root.
        ref: How the answers file names this template (``bundled:project`` or a path).
        trusted: Render in cookiecutter's own environment, with the template's extensions,
            instead of Jinja's sandbox (``--trust``).
        shared_include_abspath: Another template's ``templates/`` folder that
            ``{% include %}`` may read too: the bundled components template renders the
            project template's partials (the GAN's files), so each is written once.
    """

    root_abspath: Path
    project_dir_abspath: Path
    ref: str
    trusted: bool = False
    shared_include_abspath: Path | None = None

    @property
    def context_file_abspath(self) -> Path:
        return self.root_abspath / CONTEXT_FILE

    @property
    def include_dir_abspath(self) -> Path:
        """Where ``{% include %}`` looks besides the project folder, as cookiecutter does."""
        return self.root_abspath / "templates"


def bundled_templates_abspath() -> Path:
    """Return the folder of templates shipped with plscaffold.

    The wheel carries them inside the package; a source checkout keeps them beside it.
    """
    package_abspath = Path(__file__).resolve().parent
    for candidate in (package_abspath / "templates", package_abspath.parent / "templates"):
        if (candidate / BUNDLED_PROJECT_TEMPLATE / CONTEXT_FILE).is_file():
            return candidate
    raise TemplateError(
        f"plscaffold's bundled templates are missing from {package_abspath}; reinstall plscaffold"
    )


def load_template(root_abspath: Path, ref: str) -> Template:
    """Read a template folder and find its project folder.

    Raises:
        TemplateError: ``cookiecutter.json`` is missing, or there is not exactly one
            ``{{cookiecutter.*}}`` folder beside it.
        UnsafePathError: ``cookiecutter.json`` or the project folder is a symbolic link
            to something outside the template.
    """
    root_abspath = root_abspath.resolve()
    context_file = root_abspath / CONTEXT_FILE
    if not context_file.is_file():
        raise TemplateError(f"{root_abspath} has no {CONTEXT_FILE}; it is not a project template")
    if context_file.is_symlink() and not context_file.resolve().is_relative_to(root_abspath):
        raise UnsafePathError(
            f"{context_file} is a symbolic link to {context_file.resolve()}, outside the "
            "template; replace the link with the file itself"
        )
    project_dirs = [
        child
        for child in sorted(root_abspath.iterdir())
        if child.is_dir() and "cookiecutter" in child.name and "{{" in child.name
    ]
    if len(project_dirs) != 1:
        raise TemplateError(
            f"{root_abspath} must hold exactly one '{{{{cookiecutter.<name>}}}}' folder, "
            f"found {len(project_dirs)}"
        )
    if project_dirs[0].is_symlink():
        raise UnsafePathError(
            f"{project_dirs[0]} is a symbolic link (to {project_dirs[0].resolve()}); a "
            "template's project folder must be a real folder inside it"
        )
    return Template(root_abspath, project_dirs[0], ref)


def bundled_project_template() -> Template:
    """Return the project template shipped with plscaffold."""
    return load_template(
        bundled_templates_abspath() / BUNDLED_PROJECT_TEMPLATE,
        f"bundled:{BUNDLED_PROJECT_TEMPLATE}",
    )


def bundled_components_template() -> Template:
    """Return the template of the components ``plscaffold add`` creates, all kinds in one.

    It includes the bundled project template's partials, such as the GAN's model and tests.
    """
    project = bundled_project_template()
    template = load_template(
        bundled_templates_abspath() / BUNDLED_COMPONENTS_TEMPLATE,
        f"bundled:{BUNDLED_COMPONENTS_TEMPLATE}",
    )
    return replace(template, shared_include_abspath=project.include_dir_abspath)


def _path_sets(template: Template, variable: str) -> dict[str, list[str]]:
    """Return a ``{name: [template file path, ...]}`` variable of ``cookiecutter.json``.

    Raises:
        TemplateError: the variable is missing or not a mapping of names to path lists.
    """
    sets = read_variables(template).get(variable)
    if not isinstance(sets, dict) or not all(
        isinstance(paths, list) and all(isinstance(p, str) for p in paths)
        for paths in sets.values()
    ):
        raise TemplateError(
            f"{template.context_file_abspath} must map {variable!r} to {{name: [file path, ...]}}"
        )
    return {str(name): list(paths) for name, paths in sets.items()}


def component_kinds() -> dict[str, list[str]]:
    """Return the kinds ``plscaffold add`` can create and the template files of each."""
    return _path_sets(bundled_components_template(), KINDS_VARIABLE)


def pinned_answers() -> dict[str, list[str]]:
    """Return, by component kind, the project answers an added component keeps as they were
    when it was added (a GAN's ``lr``): the project's model's, not the component's."""
    template = bundled_components_template()
    if PINNED_VARIABLE not in read_variables(template):
        return {}
    return _path_sets(template, PINNED_VARIABLE)


def template_components(template: Template) -> dict[str, list[str]]:
    """Return the template's components: names mapped to their (unrendered) file paths.

    Raises:
        TemplateError: ``_components`` is missing or not a mapping of names to path lists.
    """
    return _path_sets(template, COMPONENTS_VARIABLE)


MAX_METADATA_BYTES = 1 << 20
"""The largest template file plscaffold reads in its own process (``cookiecutter.json``):
the bundled one is 5 KB, and each command reads it again."""


def read_metadata(path: Path) -> str:
    """Return the text of a template's metadata file, read only if it is small and regular.

    The template's files are rendered in a bounded child; its metadata is read here, in
    plscaffold's own process, so a 400 MB file or a pipe must be refused before reading.

    Raises:
        TemplateError: the file is not a regular file, is larger than
            :data:`MAX_METADATA_BYTES`, or is not UTF-8.
        OSError: the file cannot be opened.
    """
    import os
    import stat

    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise TemplateError(
                f"{path} is not a regular file (a pipe or device?); fix the template"
            )
        data = handle.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise TemplateError(
            f"{path} is larger than the {MAX_METADATA_BYTES >> 20} MiB a template's "
            f"{path.name} may be; keep large data out of it (a file the template copies)"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TemplateError(f"cannot read {path}: it is not UTF-8 (byte {err.start})") from err


def read_variables(template: Template) -> dict[str, Any]:
    """Return the raw variables of ``cookiecutter.json``, in file order.

    Raises:
        TemplateError: the file is larger than :data:`MAX_METADATA_BYTES`, not a regular
            file, not valid JSON, or not an object.
    """
    try:
        variables = json.loads(read_metadata(template.context_file_abspath))
    except RecursionError as err:
        raise TemplateError(
            f"cannot read {template.context_file_abspath}: its values nest too deeply"
        ) from err
    except (OSError, ValueError) as err:
        raise TemplateError(
            f"cannot read {template.context_file_abspath}: {one_line(str(err))}"
        ) from err
    if not isinstance(variables, dict):
        raise TemplateError(f"{template.context_file_abspath} must hold a JSON object")
    return variables
