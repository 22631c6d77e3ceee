"""Fetch a user template: a local folder, a zip file, or a repository cloned with cookiecutter."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plscaffold.errors import TemplateSourceError, UntrustedTemplateError, one_line, shown
from plscaffold.templates import Template, load_template, read_variables

HOOK_NAMES = ("pre_prompt", "pre_gen_project", "post_gen_project")


def is_remote(source: str) -> bool:
    """Tell a repository URL or zip file from a local template folder."""
    from cookiecutter.repository import is_repo_url, is_zip_file

    return bool(is_repo_url(source) or is_zip_file(source))


@contextmanager
def open_template(source: str, checkout: str | None = None) -> Iterator[Template]:
    """Yield the template at a local path or a git/hg/zip URL, cloned into a temporary folder.

    Args:
        source: A folder, or a repository or zip URL.
        checkout: For a repository: the branch, tag or commit to render.

    Raises:
        TemplateSourceError: the source or checkout looks like a command-line option, the
            folder does not exist, a checkout is given for a folder, or cloning fails.
    """
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.repository import determine_repo_dir, is_zip_file

    for value, what in ((source, "template"), (checkout, "--checkout")):
        if value is not None and (not value or value.startswith("-")):
            # Never let a value reach git (or any tool) where it could be read as an option.
            raise TemplateSourceError(
                f"{what} {value!r} starts with '-' or is empty; give a path (./{value}), a "
                "URL, or a branch, tag or commit"
            )
    if checkout is not None and not is_remote(source):
        raise TemplateSourceError(
            f"--checkout {shown(checkout)} picks a commit of a repository; {shown(source)} is a "
            "folder, rendered as it is"
        )
    if not is_remote(source):
        path = Path(source).expanduser()
        try:
            found = path.is_dir()
        except (OSError, ValueError) as err:
            raise TemplateSourceError(f"{source!r} cannot be a template folder: {err}") from err
        if not found:
            raise TemplateSourceError(f"template folder {shown(str(path))} does not exist")
        yield load_template(path, str(path.resolve()))
        return
    clone_dir = Path(tempfile.mkdtemp(prefix="plscaffold-template-")).resolve()
    try:
        try:
            if is_zip_file(source):
                repo_dir = _unpack_zip(source, clone_dir)
            else:
                with _quiet_cookiecutter():
                    repo_dir, _ = determine_repo_dir(
                        template=source, abbreviations={}, clone_to_dir=clone_dir,
                        checkout=checkout, no_input=True,
                    )  # fmt: skip
        except (
            CookiecutterException, OSError, ValueError, RuntimeError, zipfile.BadZipFile,
            subprocess.SubprocessError,
        ) as err:  # fmt: skip
            raise TemplateSourceError(
                f"cannot fetch template {shown(source)}: {_fetch_reason(err)}; check the URL "
                "and that you can reach it (git clone it by hand to see git's own message)"
            ) from err
        # A zip names the folder it unpacks to by its first entry, which may climb out
        # (../../somewhere/): only what was fetched into clone_dir is the template.
        if not Path(repo_dir).resolve().is_relative_to(clone_dir):
            raise TemplateSourceError(
                f"template {shown(source)} unpacks to {Path(repo_dir).resolve()}, outside the "
                "folder it was fetched into (its first entry climbs out with '..'); refusing it"
            )
        yield load_template(Path(repo_dir), source)
    finally:
        shutil.rmtree(clone_dir, ignore_errors=True)


def _unpack_zip(source: str, clone_dir: Path) -> Path:
    """Unpack a zip template (a file, or a URL downloaded first) into ``clone_dir``.

    As cookiecutter does, the archive's first entry names its template folder. Only names
    inside ``clone_dir`` are unpacked (``zipfile`` drops ``..`` and leading slashes); the
    folder the first entry names is returned as it is, for the caller to check.

    Raises:
        ValueError: the archive is empty or its first entry is not a folder.
        OSError, zipfile.BadZipFile, RuntimeError: it cannot be read (RuntimeError: it
            needs a password).
    """
    from cookiecutter.repository import is_repo_url

    archive = Path(source).expanduser()
    if is_repo_url(source):
        import requests

        archive = clone_dir / "template.zip"
        try:
            with requests.get(source, stream=True, timeout=100) as response:
                response.raise_for_status()
                with archive.open("wb") as out:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        out.write(chunk)
        except requests.RequestException as err:
            raise OSError(str(err)) from err
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        if not names or not names[0].endswith("/"):
            raise ValueError("a zip template's first entry must be its template folder")
        zipped.extractall(clone_dir / "unpacked")
    return clone_dir / "unpacked" / names[0].rstrip("/")


@contextmanager
def _quiet_cookiecutter() -> Iterator[None]:
    """Keep cookiecutter from logging a failed clone's output and traceback to stderr."""
    import logging

    logger = logging.getLogger("cookiecutter")  # its modules' loggers inherit its level
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fetch_reason(err: Exception) -> str:
    """Return why fetching failed, on one line: the tool's last line of output where it has one."""
    output = getattr(err, "output", None)
    if isinstance(output, bytes):
        output = output.decode("utf-8", "replace")
    lines = [line.strip() for line in str(output or "").splitlines() if line.strip()]
    if lines:
        # git says what went wrong first ("fatal: ..."), then what to check.
        line = next((li for li in lines if li.startswith(("fatal:", "error:"))), lines[-1])
        return f"{line} (exit status {getattr(err, 'returncode', '?')})"
    return one_line(str(err)) or f"{type(err).__name__}, with no reason given"


def template_commit(template: Template) -> str | None:
    """Return the commit a cloned git template is at, or None for anything else."""
    from plscaffold.git import git_output

    if not (template.root_abspath / ".git").exists():
        return None
    commit = (git_output(template.root_abspath, "rev-parse", "HEAD") or "").strip()
    return commit or None


def newest_tag(source: str) -> str | None:
    """Return the newest version tag of a git template repository, or None if it has none.

    Raises:
        TemplateSourceError: the repository cannot be listed, or is not a git one.
    """
    url = source.removeprefix("git+")
    if source.startswith("hg+") or source.endswith(".zip"):
        raise TemplateSourceError(
            f"{source}: only git templates have tags to update to; pass --checkout REF"
        )
    from plscaffold.git import git_command, git_environment

    try:
        listed = subprocess.run(
            git_command("ls-remote", "--tags", "--refs", "--", url),
            capture_output=True, text=True, check=False, timeout=120, env=git_environment(),
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as err:
        raise TemplateSourceError(f"cannot list the tags of {source}: {err}") from err
    if listed.returncode != 0:
        reason = (listed.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise TemplateSourceError(f"cannot list the tags of {source}: {reason}")
    tags = [
        line.split("refs/tags/", 1)[1]
        for line in listed.stdout.splitlines()
        if "refs/tags/" in line
    ]
    return newest_version(tags)


def newest_version(tags: list[str]) -> str | None:
    """Return the tag of the newest release, as pip orders versions (``v`` prefix allowed).

    A final release wins over every pre-release of it (``1.0.0`` after ``1.0.0rc1``); pre-
    releases count only where no final release is tagged. Tags that are no version are
    left out; None where none is.
    """
    from packaging.version import InvalidVersion, Version

    versions = []
    for tag in tags:
        try:
            versions.append((Version(tag), tag))
        except InvalidVersion:
            continue
    finals = [(version, tag) for version, tag in versions if not version.is_prerelease]
    candidates = finals or versions
    return max(candidates)[1] if candidates else None


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
