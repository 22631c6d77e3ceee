"""Every fit is its own run; last and best name one run's files; evaluations have folders in it."""

from __future__ import annotations

import csv
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
import json
{%- endif %}
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
{%- if cookiecutter.model == "gan" %}
from conftest import SHORT_EPOCHS, working_in
{%- else %}
from conftest import SHORT_EPOCHS, ResumedRun, working_in
{%- endif %}
from pytorch_lightning.cli import LightningCLI

from {{ cookiecutter.package_name }} import runs
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


@dataclass
class ThreeRuns:
    """Three fits (one named), what tests, predicts and continuations of them did and said."""

    runs_dir: Path
    steps: int  # of each fit's epoch
    fitted: dict[str, list[str]]  # each run's files once the three had fit
    fit_warnings: list[str]
    tested: LightningCLI  # `test --ckpt_path best`, then
    after_test: list[str]  # the runs' folders then
    predicted: LightningCLI  # the second `predict --ckpt_path last`
    said: list[str]  # by the prediction writer
    resumed_last: LightningCLI  # `fit --ckpt_path last`
    after_resume: list[str]
    resumed_older: LightningCLI  # `fit --ckpt_path <version_0's last.ckpt>`
    named_twice: str  # the error of a second `fit --run first`
    resumed_named: LightningCLI  # `fit --run first --ckpt_path last`
    tested_by_number: LightningCLI  # `test --run 0 --ckpt_path best`
    no_such_run: str  # the error of `test --run nope --ckpt_path last`


@pytest.fixture(scope="module")
def three_runs(
    cpu_args_for: Callable[[Path], list[str]], tmp_path_factory: pytest.TempPathFactory
) -> ThreeRuns:
    """Fit a run named first, then two more (version_0, version_1); test and predict with the
    newest; continue the newest with last, version_0 with its file and first by its name."""
    folder = tmp_path_factory.mktemp("runs")
    cpu_args = [*cpu_args_for(folder), *SHORT_EPOCHS]
    runs_dir = (folder / "logs" / "{{ cookiecutter.package_name }}").resolve()

    def listed() -> list[str]:
        return sorted(run.name for run in runs_dir.iterdir())

    def files(run: Path) -> list[str]:
        return sorted(path.relative_to(run).as_posix() for path in run.rglob("*"))

    with working_in(folder) as monkeypatch:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--run=first"])
            for _ in range(2):
                steps = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"]).trainer.global_step
        fitted = {name: files(runs_dir / name) for name in listed()}
        tested = cli_main(["test", *cpu_args, "--ckpt_path=best"])
        after_test = listed()
        said: list[str] = []
        monkeypatch.setattr(prediction_writer, "rank_zero_info", said.append)
        for _ in range(2):
            predicted = cli_main(["predict", *cpu_args, "--ckpt_path=last"])

        two_epochs = ["fit", *cpu_args, "--trainer.max_epochs=2"]
        resumed_last = resume([*two_epochs, "--ckpt_path=last"])
        after_resume = listed()
        older = runs_dir / "version_0" / "checkpoints" / "last.ckpt"
        resumed_older = resume([*two_epochs, f"--ckpt_path={older}"])
        with pytest.raises(RunError, match="continue it with --ckpt_path last") as named_twice:
            cli_main(["fit", *cpu_args, "--run=first"])
        resumed_named = resume([*two_epochs, "--run=first", "--ckpt_path=last"])
        tested_by_number = cli_main(["test", *cpu_args, "--run=0", "--ckpt_path=best"])
        with pytest.raises(RunError, match="run 'nope' with checkpoints") as no_such_run:
            cli_main(["test", *cpu_args, "--run=nope", "--ckpt_path=last"])
    return ThreeRuns(
        runs_dir, steps, fitted, [str(w.message) for w in caught], tested, after_test,
        predicted, said, resumed_last, after_resume, resumed_older, str(named_twice.value),
        resumed_named, tested_by_number, str(no_such_run.value),
    )  # fmt: skip


def test_each_fit_is_a_run(three_runs: ThreeRuns) -> None:
    assert list(three_runs.fitted) == ["first", "version_0", "version_1"]
    for files in three_runs.fitted.values():
        # The logger's own file: {{ {"tensorboard": "hyperparameters", "csv": "metrics", "mlflow": "which MLflow run it is", "wandb": "which W&B run it is"}[cookiecutter.logger] }}.
        assert "config.yaml" in files and "{{ {"tensorboard": "hparams.yaml", "csv": "metrics.csv", "mlflow": "mlflow.json", "wandb": "wandb.json"}[cookiecutter.logger] }}" in files
        assert "checkpoints/last.ckpt" in files
        assert len([name for name in files if name.startswith("checkpoints/epoch=00-")]) == 1
    assert not [w for w in three_runs.fit_warnings if "exists and is not empty" in w]


def test_test_and_predict_write_into_the_newest_run(
    three_runs: ThreeRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs_dir, tested = three_runs.runs_dir, three_runs.tested
    monkeypatch.chdir(runs_dir.parents[1])  # the runs' paths are relative to it

    best = Path(tested.trainer.ckpt_path).resolve()
    assert best.parent == runs_dir / "version_1" / "checkpoints" and best.name != "last.ckpt"
    # Evaluation logs into a folder of its own in the run it evaluates.
    assert three_runs.after_test == ["first", "version_0", "version_1"]
    assert Path(tested.trainer.log_dir).resolve() == runs_dir / "version_1" / "test"
    assert (runs_dir / "version_1" / "test" / "test-config.yaml").is_file()
    assert "fit" in (runs_dir / "version_1" / "config.yaml").read_text()

    # `last` is the newest run's last.ckpt: each predict writes into a new folder of it.
    count = len(three_runs.predicted.datamodule.datasets["predict"])
{%- if cookiecutter.model == "gan" %}
    paths = [runs_dir / "version_1" / name / "samples.png" for name in ("predict", "predict-2")]
    assert all(path.stat().st_size > 0 for path in paths)
    assert three_runs.said == [f"Wrote {count} generated images to {path}" for path in paths]
{%- else %}
    paths = [runs_dir / "version_1" / name / "predictions.csv" for name in ("predict", "predict-2")]
    for path in paths:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [int(row["index"]) for row in rows] == list(range(count))
        assert [row["name"] for row in rows] == [row["index"] for row in rows]  # MNIST: no files
        assert all(0 <= int(row["prediction"]) < 10 and 0 <= int(row["label"]) < 10 for row in rows)
        assert all(abs(sum(float(row[f"p{c}"]) for c in range(10)) - 1) < 1e-3 for row in rows)
    assert three_runs.said == [f"Wrote {count} predictions to {path}" for path in paths]
    assert not list((runs_dir / "version_1" / "predict").glob("*-rank*"))  # the part is merged
{%- endif %}


def test_last_or_a_checkpoint_file_continues_its_own_run(
    three_runs: ThreeRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs_dir, resumed, steps = three_runs.runs_dir, three_runs.resumed_last, three_runs.steps
    monkeypatch.chdir(runs_dir.parents[1])

    assert resumed.trainer.logger.version == "version_1"
    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "version_1"
    assert resumed.trainer.global_step == 2 * steps
    assert three_runs.after_resume == ["first", "version_0", "version_1"]
    assert len(list((runs_dir / "version_1" / "checkpoints").glob("epoch=01-*.ckpt"))) == 1
    # Each start keeps the config it used.
    starts = [runs_dir / "version_1" / name for name in ("config.yaml", "config-2.yaml")]
    epochs = [yaml.safe_load(path.read_text())["trainer"]["max_epochs"] for path in starts]
    assert epochs == [1, 2]

    # A checkpoint file of an older run continues that run, not the newest.
    resumed = three_runs.resumed_older
    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "version_0"
    assert resumed.trainer.global_step == 2 * steps


def test_a_named_run_is_resumed_by_name_and_never_started_twice(
    three_runs: ThreeRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs_dir, resumed = three_runs.runs_dir, three_runs.resumed_named
    tested = three_runs.tested_by_number
    monkeypatch.chdir(runs_dir.parents[1])

    assert "continue it with --ckpt_path last" in three_runs.named_twice
    # Not the newest run (version_0, continued last), but the one named.
    assert Path(resumed.trainer.logger.log_dir).resolve() == runs_dir / "first"
    assert resumed.trainer.global_step == 2 * three_runs.steps
    assert Path(tested.trainer.ckpt_path).resolve().parent == runs_dir / "version_0" / "checkpoints"
    assert "runs there: first, version_0, version_1" in three_runs.no_such_run


{% if cookiecutter.model == "gan" -%}
def test_a_resumed_run_keeps_its_own_config(cpu_args: list[str], runs_dir: Path) -> None:
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--data.batch_size=8"])

    # SHORT_EPOCHS' batch size is the command line's: this continuation names none.
    again = [arg for arg in cpu_args if not arg.startswith("--data.batch_size")]
    resumed = resume(["fit", *again, "--trainer.max_epochs=2", "--ckpt_path=last"])

    # The run's own setting, not configs/default.yaml's; the command line's still apply.
    assert resumed.datamodule.hparams.batch_size == 8
    saved = yaml.safe_load((runs_dir / "version_0" / "config-2.yaml").read_text())
    assert saved["data"]["init_args"]["batch_size"] == 8
    assert saved["trainer"]["max_epochs"] == 2
    assert Path(saved["ckpt_path"]).name == "last.ckpt"
{%- else -%}
def test_a_resumed_run_keeps_its_own_config(resumed_run: ResumedRun) -> None:
    # conftest's resumed_run: continued with `--trainer.max_epochs 4 --ckpt_path last` only.
    # The run's own settings, not configs/default.yaml's; the command line's still apply.
    assert resumed_run.resumed.datamodule.hparams.batch_size == 8
    saved = yaml.safe_load((resumed_run.folder / "config-2.yaml").read_text())
    assert saved["data"]["init_args"]["batch_size"] == 8
    assert saved["trainer"]["max_epochs"] == 4
    assert Path(saved["ckpt_path"]).name == "last.ckpt"
{%- endif %}


def test_a_requeued_run_starts_again_until_a_checkpoint_then_resumes_from_its_newest(
    cpu_args: list[str], runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said: list[str] = []
    monkeypatch.setattr(runs, "rank_zero_info", said.append)
    requeued = ["--run=slurm-5", "--ckpt_path=last", "--trainer.max_epochs=1"]
    # Stopped before its first checkpoint: a folder with its logs and config, no checkpoint.
    no_checkpoint = ["--checkpoint.save_top_k=0", "--checkpoint.save_last=false"]
    cli_main(["fit", *cpu_args, *requeued, *no_checkpoint])
    run = runs_dir / "slurm-5"
    assert (run / "config.yaml").is_file() and not (run / "checkpoints").exists()

    again = cli_main(["fit", *cpu_args, *requeued])

    assert said == ["run 'slurm-5' has no checkpoint yet: training it from the start"] * 2
    assert Path(again.trainer.logger.log_dir).resolve() == run and again.trainer.ckpt_path is None
    assert (run / "config-2.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    # Requeued once more, after a checkpoint: it continues.
    steps = again.trainer.global_step
    resumed = resume(["fit", *cpu_args, *requeued[:2], "--trainer.max_epochs=2"])
    assert Path(resumed.trainer.ckpt_path).resolve() == run / "checkpoints" / "last.ckpt"
    assert resumed.trainer.global_step == 2 * steps and len(said) == 2
    assert sorted(p.name for p in runs_dir.iterdir()) == ["slurm-5"]

    # What SLURM's SIGUSR1 leaves: Lightning's requeue checkpoint, newer than last.ckpt.
    resumed.trainer.save_checkpoint(run / "hpc_ckpt_1.ckpt")
    # Another job's requeue checkpoints: in the working folder and in another run.
    shutil.copy(run / "hpc_ckpt_1.ckpt", tmp_path / "hpc_ckpt_9.ckpt")
    (runs_dir / "slurm-8").mkdir()
    shutil.copy(run / "hpc_ckpt_1.ckpt", runs_dir / "slurm-8" / "hpc_ckpt_2.ckpt")
    (run / "hpc_ckpt_1.ckpt").touch()

    resumed = resume(["fit", *cpu_args, *requeued[:2], "--trainer.max_epochs=3"])

    assert Path(resumed.trainer.ckpt_path).resolve() == run / "hpc_ckpt_1.ckpt"
    assert Path(resumed.trainer.logger.log_dir).resolve() == run


def test_last_and_best_without_a_run_say_what_to_do(cpu_args: list[str]) -> None:
    with pytest.raises(RunError, match=r"\(runs there: none\); train one with `fit`"):
        cli_main(["test", *cpu_args, "--ckpt_path=best"])
    with pytest.raises(RunError, match="give a folder name"):
        cli_main(["test", *cpu_args, "--run=../elsewhere", "--ckpt_path=last"])


CSV_LOGGER = [
    "--trainer.logger=pytorch_lightning.loggers.CSVLogger",
    "--trainer.logger.save_dir=logs",
    "--trainer.logger.name=csv",
]


def test_tests_predicts_and_a_resume_never_replace_a_csv_runs_earlier_rows(
    cpu_args: list[str], tmp_path: Path
) -> None:
{%- if cookiecutter.logger == "mlflow" %}
    # The resume takes the run's saved logger, a CSVLogger: the MLflow logger's flag is not for it.
    cpu_args = [arg for arg in cpu_args if "tracking_uri" not in arg]
{%- endif %}
    cli_main(["fit", *cpu_args, *CSV_LOGGER, "--trainer.max_epochs=1"])
    run = tmp_path / "logs" / "csv" / "version_0"
    training = (run / "metrics.csv").read_text()

    for _ in range(2):
        cli_main(["test", *cpu_args, *CSV_LOGGER, "--ckpt_path=best"])
    cli_main(["predict", *cpu_args, *CSV_LOGGER, "--ckpt_path=best"])

    assert (run / "metrics.csv").read_text() == training and not list(run.glob("metrics-*"))
    for folder in ("test", "test-2"):  # each test's metrics and config in its own folder
        with (run / folder / "metrics.csv").open(newline="") as handle:
            assert any(row.get("{{ "test_d_acc" if cookiecutter.model == "gan" else "test_acc" }}") for row in csv.DictReader(handle))
        assert (run / folder / "test-config.yaml").is_file()
    assert (run / "predict" / "{{ "samples.png" if cookiecutter.model == "gan" else "predictions.csv" }}").is_file()
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"]

    # A resumed run keeps the rows of its earlier start.
    resume(["fit", *cpu_args, *CSV_LOGGER, "--trainer.max_epochs=2", "--ckpt_path=last"])

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
    for run in (["fit"], ["test", "--run=nosuch"]):
        argv = ["{{ cookiecutter.package_name }}", *run, *cpu_args, "--ckpt_path=last"]
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
    cli_main(["test", *cpu_args, "--ckpt_path=best", "--data.batch_size=8"])

    record = json.loads((runs_dir / "version_0" / "mlflow.json").read_text())
    assert set(record) == {"run_id"}  # no path: a moved project continues the same run
    client = MlflowClient(mlflow_store)  # the tests' store (see cpu_args)
    history = client.get_metric_history(record["run_id"], "{{ "val_d_acc" if cookiecutter.model == "gan" else "val_acc" }}")
    assert len(history) == 2  # one per epoch, across both starts
    run = client.get_run(record["run_id"])
    assert run.data.params["batch_size"] != "8" and "test_acc" in run.data.metrics
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
