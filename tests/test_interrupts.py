"""SIGINT, SIGTERM and SIGHUP sent to a real plscaffold process in the middle of its work."""

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


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
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
    # Not the answers, nor the cache: the digests of what plscaffold wrote, kept apart.
    skipped = (".plscaffold/answers", ".plscaffold/cache")
    return {k: v for k, v in tree_state(project).items() if not k.startswith(skipped)}


# Runs plscaffold and touches a marker file once a step has happened: SIGTERM's handler
# installed (``signal``), or the Nth call of an os function (``unlink 1500``). A signal
# sent once the marker appears lands after that step, wherever the machine's load puts it.
AT_STEP = """
import os, runpy, signal, sys
from pathlib import Path

step, nth = os.environ["AT_STEP"].split()
marker, calls = Path(os.environ["AT_MARKER"]), [0]
module = signal if step == "signal" else os
original = getattr(module, step)

def counted(*args, **kwargs):
    result = original(*args, **kwargs)
    if step != "signal" or args[0] == signal.SIGTERM:
        calls[0] += 1
        if calls[0] == int(nth):
            marker.touch()
    return result

setattr(module, step, counted)
sys.argv[0] = "plscaffold"
runpy.run_module("plscaffold", run_name="__main__")
"""


@pytest.mark.parametrize(
    "step",
    ["signal 1", "replace 1", "unlink 1", "unlink 1500"],
    ids=["ready", "journal", "first-removal", "mid-commit"],
)
def test_a_signal_during_update_leaves_it_undone_or_complete(tmp_path: Path, step: str) -> None:
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
    marker = tmp_path / "marker"
    process = subprocess.Popen(
        [sys.executable, "-c", AT_STEP, "update", "--project", str(project)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "AT_STEP": step, "AT_MARKER": str(marker)},
    )  # fmt: skip

    message = _signal_at_marker(process, marker, signal.SIGTERM)

    state = _state_files(project)
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


# Runs plscaffold with one step of its writer slowed down, so that a signal sent once the
# marker file appears lands inside that step: staging (each temporary file's chmod) or
# the commit (each rename over a target).
SLOWED = """
import os, runpy, sys, time
from pathlib import Path

step, marker = os.environ["SLOW_STEP"], Path(os.environ["SLOW_MARKER"])
original = getattr(os, step)

def slowed(path, *args, **kwargs):
    result = original(path, *args, **kwargs)
    if str(path).endswith(".plscaffold-tmp"):
        marker.touch()
        time.sleep(0.5)
    return result

setattr(os, step, slowed)
sys.argv[0] = "plscaffold"
runpy.run_module("plscaffold", run_name="__main__")
"""


def _slowed_generate(project: Path, step: str, marker: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SLOWED, "generate", "config", "--model", "mlp",
         "--project", str(project)],
        cwd=project.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "SLOW_STEP": step, "SLOW_MARKER": str(marker)},
    )  # fmt: skip


def _signal_at_marker(process: subprocess.Popen[bytes], marker: Path, signum: int) -> str:
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signum)
    return process.communicate(timeout=120)[1].decode()


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_signal_while_generate_stages_its_files_changes_nothing(
    tmp_path: Path, signum: int, code: int
) -> None:
    from plscaffold.api import new_project, project_options

    project = new_project(project_options("proj"), output_dir=tmp_path).project_abspath
    before = tree_state(project)

    process = _slowed_generate(project, "chmod", tmp_path / "marker")
    stderr = _signal_at_marker(process, tmp_path / "marker", signum)

    assert process.returncode == code, stderr
    assert f"Interrupted by {signal.Signals(signum).name}; nothing was written." in stderr
    assert tree_state(project) == before


def test_a_signal_while_generate_commits_lets_it_finish(tmp_path: Path) -> None:
    from plscaffold.api import new_project, project_options, regenerate

    project = new_project(project_options("proj"), output_dir=tmp_path / "a").project_abspath
    expected = new_project(project_options("proj"), output_dir=tmp_path / "b").project_abspath
    regenerate("config", expected, {"model": "mlp"})
    assert tree_state(project) != tree_state(expected)

    process = _slowed_generate(project, "replace", tmp_path / "marker")
    stderr = _signal_at_marker(process, tmp_path / "marker", signal.SIGTERM)

    assert process.returncode == 143, stderr
    assert "Interrupted by SIGTERM after every change was written" in stderr
    assert tree_state(project) == tree_state(expected)


# Runs plscaffold and, once its render child has reported the template's only file (from
# then on the child renders and sends nothing), writes that child's pid and start time to
# a marker file.
RENDER_CHILD = """
import os, runpy, sys
from pathlib import Path

marker, forked = Path(os.environ["AT_MARKER"]), []
fork, read = os.fork, os.read

def recorded_fork():
    pid = fork()
    if pid:
        forked.append(pid)
    return pid

def watched_read(fd, size):
    data = read(fd, size)
    if forked and b"a.txt" in data and not marker.exists():
        started = Path(f"/proc/{forked[-1]}/stat").read_text().rpartition(")")[2].split()[19]
        marker.with_suffix(".partial").write_text(f"{forked[-1]} {started}")
        os.replace(marker.with_suffix(".partial"), marker)
    return data

os.fork, os.read = recorded_fork, watched_read
sys.argv[0] = "plscaffold"
runpy.run_module("plscaffold", run_name="__main__")
"""


def _running(pid: int, started: str) -> bool:
    """Whether process ``pid``, started at ``started`` (clock ticks after boot), still runs.

    An orphan is reaped by whatever adopted it, in a container perhaps never: a zombie has
    stopped all the same, and a pid of another start time is another process.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and fields[19] == started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal")
def test_the_render_child_dies_with_a_parent_killed_outright(tmp_path: Path) -> None:
    """SIGKILL leaves plscaffold no chance to stop its render child: it must go by itself,
    or it renders on for its whole CPU budget, holding the project's lock."""
    loops = "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}"
    template = make_template(tmp_path / "t", {"a.txt": loops.encode()}, {"project_name": "x"})
    marker, output = tmp_path / "marker", tmp_path / "output"
    with output.open("wb") as sink:  # not a pipe: an orphan holding it would block reading
        process = subprocess.Popen(
            [sys.executable, "-c", RENDER_CHILD, "new", "p", "--template", str(template)],
            cwd=tmp_path, stdout=sink, stderr=sink,
            env={**os.environ, "AT_MARKER": str(marker), "PLSCAFFOLD_RENDER_SECONDS": "600"},
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, output.read_text()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pid, started = marker.read_text().split()
    child = int(pid)
    try:
        process.kill()
        process.wait(timeout=120)
        deadline = time.monotonic() + 60  # a bound only: the kernel ends it at once
        while _running(child, started):
            assert time.monotonic() < deadline, "the render child outlived its killed parent"
            time.sleep(0.01)
    finally:
        if _running(child, started):
            os.kill(child, signal.SIGKILL)

    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "p").exists()
