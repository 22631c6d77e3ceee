"""The Jinja environments templates render in: a sandbox, unless the template is trusted."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plscaffold.errors import TemplateError, UnsafePathError, UntrustedTemplateError, failure
from plscaffold.templates import Template

if TYPE_CHECKING:
    from jinja2 import BaseLoader, Environment
    from jinja2 import Template as JinjaTemplate
    from jinja2.ext import Extension

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

        environment: Environment = StrictEnvironment(
            keep_trailing_newline=True, loader=template_loader(template)
        )
        for name in variables.get("_extensions") or []:
            environment.add_extension(_extension_class(template, str(name)))
        return environment
    return _sandboxed_environment(template)


def _extension_class(template: Template, name: str) -> type[Extension]:
    """Return the Jinja extension ``module.Class`` that a trusted template names.

    As with cookiecutter, the module may lie in the template's folder: it is loaded from
    its file there, without adding the folder to ``sys.path`` or the module to
    ``sys.modules`` (another template's module of the same name stays its own); any other
    module is imported as installed.

    Raises:
        TemplateError: the module or class cannot be loaded.
    """
    import importlib
    import importlib.util

    module_name, _, class_name = name.rpartition(".")
    relpath = Path(*module_name.split(".")) if module_name else None
    try:
        candidates = (
            [
                template.root_abspath / relpath.with_suffix(".py"),
                template.root_abspath / relpath / "__init__.py",
            ]
            if relpath
            else []
        )
        local = next((path for path in candidates if path.is_file()), None)
        if local is not None:
            spec = importlib.util.spec_from_file_location(module_name, local)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {local}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        extension = getattr(module, class_name)
    except Exception as err:  # the template's own code: any error is its own
        raise TemplateError(
            failure(f"{template.ref}: cannot load Jinja extension {name}", err)
        ) from err
    return extension  # type: ignore[no-any-return]


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
