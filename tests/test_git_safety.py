"""A template cannot make plscaffold's git commands run a program: no rendered .git, safe git."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import git, make_template, new_from_template

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git_folder_template(root: Path, marker: Path) -> Path:
    """A template that renders a git repository whose config runs ``touch MARKER``."""
    config = f"[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch {marker}\n"
    files = {
        ".git/HEAD": b"ref: refs/heads/main\n",
        ".git/config": config.encode(),
        ".git/objects/.keep": b"",
        ".git/refs/heads/.keep": b"",
        "README.md": b"# {{ cookiecutter.project_name }}\n",
    }
    return make_template(root, files, {"project_name": "x"})


@pytest.mark.parametrize("trust", [(), ("--trust",)], ids=["untrusted", "trusted"])
def test_no_template_may_render_a_git_folder(
    runner: CliRunner, tmp_path: Path, trust: tuple[str, ...]
) -> None:
    marker = tmp_path / "FSMONITOR-RAN"
    template = _git_folder_template(tmp_path / "t", marker)
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, template, out, *trust)

    assert result.exit_code == 2, result.output
    assert "inside a .git folder" in result.stderr and "trusted or not" in result.stderr
    assert list(out.iterdir()) == []
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "files"),
    [
        ("upper-case", {".GIT/config": b"[core]\n"}),
        ("a file", {".git": b"gitdir: /somewhere/else\n"}),
        ("deeper", {"sub/.git/config": b"[core]\n"}),
    ],
)
def test_every_spelling_of_a_git_path_is_refused(
    runner: CliRunner, tmp_path: Path, name: str, files: dict[str, bytes]
) -> None:
    template = make_template(tmp_path / "t", {"ok.txt": b"ok\n", **files}, {"project_name": "x"})

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 2, result.output
    assert "inside a .git folder" in result.stderr
    assert not (tmp_path / "proj").exists()


def test_a_variable_that_renders_to_git_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    files = {"{{ cookiecutter.folder }}/config": b"[core]\n"}
    template = make_template(tmp_path / "t", files, {"project_name": "x", "folder": ".git"})

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 2, result.output
    assert "'.git/config'" in result.stderr
    assert not (tmp_path / "proj").exists()


def test_git_runs_no_program_a_repository_config_names(runner: CliRunner, tmp_path: Path) -> None:
    """A repository's own config (the user's, or a cloned project's) runs nothing through
    plscaffold."""
    marker = tmp_path / "FSMONITOR-RAN"
    template = make_template(tmp_path / "t", {"README.md": b"# x\n"}, {"project_name": "x"})
    created = new_from_template(runner, template, tmp_path)
    assert created.exit_code == 0, created.output
    project = tmp_path / "proj"
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "config", "core.fsmonitor", f"touch {marker}"], cwd=project, check=True)
    (project / "README.md").write_text("# mine\n")

    updated = runner.invoke(app, ["update", "--project", str(project), "--trust"])

    # git status ran (it found the edit) and its fsmonitor did not.
    assert updated.exit_code == 2, updated.output
    assert "uncommitted changes" in updated.stderr and "README.md" in updated.stderr
    assert not marker.exists()
    # The repository is real and its config live: plain git runs the program.
    subprocess.run(["git", "status"], cwd=project, capture_output=True, check=False)
    assert marker.exists()


def test_every_git_command_carries_the_settings_the_docs_name() -> None:
    from plscaffold.git import git_command, git_environment

    command = git_command("status", "--porcelain")
    settings = {command[i + 1] for i, part in enumerate(command) if part == "-c"}

    assert command[-2:] == ["status", "--porcelain"] and "--no-pager" in command
    assert {
        "core.fsmonitor=false",
        "core.hooksPath=/dev/null",
        "core.pager=cat",
        "diff.external=",
        "credential.helper=",
    } <= settings
    assert git_environment()["GIT_TERMINAL_PROMPT"] == "0"


# Template fetching and git in a project, against each way a config names a program. Each
# test runs plscaffold where the config is live, asserts the marker program did not run,
# then runs plain git the same way and asserts that it did.


def _marker_program(folder: Path, marker: Path, name: str = "program") -> Path:
    """An executable that creates ``marker`` and fails, as a config's command or ssh."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    program.chmod(0o755)
    return program


def _git_template(root: Path, text: str = "one\n", tag: str = "v1.0") -> str:
    """Commit a template (``app.txt`` = ``text``) to the repository at ``root``, tag it, and
    return its ``git+file://`` source."""
    make_template(root, {"app.txt": text.encode()}, {"project_name": "x"})
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", tag)
    git(root, "tag", tag)
    return f"git+file://{root}"


# A rewrite of every file:// URL to a host whose connection runs the program.
REWRITES = {
    "ssh-command": ("url.ssh://evil.invalid/.insteadOf", "core.sshCommand"),
    "proxy": ("url.git://evil.invalid/.insteadOf", "core.gitProxy"),
}


@pytest.mark.parametrize("where", ["the folder the user stands in", "GIT_DIR", "TMPDIR"])
@pytest.mark.parametrize("vector", sorted(REWRITES))
def test_update_lists_tags_with_no_config_of_the_repository_around_it(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vector: str, where: str
) -> None:
    source = _git_template(tmp_path / "repo")
    made = new_from_template(runner, source, tmp_path)
    assert made.exit_code == 0, made.output
    _git_template(tmp_path / "repo", "two\n", "v1.1")
    marker = tmp_path / "PROGRAM-RAN"
    rewrite, command = REWRITES[vector]
    trap = tmp_path / "trap"
    trap.mkdir()
    git(trap, "init", "-q")
    git(trap, "config", rewrite, "file://")
    git(trap, "config", command, str(_marker_program(tmp_path / "bin", marker)))
    plain_cwd = tmp_path
    if where == "GIT_DIR":
        monkeypatch.setenv("GIT_DIR", str(trap / ".git"))
    elif where == "TMPDIR":  # a temporary folder inside that repository
        plain_cwd = trap / "tmp"
        plain_cwd.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(plain_cwd))
    else:
        plain_cwd = trap
        monkeypatch.chdir(trap)

    updated = runner.invoke(app, ["update", "--project", str(tmp_path / "proj")])

    assert not marker.exists()
    assert updated.exit_code == 0, updated.output
    assert (tmp_path / "proj" / "app.txt").read_text() == "two\n"  # found v1.1 by ls-remote
    plain = subprocess.run(["git", "ls-remote", source.removeprefix("git+")], capture_output=True,
                           check=False, cwd=plain_cwd)  # fmt: skip
    assert plain.returncode != 0 and marker.exists()


def _write_config(path: Path, entries: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, value in entries.items():
        subprocess.run(["git", "config", "--file", str(path), name, value], check=True)
    return path


@pytest.mark.parametrize("vector", ["global rewrite", "system rewrite", "global filter"])
def test_a_template_is_cloned_with_none_of_the_users_or_the_systems_config(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vector: str
) -> None:
    """The user's and the system's git config are not needed to fetch a template: not read,
    so a template's .gitattributes cannot start a filter they define either."""
    repo = tmp_path / "repo"
    make_template(repo, {"app.txt": b"one\n"}, {"project_name": "x"})
    (repo / ".gitattributes").write_text("* filter=evil\n")
    source = _git_template(repo)
    marker = tmp_path / "PROGRAM-RAN"
    program = str(_marker_program(tmp_path / "bin", marker))
    if vector == "global filter":
        entries = {"filter.evil.smudge": program}
    else:
        entries = {"url.ssh://evil.invalid/.insteadOf": "file://", "core.sshCommand": program}
    if vector.startswith("global"):
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
        _write_config(tmp_path / "home" / ".gitconfig", entries)
    else:
        monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(_write_config(tmp_path / "system", entries)))

    made = new_from_template(runner, source, tmp_path / "out")

    assert not marker.exists()
    assert made.exit_code == 0, made.output
    assert (tmp_path / "out" / "proj" / "app.txt").read_text() == "one\n"
    subprocess.run(["git", "clone", "-q", source.removeprefix("git+"), str(tmp_path / "plain")],
                   capture_output=True, check=False)  # fmt: skip
    assert marker.exists()


def _committed_project(runner: CliRunner, tmp_path: Path) -> Path:
    """A project from a local template, committed to its own repository."""
    template = make_template(
        tmp_path / "t", {"README.md": b"# x\n", "app.txt": b"app\n"}, {"project_name": "x"}
    )
    assert new_from_template(runner, template, tmp_path, "--no-git").exit_code == 0
    project = tmp_path / "proj"
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "made")
    return project


def _with_a_submodule(project: Path, program: Path) -> Path:
    """Add a submodule (``ignore = none``) whose own config and attributes run ``program``."""
    sub = project.parent / "sub"
    sub.mkdir()
    (sub / "s.txt").write_text("s\n")
    (sub / ".gitattributes").write_text("* filter=evil\n")
    git(sub, "init", "-q")
    git(sub, "add", "-A")
    git(sub, "commit", "-q", "-m", "sub")
    git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "sm")
    git(project, "config", "--file", ".gitmodules", "submodule.sm.ignore", "none")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "sm")
    git(project / "sm", "config", "filter.evil.clean", str(program))
    return project / "sm" / "s.txt"


# How a project's repository names a filter that `git status` runs on a file it re-reads.
FILTERS = {
    "info/attributes, clean, required": ("filter.evil", ".git/info/attributes", "clean"),
    ".gitattributes, process": ("filter.evil", ".gitattributes", "process"),
    "a name holding '='": ("filter.a=b", ".gitattributes", "clean"),
}


@pytest.mark.parametrize("vector", [*sorted(FILTERS), "a submodule's own config"])
def test_git_status_runs_no_filter_a_repository_names(
    runner: CliRunner, tmp_path: Path, vector: str
) -> None:
    project = _committed_project(runner, tmp_path)
    marker = tmp_path / "PROGRAM-RAN"
    program = _marker_program(tmp_path / "bin", marker)
    if vector in FILTERS:
        section, attributes, kind = FILTERS[vector]
        (project / attributes).write_text(f"* filter={section.split('.', 1)[1]}\n")
        if attributes == ".gitattributes":
            git(project, "add", ".gitattributes")
            git(project, "commit", "-q", "-m", "attributes")
        git(project, "config", f"{section}.{kind}", str(program))
        git(project, "config", f"{section}.required", "true")
        reread = project / "app.txt"
    else:
        reread = _with_a_submodule(project, program)
    os.utime(reread, (1_000_000_000, 1_000_000_000))  # same bytes: git must read it again
    (project / "README.md").write_text("# mine\n")

    updated = runner.invoke(app, ["update", "--project", str(project)])

    # The filter did not run, and git status did (it found the edit, and only the edit).
    assert not marker.exists()
    assert updated.exit_code == 2, updated.output
    assert "uncommitted changes (README.md)" in updated.stderr
    subprocess.run(["git", "status"], cwd=project, capture_output=True, check=False)
    assert marker.exists()


# A driver the attributes name, and the command that starts it.
DRIVERS = {
    "textconv": ("diff=evil", "diff.evil.textconv", ["diff", "--no-ext-diff"]),
    "external diff": ("diff=evil", "diff.evil.command", ["diff"]),
    "merge driver": ("merge=evil", "merge.evil.driver", ["merge", "-q", "other"]),
}


@pytest.mark.parametrize("vector", sorted(DRIVERS))
def test_the_git_runner_starts_no_diff_or_merge_driver(tmp_path: Path, vector: str) -> None:
    from plscaffold.git import run_git

    attribute, setting, command = DRIVERS[vector]
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitattributes").write_text(f"* {attribute}\n")
    (repo / "a.txt").write_text("a\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "a.txt").write_text("theirs\n")
    git(repo, "commit", "-q", "-am", "theirs")
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("ours\n")
    if command[0] == "merge":
        git(repo, "commit", "-q", "-am", "ours")
    marker = tmp_path / "PROGRAM-RAN"
    git(repo, "config", setting, str(_marker_program(tmp_path / "bin", marker)))

    result = run_git(repo, *command)

    assert not marker.exists()
    assert result is not None
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *identity, *command], cwd=repo, capture_output=True, check=False)
    assert marker.exists()


# A repository's remote reached through a program of its config.
REMOTES = {
    "ssh command": {"remote.origin.url": "ssh://evil.invalid/x", "core.sshCommand": "{}"},
    "proxy": {"remote.origin.url": "git://evil.invalid/x", "core.gitProxy": "{}"},
    "rewrite": {
        "remote.origin.url": "file:///x",
        "url.ssh://evil.invalid/.insteadOf": "file://",
        "core.sshCommand": "{}",
        "protocol.ssh.allow": "always",
    },
}


@pytest.mark.parametrize("vector", sorted(REMOTES))
def test_git_in_a_project_connects_nowhere(tmp_path: Path, vector: str) -> None:
    """No command plscaffold runs in a project needs a remote; a lazy fetch would reach one."""
    from plscaffold.git import run_git

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    marker = tmp_path / "PROGRAM-RAN"
    program = str(_marker_program(tmp_path / "bin", marker))
    for name, value in REMOTES[vector].items():
        git(repo, "config", name, value.format(program))

    result = run_git(repo, "ls-remote", "origin")

    assert not marker.exists()
    assert result is not None and result.returncode != 0
    subprocess.run(["git", "ls-remote", "origin"], cwd=repo, capture_output=True, check=False)
    assert marker.exists()


def test_a_zip_templates_own_git_folder_is_never_asked_for_a_commit(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Only a clone plscaffold made is a git template; a zip's .git is the template's word."""
    import json

    folder = tmp_path / "z" / "tpl"
    _git_template(folder)
    archive = shutil.make_archive(str(tmp_path / "tpl"), "zip", tmp_path / "z")

    made = new_from_template(runner, archive, tmp_path / "out")

    assert made.exit_code == 0, made.output
    answers = json.loads((tmp_path / "out" / "proj" / ".plscaffold" / "answers.json").read_text())
    assert answers.get("template_commit") is None
    assert git(folder, "rev-parse", "HEAD")  # the zip held a real repository


def test_a_hang_up_while_a_git_template_is_fetched_leaves_no_temporary_folder(
    tmp_path: Path,
) -> None:
    import select

    ready = tmp_path / "ready"
    os.mkfifo(ready)
    reader = os.open(ready, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(ready, os.O_WRONLY)  # ours: the fifo never reads as closed
    # git's ssh: says it is connected, then waits for git, which waits for the server.
    ssh = tmp_path / "bin" / "ssh"
    ssh.parent.mkdir()
    ssh.write_text(f"#!/bin/sh\necho ready > '{ready}'\nexec cat > /dev/null\n")
    ssh.chmod(0o755)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    command = [sys.executable, "-m", "plscaffold", "new", "proj", "-o", str(tmp_path / "out"),
               "--template", "git+ssh://git@example.invalid/template.git"]  # fmt: skip
    environment = {**os.environ, "TMPDIR": str(temporary), "GIT_SSH_COMMAND": str(ssh)}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        connected, _, _ = select.select([reader], [], [], 120)  # its ready signal
        assert connected, process.communicate(timeout=120)
        assert any(temporary.iterdir())  # the clone's folder exists now
        process.send_signal(signal.SIGHUP)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(reader)
        os.close(writer)

    assert process.returncode == 128 + signal.SIGHUP, stderr
    assert "Interrupted by SIGHUP; nothing was written." in stderr.decode()
    assert list(temporary.iterdir()) == []
    assert not (tmp_path / "out").exists()
