"""``plscaffold new`` starts a git repository, and what plscaffold writes never blocks it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _new(runner: CliRunner, out: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["new", "proj", "-o", str(out), "--no-input", *args])


def _status(project: Path) -> str:
    return git(project, "status", "--porcelain", "--untracked-files=all")


def test_new_commits_the_project_as_the_first_commit(runner: CliRunner, tmp_path: Path) -> None:
    made = _new(runner, tmp_path)

    project = tmp_path / "proj"
    assert made.exit_code == 0, made.output
    assert "Started a git repository: the project is its first commit." in made.stdout
    assert _status(project) == ""  # every file committed, none left over
    assert git(project, "rev-list", "--count", "HEAD") == "1"
    assert "README.md" in git(project, "ls-files").splitlines()
    assert not list(tmp_path.glob(".proj*"))  # the staging folder went with the move


def test_no_git_starts_none(runner: CliRunner, tmp_path: Path) -> None:
    made = _new(runner, tmp_path, "--no-git")

    assert made.exit_code == 0, made.output
    assert not (tmp_path / "proj" / ".git").exists()
    assert "git repository" not in made.stdout


def test_inside_a_work_tree_no_repository_is_nested(runner: CliRunner, tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")

    made = _new(runner, tmp_path)

    assert made.exit_code == 0, made.output
    assert not (tmp_path / "proj" / ".git").exists()
    assert "the project is inside one already" in made.stdout
    assert git(tmp_path, "status", "--porcelain") == "?? proj/"


def _no_identity(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Run git as a user who never configured a name or an email."""
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        for part in ("NAME", "EMAIL"):
            monkeypatch.delenv(f"GIT_{role}_{part}", raising=False)


def test_without_a_git_identity_the_files_are_staged_and_not_committed(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_identity(monkeypatch, tmp_path / "home")

    made = _new(runner, tmp_path)

    project = tmp_path / "proj"
    assert made.exit_code == 0, made.output
    assert "staged, not committed" in made.stdout and "user.name and user.email" in made.stdout
    no_commit = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=project,
                               capture_output=True, check=False)  # fmt: skip
    assert no_commit.returncode != 0
    assert "A  README.md" in _status(project).splitlines()
    # Every staged file is as plscaffold wrote it: nothing of the user's to commit first.
    updated = runner.invoke(app, ["update", "--project", str(project)])
    assert updated.exit_code == 0, updated.output


def test_without_git_new_says_so_and_succeeds(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))  # no git on it

    made = _new(runner, tmp_path)

    assert made.exit_code == 0, made.output
    assert "git is not installed" in made.stdout
    assert not (tmp_path / "proj" / ".git").exists()


def test_new_runs_no_program_a_hostile_global_config_names(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hooks of a template folder, a hooks path, fsmonitor and a signing program: none runs
    and no hook is copied into the new repository."""
    marker = tmp_path / "PROGRAM-RAN"
    program = tmp_path / "bin" / "program"
    program.parent.mkdir()
    program.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    program.chmod(0o755)
    hooks = tmp_path / "git-template" / "hooks"
    hooks.mkdir(parents=True)
    for hook in ("pre-commit", "commit-msg", "post-commit", "post-checkout"):
        shutil.copy(program, hooks / hook)
    home = tmp_path / "home"
    home.mkdir()
    settings = {
        "user.name": "t",
        "user.email": "t@example.com",
        "init.templateDir": str(hooks.parent),
        "core.hooksPath": str(hooks),
        "core.fsmonitor": str(program),
        "commit.gpgSign": "true",
        "gpg.program": str(program),
    }
    for name, value in settings.items():
        subprocess.run(["git", "config", "--file", str(home / ".gitconfig"), name, value],
                       check=True)  # fmt: skip
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)

    made = _new(runner, tmp_path)

    project = tmp_path / "proj"
    assert made.exit_code == 0, made.output
    assert not marker.exists()
    assert "first commit" in made.stdout
    assert not (project / ".git" / "hooks").exists()  # nothing copied from the template
    # The config is live: plain git runs its programs.
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=project,
                   capture_output=True, check=False)  # fmt: skip
    assert marker.exists()


@pytest.fixture
def committed(runner: CliRunner, tmp_path: Path) -> Path:
    """A new project, committed by ``new`` itself."""
    assert _new(runner, tmp_path).exit_code == 0
    return tmp_path / "proj"


def test_an_experiment_plscaffold_wrote_does_not_block_update_or_generate(
    runner: CliRunner, committed: Path
) -> None:
    created = runner.invoke(app, ["experiment", "new", "e1", "--set", "trainer.max_epochs=3",
                                  "--project", str(committed)])  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "?? configs/experiments/e1.yaml" in _status(committed).splitlines()

    for command in (["update"], ["generate", "config"], ["generate", "model", "--lr", "0.01"]):
        done = runner.invoke(app, [*command, "--project", str(committed)])
        assert done.exit_code == 0, (command, done.output)

    # Once the user edits it, it is theirs: uncommitted, it blocks.
    experiment = committed / "configs/experiments/e1.yaml"
    experiment.write_text(experiment.read_text() + "# mine\n")
    refused = runner.invoke(app, ["update", "--project", str(committed)])
    assert refused.exit_code == 2
    assert "uncommitted changes (configs/experiments/e1.yaml)" in refused.stderr


def test_a_file_generate_restore_brought_back_does_not_block(
    runner: CliRunner, committed: Path
) -> None:
    (committed / "configs/debug/profiler.yaml").unlink()
    git(committed, "commit", "-q", "-am", "no profiler")

    restored = runner.invoke(app, ["generate", "config", "--restore", "--project",
                                   str(committed)])  # fmt: skip
    assert restored.exit_code == 0, restored.output
    assert "?? configs/debug/profiler.yaml" in _status(committed).splitlines()

    updated = runner.invoke(app, ["update", "--project", str(committed)])
    assert updated.exit_code == 0, updated.output


def test_a_deleted_or_edited_generated_file_still_blocks(
    runner: CliRunner, committed: Path
) -> None:
    (committed / "configs/debug/profiler.yaml").unlink()
    readme = committed / "README.md"
    readme.write_text(readme.read_text() + "mine\n")

    refused = runner.invoke(app, ["update", "--project", str(committed)])

    assert refused.exit_code == 2
    assert "(README.md, configs/debug/profiler.yaml)" in refused.stderr


def test_a_link_in_a_generated_files_place_is_the_users(runner: CliRunner, committed: Path) -> None:
    """Even a link to a copy of the pristine content: plscaffold never reads through one."""
    readme = committed / "README.md"
    copy = committed.parent / "elsewhere.md"
    copy.write_bytes(readme.read_bytes())
    readme.unlink()
    os.symlink(copy, readme)

    refused = runner.invoke(app, ["update", "--project", str(committed)])

    assert refused.exit_code == 2
    assert "uncommitted changes (README.md)" in refused.stderr


def test_an_edit_made_to_a_file_and_its_pristine_copy_alike_blocks(
    runner: CliRunner, committed: Path
) -> None:
    """A search-and-replace over the project edits the pristine copy too: the file equals
    it, and still the edit is the user's, in no commit."""
    edited = ["configs/default.yaml", ".plscaffold/pristine/configs/default.yaml"]
    for relpath in edited:
        path = committed / relpath
        assert "patience: 5" in path.read_text()
        path.write_text(path.read_text().replace("patience: 5", "patience: 7"))

    refused = runner.invoke(app, ["generate", "config", "--max-epochs", "20", "--project",
                                  str(committed)])  # fmt: skip

    assert refused.exit_code == 2
    assert f"uncommitted changes ({', '.join(sorted(edited))})" in refused.stderr
    assert "patience: 7" in (committed / "configs/default.yaml").read_text()


def test_a_mode_given_to_a_file_and_its_pristine_copy_alike_blocks(
    runner: CliRunner, committed: Path
) -> None:
    for relpath in ("README.md", ".plscaffold/pristine/README.md"):
        (committed / relpath).chmod(0o755)

    refused = runner.invoke(app, ["update", "--project", str(committed)])

    assert refused.exit_code == 2
    assert "uncommitted changes (.plscaffold/pristine/README.md, README.md)" in refused.stderr


def test_what_one_command_wrote_uncommitted_does_not_block_the_next(
    runner: CliRunner, committed: Path
) -> None:
    """Its files and their pristine copies, as plscaffold wrote them (their digests)."""
    for command in (["generate", "config", "--max-epochs", "20"],
                    ["generate", "model", "--lr", "0.01"], ["update"]):  # fmt: skip
        done = runner.invoke(app, [*command, "--project", str(committed)])
        assert done.exit_code == 0, (command, done.output)
    assert " M .plscaffold/pristine/configs/default.yaml" in _status(committed).splitlines()

    pristine = committed / ".plscaffold/pristine/configs/default.yaml"
    pristine.write_text(pristine.read_text() + "# mine\n")  # no longer as plscaffold wrote it
    refused = runner.invoke(app, ["update", "--project", str(committed)])
    assert refused.exit_code == 2
    assert "(.plscaffold/pristine/configs/default.yaml, configs/default.yaml" in refused.stderr


@pytest.mark.parametrize("failure", ["another owner", "a broken index"])
def test_a_repository_git_cannot_read_is_not_clean(
    runner: CliRunner, committed: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    readme = committed / "README.md"
    readme.write_text(readme.read_text() + "mine\n")
    if failure == "another owner":  # git's own switch for "detected dubious ownership"
        monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
        said = "detected dubious ownership"
    else:
        (committed / ".git" / "index").write_bytes(b"garbage")
        said = "index file"

    refused = runner.invoke(app, ["generate", "config", "--max-epochs", "20", "--project",
                                  str(committed)])  # fmt: skip

    assert refused.exit_code == 2
    assert "git cannot list its uncommitted changes" in refused.stderr
    assert said in refused.stderr and "--allow-dirty" in refused.stderr
    assert readme.read_text().endswith("mine\n")
    allowed = runner.invoke(app, ["generate", "config", "--max-epochs", "20", "--allow-dirty",
                                  "--project", str(committed)])  # fmt: skip
    assert allowed.exit_code == 0, allowed.output


def test_no_repository_is_nested_in_one_git_will_not_read(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(tmp_path, "init", "-q")
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")

    made = _new(runner, tmp_path)

    assert made.exit_code == 0, made.output
    assert not (tmp_path / "proj" / ".git").exists()
    assert "Started no git repository: git failed" in made.stdout
    assert "detected dubious ownership" in made.stdout


def test_write_files_overwrites_only_what_it_wrote(tmp_path: Path) -> None:
    """The files of experiments, sweep scripts and plots (see also tests/test_sweeps.py)."""
    from plscaffold.answers import AnswersDocument
    from plscaffold.errors import TargetExistsError
    from plscaffold.render import RenderedFile
    from plscaffold.state import ProjectState

    (tmp_path / ".plscaffold").mkdir()
    write_files = ProjectState(tmp_path, AnswersDocument("0.1.0", "bundled:project", {})).write
    mine = tmp_path / "mine.txt"
    mine.write_text("mine\n")
    with pytest.raises(TargetExistsError, match=r"mine\.txt is there already"):
        write_files([("mine.txt", RenderedFile(b"plscaffold's\n"))])
    assert mine.read_text() == "mine\n"

    write_files([("made.txt", RenderedFile(b"1\n"))])
    write_files([("made.txt", RenderedFile(b"2\n"))])  # its own: written again
    (tmp_path / "made.txt").chmod(0o600)  # the user's since
    with pytest.raises(TargetExistsError):
        write_files([("made.txt", RenderedFile(b"3\n"))])
    assert (tmp_path / "made.txt").read_bytes() == b"2\n"
