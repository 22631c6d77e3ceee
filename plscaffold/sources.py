"""User templates: a local folder or a repository URL, fetched with cookiecutter's machinery."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plscaffold.errors import TemplateSourceError, UntrustedTemplateError
from plscaffold.templates import Template, load_template, read_variables

HOOK_NAMES = ("pre_prompt", "pre_gen_project", "post_gen_project")


@contextmanager
def open_template(source: str) -> Iterator[Template]:
    """Yield the template at a local path or a git/hg/zip URL, cloned into a temporary folder.

    Raises:
        TemplateSourceError: the source looks like a command-line option, does not exist,
            or cannot be cloned.
    """
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.repository import determine_repo_dir, is_repo_url, is_zip_file

    if not source or source.startswith("-"):
        # Never let a value reach git (or any tool) where it could be read as an option.
        raise TemplateSourceError(
            f"template {source!r} starts with '-'; give a path (./{source}) or a URL"
        )
    if not (is_repo_url(source) or is_zip_file(source)):
        path = Path(source).expanduser()
        try:
            found = path.is_dir()
        except (OSError, ValueError) as err:
            raise TemplateSourceError(f"{source!r} cannot be a template folder: {err}") from err
        if not found:
            raise TemplateSourceError(f"template folder {path} does not exist")
        yield load_template(path, str(path.resolve()))
        return
    clone_dir = Path(tempfile.mkdtemp(prefix="plscaffold-template-"))
    system_tempdir = tempfile.tempdir
    try:
        try:
            # cookiecutter unpacks a zip file into a folder of tempfile's: make that folder
            # ours, so that removing clone_dir leaves nothing behind.
            tempfile.tempdir = str(clone_dir)
            repo_dir, _ = determine_repo_dir(
                template=source, abbreviations={}, clone_to_dir=clone_dir, checkout=None,
                no_input=True,
            )  # fmt: skip
        except (CookiecutterException, OSError, ValueError, subprocess.SubprocessError) as err:
            reason = str(err).strip() or f"{type(err).__name__}, with no reason given"
            raise TemplateSourceError(
                f"cannot fetch template {source}: {reason}; check the URL and that you can "
                "reach it (git clone it by hand to see git's own message)"
            ) from err
        finally:
            tempfile.tempdir = system_tempdir
        yield load_template(Path(repo_dir), source)
    finally:
        shutil.rmtree(clone_dir, ignore_errors=True)


def template_hooks(template: Template) -> list[Path]:
    """Return the template's hook scripts (cookiecutter's ``hooks/`` folder)."""
    hooks_dir = template.root_abspath / "hooks"
    if not hooks_dir.is_dir():
        return []
    return sorted(
        path
        for path in hooks_dir.iterdir()
        if path.is_file() and path.stem in HOOK_NAMES and not path.name.endswith("~")
    )


def check_trust(template: Template, trust: bool) -> None:
    """Refuse a template that would run code (hooks, Jinja extensions) unless trusted.

    Raises:
        UntrustedTemplateError: the template has hooks or extensions and ``trust`` is false.
    """
    if trust:
        return
    reasons = [f"hooks/{path.name}" for path in template_hooks(template)]
    extensions = read_variables(template).get("_extensions") or []
    reasons += [f"Jinja extension {name}" for name in extensions]
    if reasons:
        raise UntrustedTemplateError(
            f"template {template.ref} runs code on this machine ({', '.join(reasons)}); "
            "read that code, then pass --trust to allow it"
        )
