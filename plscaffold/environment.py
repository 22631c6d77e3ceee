"""The Jinja environments templates render in: a sandbox, unless the template is trusted."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from plscaffold.errors import TemplateError, UnsafePathError, UntrustedTemplateError, failure
from plscaffold.templates import Template

if TYPE_CHECKING:
    from jinja2 import BaseLoader, Environment
    from jinja2 import Template as JinjaTemplate

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
        names = [str(name) for name in variables.get("_extensions") or []]
        if names:
            with _template_import_path(template.root_abspath, names):
                for name in names:
                    _add_extension(environment, template, name)
        return environment
    return _sandboxed_environment(template)


def _add_extension(environment: Environment, template: Template, name: str) -> None:
    """Add the Jinja extension ``module.Class`` that a trusted template names.

    Raises:
        TemplateError: the module or class cannot be loaded, or the extension fails to start.
    """
    import importlib

    module_name, _, class_name = name.rpartition(".")
    try:
        extension = getattr(importlib.import_module(module_name), class_name)
        environment.add_extension(extension)
    except Exception as err:  # the template's own code: any error is its own
        raise TemplateError(
            failure(f"{template.ref}: cannot load Jinja extension {name}", err)
        ) from err


@contextmanager
def _template_import_path(root_abspath: Path, names: list[str]) -> Iterator[None]:
    """Import a trusted template's extensions from its folder, then forget that folder.

    As cookiecutter does, the template's folder is on ``sys.path`` while its extensions
    load, so a module (``local_extensions.py``) or a package with relative imports of its
    own (``local_extensions/__init__.py`` doing ``from .main import ...``) is found there.
    The modules the extensions name that the folder holds are its own, ahead of an
    installed or an already imported module of the same name. Afterwards ``sys.path`` is
    as it was and every module imported from the folder leaves ``sys.modules`` (what was
    there under those names comes back), so another template's package of the same name
    loads afresh. Installed modules the extensions import stay imported, as any import
    does: some cannot be imported twice in one process. No bytecode is written into the
    template.
    """
    import importlib.abc
    import importlib.machinery

    root = str(root_abspath)
    tops = {name.partition(".")[0] for name in names}
    own = {
        top
        for top in tops
        if (root_abspath / top).is_dir() or (root_abspath / f"{top}.py").is_file()
    }

    class TemplateFirstFinder(importlib.abc.MetaPathFinder):
        def find_spec(
            self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
        ) -> importlib.machinery.ModuleSpec | None:
            if fullname not in own:
                return None
            return importlib.machinery.PathFinder.find_spec(fullname, [root])

    import_path = sys.path
    saved_path, saved_modules = list(import_path), dict(sys.modules)
    saved_finders, saved_bytecode = set(sys.path_importer_cache), sys.dont_write_bytecode
    for key in saved_modules:
        if key.partition(".")[0] in own:
            del sys.modules[key]
    finder = TemplateFirstFinder()
    sys.meta_path.insert(0, finder)
    sys.path.append(root)
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = saved_bytecode
        import_path[:] = saved_path
        sys.path = import_path  # the same list, should the template's code have replaced it
        sys.meta_path[:] = [entry for entry in sys.meta_path if entry is not finder]
        for place in set(sys.path_importer_cache) - saved_finders:
            if isinstance(place, str) and Path(place).is_relative_to(root_abspath):
                del sys.path_importer_cache[place]
        for key, module in list(sys.modules.items()):
            if key not in saved_modules and _is_inside(module, root_abspath):
                del sys.modules[key]
        for key, module in saved_modules.items():
            if key.partition(".")[0] in own:
                sys.modules[key] = module


def _is_inside(module: ModuleType | None, folder_abspath: Path) -> bool:
    """Return whether ``module`` was loaded from a file or folder inside ``folder_abspath``."""
    try:
        places = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
    except Exception:  # not a module, or one that cannot say where it came from
        return False
    return any(
        isinstance(place, str) and Path(place).is_relative_to(folder_abspath) for place in places
    )


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
