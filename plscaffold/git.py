"""Run git in a project or a template's repository, never starting a program its config names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# A repository's own config (or one a template slipped in) can name programs that git
# runs on read-only commands: `git status` starts core.fsmonitor, a pager or an external
# diff may start on output, hooks and credential helpers on others. Each is turned off.
SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "diff.external=",
    "credential.helper=",
    "protocol.ext.allow=never",
)
SAFE_ENVIRONMENT = {
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    # `git status` would otherwise refresh the index, racing a git command of the user's.
    "GIT_OPTIONAL_LOCKS": "0",
}


def git_command(*args: str) -> list[str]:
    """Return the command line of ``git ARGS`` with every repository-configured program off."""
    options = [part for setting in SAFE_CONFIG for part in ("-c", setting)]
    return ["git", "--no-pager", *options, *args]


def git_environment() -> dict[str, str]:
    """Return the environment git runs in: this one, with prompts and pagers off."""
    return {**os.environ, **SAFE_ENVIRONMENT}


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """Run ``git ARGS`` in ``cwd`` with every configured program off; None without git."""
    try:
        return subprocess.run(
            git_command(*args),
            cwd=cwd,
            capture_output=True,
            check=False,
            env=git_environment(),
            stdin=subprocess.DEVNULL,
        )
    except OSError:
        return None


def git_output(root_abspath: Path, *args: str) -> str | None:
    """Return what ``git ARGS`` prints in ``root_abspath``, or None without git or a work tree."""
    result = run_git(root_abspath, *args)
    if result is None or result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", "replace")
