"""End to end: generate, install, lint, test and train a project on real handwritten digits."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plscaffold.api import new_project, project_options
from tests.mnist_format import write_digits_dataset

pytestmark = pytest.mark.e2e


def _run(
    args: list[str | Path], cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(extra_env or {})}
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, (
        f"{args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


def _install(project: Path, venv: Path) -> Path:
    """Install ``project`` into a venv that sees the test environment's packages; no network."""
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], cwd=project)
    python = venv / "bin" / "python"
    _run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", "."],
        cwd=project,
    )
    return python


@pytest.mark.parametrize(
    "given",
    [{"gpus": 2, "precision": "bf16-mixed"}, {"model": "mlp", "logger": "csv"}],
    ids=["gpus-2-bf16", "mlp-csv"],
)
def test_other_option_sets_lint_and_pass_their_tests(
    tmp_path: Path, given: dict[str, object]
) -> None:
    project = new_project(project_options("variant", **given), output_dir=tmp_path).project_abspath

    _run([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    _run([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)
    # The project's package is importable from src/ without installing it.
    pytest_args: list[str | Path] = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    result = _run(pytest_args, cwd=project, extra_env={"PYTHONPATH": str(project / "src")})
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_generated_project_lints_passes_its_tests_and_learns_digits(tmp_path: Path) -> None:
    result = new_project(project_options("digits-e2e"), output_dir=tmp_path)
    project = result.project_abspath
    package = result.names.package_name
    python = _install(project, tmp_path / "venv")

    _run([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    _run([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)
    started = time.perf_counter()
    tests = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    print(f"generated project's own tests: {time.perf_counter() - started:.1f} s")
    assert " passed" in tests.stdout and " failed" not in tests.stdout

    data_dir = tmp_path / "data"
    sizes = write_digits_dataset(data_dir)
    entry_point = tmp_path / "venv" / "bin" / package
    common = [f"--data.data_dir={data_dir}", "--data.num_workers=0", "--data.download=false",
              "--trainer.enable_progress_bar=false"]  # fmt: skip
    _run(
        [entry_point, "fit", *common, "--trainer.max_epochs=8", "--data.batch_size=32"], cwd=project
    )
    assert (project / "checkpoints" / "last.ckpt").is_file()
    assert list((project / "logs" / package).glob("version_0/events.out.tfevents.*"))

    csv_logger = ["--trainer.logger=pytorch_lightning.loggers.CSVLogger",
                  "--trainer.logger.save_dir=eval", "--trainer.logger.name=digits"]  # fmt: skip
    _run([entry_point, "test", *common, *csv_logger, "--ckpt_path=best"], cwd=project)

    (metrics_path,) = (project / "eval" / "digits").glob("version_*/metrics.csv")
    rows = list(csv.DictReader(metrics_path.open()))
    test_acc = float(next(row["test_acc"] for row in rows if row.get("test_acc")))
    print(f"held-out test accuracy on {sizes['test']} real digits: {test_acc:.4f}")
    assert test_acc >= 0.90


def test_after_regenerate_add_and_update_the_project_still_passes(tmp_path: Path) -> None:
    from plscaffold.api import add_component, regenerate, update

    project = new_project(project_options("grown"), output_dir=tmp_path).project_abspath
    model = project / "src" / "grown" / "model.py"
    model.write_text(model.read_text() + "\n\nEXTRA_CLASSES = 0  # mine\n")
    for kind, name in (("model", "wide-cnn"), ("datamodule", "my-images"), ("callback", "timer")):
        add_component(kind, name, project)
    merged = regenerate("model", project, {"model": "mlp"})
    regenerate("config", project, {"model": "mlp", "gpus": 2, "precision": "bf16-mixed"})
    updated = update(project, allow_dirty=True)

    assert [p.outcome.value for p in merged.plans] == ["merged"]
    assert not updated.conflicts
    assert "EXTRA_CLASSES = 0  # mine" in model.read_text()
    _run([sys.executable, "-m", "ruff", "check", "."], cwd=project)
    _run([sys.executable, "-m", "ruff", "format", "--check", "."], cwd=project)
    pytest_args: list[str | Path] = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"]
    result = _run(pytest_args, cwd=project, extra_env={"PYTHONPATH": str(project / "src")})
    for test_id in (
        "tests/test_model_wide_cnn.py::test_selected_by_class_path_it_trains PASSED",
        "tests/test_data_my_images.py::test_selected_by_class_path_it_trains PASSED",
        "tests/test_callback_timer.py::test_config_adds_it_and_it_logs PASSED",
        "tests/test_train.py::test_fit_learns_and_writes_checkpoints_that_reload PASSED",
    ):
        assert test_id in result.stdout
    assert " failed" not in result.stdout
