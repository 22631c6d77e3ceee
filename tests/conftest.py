"""Fixtures shared by plscaffold's tests."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``pytest -n auto``), share the machine's cores among the workers.

    Each torch, in a worker or in a process it starts, would otherwise take every core, and
    their threads, contending, run the suite slower than one worker does. Set before any
    test imports torch; an OMP_NUM_THREADS of the caller's own is kept.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0))
        os.environ["OMP_NUM_THREADS"] = str(max(1, cores // int(workers)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the end-to-end tests (a minute or so each) before the others (a second or so).

    Under ``--dist worksteal`` each worker's queue then holds long tests first and short
    ones last, and a worker that runs out takes the end of another's queue: the run ends
    on short tests on both workers, not with one worker idle while the other trains.
    """
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """Return every path under ``root`` with a hash of its content and its mode.

    Two equal states mean nothing under ``root`` was created, removed or changed.
    """
    state: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        relpath = path.relative_to(root).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        state[relpath] = (digest, path.stat().st_mode)
    return state


@pytest.fixture
def runner() -> CliRunner:
    """A CLI runner with a fixed terminal width and no colour, so output is stable."""
    return CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})


def outcome_of(result: Result, relpath: str) -> str:
    """Return a file's outcome ("updated", "merged", ...) in a ``--json`` plan's output."""
    files = {entry["path"]: entry["outcome"] for entry in json.loads(result.stdout)["files"]}
    if relpath not in files:
        raise AssertionError(f"{relpath} not in the plan: {sorted(files)}")
    return str(files[relpath])


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[None]:
    """Mount a tmpfs with ``options`` on ``folder`` for the block; skip where root cannot."""
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a file system here: {mounted.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write to, root included: a read-only mount where possible."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with _tmpfs(folder, "ro,size=1m"):
        yield folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A freshly generated default project, named ``proj``."""
    from plscaffold.api import new_project, project_options

    return new_project(project_options("proj"), output_dir=tmp_path).project_abspath


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB file system, to see what a full disk does; needs root to mount."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    with _tmpfs(folder, "size=64k"):
        yield folder


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` as a user with a name, on a ``main`` branch; return its output."""
    identity = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "init.defaultBranch=main",
    ]
    done = subprocess.run(
        ["git", *identity, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def run_ok(
    args: list[str | Path], cwd: Path, extra_env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command in ``cwd``; fail the test, with the end of its output, unless it exits 0."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(extra_env or {})}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def run_project_tests(
    project: Path,
    *args: str,
    python: Path | str | None = None,
    from_src: bool = True,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a generated project's own suite as its CI does; fail unless it passes.

    The project's test extra holds pytest alone, so the plugins installed beside
    plscaffold's own tests (pytest-xdist, and whatever else this environment has) are not
    loaded: the suite must pass without them, and they would only add start-up time.
    ``from_src`` imports the package from src/; without it, it must be installed.
    """
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **(extra_env or {})}
    if from_src:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(project / "src"), env.get("PYTHONPATH")])
        )
    command = [python or sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    result = run_ok(command, cwd=project, extra_env=env)
    assert " passed" in result.stdout and " failed" not in result.stdout, result.stdout[-3000:]
    return result


def make_venv(path: Path) -> Path:
    """Make a virtual environment that sees this environment's packages; return its python.

    ``venv --system-site-packages`` would show it the packages of the interpreter this one
    was made from, which inside a virtual environment (as the README installs) are not
    this environment's: a stale plscaffold, or no torch at all. Instead a ``.pth`` file adds
    this environment's site folders after the new environment's own, their ``.pth`` files
    (editable installs) processed too, so what is installed into the new one wins.
    """
    import site

    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    folders = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE and Path(site.getusersitepackages()).is_dir():
        folders.append(site.getusersitepackages())
    lines = [f"import site; site.addsitedir({folder!r})" for folder in dict.fromkeys(folders)]
    (Path(own) / "zz_this_environment.pth").write_text("\n".join(lines) + "\n")
    return python


def new_from_template(runner: CliRunner, template: Path | str, out: Path, *args: str) -> Result:
    """Run ``plscaffold new proj --template TEMPLATE -o OUT [ARGS]`` in-process."""
    from plscaffold.cli import app

    return runner.invoke(app, ["new", "proj", "--template", str(template), "-o", str(out), *args])


def make_template(root: Path, files: dict[str, bytes], variables: dict[str, object]) -> Path:
    """Write a cookiecutter-format template under ``root`` and return its folder."""
    import json

    root.mkdir(parents=True, exist_ok=True)
    (root / "cookiecutter.json").write_text(json.dumps(variables))
    for relpath, content in files.items():
        path = root / "{{cookiecutter.project_name}}" / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


@pytest.fixture(scope="session")
def schema_project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A default project whose config schema is built and cached (once per session)."""
    from plscaffold.api import new_project, project_options
    from plscaffold.experiments.schema import load_schema

    folder = tmp_path_factory.mktemp("schema-project")
    root = new_project(project_options("proj"), output_dir=folder).project_abspath
    load_schema(root, "proj")
    return root


@pytest.fixture
def schema_project(schema_project_template: Path, tmp_path: Path) -> Path:
    """A copy of a default project with its config schema cached: experiment checks are fast."""
    import shutil

    return Path(shutil.copytree(schema_project_template, tmp_path / "proj", symlinks=True))
