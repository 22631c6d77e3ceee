"""Run git in a project or a template's repository, never starting a program its config names."""

from __future__ import annotations

import os
import subprocess
from enum import Enum
from pathlib import Path

# A repository's own config (or one a template slipped in) can name programs that git
# runs on read-only commands: `git status` starts core.fsmonitor, a pager or an external
# diff may start on output, hooks and credential helpers on others. Each is turned off.
# Attributes (a repository's .gitattributes or info/attributes) name filter, diff and merge
# drivers; only the system and user attribute files can be turned off here, the drivers
# they name are turned off one by one (see _driver_overrides). `status` and `diff` look
# into submodules by running git there, under a config this process never read.
SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.attributesFile=/dev/null",
    "diff.external=",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
    "submodule.recurse=false",
    "credential.helper=",
    "protocol.ext.allow=never",
)
SAFE_ENVIRONMENT = {
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_ATTR_NOSYSTEM": "1",
    # `git status` would otherwise refresh the index, racing a git command of the user's.
    "GIT_OPTIONAL_LOCKS": "0",
}
# Variables that point git at another repository, index or config than the folder it runs
# in (a git hook that runs plscaffold sets GIT_DIR and GIT_INDEX_FILE), or that name a
# program: dropped, so git sees only the folder it runs in and the settings here.
FOREIGN_ENVIRONMENT = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_GRAFT_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_SHALLOW_FILE",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_EXTERNAL_DIFF",
)
# What a template is fetched by (cookiecutter's repository URLs: file, git, ssh, http(s),
# and user@host, which is ssh); every other transport, ext:: and remote helpers included,
# is refused.
FETCH_PROTOCOLS = ("file", "git", "http", "https", "ssh")
# A fetch needs no config but what git writes into a fresh clone: the system's and the
# user's (insteadOf rewrites, core.sshCommand, core.gitProxy, filters) are not read.
FETCH_ENVIRONMENT = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_SYSTEM": os.devnull,
    "GIT_CONFIG_GLOBAL": os.devnull,
}
# In a project git needs no transport at all: none is allowed, so a rewritten URL, an
# ssh command, a proxy or a partial clone's lazy fetch never starts.
PROJECT_PROTOCOLS = ("file", "git", "http", "https", "ssh", "ext", "ftp", "ftps")
# (section, key) of each setting under `section.<name>.key` that names a program or lets
# a transport in, and the value that turns it off. An empty command is one git cannot
# start; a required filter that is off would make the command fail instead.
_NEUTRAL_VALUES = {
    ("filter", "clean"): "",
    ("filter", "smudge"): "",
    ("filter", "process"): "",
    ("filter", "required"): "false",
    ("diff", "command"): "",
    ("diff", "textconv"): "",
    ("merge", "driver"): "",
    ("credential", "helper"): "",
    ("protocol", "allow"): "never",
}
# Commands that run git inside each submodule, whose config names drivers of its own.
_SUBMODULE_COMMANDS = ("status", "diff")


def git_command(*args: str) -> list[str]:
    """Return the command line of ``git ARGS`` with every repository-configured program off."""
    options = [part for setting in SAFE_CONFIG for part in ("-c", setting)]
    return ["git", "--no-pager", *options, *args]


def git_environment() -> dict[str, str]:
    """Return the environment git runs in: this one, with prompts, pagers and system
    attributes off, and nothing that points git at another repository or config."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in FOREIGN_ENVIRONMENT
        and not name.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    return {**environment, **SAFE_ENVIRONMENT}


def run_git(
    cwd: Path, *args: str, isolated: bool = False, timeout: float | None = None
) -> subprocess.CompletedProcess[bytes] | None:
    """Run ``git ARGS`` in ``cwd`` with every program a config can name off; None without git.

    Every git command plscaffold runs goes through here.

    Args:
        cwd: The folder git runs in.
        args: The git command and its arguments.
        isolated: Fetch a template, or read the clone plscaffold made of one: ``cwd`` is a
            fresh temporary folder or that clone. No system or user config is read, no
            repository above ``cwd`` is found, and only :data:`FETCH_PROTOCOLS` are
            allowed. Without it (a project, whose repository and user config git needs)
            no transport is allowed and every driver the config names is turned off.
        timeout: Seconds git may run.

    Returns:
        What git did; without ``isolated``, the failed listing of the config instead
        where git could not list it (so nothing ran that it might name).

    Raises:
        subprocess.TimeoutExpired: git ran past ``timeout``.
    """
    environment = git_environment()
    if isolated:
        environment.update(FETCH_ENVIRONMENT)
        # A temporary folder may lie inside someone's repository: git stops looking at cwd.
        environment["GIT_CEILING_DIRECTORIES"] = str(Path(cwd).resolve().parent)
        settings = [
            "protocol.allow=never",
            *(f"protocol.{p}.allow=always" for p in FETCH_PROTOCOLS),
        ]
    else:
        settings = [
            "protocol.allow=never",
            *(f"protocol.{p}.allow=never" for p in PROJECT_PROTOCOLS),
        ]
        overrides = _driver_overrides(cwd, environment, settings)
        if not isinstance(overrides, dict):
            return overrides
        environment["GIT_CONFIG_COUNT"] = str(len(overrides))
        for index, (name, value) in enumerate(overrides.items()):
            environment[f"GIT_CONFIG_KEY_{index}"] = name
            environment[f"GIT_CONFIG_VALUE_{index}"] = value
        args = _without_submodules(args)
    options = [part for setting in settings for part in ("-c", setting)]
    return _run(cwd, [*options, *args], environment, timeout)


def _without_submodules(args: tuple[str, ...]) -> tuple[str, ...]:
    """Return ``args`` with ``--ignore-submodules=all`` after a ``status`` or ``diff``.

    A submodule's own ``ignore`` setting in ``.gitmodules`` outranks
    ``diff.ignoreSubmodules``; only the command's option outranks it.
    """
    at = 0
    while at + 1 < len(args) and args[at] == "-c":  # git's own options come first
        at += 2
    if at < len(args) and args[at] in _SUBMODULE_COMMANDS:
        return (*args[: at + 1], "--ignore-submodules=all", *args[at + 1 :])
    return args


def _run(
    cwd: Path, args: list[str], environment: dict[str, str], timeout: float | None
) -> subprocess.CompletedProcess[bytes] | None:
    """Run ``git_command(ARGS)`` in ``cwd`` with ``environment``; None without git."""
    try:
        return subprocess.run(
            git_command(*args),
            cwd=cwd,
            capture_output=True,
            check=False,
            env=environment,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    except OSError:
        return None


def _driver_overrides(
    cwd: Path, environment: dict[str, str], settings: list[str]
) -> dict[str, str] | subprocess.CompletedProcess[bytes] | None:
    """Return a neutral value for each setting in git's config at ``cwd`` that names a
    driver, a credential helper or a transport (see ``_NEUTRAL_VALUES``).

    git has no switch to ignore a repository's config, and a driver is named by any name
    the attributes choose, so the names come from the config itself. They are passed
    back through ``GIT_CONFIG_KEY_<n>``, which takes a name as it is: ``-c`` would split
    a name holding ``=`` (``[filter "a=b"]``) at it.

    Returns:
        The overrides; or git's failed listing, or None without git.
    """
    options = [part for setting in settings for part in ("-c", setting)]
    listed = _run(cwd, [*options, "config", "--list", "--name-only", "-z"], environment, None)
    if listed is None or listed.returncode != 0:
        return listed
    overrides = {}
    for name in os.fsdecode(listed.stdout).split("\0"):
        section, _, rest = name.partition(".")
        subsection, dot, key = rest.rpartition(".")
        value = _NEUTRAL_VALUES.get((section.lower(), key.lower()))
        if dot and subsection and value is not None:
            overrides[name] = value
    return overrides


def git_output(root_abspath: Path, *args: str, isolated: bool = False) -> str | None:
    """Return what ``git ARGS`` prints in ``root_abspath``, or None without git or a work tree.

    ``isolated`` is :func:`run_git`'s: for the clone plscaffold made of a template.
    """
    result = run_git(root_abspath, *args, isolated=isolated)
    if result is None or result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", "replace")


class RepositoryStart(Enum):
    """What :func:`start_repository` did in a new project's folder."""

    COMMITTED = "committed"  # a new repository whose first commit holds the project
    STAGED = "staged"  # a new repository, its files staged: git could not commit (no identity)
    INSIDE_WORK_TREE = "inside-work-tree"  # in a repository already: none nested
    NO_GIT = "no-git"  # git is not installed
    FAILED = "failed"  # git init or add failed


# What `new` runs once its files are written; a few milliseconds each.
_INIT = ("init", "-q", "--template=")  # no template folder: init.templateDir copies no hooks in
_COMMIT = (
    # A commit is signed by a person: git must not guess a name from the host.
    *("-c", "user.useConfigOnly=true", "-c", "gc.auto=0", "-c", "maintenance.auto=false"),
    *("commit", "-q", "--no-verify", "--no-gpg-sign"),  # no hook, no signing program
)


def start_repository(folder_abspath: Path, message: str) -> tuple[RepositoryStart, str]:
    """Make ``folder_abspath`` a git repository whose first commit holds its files.

    A folder inside a work tree already (a monorepo, or a trusted hook's own ``git init``)
    gets no repository of its own, as cargo and uv do. Without a ``user.name`` and
    ``user.email`` (git's config or its ``GIT_AUTHOR_*`` variables) the files are staged
    and not committed: plscaffold never makes up whose commit it is.

    Returns:
        What was done, and git's last words where it failed or could not commit (else "").
    """
    if os.path.lexists(folder_abspath / ".git"):  # a trusted hook's: never run git on it
        return RepositoryStart.INSIDE_WORK_TREE, ""
    inside = run_git(folder_abspath, "rev-parse", "--is-inside-work-tree")
    if inside is None:
        return RepositoryStart.NO_GIT, ""
    if inside.returncode == 0 and inside.stdout.strip() == b"true":
        return RepositoryStart.INSIDE_WORK_TREE, ""
    if inside.returncode != 0 and in_repository(folder_abspath):
        # A repository around it that git will not read (another owner's, say): git did not
        # say "not a work tree", so none is nested in it.
        return RepositoryStart.FAILED, git_said(inside)
    steps = ((_INIT, RepositoryStart.FAILED), (("add", "-A"), RepositoryStart.FAILED),
             ((*_COMMIT, "-m", message), RepositoryStart.STAGED))  # fmt: skip
    for args, outcome in steps:
        done = run_git(folder_abspath, *args)
        if done is None or done.returncode != 0:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines() if done else []
            return outcome, said[-1] if said else "git is gone"
    return RepositoryStart.COMMITTED, ""


def in_repository(folder_abspath: Path) -> bool:
    """Tell whether a ``.git`` lies in ``folder_abspath`` or a folder above it: a repository
    git finds there, whether or not it can read it.

    git's own "not a git repository" is a message in the user's language, and fails just
    as "detected dubious ownership" does: this tells the two apart.
    """
    try:
        folder = folder_abspath.resolve()
        return any(os.path.lexists(f / ".git") for f in (folder, *folder.parents))
    except (OSError, RuntimeError):
        return True  # cannot tell: as if there were one, which refuses rather than guesses


def git_said(result: subprocess.CompletedProcess[bytes]) -> str:
    """Return what a failed git command wrote to stderr, on one line."""
    said = ""
    for line in result.stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            said += (" " if said.endswith(":") else "; " if said else "") + line.strip()
    return said or f"git exited with status {result.returncode}"


class GitStatusError(Exception):
    """git cannot list the changes of a work tree it finds (another owner's, a broken index):
    what it said."""


def uncommitted_changes(root_abspath: Path) -> dict[str, str] | None:
    """Return the files under ``root_abspath`` that git lists as changed, staged, deleted or
    untracked (not ignored), relative to it, each with its ``git status --porcelain`` code
    (``" M"``, ``"A "``, ``"??"``...); None without git or outside a work tree.

    Raises:
        GitStatusError: a repository lies around ``root_abspath`` (see :func:`in_repository`)
            and git cannot list its changes: nothing says the folder is clean.
    """
    prefix = run_git(root_abspath, "rev-parse", "--show-prefix")
    if prefix is None:
        return None
    if prefix.returncode != 0:
        if not in_repository(root_abspath):
            return None
        raise GitStatusError(git_said(prefix))
    listed = run_git(
        root_abspath, "status", "--porcelain", "-z", "--no-renames", "--untracked-files=all",
        "--", ".",
    )  # fmt: skip
    if listed is None:
        return None
    if listed.returncode != 0:
        raise GitStatusError(git_said(listed))
    top = os.fsdecode(prefix.stdout).strip()
    # Porcelain paths are relative to the repository's top, whatever the folder git ran in.
    entries = os.fsdecode(listed.stdout).split("\0")
    return {entry[3:].removeprefix(top): entry[:2] for entry in entries if entry}


def has_commit(root_abspath: Path) -> bool:
    """Tell whether the repository at ``root_abspath`` has a commit (its HEAD names one)."""
    return git_output(root_abspath, "rev-parse", "--verify", "-q", "HEAD^{commit}") is not None
