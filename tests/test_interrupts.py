"""SIGINT and SIGTERM sent to a real plscaffold process in the middle of its work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_template, tree_state

FILES = 6000


@pytest.fixture(scope="module")
def big_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template of thousands of files, so that writing them takes a visible while."""
    files = {
        f"pkg{i // 100}/module_{i}.py": b"NAME = '{{ cookiecutter.project_name }}'\n"
        for i in range(FILES)
    }
    return make_template(tmp_path_factory.mktemp("big") / "t", files, {"project_name": "x"})


def _plscaffold(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "plscaffold", *args], cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_new_writes_leaves_nothing(
    big_template: Path, tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    before = tree_state(out)
    process = _plscaffold(
        "new", "proj", "--template", str(big_template), "-o", str(out), cwd=tmp_path
    )

    deadline = time.monotonic() + 120
    while not any(
        p.name.startswith(".proj.plscaffold-") and any(p.rglob("*.py")) for p in out.iterdir()
    ):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == code, stderr
    assert f"Interrupted by {signal.Signals(signum).name}; nothing was written." in stderr.decode()
    assert tree_state(out) == before


def _is_legacy(relpath: str) -> bool:
    return "legacy" in relpath.split("/")[:-1] or relpath.endswith("/legacy") or relpath == "legacy"


def _state_files(project: Path) -> dict[str, tuple[str, int]]:
    return {k: v for k, v in tree_state(project).items() if not k.startswith(".plscaffold/answers")}


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5, 3.0])
def test_a_signal_during_update_leaves_it_undone_or_complete(tmp_path: Path, delay: float) -> None:
    from plscaffold.api import new_project, project_options

    project = new_project(project_options("proj"), output_dir=tmp_path).project_abspath
    # Files an older template rendered and this one no longer does: update removes them
    # (their folders stay, as git would leave them).
    for i in range(FILES // 2):
        for root in (project, project / ".plscaffold" / "pristine"):
            path = root / "legacy" / f"file_{i}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{i}\n")
    before = _state_files(project)
    after_names = {k for k in before if not _is_legacy(k)}
    process = _plscaffold("update", "--project", str(project), cwd=tmp_path)

    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    state = _state_files(project)
    message = stderr.decode()
    if state == before:  # undone: not one file removed
        assert process.returncode == 143, message
        assert "Interrupted by SIGTERM; nothing was written." in message
    else:  # complete: every old file and its pristine copy gone, never some of them
        assert set(state) == after_names
        assert process.returncode in (0, 143, -signal.SIGTERM), message
        if process.returncode == 143:
            assert "after every change was written" in message
    answers = json.loads((project / ".plscaffold" / "answers.json").read_text())
    assert answers["answers"]["project_name"] == "proj"
    assert not [p for p in project.rglob("*.plscaffold-tmp")]
    assert os.listdir(project)
