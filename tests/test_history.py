"""Projects made and trained by earlier plscaffold versions, lived in, updated to this one.

Each fixture (``tests/fixtures/history/NAME.tar.gz``, made by ``make.sh`` there) is a
project generated at an earlier commit, with the edits of ``edits.py``, three added
components, an experiment and a checkpoint of a short run:

- ``first-layout`` (1d00543): the module built its network itself, checkpoints in
  ``checkpoints/``, an added model in ``models/``;
- ``run-folders`` (8699625, before the lean project): the network injected, run folders
  with their checkpoints, ``num_classes`` on the module;
- ``lean`` (cf73c69, the lean project before template versions): what 1.0.0 first
  rendered, with no version recorded;
- ``v1.0.2`` (09f7b52, template 1.0.2): its experiment also sets the learning rate
  (``model.lr``), a key 1.1.0 moves under the optimizer.

After ``plscaffold update``: no edit is lost, conflicts are where both sides changed the
same lines, and after a scripted resolution the project's own tests pass, its experiment
loads, and its checkpoint tests and resumes, or ``update`` said it would not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import run_project_tests
from tests.mnist_format import write_digits_dataset

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).parent / "fixtures" / "history"
# Each edit of edits.py, as a line its file holds after the update (merged or in a conflict).
EDITS = {
    "SGD instead of AdamW": ("src/proj/model.py", "torch.optim.SGD(  # mine: SGD with momentum"),
    "a metric": ("src/proj/model.py", 'self.log(f"{stage}_epoch_seen"'),
    "config: max_epochs": ("configs/default.yaml", "max_epochs: 3"),
    "README description": ("README.md", "Digits, my way."),
    "README section": ("README.md", "## Results"),
    ".gitignore line": (".gitignore", "*.tmp"),
    "a test": ("tests/test_model.py", "def test_mine() -> None:"),
    "added model edited": ("src/proj/networks/wide.py", "self.mine = True  # mine"),
    "experiment value": ("configs/experiments/wider.yaml", "hidden_dim: 16"),
    "own file": ("notes.md", "# My notes"),
    "own module": ("src/proj/utils.py", "def double(x: int) -> int:"),
}
CONFLICT = re.compile(r"<<<<<<< yours\n(.*?)=======\n(.*?)>>>>>>> template\n", re.DOTALL)


def _resolve(project: Path, relpath: str, choose: Callable[[str, str], str]) -> None:
    path = project / relpath
    path.write_text(CONFLICT.sub(lambda m: choose(m[1], m[2]), path.read_text()))


def _resolve_all(project: Path) -> None:
    """What the user does with each conflict: the template's side, plus their own lines.

    The model's: the template's, whose optimizer comes from the config (the user's SGD of
    ``configure_optimizers`` is ``--model.optimizer SGD`` there).
    """
    readme_section = "\n## Results\n\n99.1% on the test split (mine).\n"
    _resolve(
        project,
        "README.md",
        lambda yours, theirs: theirs + readme_section * ("## Results" in yours),
    )
    if (project / ".gitignore").read_text().count("<<<<<<<"):
        _resolve(project, ".gitignore", lambda yours, theirs: theirs + "*.tmp\n")
    mine = "\n\ndef test_mine() -> None:\n    assert 1 + 1 == 2\n"
    _resolve(
        project, "tests/test_model.py", lambda yours, theirs: theirs + mine * ("test_mine" in yours)
    )
    _resolve(project, "src/proj/model.py", lambda yours, theirs: theirs)
    # Their SGD with momentum, now in the config of the experiment they trained with.
    experiment = project / "configs" / "experiments" / "wider.yaml"
    config = yaml.safe_load(experiment.read_text())
    optimizer = config["model"]["init_args"].setdefault("optimizer", {})
    optimizer["class_path"] = "torch.optim.SGD"
    optimizer.setdefault("init_args", {})["momentum"] = 0.9
    experiment.write_text(yaml.safe_dump(config))
    left = [p for p in project.rglob("*.py") if CONFLICT.search(p.read_text())]
    assert not left, left


def _updated(  # type: ignore[type-arg]
    runner: CliRunner, tmp_path: Path, name: str, exit_code: int = 1
) -> tuple[Path, dict]:
    with tarfile.open(FIXTURES / f"{name}.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    project = tmp_path / "proj"
    result = runner.invoke(app, ["update", "--json", "--project", str(project)])
    assert result.exit_code == exit_code, result.output  # 1: conflicts, each checked below
    return project, json.loads(result.stdout)


def _project_python(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proj", *args, "--data.init_args.download=false",
         "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2",
         "--trainer.limit_test_batches=2", "--data.init_args.num_workers=0"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _lived_checks(project: Path, plan: dict, conflicts: set[str]) -> None:  # type: ignore[type-arg]
    outcomes = {entry["path"]: entry["outcome"] for entry in plan["files"]}
    for edit, (relpath, line) in EDITS.items():
        assert line in (project / relpath).read_text(), f"{edit} lost from {relpath}"
    assert outcomes["scripts/slurm.sbatch"] == "deleted"
    assert not (project / "scripts" / "slurm.sbatch").exists()  # deleted by the user: kept so
    assert set(plan["conflicts"]) == conflicts
    assert plan["template_version"]["from"] is None


def _tested_and_resumed(project: Path) -> tuple[str, str, str, Path]:
    """Resolve the update's conflicts, run the project's fast tests, then test the
    experiment's last checkpoint and fit on from it to 2 epochs; each must exit 0.

    Returns the tests' output, the test's stdout, the fit's stderr and the checkpoint.
    """
    _resolve_all(project)
    tests = run_project_tests(project, "-v", "-m", "not slow")
    write_digits_dataset(project / "data")
    last = project / "logs" / "wider" / "version_0" / "checkpoints" / "last.ckpt"
    tested = _project_python(project, "test", "--experiment", "wider", "--ckpt_path", str(last))
    assert tested.returncode == 0, tested.stderr[-3000:]
    resumed = _project_python(project, "fit", "--experiment", "wider", "--ckpt_path", "last",
                              "--trainer.max_epochs=2")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return tests.stdout, tested.stdout, resumed.stderr, last


def test_a_project_of_the_first_layout_updates_and_says_its_checkpoint_will_not_load(
    runner: CliRunner, tmp_path: Path
) -> None:
    project, plan = _updated(runner, tmp_path, "first-layout")

    _lived_checks(
        project, plan, {".gitignore", "README.md", "src/proj/model.py", "tests/test_model.py"}
    )
    assert plan["moves"]["src/proj/models/wide.py"] == "src/proj/networks/wide.py"
    assert not (project / "src" / "proj" / "models").exists()
    experiment = yaml.safe_load((project / "configs" / "experiments" / "wider.yaml").read_text())
    assert experiment["model"] == {"init_args": {"net": {"init_args": {"hidden_dim": 16}}}}
    assert "checkpoint" not in experiment  # its dirpath dropped: runs keep their checkpoints
    assert list(plan["unloadable_checkpoints"]) == ["checkpoints/wider/last.ckpt"]

    _resolve_all(project)
    tests = run_project_tests(project, "-v", "-m", "not slow")
    # The experiment loads by name, with its moved key, and instantiates.
    assert "test_config_instantiates[experiments/wider.yaml] PASSED" in tests.stdout
    write_digits_dataset(project / "data")
    old = _project_python(project, "test", "--experiment", "wider",
                          "--ckpt_path", "checkpoints/wider/last.ckpt")  # fmt: skip
    assert old.returncode != 0  # as update said: it fits neither module nor network
    assert "unexpected keyword argument 'dropout'" in old.stderr


def test_a_project_of_run_folders_updates_and_its_checkpoint_tests_and_resumes(
    runner: CliRunner, tmp_path: Path
) -> None:
    import torch

    project, plan = _updated(runner, tmp_path, "run-folders")

    _lived_checks(project, plan, {"README.md", "src/proj/model.py", "tests/test_model.py"})
    assert plan["unloadable_checkpoints"] == {}
    removed = {e["path"] for e in plan["files"] if e["outcome"] == "removed"}
    assert "src/proj/loggers.py" in removed  # untouched files the template dropped go

    _, tested, _, last = _tested_and_resumed(project)
    assert "test_acc" in tested
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert (state["epoch"], state["global_step"]) == (1, 6)  # the run went on: 3 steps more
    assert not (project / "logs" / "wider" / "version_1").exists()


def test_a_lean_project_made_before_versions_updates_and_resumes(
    runner: CliRunner, tmp_path: Path
) -> None:
    import torch

    project, plan = _updated(runner, tmp_path, "lean")

    # 1.1.0 rewrote the optimizer the user had edited, and the tests beside their own.
    _lived_checks(project, plan, {"src/proj/model.py", "tests/test_model.py"})
    assert plan["template_version"]["layout"] == "1.0.0"  # its pristine copies show it
    # No file moved; the learning rate's key did, in configs that hold the generated value.
    assert "moves" not in plan and "migrated_values" not in plan
    assert [entry["version"] for entry in plan["changelog"]] == ["1.1.1", "1.1.0", "1.0.2", "1.0.1"]
    assert plan["unloadable_checkpoints"] == {}

    tests, _, _, last = _tested_and_resumed(project)
    assert "test_config_instantiates[experiments/wider.yaml] PASSED" in tests
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert (state["epoch"], state["global_step"]) == (1, 6)


def test_a_project_of_template_1_0_2_updates_moves_its_keys_and_its_run_resumes(
    runner: CliRunner, tmp_path: Path
) -> None:
    import torch

    project, plan = _updated(runner, tmp_path, "v1.0.2")

    outcomes = {entry["path"]: entry["outcome"] for entry in plan["files"]}
    for edit, (relpath, line) in EDITS.items():
        assert line in (project / relpath).read_text(), f"{edit} lost from {relpath}"
    assert outcomes["scripts/slurm.sbatch"] == "deleted"
    assert set(plan["conflicts"]) == {"src/proj/model.py", "tests/test_model.py"}
    assert plan["template_version"] == {"from": "1.0.2", "to": "1.1.1"}
    # The experiment's learning rate follows its key under the optimizer, and update says so.
    (moved,) = plan["migrated_values"]["configs/experiments/wider.yaml"]
    assert moved["moved_to"] == "model.init_args.optimizer.init_args.lr"
    experiment = yaml.safe_load((project / "configs" / "experiments" / "wider.yaml").read_text())
    assert experiment["model"]["init_args"]["optimizer"] == {"init_args": {"lr": 0.002}}
    assert plan["unloadable_checkpoints"] == {}

    tests, tested, resumed, last = _tested_and_resumed(project)
    assert "test_config_instantiates[experiments/wider.yaml] PASSED" in tests
    assert "test_acc" in tested
    assert (last.parents[1] / "test").is_dir()  # the evaluation's folder, inside the run
    # Its config.yaml, saved by 1.0.2, names keys that moved: said, and today's configs apply.
    assert "config.yaml no longer parses" in resumed
    state = torch.load(last, map_location="cpu", weights_only=True)
    assert (state["epoch"], state["global_step"]) == (1, 6)  # the run went on: 3 steps more
    assert state["hyper_parameters"]["optimizer"]["init_args"]["lr"] == 0.002
    assert not (project / "logs" / "wider" / "version_1").exists()
