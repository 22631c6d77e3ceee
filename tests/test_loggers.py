"""``--logger``: TensorBoard, CSV, MLflow and W&B projects, and ``compare`` reading each.

The MLflow stores here are written by MLflow itself (SQLite and file stores), as the
project's logger leaves them: a run folder with ``config.yaml`` and ``mlflow.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from plscaffold.api import new_project, project_options
from plscaffold.experiments.compare import compare_experiments

LOGGERS = {
    "tensorboard": ["pytorch_lightning.loggers.TensorBoardLogger"],
    "csv": ["pytorch_lightning.loggers.CSVLogger"],
    # The run's folder is the CSV logger's; the tracker logs beside it.
    "mlflow": ["pytorch_lightning.loggers.CSVLogger", "proj.runs.MLFlowLogger"],
    "wandb": ["pytorch_lightning.loggers.CSVLogger", "pytorch_lightning.loggers.WandbLogger"],
}
DEPENDENCIES = {"tensorboard": "tensorboard>=", "mlflow": "mlflow>=", "wandb": "wandb>="}


@pytest.mark.parametrize("logger", sorted(LOGGERS))
def test_each_logger_is_configured_and_declared(tmp_path: Path, logger: str) -> None:
    project = new_project(project_options("proj", logger=logger), output_dir=tmp_path)
    root = project.project_abspath
    config = yaml.safe_load((root / "configs" / "default.yaml").read_text())
    chosen = config["trainer"]["logger"]
    chosen = chosen if isinstance(chosen, list) else [chosen]
    assert [entry["class_path"] for entry in chosen] == LOGGERS[logger]
    assert chosen[0]["init_args"]["save_dir"] == "logs"
    assert chosen[0]["init_args"]["name"] == "proj"
    if logger == "mlflow":
        # A relative local store: a moved project continues its MLflow runs.
        assert chosen[1]["init_args"]["tracking_uri"] == "sqlite:///mlruns/mlflow.db"
    if logger == "wandb":
        assert chosen[1]["init_args"]["offline"] is True
    pyproject = (root / "pyproject.toml").read_text()
    for name, requirement in DEPENDENCIES.items():
        assert (f'"{requirement}' in pyproject) == (name == logger), name
    # Only the chosen logger's code: the project has no logger module of its own.
    assert not (root / "src" / "proj" / "loggers.py").exists()
    runs = (root / "src" / "proj" / "runs.py").read_text()
    assert ("mlflow.json" in runs) == (logger == "mlflow")
    assert ("wandb.json" in runs) == (logger == "wandb")
    assert "/mlruns/" in (root / ".gitignore").read_text().splitlines()


def _experiment(project: Path, name: str) -> Path:
    """Write an experiment file and one run folder of it, as a fit leaves it; return the run."""
    experiments = project / "configs" / "experiments"
    experiments.mkdir(parents=True, exist_ok=True)
    logger = {"init_args": {"name": name}}
    document = {"lineage": {"parent": "default"}, "trainer": {"logger": logger}}
    (experiments / f"{name}.yaml").write_text(yaml.safe_dump(document))
    run = project / "logs" / name / "version_0"
    run.mkdir(parents=True)
    config = {
        "trainer": {"max_epochs": 3, "logger": logger},
        "checkpoint": {"monitor": "val_acc", "mode": "max"},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return run


def _log_like_lightning(tracking_uri: str, experiment: str) -> tuple[str, str]:
    """Log three epochs into a new MLflow run as Lightning does: ``epoch`` at each step."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(experiment)
    run_id = client.create_run(experiment_id, run_name="version_0").info.run_id
    for epoch, value in enumerate([0.5, 0.9, 0.7]):
        step = 10 * epoch + 9
        client.log_metric(run_id, "train_loss_step", 2.0, step=step - 4)  # not per epoch
        client.log_metric(run_id, "epoch", epoch, step=step - 4)
        client.log_metric(run_id, "val_acc", value, step=step)
        client.log_metric(run_id, "epoch", epoch, step=step)
    client.set_terminated(run_id)
    return experiment_id, run_id


def _record(run: Path, tracking_uri: str, experiment_id: str, run_id: str) -> None:
    record = {"tracking_uri": tracking_uri, "experiment_id": experiment_id, "run_id": run_id}
    (run / "mlflow.json").write_text(json.dumps(record))


def test_compare_reads_an_mlflow_sqlite_store(project: Path) -> None:
    run = _experiment(project, "small")
    store = project / "mlruns" / "mlflow.db"
    store.parent.mkdir()
    uri = f"sqlite:///{store}"
    _record(run, uri, *_log_like_lightning(uri, "small"))

    comparison = compare_experiments(project, "proj", ["small"])

    (summary,) = comparison.experiments[0].runs
    assert summary.unreadable is None
    assert summary.metrics["val_acc"] == {0: 0.5, 1: 0.9, 2: 0.7}
    assert "train_loss_step" not in summary.metrics
    assert summary.best == {"metric": "val_acc", "mode": "max", "value": 0.9, "epoch": 1}


def test_compare_reads_an_mlflow_store_named_relative_to_the_project(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = _experiment(project, "small")
    (project / "mlruns").mkdir()
    experiment_id, run_id = _log_like_lightning(
        f"sqlite:///{project / 'mlruns' / 'mlflow.db'}", "small"
    )
    _record(run, "sqlite:///mlruns/mlflow.db", experiment_id, run_id)
    monkeypatch.chdir(tmp_path)  # compare from elsewhere: the path is the project's

    (summary,) = compare_experiments(project, "proj", ["small"]).experiments[0].runs
    assert summary.metrics["val_acc"][1] == 0.9


def test_compare_reads_an_mlflow_file_store(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 asks for it
    run = _experiment(project, "small")
    uri = f"file:{project / 'mlruns'}"
    _record(run, uri, *_log_like_lightning(uri, "small"))

    (summary,) = compare_experiments(project, "proj", ["small"]).experiments[0].runs
    assert summary.unreadable is None
    assert summary.metrics["val_acc"] == {0: 0.5, 1: 0.9, 2: 0.7}


def test_compare_says_which_stores_it_cannot_read(project: Path) -> None:
    server = _experiment(project, "server")
    _record(server, "http://mlflow.example:5000", "1", "abc")
    offline = _experiment(project, "offline")
    (offline / "wandb.json").write_text(json.dumps({"id": "k3j2h1g0", "project": "proj"}))
    gone = _experiment(project, "gone")
    _record(gone, f"sqlite:///{project / 'nowhere.db'}", "1", "abc")

    not_mlflow = _experiment(project, "not-mlflow")
    (project / "other.db").write_bytes(b"not a database at all, " * 100)
    _record(not_mlflow, f"sqlite:///{project / 'other.db'}", "1", "abc")
    broken = _experiment(project, "broken")
    (broken / "mlflow.json").write_text("{half a rec")

    names = ["server", "offline", "gone", "not-mlflow", "broken"]
    comparison = compare_experiments(project, "proj", names)

    reasons = {e.name: e.runs[0].unreadable for e in comparison.experiments}
    assert "on the MLflow server http://mlflow.example:5000" in reasons["server"]
    assert "compare them in MLflow's UI" in reasons["server"]
    assert "W&B's own format" in reasons["offline"]
    assert f"wandb sync {offline / 'wandb'}/offline-run-*" in reasons["offline"]
    assert f"its MLflow store {project / 'nowhere.db'} is not there" == reasons["gone"]
    assert "could not be read: file is not a database" in reasons["not-mlflow"]
    assert f"its MLflow run ({broken / 'mlflow.json'}) could not be read" in reasons["broken"]
