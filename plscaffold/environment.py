"""The Jinja environments templates render in: a sandbox, unless the template is trusted."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from plscaffold.errors import UnsafePathError, UntrustedTemplateError

if TYPE_CHECKING:
    from jinja2 import BaseLoader, Environment
    from jinja2 import Template as JinjaTemplate

    from plscaffold.templates import Template

# The extensions cookiecutter gives every template: filters and tags, no access to Python.
DEFAULT_EXTENSIONS = (
    "cookiecutter.extensions.JsonifyExtension",
    "cookiecutter.extensions.RandomStringExtension",
    "cookiecutter.extensions.SlugifyExtension",
    "cookiecutter.extensions.TimeExtension",
    "cookiecutter.extensions.UUIDExtension",
)


def sandbox_refusal(where: str, err: Exception) -> UntrustedTemplateError:
    """Return the error for a template that does what the sandbox forbids, at ``where``."""
    return UntrustedTemplateError(
        f"{where} does what Jinja's sandbox forbids ({err}); pass --trust to render it "
        "unsandboxed, only if you trust the template's author"
    )


def template_loader(template: Template) -> BaseLoader:
    """Return a loader for ``{% include %}`` that never reads a file outside the template.

    It searches the project folder and the template's ``templates/`` folder, as
    cookiecutter does (and the shared partials a bundled template names); a name that
    reaches outside those, through ``..`` or a symbolic link, is refused.
    """
    from jinja2 import FileSystemLoader

    search = [template.project_dir_abspath, template.include_dir_abspath]
    allowed = [os.path.realpath(template.root_abspath)]
    if template.shared_include_abspath is not None:
        search.append(template.shared_include_abspath)
        allowed.append(os.path.realpath(template.shared_include_abspath))

    class InsideTemplateLoader(FileSystemLoader):
        def get_source(
            self, environment: Environment, name: str
        ) -> tuple[str, str, Callable[[], bool]]:
            source, filename, uptodate = super().get_source(environment, name)
            real = os.path.realpath(filename)
            if not any(os.path.commonpath([root, real]) == root for root in allowed):
                raise UnsafePathError(
                    f"{template.ref}: {{% include {name!r} %}} reads {real}, outside the "
                    "template; copy what it needs into the template"
                )
            return source, filename, uptodate

    return InsideTemplateLoader([str(path) for path in search])


def template_environment(template: Template, variables: dict[str, Any]) -> Environment:
    """Return the environment a template's files, paths and variables render in.

    An untrusted template renders in Jinja's sandbox, which refuses access to Python's
    internals (``cycler.__init__.__globals__`` and the like), with cookiecutter's default
    extensions only. A trusted one (``--trust``) renders in cookiecutter's own strict
    environment, with the extensions its ``cookiecutter.json`` names.

    Args:
        template: The template, whose ``trusted`` flag picks the environment.
        variables: Its ``cookiecutter.json`` variables (``_extensions`` is read when trusted).
    """
    if template.trusted:
        from cookiecutter.environment import StrictEnvironment

        # As cookiecutter does, a template's own extension modules import from its folder.
        sys.path.insert(0, str(template.root_abspath))
        try:
            environment: Environment = StrictEnvironment(
                context={"cookiecutter": variables},
                keep_trailing_newline=True,
                loader=template_loader(template),
            )
        finally:
            sys.path.remove(str(template.root_abspath))
        return environment
    return _sandboxed_environment(template)


@functools.lru_cache(maxsize=8)
def _sandboxed_environment(template: Template) -> Environment:
    """Return the sandbox a template renders in; one per template, so compiled files are kept.

    The sandbox takes nothing from the answers (they are passed at each render), so one
    environment serves every rendering of a template, and its cache of compiled files
    (checked against each file's modification time) saves compiling them again.
    """
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        extensions=list(DEFAULT_EXTENSIONS),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        loader=template_loader(template),
    )


@functools.lru_cache(maxsize=4096)
def compiled(environment: Environment, source: str) -> JinjaTemplate:
    """Return ``source`` (a path or a variable's default) compiled in ``environment``, once."""
    return environment.from_string(source)
