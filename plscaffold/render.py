"""Render a template tree in memory into ``{relpath: RenderedFile}``; nothing touches the disk."""

from __future__ import annotations

import fnmatch
import json
import os
import stat
import traceback
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from plscaffold.context import build_context
from plscaffold.environment import compiled, sandbox_refusal, template_environment
from plscaffold.errors import PlscaffoldError, TemplateError, UnsafePathError, failure
from plscaffold.names import ProjectNames
from plscaffold.paths import check_rendered_relpath
from plscaffold.templates import (
    COMPONENTS_VARIABLE,
    Template,
    read_variables,
    template_components,
)


@dataclass(frozen=True)
class RenderedFile:
    """One file of a rendering: its bytes and its permission bits."""

    content: bytes
    mode: int = 0o644


Rendering = dict[str, RenderedFile]
"""A rendered tree: POSIX paths relative to the project root, mapped to their files."""

MAX_RENDERED_BYTES = 64 << 20
"""Bytes an untrusted template may render in all, its copied and binary files included:
the bundled one renders 0.13 MiB."""

MAX_ANSWERS_BYTES = 1 << 20
"""Bytes an untrusted template's variables may render to, as JSON: the project's answers
file records them, and every later command reads it. The bundled template's take 2 KiB."""


def names_a_file(relpath: str) -> bool:
    """Whether a rendered path names a file: cookiecutter leaves out one whose name is empty."""
    return bool(PurePosixPath(relpath).name) and not relpath.endswith("/")


def _template_line(err: BaseException, source_abspath: Path) -> int | None:
    """Return the template line an error was raised from, if its traceback shows it."""
    lineno = getattr(err, "lineno", None)
    if isinstance(lineno, int):
        return lineno
    for frame, frame_lineno in traceback.walk_tb(err.__traceback__):
        if Path(frame.f_code.co_filename) == source_abspath:
            return frame_lineno
    return None


def _newline_of(source_abspath: Path) -> str:
    """Return the newline of a template's first line, as cookiecutter keeps it."""
    with open(source_abspath, encoding="utf-8", newline=None) as handle:
        handle.readline()
        newlines = handle.newlines
    if isinstance(newlines, tuple):
        return newlines[0]
    return newlines or "\n"


def _check_link(path: Path, template_real: Path, ref: str) -> None:
    """Refuse a symbolic link in the template that points outside it.

    Raises:
        UnsafePathError: the link's target is outside the template folder.
    """
    if not path.is_symlink():
        return
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as err:  # a loop (RuntimeError before Python 3.13), or dangling
        raise UnsafePathError(
            f"{ref}: {path.name} is a symbolic link that leads nowhere ({err}); remove it "
            "from the template"
        ) from err
    if not resolved.is_relative_to(template_real):
        raise UnsafePathError(
            f"{ref}: {path.name} is a symbolic link to {path.resolve()}, outside the template; "
            "remove the link or copy what it points to into the template"
        )


def _environment(template: Template, context: Mapping[str, Any]) -> Any:
    """Return the template's environment: Jinja's sandbox unless the template is trusted."""
    return template_environment(template, dict(context.get("cookiecutter", {})))


def render_relpaths(
    template: Template, context: Mapping[str, Any], template_relpaths: list[str]
) -> list[str]:
    """Render file paths of the template (``src/{{cookiecutter.package_name}}/x.py``).

    A path whose file name renders empty is left out, as :func:`render_tree` leaves out
    its file.

    Raises:
        TemplateError: a path fails to render.
        UnsafePathError: a rendered path would leave the project folder.
    """
    from jinja2.exceptions import SecurityError

    env = _environment(template, context)
    rendered = []
    for template_relpath in template_relpaths:
        where = f"{template.ref}: path {template_relpath!r}"
        try:
            relpath = compiled(env, template_relpath).render(**context)
        except SecurityError as err:
            raise sandbox_refusal(where, err) from err
        except PlscaffoldError:
            raise
        except Exception as err:
            raise TemplateError(failure(where, err)) from err
        if names_a_file(relpath):
            rendered.append(check_rendered_relpath(relpath, where))
    return rendered


def render_tree(
    template: Template,
    context: Mapping[str, Any],
    template_relpaths: Collection[str] | None = None,
    report: Callable[[str], None] | None = None,
) -> Rendering:
    """Render every file of the template's project folder in memory, or those named.

    Paths are rendered as templates too; a path that renders to an empty name is skipped,
    binary files are copied verbatim, and permission bits are kept. As cookiecutter does,
    a file matching one of ``_copy_without_render``'s patterns is copied with its name
    rendered and its content as it is, and a folder matching one is copied with only its
    own path rendered.

    Args:
        template: The template.
        context: The context built by :func:`plscaffold.context.build_context`.
        template_relpaths: Unrendered paths inside the project folder to render; all
            files when None.
        report: Called with each file's name as its rendering starts.

    Raises:
        TemplateError: a file or path fails to render, or an untrusted template renders
            more than ``MAX_RENDERED_BYTES``; the message names the file and line.
        UnsafePathError: a rendered path would leave the project folder, or lie inside
            ``.git`` or ``.plscaffold`` (see :mod:`plscaffold.paths`).
    """
    from binaryornot.check import is_binary
    from jinja2.exceptions import SecurityError

    root = template.project_dir_abspath
    env = _environment(template, context)
    verbatim = [str(p) for p in context.get("cookiecutter", {}).get("_copy_without_render", [])]
    rendering: Rendering = {}
    rendered_bytes = 0
    template_real = template.root_abspath.resolve()
    visited: set[Path] = set()
    # Symbolic links are followed only while they stay inside the template.
    for dir_abspath, dirnames, filenames in os.walk(root, followlinks=True):
        real_dir = Path(dir_abspath).resolve()
        if real_dir in visited:
            dirnames.clear()  # a link back to a folder already rendered
            continue
        visited.add(real_dir)
        # Compiled Python is never a template's content: pip byte-compiles the bundled
        # template's .py files when it installs the wheel, and a template's own tests leave
        # caches in a folder template too.
        dirnames[:] = sorted(name for name in dirnames if name != "__pycache__")
        filenames = [name for name in filenames if not name.endswith((".pyc", ".pyo"))]
        for name in [*dirnames, *filenames]:
            _check_link(Path(dir_abspath) / name, template_real, template.ref)
        for filename in sorted(filenames):
            source_abspath = Path(dir_abspath) / filename
            source_relpath = source_abspath.relative_to(root).as_posix()
            if template_relpaths is not None and source_relpath not in template_relpaths:
                continue
            where = f"{template.ref}: {template.project_dir_abspath.name}/{source_relpath}"
            if report is not None:
                report(where)
            if not source_abspath.is_file():
                raise UnsafePathError(
                    f"{where} is not a regular file (a pipe or device?); a template holds "
                    "files and folders only: remove it"
                )
            parts = source_relpath.split("/")
            # The first of the file's folders, or the file itself, that is copied verbatim.
            copied = next(
                (
                    depth
                    for depth in range(1, len(parts) + 1)
                    if any(fnmatch.fnmatch("/".join(parts[:depth]), p) for p in verbatim)
                ),
                None,
            )
            head, tail = (parts[:copied], parts[copied:]) if copied else (parts, [])
            try:
                relpath = "/".join([compiled(env, "/".join(head)).render(**context), *tail])
                if not names_a_file(relpath):
                    continue
                status = source_abspath.stat()
                mode = stat.S_IMODE(status.st_mode)
                if copied or is_binary(str(source_abspath)):
                    # Counted before it is read: sixty links to one large file copy it
                    # sixty times.
                    _count(rendered_bytes + status.st_size, template, where)
                    content = source_abspath.read_bytes()
                else:
                    text = env.get_template(source_relpath).render(**context)
                    newline = _newline_of(source_abspath)
                    content = text.replace("\n", newline).encode("utf-8")
            except PlscaffoldError:
                raise  # a refused include, already named
            except Exception as err:
                line = _template_line(err, source_abspath)
                at = f"{where}, line {line}" if line else where
                if isinstance(err, SecurityError):
                    raise sandbox_refusal(at, err) from err
                raise TemplateError(failure(at, err)) from err
            rendering[check_rendered_relpath(relpath, where)] = RenderedFile(content, mode)
            rendered_bytes += len(content)
            _count(rendered_bytes, template, where)
    return rendering


def _count(rendered_bytes: int, template: Template, where: str) -> None:
    """Stop an untrusted template whose files, rendered or copied, pass the cap.

    Raises:
        TemplateError: ``rendered_bytes`` is over ``MAX_RENDERED_BYTES``; names ``where``.
    """
    if rendered_bytes > MAX_RENDERED_BYTES and not template.trusted:
        raise TemplateError(
            f"{where}: the template renders more than {MAX_RENDERED_BYTES >> 20} MiB of "
            "files, so it was stopped; fix the template (a file copied many times, or "
            "through many links?), or pass --trust if it really is that big"
        )


@dataclass(frozen=True)
class TemplateRendering:
    """A whole project rendered in memory from a template and a project's answers.

    Attributes:
        files: Every file of the project.
        components: Component names mapped to their files; None where the template names
            none (a user template without ``_components``).
        answers: The answers to record, as the answers file holds them.
        folder_name: What the project's folder is called.
        context: The template's rendered ``cookiecutter`` values (answers, defaults,
            computed ones), which hooks are given.
        names: The project's names; None for a user template, whose layout is its own.
    """

    files: Rendering
    components: dict[str, list[str]] | None
    answers: dict[str, Any]
    folder_name: str
    context: dict[str, Any]
    names: ProjectNames | None = None


def _count_answers(values: Mapping[str, Any], template: Template) -> None:
    """Stop an untrusted template whose variables render past :data:`MAX_ANSWERS_BYTES`.

    Raises:
        TemplateError: names the largest variable.
    """
    sizes = {key: len(json.dumps(value, default=str)) for key, value in values.items()}
    if sum(sizes.values()) > MAX_ANSWERS_BYTES and not template.trusted:
        largest = max(sizes, key=sizes.__getitem__)
        raise TemplateError(
            f"{template.context_file_abspath}: its variables render to more than "
            f"{MAX_ANSWERS_BYTES >> 20} MiB ({largest!r}: {sizes[largest]} bytes), so it was "
            "stopped; fix the template, or pass --trust if it really is that big"
        )


def render_template(
    template: Template,
    answers: dict[str, Any],
    template_relpaths: Collection[str] | None = None,
    *,
    bounded: bool = False,
) -> TemplateRendering:
    """Render a template with ``answers`` (values, never rendered) in memory.

    The one rendering of every template, plscaffold's and the user's: its folder's name,
    its files (all, or ``template_relpaths``) and its components' paths. The answers to
    record are the context's values but the private (``_``) ones.

    Args:
        bounded: Render in a child process bounded in time and memory (see
            :mod:`plscaffold.bounds`), as a source asks for a template it does not trust.

    Raises:
        TemplateError: as for :func:`render_tree`, or the bounds were reached.
        UnsafePathError, UntrustedTemplateError: as for :func:`render_tree`, and for a
            project folder that renders to more than one folder name.
    """

    def render(report: Callable[[str], None]) -> TemplateRendering:
        report(str(template.context_file_abspath))
        context = build_context(template, answers)
        (folder,) = render_relpaths(template, context, [template.project_dir_abspath.name])
        if "/" in folder:  # render_relpaths refused a reserved or climbing name
            raise UnsafePathError(f"template folder renders to {folder!r}, not a folder name")
        files = render_tree(template, context, template_relpaths, report)
        components = None
        if COMPONENTS_VARIABLE in read_variables(template):
            components = {
                name: render_relpaths(template, context, paths)
                for name, paths in template_components(template).items()
            }
        values = dict(context["cookiecutter"])
        _count_answers(values, template)
        recorded = {key: value for key, value in values.items() if not key.startswith("_")}
        return TemplateRendering(files, components, recorded, folder, values)

    if not bounded:
        return render(lambda where: None)
    from plscaffold.bounds import run_bounded

    return run_bounded(render, template.ref)
