"""Fetch a user template: a local folder, a zip file, or a repository cloned with cookiecutter."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

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
    with _hang_up_unwinds():
        clone_dir = Path(tempfile.mkdtemp(prefix="plscaffold-template-")).resolve()
        try:
            yield _fetched_template(source, checkout, clone_dir)
        finally:
            shutil.rmtree(clone_dir, ignore_errors=True)


def _fetched_template(source: str, checkout: str | None, clone_dir: Path) -> Template:
    """Fetch the template at a repository or zip URL into ``clone_dir``, and load it.

    Raises:
        TemplateSourceError: fetching fails, or a zip unpacks outside ``clone_dir``.
    """
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.repository import determine_repo_dir, is_zip_file

    try:
        git_url = _git_url(source)
        if is_zip_file(source):
            repo_dir = _unpack_zip(source, clone_dir)
        elif git_url is not None:
            repo_dir = _clone_git(git_url, checkout, clone_dir)
        else:
            # Mercurial, or a URL cookiecutter names the kind of (it says why it cannot).
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
    return load_template(Path(repo_dir), source)


def _git_url(source: str) -> str | None:
    """Return the URL git fetches a git template from, or None for zip, hg or any other."""
    from cookiecutter.exceptions import UnknownRepoType
    from cookiecutter.repository import is_repo_url, is_zip_file
    from cookiecutter.vcs import identify_repo

    if is_zip_file(source) or not is_repo_url(source):
        return None
    try:
        kind, url = identify_repo(source)  # cookiecutter's rule: git+ or hg+, or a guess
    except UnknownRepoType:
        return None
    return url if kind == "git" else None


def _clone_git(url: str, checkout: str | None, clone_dir: Path) -> Path:
    """Clone ``url`` into ``clone_dir`` with plscaffold's git runner, at ``checkout``.

    The clone is made in ``clone_dir`` (a fresh folder, never where the user stands), with
    no hook template and none of the user's or the system's git config (see
    :func:`plscaffold.git.run_git`); a checkout then runs in the clone itself.

    Raises:
        OSError: git is not installed.
        subprocess.CalledProcessError: git failed; its output says why.
    """
    from plscaffold.git import run_git

    repo_dir = clone_dir / "repository"
    steps = [(clone_dir, ["clone", "--quiet", "--template=", "--", url, repo_dir.name])]
    if checkout is not None:
        # After the ref, `--` keeps git from reading it as a path.
        steps.append((repo_dir, ["checkout", "--quiet", checkout, "--"]))
    for cwd, args in steps:
        done = run_git(cwd, *args, isolated=True)
        if done is None:
            raise OSError("git is not installed")
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, ["git", args[0]], done.stderr)
    return repo_dir


@contextmanager
def _hang_up_unwinds() -> Iterator[None]:
    """Treat SIGHUP (a closed terminal) as SIGTERM while a fetched template is on disk.

    SIGHUP's default ends the process at once, before the block that removes the
    temporary folder runs; with this, it does what SIGTERM's handler does (the command
    line's unwinds the work and says so), and where SIGTERM has none it is an interrupt
    as Ctrl-C is. A handler of the program's own (``nohup``'s SIG_IGN) is kept.
    """
    installer = os.getpid()

    def hang_up(signum: int, frame: FrameType | None) -> None:
        handler = signal.getsignal(signal.SIGTERM)
        if callable(handler):
            handler(signum, frame)
        elif os.getpid() == installer:
            raise KeyboardInterrupt(signum)
        else:  # a child forked inside the block (the render): it ends as it would have
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGHUP)

    hangup = getattr(signal, "SIGHUP", None)  # None on Windows
    installed = hangup is not None and signal.getsignal(hangup) is signal.SIG_DFL
    if hangup is not None and installed:
        try:
            signal.signal(hangup, hang_up)
        except ValueError:  # not the main thread: signals reach the main one
            installed = False
    try:
        yield
    finally:
        if hangup is not None and installed:
            signal.signal(hangup, signal.SIG_DFL)


MAX_UNPACKED_BYTES = 256 << 20
"""Bytes a zip template may unpack to (the sizes its entries declare, which ``zipfile``
never reads past): the bundled template is 0.2 MiB."""
MAX_UNPACKED_ENTRIES = 20_000
"""Files and folders a zip template may hold."""


def _unpack_zip(source: str, clone_dir: Path) -> Path:
    """Unpack a zip template (a file, or a URL downloaded first) into ``clone_dir``.

    As cookiecutter does, the archive's first entry names its template folder. Only names
    inside ``clone_dir`` are unpacked (``zipfile`` drops ``..`` and leading slashes); the
    folder the first entry names is returned as it is, for the caller to check.

    Raises:
        ValueError: the archive is empty or its first entry is not a folder.
        TemplateSourceError: it would unpack to more than :data:`MAX_UNPACKED_BYTES` or
            :data:`MAX_UNPACKED_ENTRIES`; nothing was unpacked.
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
        unpacked = sum(info.file_size for info in zipped.infolist())
        if unpacked > MAX_UNPACKED_BYTES or len(names) > MAX_UNPACKED_ENTRIES:
            raise TemplateSourceError(
                f"zip template {shown(source)} unpacks to {unpacked >> 20} MiB in "
                f"{len(names)} entries, more than the {MAX_UNPACKED_BYTES >> 20} MiB and "
                f"{MAX_UNPACKED_ENTRIES} entries plscaffold unpacks; nothing was unpacked: "
                "use a smaller template, or unpack it yourself and pass its folder"
            )
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
    """Return the commit a cloned git template is at, or None for anything else.

    Only a clone plscaffold made is asked: a zip or Mercurial template may hold a
    ``.git`` of its own, which is the template's word, not a clone's.
    """
    from plscaffold.git import git_output

    if _git_url(template.ref) is None or not (template.root_abspath / ".git").exists():
        return None
    commit = (git_output(template.root_abspath, "rev-parse", "HEAD", isolated=True) or "").strip()
    return commit or None


def newest_tag(source: str) -> str | None:
    """Return the newest version tag of a git template repository, or None if it has none.

    Raises:
        TemplateSourceError: the repository cannot be listed, or is not a git one.
    """
    url = _git_url(source)
    if url is None:
        raise TemplateSourceError(
            f"{source}: only git templates have tags to update to; pass --checkout REF"
        )
    from plscaffold.git import run_git

    # In a folder of its own: where the user stands, that repository's config would apply.
    with _hang_up_unwinds(), tempfile.TemporaryDirectory(prefix="plscaffold-template-") as tmp:
        try:
            listed = run_git(
                Path(tmp), "ls-remote", "--tags", "--refs", "--", url, isolated=True, timeout=120
            )
        except subprocess.SubprocessError as err:
            raise TemplateSourceError(f"cannot list the tags of {source}: {err}") from err
    if listed is None:
        raise TemplateSourceError(f"cannot list the tags of {source}: git is not installed")
    if listed.returncode != 0:
        stderr = listed.stderr.decode("utf-8", "replace")
        reason = (stderr.strip().splitlines() or ["no reason given"])[-1]
        raise TemplateSourceError(f"cannot list the tags of {source}: {reason}")
    tags = [
        line.split("refs/tags/", 1)[1]
        for line in listed.stdout.decode("utf-8", "replace").splitlines()
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
