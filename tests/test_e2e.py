"""End to end: generate, install, lint, test and train a project on real handwritten digits."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from plscaffold.api import new_project, project_options
from tests.conftest import make_venv, run_ok, run_project_tests
from tests.mnist_format import write_digits_dataset

pytestmark = pytest.mark.e2e


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _install(project: Path, venv: Path) -> Path:
    """Install ``project`` into a venv that sees the test environment's packages; no network."""
    python = make_venv(venv)
    run_ok(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", "."],
        cwd=project,
    )
    return python


@dataclass(frozen=True)
class InstalledProject:
    """A generated project installed (editable) into a virtual environment of its own."""

    root: Path
    package: str
    venv: Path

    @property
    def entry_point(self) -> Path:
        return self.venv / "bin" / self.package


@pytest.fixture(scope="module")
def installed_project(tmp_path_factory: pytest.TempPathFactory) -> InstalledProject:
    """The default project, generated and installed once for the tests that only run it.

    They run its tests and its entry point from folders of their own, so its files stay
    as generated (a test that changes them generates its own project).
    """
    folder = tmp_path_factory.mktemp("installed")
    result = new_project(project_options("digits-e2e"), output_dir=folder)
    _install(result.project_abspath, folder / "venv")
    return InstalledProject(result.project_abspath, result.names.package_name, folder / "venv")


@pytest.mark.parametrize(
    "given",
    [
        {"gpus": 2, "precision": "bf16-mixed", "logger": "mlflow"},
        {"model": "mlp", "logger": "csv"},
    ],
    ids=["gpus-2-bf16-mlflow", "mlp-csv"],
)
def test_other_option_sets_lint_and_pass_their_tests(
    tmp_path: Path, given: dict[str, object]
) -> None:
    project = new_project(project_options("variant", **given), output_dir=tmp_path).project_abspath

    run_ok([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    run_ok([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)
    if given.get("logger") == "csv":
        # A CSV-logger project does not declare tensorboard: it must run without it.
        blocker = tmp_path / "plugins" / "without_tensorboard.py"
        blocker.parent.mkdir()
        blocker.write_text("import sys\nsys.modules.update(tensorboard=None, tensorboardX=None)\n")
        env = {"PYTHONPATH": str(blocker.parent)}
        run_project_tests(project, "-q", "-p", "without_tensorboard", extra_env=env)
    else:
        run_project_tests(project, "-q")
    if given.get("logger") == "mlflow":
        # The project's package is importable from src/ without installing it.
        _fit_and_compare_an_experiment(project, tmp_path, {"PYTHONPATH": str(project / "src")})


def _fit_and_compare_an_experiment(project: Path, tmp_path: Path, env: dict[str, str]) -> None:
    """Train an experiment of an MLflow project on real digits; compare reads MLflow's store."""
    from plscaffold.api import compare_experiments, new_experiment

    new_experiment("small", project, assignments=["data.batch_size=32"])
    data_dir = tmp_path / "data"
    write_digits_dataset(data_dir)
    cpu = ["--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.strategy=auto",
           "--trainer.precision=32-true", "--trainer.enable_progress_bar=false"]  # fmt: skip
    data = [f"--data.data_dir={data_dir}", "--data.download=false", "--data.num_workers=0"]
    fit = [sys.executable, "-m", "variant", "fit", "--experiment=small", *cpu, *data]
    run_ok([*fit, "--trainer.max_epochs=2"], cwd=project, extra_env=env)

    compared = compare_experiments(["small"], project, plot=False).comparison
    (run,) = compared.experiments[0].runs
    assert run.relpath == "logs/small/version_0" and run.unreadable is None
    assert sorted(run.metrics["val_acc"]) == [0, 1]
    assert run.best is not None and run.best["metric"] == "val_acc"
    assert (project / "mlruns" / "mlflow.db").is_file()


GAN_TESTS = (
    "test_each_optimizer_steps_its_own_network_only",
    "test_resuming_restores_both_optimizers",
    "test_both_sides_learn_and_samples_are_saved_each_epoch",
    "test_manual_optimization_under_ddp_on_two_cpu_processes",
)


def test_the_gan_project_lints_and_passes_its_tests(tmp_path: Path) -> None:
    # Logged to W&B, offline: its tests must pass without a network or an account.
    options = project_options("gan", model="gan", logger="wandb")
    project = new_project(options, output_dir=tmp_path).project_abspath

    run_ok([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    run_ok([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)
    started = time.perf_counter()
    result = run_project_tests(project, "-v")
    print(f"the GAN project's own suite: {time.perf_counter() - started:.1f} s")

    for name in GAN_TESTS:
        assert f"tests/test_model.py::{name} PASSED" in result.stdout


# The direct dependencies whose floors the generated pyproject.toml states and this test
# installs exactly: the Lightning stack the project's code is written against.
FLOORED = ("pytorch-lightning", "torchmetrics", "jsonargparse")


def _floors(project: Path) -> list[str]:
    """Return ``name==floor`` for each of FLOORED, read from the project's pyproject.toml."""
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later

    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = []
    for requirement in map(Requirement, declared):
        if requirement.name in FLOORED:
            (floor,) = [s.version for s in requirement.specifier if s.operator == ">="]
            floors.append(
                f"{requirement.name}{''.join(f'[{e}]' for e in requirement.extras)}=={floor}"
            )
    assert len(floors) == len(FLOORED), declared
    return floors


def test_the_declared_floors_are_enough(tmp_path: Path) -> None:
    from packaging.version import Version

    # The lowest versions the projects allow, installed from the package registry into a
    # venv that sees this environment's torch: the default project's whole suite and the
    # GAN's own tests (toggled_optimizer) pass on them.
    venv = tmp_path / "lowest"
    python = make_venv(venv)
    default = new_project(project_options("floors"), output_dir=tmp_path).project_abspath
    gan = new_project(project_options("gan-floors", model="gan"), output_dir=tmp_path)
    floors = _floors(default)
    assert _floors(gan.project_abspath) == floors
    run_ok([python, "-m", "pip", "install", "-q", *floors], cwd=tmp_path)
    names = [floor.split("==")[0].split("[")[0] for floor in floors]
    code = f"import importlib.metadata as m; print(*(m.version(n) for n in {names!r}))"
    installed = run_ok([python, "-c", code], cwd=tmp_path).stdout.split()
    assert list(map(Version, installed)) == [Version(floor.split("==")[1]) for floor in floors]

    run_project_tests(default, "-q", python=python)
    run_project_tests(gan.project_abspath, "-q", "tests/test_model.py", python=python)


def _read_idx_labels(path: Path) -> list[int]:
    return list(path.read_bytes()[8:])


def test_generated_project_lints_passes_its_tests_and_learns_digits(
    installed_project: InstalledProject, tmp_path: Path
) -> None:
    project, package = installed_project.root, installed_project.package
    python = installed_project.venv / "bin" / "python"

    run_ok([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    run_ok([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)
    started = time.perf_counter()
    run_project_tests(project, "-q", python=python, from_src=False)  # as installed
    print(f"generated project's own tests: {time.perf_counter() - started:.1f} s")

    data_dir = tmp_path / "data"
    sizes = write_digits_dataset(data_dir)
    entry_point = installed_project.entry_point
    work = tmp_path / "work"  # runs go here: the project's files stay as generated
    work.mkdir()
    common = [f"--data.data_dir={data_dir}", "--data.num_workers=0", "--data.download=false",
              "--trainer.enable_progress_bar=false", "--trainer.log_every_n_steps=10"]  # fmt: skip
    run_ok(
        [entry_point, "fit", *common, "--trainer.max_epochs=8", "--data.batch_size=32"], cwd=work
    )
    run = work / "logs" / package / "version_0"
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "config.yaml").is_file()
    assert list(run.glob("events.out.tfevents.*"))

    # The CSV logger reads back easily; `best` is the best checkpoint of the run above, and
    # the test metrics go into that run's folder.
    csv_logger = ["--trainer.logger=pytorch_lightning.loggers.CSVLogger",
                  "--trainer.logger.save_dir=logs", f"--trainer.logger.name={package}"]  # fmt: skip
    run_ok([entry_point, "test", *common, *csv_logger, "--ckpt_path=best"], cwd=work)
    rows = list(csv.DictReader((run / "test" / "metrics.csv").open()))  # the run's stay
    test_acc = float(next(row["test_acc"] for row in rows if row.get("test_acc")))
    print(f"held-out test accuracy on {sizes['test']} real digits: {test_acc:.4f}")
    assert test_acc >= 0.90

    predicted = run_ok([entry_point, "predict", *common, "--ckpt_path=best"], cwd=work)
    predictions = list(csv.DictReader((run / "predict" / "predictions.csv").open()))
    labels = _read_idx_labels(data_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte")
    correct = sum(int(row["prediction"]) == labels[int(row["index"])] for row in predictions)
    assert len(predictions) == sizes["test"] and correct / len(predictions) >= 0.90
    written = run / "predict" / "predictions.csv"
    assert f"Wrote {sizes['test']} predictions to {written}" in predicted.stderr
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]
    assert not (project / "logs").exists()


def _refused(command: list[str | Path], cwd: Path) -> str:
    """Run a command that must fail the way a user error does; return its stderr."""
    result = subprocess.run(
        [str(a) for a in command], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 15, result.stderr
    return result.stderr


def test_user_errors_of_the_installed_project_are_short(
    installed_project: InstalledProject, tmp_path: Path
) -> None:
    if _has_cuda():
        pytest.skip("checks a machine without GPUs")
    entry_point = installed_project.entry_point

    gpus = ["--trainer.accelerator=gpu", "--trainer.devices=2", "--trainer.strategy=ddp"]
    no_gpu = _refused([entry_point, "fit", *gpus], tmp_path)
    cpu = ["--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.strategy=auto"]
    no_data = _refused([entry_point, "fit", *cpu, f"--data.data_dir={tmp_path / 'empty'}",
                        "--data.download=false"], tmp_path)  # fmt: skip
    no_experiment = _refused([entry_point, "fit", *cpu, "--experiment", "nosuch"], tmp_path)
    no_run = _refused([entry_point, "test", *cpu, "--ckpt_path=best"], tmp_path)

    (error,) = [line for line in no_gpu.splitlines() if line.startswith("error: ")]
    assert "gpu" in error.lower() and "--trainer.accelerator cpu --trainer.devices 1" in error
    assert str(tmp_path / "empty" / "MNIST" / "raw") in no_data
    assert "--data.download is false" in no_data
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):  # fmt: skip
        assert name in no_data
    assert "no experiment 'nosuch'" in no_experiment
    assert "train one with `fit`" in no_run


def test_plscaffold_serves_the_installed_project_and_a_second_clone(
    installed_project: InstalledProject, tmp_path: Path
) -> None:
    """With the project installed (pip install -e .), its package is importable: that is no
    new name shadowing a module, so status, generate and update still serve it."""
    python = installed_project.venv / "bin" / "python"
    plscaffold = [python, "-m", "plscaffold"]
    inside = installed_project.root / "tests"
    run_ok([*plscaffold, "status"], cwd=inside)
    run_ok([*plscaffold, "generate", "readme", "--dry-run"], cwd=inside)
    run_ok([*plscaffold, "update", "--dry-run"], cwd=inside)
    clone = Path(shutil.copytree(installed_project.root, tmp_path / "clone"))
    for command in (["status"], ["generate", "readme"], ["update"]):
        run_ok([*plscaffold, *command], cwd=clone)
    refused = subprocess.run(
        [*map(str, plscaffold), "new", installed_project.root.name, "--no-input"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert f"would shadow the installed module '{installed_project.package}'" in refused.stderr


def test_a_wheel_install_trains_from_any_folder(tmp_path: Path) -> None:
    project = new_project(project_options("wheel-e2e"), output_dir=tmp_path).project_abspath
    wheels = tmp_path / "wheels"
    run_ok([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", wheels, project], cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("wheel_e2e-*.whl")
    venv = tmp_path / "venv"
    run_ok([make_venv(venv), "-m", "pip", "install", "-q", "--no-deps", wheel], cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    write_digits_dataset(elsewhere / "data")
    shutil.rmtree(project)  # nothing of the source tree is left to lean on

    fit = [venv / "bin" / "wheel_e2e", "fit", "--trainer.fast_dev_run=true",
           "--data.num_workers=0", "--data.download=false"]  # fmt: skip
    trained = run_ok(fit, cwd=elsewhere)
    # The debug configs ship inside the package: named as in the project, found there.
    debug = run_ok([*fit[:2], "--config", "debug/fast_dev_run", *fit[3:]], cwd=elsewhere)
    printed = run_ok([*fit, "--print_config"], cwd=elsewhere)
    missing = subprocess.run(
        [str(a) for a in [*fit, "--config", "nope.yaml"]],
        cwd=elsewhere, capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    assert "`Trainer.fit` stopped: `max_steps=1` reached." in trained.stderr
    assert "`Trainer.fit` stopped: `max_steps=1` reached." in debug.stderr
    # The network's class, by the shortest path jsonargparse finds for it in the wheel.
    assert re.search(r"class_path: wheel_e2e(\.networks)?\.ConvNet\n", printed.stdout)
    assert missing.returncode != 0 and "nope.yaml" in missing.stderr


def test_after_regenerate_add_and_update_the_project_still_passes(tmp_path: Path) -> None:
    from plscaffold.api import add_component, regenerate, update

    project = new_project(project_options("grown"), output_dir=tmp_path).project_abspath
    model = project / "src" / "grown" / "model.py"
    model.write_text(model.read_text() + "\n\nEXTRA_CLASSES = 0  # mine\n")
    added = [("model", "wide-cnn"), ("datamodule", "my-images"), ("callback", "timer")]
    for kind, name in [*added, ("gan", "sketcher")]:
        add_component(kind, name, project)
    merged = regenerate("model", project, {"lr": 0.01})
    regenerate("config", project, {"model": "mlp", "gpus": 2, "precision": "bf16-mixed"})
    updated = update(project, allow_dirty=True)

    outcomes = {p.relpath: p.outcome.value for p in merged.plans}
    # The rate is the optimizer's, in the config: the edited module stays as the user left it.
    assert outcomes["src/grown/model.py"] == "kept"
    assert not updated.conflicts
    assert "EXTRA_CLASSES = 0  # mine" in model.read_text()
    run_ok([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    run_ok([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)
    result = run_project_tests(project, "-v")
    for test_id in (
        "tests/test_model_wide_cnn.py::test_selected_it_trains[config-file] PASSED",
        "tests/test_model_wide_cnn.py::test_selected_it_trains[class-path] PASSED",
        "tests/test_data_my_images.py::test_selected_by_class_path_it_trains PASSED",
        "tests/test_callback_timer.py::test_config_adds_it_and_it_logs PASSED",
        "tests/test_train.py::test_fit_learns_and_writes_checkpoints_that_reload PASSED",
        *(f"tests/test_gan_sketcher.py::{name} PASSED" for name in GAN_TESTS),
    ):
        assert test_id in result.stdout
