"""A template cannot make plscaffold's git commands run a program: no rendered .git, safe git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import make_template, new_from_template

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


def test_an_untrusted_template_may_not_render_a_git_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    marker = tmp_path / "FSMONITOR-RAN"
    template = _git_folder_template(tmp_path / "t", marker)
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, template, out)

    assert result.exit_code == 2, result.output
    assert "inside a .git folder" in result.stderr and "--trust" in result.stderr
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
    """Even a trusted template's .git (or a user's own config) runs nothing through plscaffold."""
    marker = tmp_path / "FSMONITOR-RAN"
    template = _git_folder_template(tmp_path / "t", marker)
    created = new_from_template(runner, template, tmp_path, "--trust")
    assert created.exit_code == 0, created.output
    project = tmp_path / "proj"
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
