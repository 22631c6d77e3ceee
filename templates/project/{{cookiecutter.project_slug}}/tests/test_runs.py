"""Every fit is its own run; last and best name one run's files; predict writes beside them."""

from __future__ import annotations

import csv
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
import json
{%- endif %}
import os
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning.cli import LightningCLI

from {{ cookiecutter.package_name }}.callbacks import DeferredRequeue, prediction_writer
from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.errors import RunExistsError, RunNotFoundError


def resume(args: list[str]) -> LightningCLI:
    """Run a `fit` that continues a run: in that run's own folder, which Lightning notes."""
    with pytest.warns(UserWarning, match="checkpoints exists and is not empty"):
        return cli_main(args)


def test_each_fit_is_a_run_with_its_logs_config_and_checkpoints(
    cpu_args: list[str], runs_dir: Path, recwarn: pytest.WarningsRecorder
) -> None:
    for _ in range(2):
        cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])

    assert sorted(run.name for run in runs_dir.iterdir()) == ["version_0", "version_1"]
    for run in runs_dir.iterdir():
        # The logger's own file: {{ {"tensorboard": "hyperparameters", "csv": "hyperparameters", "mlflow": "which MLflow run it is", "wandb": "which W&B run it is"}[cookiecutter.logger] }}.
        assert (run / "config.yaml").is_file() and (run / "{{ {"tensorboard": "hparams.yaml", "csv": "hparams.yaml", "mlflow": "mlflow.json", "wandb": "wandb.json"}[cookiecutter.logger] }}").is_file()
        assert (run / "checkpoints" / "last.ckpt").is_file()
        assert len(list((run / "checkpoints").glob("epoch=00-*.ckpt"))) == 1
    assert not [w for w in recwarn if "exists and is not empty" in str(w.message)]

    tested = cli_main(["test", *cpu_args, "--ckpt_path=best"])

    best = Path(tested.trainer.ckpt_path).resolve()
    assert best.parent == runs_dir / "version_1" / "checkpoints" and best.name != "last.ckpt"
    # Evaluation logs into the run it evaluates, beside the config fit saved.
    assert sorted(run.name for run in runs_dir.iterdir()) == ["version_0", "version_1"]
    assert (runs_dir / "version_1" / "test-config.yaml").is_file()
    assert "fit" in (runs_dir / "version_1" / "config.yaml").read_text()


def test_last_continues_the_latest_run_in_its_own_folder(
    cpu_args: list[str], runs_dir: Path
) -> None:
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    steps = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"]).trainer.global_step

    resumed = resume(["fit", *cpu_args, "--trainer.max_epochs=2", "--ckpt_path=last"])

    assert resumed.trainer.logger.version == "version_1"
    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "version_1"
    assert resumed.trainer.global_step == 2 * steps
    assert sorted(run.name for run in runs_dir.iterdir()) == ["version_0", "version_1"]
    assert len(list((runs_dir / "version_1" / "checkpoints").glob("epoch=01-*.ckpt"))) == 1


def test_a_named_run_is_resumed_by_name_and_never_started_twice(
    cpu_args: list[str], runs_dir: Path
) -> None:
    first = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--run=first"])
    steps = first.trainer.global_step
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])  # version_0: now the latest

    with pytest.raises(RunExistsError, match="continue it with --ckpt_path last"):
        cli_main(["fit", *cpu_args, "--run=first"])
    resumed = resume(
        ["fit", *cpu_args, "--trainer.max_epochs=2", "--run=first", "--ckpt_path=last"]
    )
    tested = cli_main(["test", *cpu_args, "--run=0", "--ckpt_path=best"])

    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "first"
    assert resumed.trainer.global_step == 2 * steps
    assert Path(tested.trainer.ckpt_path).resolve().parent == runs_dir / "version_0" / "checkpoints"


def test_a_checkpoint_file_of_a_run_continues_that_run(cpu_args: list[str], runs_dir: Path) -> None:
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    older = runs_dir / "version_0" / "checkpoints" / "last.ckpt"

    resumed = resume(["fit", *cpu_args, "--trainer.max_epochs=2", f"--ckpt_path={older}"])

    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "version_0"


def test_a_requeued_run_resumes_from_its_newest_own_checkpoint(
    cpu_args: list[str], runs_dir: Path, tmp_path: Path
) -> None:
    first = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--run=slurm-7"])
    run = runs_dir / "slurm-7"
    # What SLURM's SIGUSR1 leaves: Lightning's requeue checkpoint, newer than last.ckpt.
    first.trainer.save_checkpoint(run / "hpc_ckpt_1.ckpt")
    # Another job's requeue checkpoints: in the working folder and in another run.
    shutil.copy(run / "hpc_ckpt_1.ckpt", tmp_path / "hpc_ckpt_9.ckpt")
    (runs_dir / "slurm-8").mkdir()
    shutil.copy(run / "hpc_ckpt_1.ckpt", runs_dir / "slurm-8" / "hpc_ckpt_2.ckpt")
    (run / "hpc_ckpt_1.ckpt").touch()

    resumed = resume(
        ["fit", *cpu_args, "--trainer.max_epochs=2", "--run=slurm-7", "--ckpt_path=last"]
    )

    assert Path(resumed.trainer.ckpt_path).resolve() == run / "hpc_ckpt_1.ckpt"
    assert Path(resumed.trainer.logger.log_dir).resolve() == run


def test_last_and_best_without_a_run_say_what_to_do(cpu_args: list[str]) -> None:
    with pytest.raises(RunNotFoundError, match="train one with `fit`"):
        cli_main(["test", *cpu_args, "--ckpt_path=best"])
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    with pytest.raises(RunNotFoundError, match="run 'nope' with checkpoints") as excinfo:
        cli_main(["test", *cpu_args, "--run=nope", "--ckpt_path=last"])
    assert "runs there: version_0" in str(excinfo.value)
    with pytest.raises(RunNotFoundError, match="is not a run name"):
        cli_main(["test", *cpu_args, "--run=../elsewhere", "--ckpt_path=last"])


def test_predict_writes_each_prediction_into_the_run_folder(
    cpu_args: list[str], runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    said: list[str] = []
    monkeypatch.setattr(prediction_writer, "rank_zero_info", said.append)

    predicted = cli_main(["predict", *cpu_args, "--ckpt_path=best"])

    path = runs_dir / "version_0" / "predictions.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    count = len(predicted.datamodule.test_set)
    assert sorted(int(row["index"]) for row in rows) == list(range(count))
{%- if cookiecutter.model == "gan" %}
    assert all(0 <= float(row["prediction"]) <= 1 for row in rows)  # how real each image looks
{%- else %}
    assert all(0 <= int(row["prediction"]) < 10 for row in rows)
{%- endif %}
    assert said == [f"Wrote {count} predictions to {path}"]


def test_a_resumed_csv_run_keeps_its_earlier_rows(cpu_args: list[str], tmp_path: Path) -> None:
    csv_logger = [
        "--trainer.logger={{ cookiecutter.package_name }}.loggers.CSVLogger",
        "--trainer.logger.save_dir=logs",
        "--trainer.logger.name=csv",
    ]
    cli_main(["fit", *cpu_args, *csv_logger, "--trainer.max_epochs=1"])
    resume(["fit", *cpu_args, *csv_logger, "--trainer.max_epochs=2", "--ckpt_path=last"])

    with (tmp_path / "logs" / "csv" / "version_0" / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    epochs = [int(row["epoch"]) for row in rows if row.get("{{ "val_d_acc" if cookiecutter.model == "gan" else "val_acc" }}")]
    steps = [int(row["step"]) for row in rows]
    assert epochs == [0, 1]
    assert steps == sorted(steps)  # one step axis across both processes


{% if cookiecutter.logger == "mlflow" -%}
def test_a_run_and_its_continuation_are_one_mlflow_run(
    cpu_args: list[str], runs_dir: Path, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    default_store = [*cpu_args, "--trainer.logger.init_args.tracking_uri=null"]
    cli_main(["fit", *default_store, "--trainer.max_epochs=1"])
    resume(["fit", *default_store, "--trainer.max_epochs=2", "--ckpt_path=last"])
    cli_main(["test", *default_store, "--ckpt_path=best", "--data.batch_size=16"])

    record = json.loads((runs_dir / "version_0" / "mlflow.json").read_text())
    # By default, a local store: SQLite in mlruns/ of the working folder.
    assert record["tracking_uri"] == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    client = MlflowClient(record["tracking_uri"])
    (run,) = client.search_runs([record["experiment_id"]])
    assert run.info.run_id == record["run_id"] and run.info.run_name == "version_0"
    history = client.get_metric_history(run.info.run_id, "{{ "val_d_acc" if cookiecutter.model == "gan" else "val_acc" }}")
    assert len(history) == 2  # one per epoch, across both processes
    # The run keeps the parameters it started with; each command's config is an artifact.
    assert run.data.params["batch_size"] != "16"
    artifacts = {artifact.path for artifact in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "test-config.yaml"} <= artifacts


def test_the_mlflow_tracking_uri_comes_from_the_config(
    cpu_args: list[str], runs_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "elsewhere" / "runs.db"
    uri = f"sqlite:///{store}"

    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", f"--trainer.logger.tracking_uri={uri}"])

    assert store.is_file() and not (tmp_path / "mlruns" / "mlflow.db").exists()
    assert json.loads((runs_dir / "version_0" / "mlflow.json").read_text())["tracking_uri"] == uri


{% elif cookiecutter.logger == "wandb" -%}
def test_wandb_stays_offline_in_the_run_folder_and_a_continuation_keeps_its_id(
    cpu_args: list[str], runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any request to W&B would fail here: a closed port, and no API key.
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)

    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    resume(["fit", *cpu_args, "--trainer.max_epochs=2", "--ckpt_path=last"])
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])  # in the same process: its own run

    first, second = (
        json.loads((runs_dir / run / "wandb.json").read_text())["id"]
        for run in ("version_0", "version_1")
    )
    assert first != second
    offline = sorted((runs_dir / "version_0" / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and all(f"-{first}" in folder.name for folder in offline)
    assert all((folder / f"run-{first}.wandb").stat().st_size > 0 for folder in offline)
    assert (offline[0] / "files" / "config.yaml").is_file()


{% endif -%}
def test_the_requeue_signal_is_handled_after_the_batch_not_in_the_handler() -> None:
    handled: list[int] = []
    # Stands in for Lightning's SLURM handler (checkpoint, then scontrol requeue).
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: handled.append(signum))
    try:
        environment = SLURMEnvironment(auto_requeue=True)
        trainer = SimpleNamespace(strategy=SimpleNamespace(cluster_environment=environment))
        callback = DeferredRequeue()
        callback.on_train_start(trainer, None)

        os.kill(os.getpid(), signal.SIGUSR1)
        assert handled == []  # only noted: the loop may hold a lock the handler needs
        callback.on_train_batch_end(trainer, None, None, None, 0)
        assert handled == [signal.SIGUSR1]
        callback.on_train_batch_end(trainer, None, None, None, 1)
        assert handled == [signal.SIGUSR1]  # once per signal
    finally:
        signal.signal(signal.SIGUSR1, previous)
