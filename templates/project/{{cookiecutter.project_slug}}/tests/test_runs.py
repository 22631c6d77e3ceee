"""Every fit is its own run; last and best name one run's files; predict writes beside them."""

from __future__ import annotations

import csv
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
import json
{%- endif %}
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import SHORT_EPOCHS
from pytorch_lightning.cli import LightningCLI

from {{ cookiecutter.package_name }}.callbacks import prediction_writer
from {{ cookiecutter.package_name }}.cli import cli_main, main
from {{ cookiecutter.package_name }}.runs import RunError

# Each test trains one or more short runs.
pytestmark = pytest.mark.slow


@pytest.fixture
def cpu_args(cpu_args: list[str]) -> list[str]:
    """Short epochs: these tests are about run folders."""
    return [*cpu_args, *SHORT_EPOCHS]


def resume(args: list[str]) -> LightningCLI:
    """Run a `fit` that continues a run: in that run's own folder, which Lightning notes."""
    with pytest.warns(UserWarning, match="checkpoints exists and is not empty"):
        return cli_main(args)


def test_each_fit_is_a_run_and_test_and_predict_write_into_it(
    cpu_args: list[str],
    runs_dir: Path,
    recwarn: pytest.WarningsRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for _ in range(2):
        cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])

    assert sorted(run.name for run in runs_dir.iterdir()) == ["version_0", "version_1"]
    for run in runs_dir.iterdir():
        # The logger's own file: {{ {"tensorboard": "hyperparameters", "csv": "metrics", "mlflow": "which MLflow run it is", "wandb": "which W&B run it is"}[cookiecutter.logger] }}.
        assert (run / "config.yaml").is_file() and (run / "{{ {"tensorboard": "hparams.yaml", "csv": "metrics.csv", "mlflow": "mlflow.json", "wandb": "wandb.json"}[cookiecutter.logger] }}").is_file()
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

    # `last` is the newest run's last.ckpt: predict writes beside it.
    said: list[str] = []
    monkeypatch.setattr(prediction_writer, "rank_zero_info", said.append)
    predicted = cli_main(["predict", *cpu_args, "--ckpt_path=last"])

    count = len(predicted.datamodule.datasets["predict"])
{%- if cookiecutter.model == "gan" %}
    path = runs_dir / "version_1" / "samples.png"
    assert path.stat().st_size > 0
    assert said == [f"Wrote {count} generated images to {path}"]
{%- else %}
    path = runs_dir / "version_1" / "predictions.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(int(row["index"]) for row in rows) == list(range(count))
    assert all(0 <= int(row["prediction"]) < 10 and 0 <= int(row["label"]) < 10 for row in rows)
    assert all(abs(sum(float(row[f"p{c}"]) for c in range(10)) - 1) < 1e-3 for row in rows)
    assert said == [f"Wrote {count} predictions to {path}"]
{%- endif %}


def test_last_or_a_checkpoint_file_continues_its_own_run(
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
    # Each start keeps the config it used.
    starts = [runs_dir / "version_1" / name for name in ("config.yaml", "config-2.yaml")]
    epochs = [yaml.safe_load(path.read_text())["trainer"]["max_epochs"] for path in starts]
    assert epochs == [1, 2]

    # A checkpoint file of an older run continues that run, not the newest.
    older = runs_dir / "version_0" / "checkpoints" / "last.ckpt"
    resumed = resume(["fit", *cpu_args, "--trainer.max_epochs=2", f"--ckpt_path={older}"])

    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "version_0"
    assert resumed.trainer.global_step == 2 * steps


def test_a_named_run_is_resumed_by_name_and_never_started_twice(
    cpu_args: list[str], runs_dir: Path
) -> None:
    first = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--run=first"])
    steps = first.trainer.global_step
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])  # version_0: now the latest

    with pytest.raises(RunError, match="continue it with --ckpt_path last"):
        cli_main(["fit", *cpu_args, "--run=first"])
    resumed = resume(
        ["fit", *cpu_args, "--trainer.max_epochs=2", "--run=first", "--ckpt_path=last"]
    )
    tested = cli_main(["test", *cpu_args, "--run=0", "--ckpt_path=best"])

    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "first"
    assert resumed.trainer.global_step == 2 * steps
    assert Path(tested.trainer.ckpt_path).resolve().parent == runs_dir / "version_0" / "checkpoints"
    with pytest.raises(RunError, match="run 'nope' with checkpoints") as excinfo:
        cli_main(["test", *cpu_args, "--run=nope", "--ckpt_path=last"])
    assert "runs there: first, version_0" in str(excinfo.value)


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
    with pytest.raises(RunError, match=r"\(runs there: none\); train one with `fit`"):
        cli_main(["test", *cpu_args, "--ckpt_path=best"])
    with pytest.raises(RunError, match="give a folder name"):
        cli_main(["test", *cpu_args, "--run=../elsewhere", "--ckpt_path=last"])


def test_a_resumed_csv_run_keeps_its_earlier_rows(cpu_args: list[str], tmp_path: Path) -> None:
    csv_logger = [
        "--trainer.logger=pytorch_lightning.loggers.CSVLogger",
        "--trainer.logger.save_dir=logs",
        "--trainer.logger.name=csv",
    ]
    cli_main(["fit", *cpu_args, *csv_logger, "--trainer.max_epochs=1"])
    resume(["fit", *cpu_args, *csv_logger, "--trainer.max_epochs=2", "--ckpt_path=last"])

    run = tmp_path / "logs" / "csv" / "version_0"
    epochs = []
    for name in ("metrics-1.csv", "metrics.csv"):  # the first start's rows, then the next's
        with (run / name).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        epochs += [int(row["epoch"]) for row in rows if row.get("{{ "val_d_acc" if cookiecutter.model == "gan" else "val_acc" }}")]
    assert epochs == [0, 1]


def test_last_with_no_checkpoint_is_one_line_and_exit_2(
    cpu_args: list[str],
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for run in ([], ["--run=nosuch"]):
        argv = ["{{ cookiecutter.package_name }}", "fit", *cpu_args, "--ckpt_path=last", *run]
        monkeypatch.setattr("sys.argv", argv)
        with pytest.raises(SystemExit) as exit_info:
            main()
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --ckpt_path last") and err.count("\n") == 1
    assert not runs_dir.exists()  # nothing trained
{%- if cookiecutter.logger == "mlflow" %}


def test_a_run_and_its_continuation_are_one_mlflow_run(
    cpu_args: list[str], runs_dir: Path, mlflow_store: str
) -> None:
    from mlflow.tracking import MlflowClient

    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    resume(["fit", *cpu_args, "--trainer.max_epochs=2", "--ckpt_path=last"])
    # Evaluated with another batch size: the run keeps the parameters it started with.
    cli_main(["test", *cpu_args, "--ckpt_path=best", "--data.batch_size=16"])

    record = json.loads((runs_dir / "version_0" / "mlflow.json").read_text())
    assert set(record) == {"run_id"}  # no path: a moved project continues the same run
    client = MlflowClient(mlflow_store)  # the tests' store (see cpu_args)
    history = client.get_metric_history(record["run_id"], "{{ "val_d_acc" if cookiecutter.model == "gan" else "val_acc" }}")
    assert len(history) == 2  # one per epoch, across both starts
    run = client.get_run(record["run_id"])
    assert run.data.params["batch_size"] != "16" and "test_acc" in run.data.metrics
{%- elif cookiecutter.logger == "wandb" %}


def test_wandb_stays_offline_and_a_continuation_keeps_its_id(
    cpu_args: list[str], runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any request to W&B would fail here: a closed port, and no API key.
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)

    import wandb

    wandb.finish()  # a run an earlier test of this process left open
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    wandb.finish()  # as the process of a real start would, when it exits
    resume(["fit", *cpu_args, "--trainer.max_epochs=2", "--ckpt_path=last"])
    wandb.finish()

    run_id = json.loads((runs_dir / "version_0" / "wandb.json").read_text())["id"]
    # One folder per start; a start in the same second as the last one gets a "-1" suffix.
    offline = sorted((tmp_path / "logs" / "wandb").glob(f"offline-run-*-{run_id}*"))
    assert len(offline) == 2
{%- endif %}
