"""The generated project's CI workflow and commit hooks: valid, one source with its README, clean.

The workflow must run the README's own commands ("Install and test"), and pre-commit must pass
on a fresh project of every variant, offline: every hook is a local, ``language: system``
tool of the project's ``dev`` extra, so none is cloned from a network.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plscaffold.api import new_project, project_options
from tests.conftest import git

VARIANTS = {
    "defaults": {},
    "gpus-2-bf16-mlflow": {"gpus": 2, "precision": "bf16-mixed", "logger": "mlflow"},
    "mlp-csv": {"model": "mlp", "logger": "csv"},
    "gan-wandb": {"model": "gan", "logger": "wandb"},
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def fresh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    return new_project(
        project_options("proj", **VARIANTS[request.param]), output_dir=folder
    ).project_abspath


def readme_ci_commands(project: Path) -> list[str]:
    """Return the command lines of the README's "Install and test" code block."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Install and test\n", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def workflow(project: Path) -> dict:
    return yaml.safe_load((project / ".github/workflows/ci.yml").read_text(encoding="utf-8"))


def test_workflow_runs_exactly_the_readme_commands(fresh: Path) -> None:
    flow = workflow(fresh)
    # YAML 1.1 reads the key `on` as True; GitHub reads it as `on`.
    triggers = flow.get("on", flow.get(True))
    assert set(triggers) >= {"push", "pull_request"}
    # Every push: `git init` may name the default branch master, main or anything else.
    assert not (triggers["push"] or {}).get("branches")
    steps = flow["jobs"]["test"]["steps"]
    commands = [line for step in steps if "run" in step for line in step["run"].splitlines()]
    commands = [line for line in commands if line.strip()]
    assert commands == readme_ci_commands(fresh)
    assert commands[-2:] == ["pre-commit run --all-files", "pytest"]
    assert "--index-url https://download.pytorch.org/whl/cpu" in commands[0]


def test_workflow_checks_out_sets_up_python_and_caches_pip(fresh: Path) -> None:
    steps = workflow(fresh)["jobs"]["test"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert uses[0].startswith("actions/checkout@")
    setup = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == "pyproject.toml"
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"


def test_dev_extra_installs_every_hook(fresh: Path) -> None:
    pyproject = (fresh / "pyproject.toml").read_text(encoding="utf-8")
    line = next(line for line in pyproject.splitlines() if line.startswith("dev = ["))
    dev = yaml.safe_load(line.removeprefix("dev = "))  # a TOML list of strings is YAML too
    assert any(req.startswith("proj[test]") for req in dev)
    assert any(req.startswith("pre-commit>=") for req in dev)
    assert any(req.startswith("pre-commit-hooks>=") for req in dev)
    config = yaml.safe_load((fresh / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    repos = {repo["repo"] for repo in config["repos"]}
    assert repos == {"local", "meta"}, "a hook repository would need a network to clone"
    hooks = [hook for repo in config["repos"] if repo["repo"] == "local" for hook in repo["hooks"]]
    assert {hook["language"] for hook in hooks} == {"system"}
    ids = {hook["id"] for hook in hooks}
    assert {"ruff-check", "ruff-format", "trailing-whitespace", "end-of-file-fixer"} <= ids
    assert {"check-yaml", "check-toml", "check-merge-conflict"} <= ids


def _pre_commit(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # The hooks are the console scripts of this Python's environment.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(home),
    }
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.e2e
def test_pre_commit_passes_on_a_fresh_project_and_catches_what_it_should(
    fresh: Path, tmp_path: Path
) -> None:
    git(fresh, "init", "-q")
    git(fresh, "add", "-A")
    done = _pre_commit(fresh, tmp_path / "home")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout and "Failed" not in done.stdout
    # Each kind of hook bites: lint, format, whitespace, a conflict marker.
    model = fresh / "src" / "proj" / "model.py"
    text = model.read_text(encoding="utf-8")
    try:
        model.write_text(text + "\nimport os\nx = {  'a':1}\n", encoding="utf-8")
        notes = fresh / "NOTES.md"
        notes.write_text("<<<<<<< yours\na  \n=======\nb\n>>>>>>> theirs\n", encoding="utf-8")
        git(fresh, "add", "-A")
        done = _pre_commit(fresh, tmp_path / "home")
        assert done.returncode != 0
        for hook in ("ruff check", "ruff format", "trim trailing whitespace", "check for merge"):
            line = next(line for line in done.stdout.splitlines() if line.startswith(hook))
            assert line.endswith("Failed"), line
    finally:
        model.write_text(text, encoding="utf-8")
        (fresh / "NOTES.md").unlink(missing_ok=True)
        git(fresh, "add", "-A")
