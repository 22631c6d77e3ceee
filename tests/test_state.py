"""Project state is never half written or lost: one writer at a time, journaled commits."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.api import new_project, project_options, regenerate
from plscaffold.cli import app
from plscaffold.errors import ProjectBusyError
from plscaffold.render import RenderedFile
from tests.conftest import tree_state

# Runs plscaffold and kills it (SIGKILL, no clean-up of any kind) at the Nth call of one
# writer step on a temporary path: a chmod while staging, or a rename of the commit.
KILLED_AT = """
import os, runpy, signal, sys

step, count = os.environ["KILL_STEP"], int(os.environ["KILL_AT"])
match = os.environ.get("KILL_MATCH", ".plscaffold-tmp")
original, calls = getattr(os, step), []

def killing(path, *args, **kwargs):
    if match in str(path):
        calls.append(path)
        if len(calls) == count:
            os.kill(os.getpid(), signal.SIGKILL)
    return original(path, *args, **kwargs)

setattr(os, step, killing)
sys.argv[0] = "plscaffold"
runpy.run_module("plscaffold", run_name="__main__")
"""

GENERATE = ["generate", "config", "--model", "mlp"]


def _killed(
    step: str, at: int, args: list[str], match: str = ".plscaffold-tmp"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", KILLED_AT, *args],
        env={**os.environ, "KILL_STEP": step, "KILL_AT": str(at), "KILL_MATCH": match},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _made(tmp_path: Path, name: str) -> Path:
    return new_project(project_options("proj"), output_dir=tmp_path / name).project_abspath


def _leftovers(project: Path) -> list[Path]:
    return [*project.rglob("*.plscaffold-tmp"), *project.glob(".plscaffold/journal.json*")]


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_kill_at_any_rename_is_finished_by_the_next_run(
    runner: CliRunner, tmp_path: Path, at: int
) -> None:
    project, expected = _made(tmp_path, "killed"), _made(tmp_path, "expected")
    regenerate("config", expected, {"model": "mlp"})

    killed = _killed("replace", at, [*GENERATE, "--project", str(project)])

    assert killed.returncode == -signal.SIGKILL
    assert tree_state(project) != tree_state(expected)  # half done, with a journal
    recovered = runner.invoke(app, ["update", "--dry-run", "--project", str(project)])
    assert recovered.exit_code == 0, recovered.output + recovered.stderr
    assert "finished the changes an interrupted run had begun to make" in recovered.stderr
    status = runner.invoke(app, ["status", "--project", str(project)])
    assert status.exit_code == 0, status.output + status.stderr
    assert "modified" not in status.output  # no edit the user never made
    assert tree_state(project) == tree_state(expected)
    assert not _leftovers(project)


@pytest.mark.parametrize("at", [1, 3])
def test_a_kill_while_staging_is_undone_by_the_next_run(
    runner: CliRunner, tmp_path: Path, at: int
) -> None:
    project = _made(tmp_path, "killed")
    before = tree_state(project)

    killed = _killed("chmod", at, [*GENERATE, "--project", str(project)])

    assert killed.returncode == -signal.SIGKILL
    assert _leftovers(project)
    recovered = runner.invoke(app, ["update", "--dry-run", "--project", str(project)])
    assert recovered.exit_code == 0, recovered.output + recovered.stderr
    assert "removed the temporary files of an interrupted run" in recovered.stderr
    assert tree_state(project) == before


def test_reading_commands_leave_a_killed_commit_to_the_next_writing_one(
    runner: CliRunner, tmp_path: Path
) -> None:
    """status, list, experiment list and a TAB write nothing, a killed run's journal neither: they say it is
    pending (a TAB prints nothing over the line being typed); a command that writes
    recovers it."""
    project = _made(tmp_path, "killed")
    killed = _killed("replace", 1, [*GENERATE, "--project", str(project)])
    assert killed.returncode == -signal.SIGKILL
    pending = tree_state(project)
    assert (project / ".plscaffold" / "journal.json").is_file()

    status = runner.invoke(app, ["status", "--project", str(project)])
    checked = runner.invoke(app, ["status", "--check", "--project", str(project)])
    listed = runner.invoke(app, ["list", "--project", str(project)])
    experiments = runner.invoke(app, ["experiment", "list", "--project", str(project)])
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "plscaffold")],
        env={**os.environ, "_PLSCAFFOLD_COMPLETE": "complete_bash",
             "COMP_WORDS": "plscaffold generate con", "COMP_CWORD": "2"},
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    for result in (status, listed, experiments):
        assert result.exit_code == 0, result.output + result.stderr
        assert "an interrupted run left a change to finish or undo" in result.stderr
        assert "interrupted run had begun" not in result.stderr
    assert checked.exit_code == 1 and "Not current" in checked.stdout
    assert ".plscaffold-tmp" not in status.stdout  # a staged copy is no generated file
    assert "an interrupted run's change waits to be finished or undone" in checked.stdout
    assert completed.returncode == 0 and completed.stdout.split() == ["config"]
    assert completed.stderr == ""
    assert tree_state(project) == pending

    recovered = runner.invoke(app, [*GENERATE, "--project", str(project)])
    assert recovered.exit_code == 0, recovered.output + recovered.stderr
    assert "finished the changes an interrupted run had begun to make" in recovered.stderr
    assert not _leftovers(project)


def test_readers_share_the_lock_and_keep_writers_out(tmp_path: Path) -> None:
    from plscaffold.state import open_project

    project = _made(tmp_path, "shared")
    descriptor = os.open(project / ".plscaffold", os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_SH)  # what a running status holds
    try:
        with open_project(project, read_only=True) as state:
            assert state.read_only
            with pytest.raises(RuntimeError, match="opened read-only"):
                state.write([("notes.txt", RenderedFile(b"x\n"))])
        with pytest.raises(ProjectBusyError), open_project(project):
            pass
    finally:
        os.close(descriptor)
    assert not (project / "notes.txt").exists()


def test_a_command_that_waits_for_the_lock_gets_it_once_let_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plscaffold import state as state_module
    from plscaffold.state import open_project

    project = _made(tmp_path, "waits")
    descriptor = os.open(project / ".plscaffold", os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    waited: list[float] = []

    def let_go(seconds: float) -> None:  # the other command finishes while this one waits
        waited.append(seconds)
        os.close(descriptor)

    monkeypatch.setattr(state_module.time, "sleep", let_go)
    with open_project(project, wait=60) as state:
        assert state.root_abspath == project
    assert len(waited) == 1


def test_a_staging_folder_of_a_killed_new_is_removed_by_the_next_new(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    new = ["new", "proj", "-o", str(out)]

    killed = _killed("chmod", 5, new, match=".proj.plscaffold-")

    assert killed.returncode == -signal.SIGKILL
    (abandoned,) = out.glob(".proj.plscaffold-*")
    result = runner.invoke(app, new)
    assert result.exit_code == 0, result.output + result.stderr
    assert not abandoned.exists()
    assert sorted(p.name for p in out.iterdir()) == ["proj"]


def test_a_second_writer_is_refused_while_one_runs(runner: CliRunner, tmp_path: Path) -> None:
    project = _made(tmp_path, "busy")
    before = tree_state(project)
    descriptor = os.open(project / ".plscaffold", os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)  # what a running plscaffold command holds
    try:
        results = [
            runner.invoke(app, [*command, "--project", str(project)])
            for command in (
                GENERATE,
                ["update", "--allow-dirty"],
                ["add", "model", "x"],
                ["status"],
            )
        ]
    finally:
        os.close(descriptor)

    for result in results:
        assert result.exit_code == 2, result.output
        assert f"another plscaffold command is changing {project}" in result.stderr
    assert tree_state(project) == before


SLOW_COMMIT = """
import os, runpy, sys, time
from pathlib import Path

original = os.replace

def slowed(path, *args, **kwargs):
    if str(path).endswith(".plscaffold-tmp"):
        Path(os.environ["MARKER"]).touch()
        time.sleep(0.5)
    return original(path, *args, **kwargs)

os.replace = slowed
sys.argv[0] = "plscaffold"
runpy.run_module("plscaffold", run_name="__main__")
"""


def test_two_generate_runs_at_once_never_lose_an_answer(tmp_path: Path) -> None:
    project = _made(tmp_path, "race")
    marker = tmp_path / "committing"
    first = subprocess.Popen(
        [sys.executable, "-c", SLOW_COMMIT, *GENERATE, "--project", str(project)],
        env={**os.environ, "MARKER": str(marker)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.01)

    second = subprocess.run(
        [sys.executable, "-m", "plscaffold", "generate", "config", "--gpus", "1",
         "--project", str(project)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    first.communicate(timeout=120)

    assert first.returncode == 0
    assert second.returncode == 2 and "another plscaffold command is changing" in second.stderr
    answers = json.loads((project / ".plscaffold" / "answers.json").read_text())["answers"]
    assert (answers["model"], answers["gpus"]) == ("mlp", 0)
    config = (project / "configs" / "default.yaml").read_text()
    assert "networks.MLP" in config and "accelerator: cpu" in config
