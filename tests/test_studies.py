"""``plscaffold experiment sweep NAME --optuna N``: a study shared through SQLite, with pruning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.errors import ExperimentError
from plscaffold.experiments import studies
from plscaffold.experiments.trial import pruning_callback
from tests.conftest import tree_state
from tests.mnist_format import write_digits_dataset

optuna = pytest.importorskip("optuna")
LR = "model.optimizer.lr"  # the default project's learning rate, AdamW's


def _sweep(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["experiment", "sweep", *args, "--project", str(project)])


def test_ranges_are_read_as_numbers_with_an_optional_log_scale() -> None:
    assert studies.parse_range("model.lr=1e-4:1e-1:log") == studies.Range(
        "model.init_args.lr", 1e-4, 1e-1, True
    )
    assert studies.parse_range("data.batch_size=16:256") == studies.Range(
        "data.init_args.batch_size", 16, 256, False
    )
    assert studies.parse_range("model.weight_decay=0:1e-3").low == 0.0
    for bad in ("model.lr", "model.lr=1", "model.lr=2:1", "model.lr=a:b", "model.lr=1:2:ln",
                "model.lr=0:1:log"):  # fmt: skip
        with pytest.raises(ExperimentError, match="--range"):
            studies.parse_range(bad)


@pytest.mark.e2e
def test_the_pruning_callback_reports_each_validation_and_stops_a_pruned_trial() -> None:
    reported: list[tuple[float, int]] = []
    verdicts = iter([False, True])
    trial = SimpleNamespace(
        report=lambda value, step: reported.append((value, step)),
        should_prune=lambda: next(verdicts),
    )
    callback = pruning_callback(trial, "val_acc")
    trainer = SimpleNamespace(
        sanity_checking=True, callback_metrics={"val_acc": 0.1}, current_epoch=0
    )
    callback.on_validation_end(trainer, None)  # the sanity check is not an epoch
    assert reported == []
    trainer.sanity_checking = False
    callback.on_validation_end(trainer, None)
    trainer.current_epoch, trainer.callback_metrics = 1, {"val_acc": 0.2}
    with pytest.raises(optuna.TrialPruned, match=r"epoch 1 with val_acc=0\.2000"):
        callback.on_validation_end(trainer, None)
    assert reported == [(0.1, 0), (0.2, 1)]


def test_a_study_refuses_what_it_cannot_search_and_writes_nothing(
    runner: CliRunner, schema_project: Path
) -> None:
    before = tree_state(schema_project)
    cases = {
        (
            "--grid",
            "model.net.init_args.channels=[8, 16],[16, 32]",
        ): "Optuna chooses among plain values",
        ("--grid", "data.batch_size=32,abc"): "data.init_args.batch_size='abc' does not fit",
        ("--range", f"{LR}=1e-4:1e-2", "--set", "trainer.devices=2"): "on one device",
        ("--range", f"{LR}=1e-4:1e-2", "--run"): "leave out --slurm, --run and --random",
        ("--range", f"{LR}=1e-4:1e-2", "--range", f"{LR}=0.1:0.2"): "searched twice",
        (): "no Optuna study 's'",
    }
    for args, message in cases.items():
        refused = _sweep(runner, schema_project, "s", "--optuna", "2", *args)
        assert refused.exit_code == 2, (args, refused.output)
        assert message in refused.stderr, (args, refused.stderr)
    without = _sweep(runner, schema_project, "s", "--range", "model.optimizer.lr=1e-4:1e-2")
    assert without.exit_code == 2 and "give --optuna N" in without.stderr
    assert tree_state(schema_project) == before


@pytest.mark.e2e
def test_two_processes_share_one_study_and_a_third_joins_it(project: Path) -> None:
    write_digits_dataset(project / "data")
    command = [sys.executable, "-m", "plscaffold", "experiment", "sweep", "s", "--optuna", "1",
               "--range", "model.optimizer.lr=1e-4:1e-2:log", "--grid", "data.batch_size=32,64",
               "--set", "trainer.max_epochs=2", "--set", "trainer.limit_train_batches=4",
               "--set", "data.num_workers=0", "--set", "data.download=false",
               "--set", "trainer.enable_progress_bar=false", "--project", str(project)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], (
        outputs[0][-3000:] + outputs[1][-3000:]
    )

    storage = f"sqlite:///{project / 'logs' / 'sweep-s' / 'optuna.db'}"
    study = optuna.load_study(study_name="s", storage=storage)
    assert sorted(t.number for t in study.trials) == [0, 1]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    for trial in study.trials:
        name = f"s-{trial.number}"
        document = yaml.safe_load(
            (project / "configs" / "experiments" / f"{name}.yaml").read_text()
        )
        assert (
            document["lineage"]["sweep"] == "s"
            and document["lineage"]["optuna_trial"] == trial.number
        )
        assert document["lineage"]["point"] == trial.params
        saved = yaml.safe_load((project / "logs" / name / "version_0" / "config.yaml").read_text())
        assert saved["model"]["init_args"]["optimizer"]["init_args"]["lr"] == pytest.approx(
            trial.params["model.init_args.optimizer.init_args.lr"]
        )
        assert 1e-4 <= trial.params["model.init_args.optimizer.init_args.lr"] <= 1e-2
        assert 0.0 <= trial.value <= 1.0  # the best val_acc of that run

    joined = subprocess.run([*command[:7], "1", "--project", str(project)], env=env,
                            capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert joined.returncode == 0, joined.stdout[-2000:] + joined.stderr[-2000:]
    assert "Best trial so far: s-" in joined.stdout
    assert len(optuna.load_study(study_name="s", storage=storage).trials) == 3
    other = subprocess.run([*command[:9], "model.optimizer.lr=1e-3:1e-1", "--project", str(project)], env=env,
                           capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert other.returncode == 2 and "searches another space" in other.stderr
