"""``plscaffold experiment``: new, templates, list and compare, against a real project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.errors import ExperimentError
from plscaffold.experiments import flatten, normalize_key, parse_assignment, unflatten
from tests.conftest import tree_state
from tests.mnist_format import write_digits_dataset


def test_keys_and_values_are_parsed() -> None:
    assert parse_assignment("trainer.max_epochs=20") == ("trainer.max_epochs", 20)
    assert parse_assignment("model.lr=1e-3") == ("model.init_args.lr", 0.001)
    assert parse_assignment("data.pin_memory=true") == ("data.init_args.pin_memory", True)
    assert parse_assignment("trainer.logger=null") == ("trainer.logger", None)
    assert normalize_key("model.class_path") == "model.class_path"
    with pytest.raises(ExperimentError, match="is not KEY=VALUE"):
        parse_assignment("trainer.max_epochs")


def test_flatten_and_unflatten_are_inverse() -> None:
    tree = {"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}

    assert flatten(tree) == {"a.b": 1, "a.c.d": [1, 2], "e": None}
    assert unflatten(flatten(tree)) == tree


def test_templates_lists_the_built_in_experiments(runner: CliRunner) -> None:
    result = runner.invoke(app, ["experiment", "templates"])

    assert result.exit_code == 0
    for name in ("debug:", "overfit-batch:", "lr-find:", "full:"):
        assert name in result.output
    assert "trainer.fast_dev_run: True" in result.output


def _experiment(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["experiment", *args, "--project", str(project)])


def _read(project: Path, name: str) -> dict[str, object]:
    path = project / "configs" / "experiments" / f"{name}.yaml"
    return flatten(yaml.safe_load(path.read_text()))


@pytest.mark.e2e
def test_experiments_end_to_end(runner: CliRunner, project: Path) -> None:
    made = _experiment(runner, project, "new", "small", "--set", "data.batch_size=32",
                       "--set", "trainer.max_epochs=10", "--description", "smaller batches")  # fmt: skip
    assert made.exit_code == 0, made.output + made.stderr
    small = _read(project, "small")
    assert small["data.init_args.batch_size"] == 32
    assert "trainer.max_epochs" not in small  # 10 is the parent's value: not a difference
    assert small["lineage.parent"] == "default"
    assert small["lineage.description"] == "smaller batches"
    assert small["lineage.created"] and "lineage.git_commit" in small
    assert small["trainer.logger.init_args.name"] == "small"
    assert "checkpoint.dirpath" not in small  # checkpoints live in each run's folder

    child = _experiment(runner, project, "new", "child", "--from", "small", "--set", "model.lr=0.01",
                        "--set", "trainer.max_epochs=2")  # fmt: skip
    assert child.exit_code == 0, child.output + child.stderr
    assert _read(project, "child")["lineage.parent"] == "small"
    assert "data.init_args.batch_size" not in _read(project, "child")

    from_template = _experiment(runner, project, "new", "smoke", "--from", "debug")
    assert from_template.exit_code == 0, from_template.stderr
    assert _read(project, "smoke")["trainer.fast_dev_run"] is True
    assert _read(project, "smoke")["lineage.parent"] == "template:debug"

    before = tree_state(project)
    unknown = _experiment(runner, project, "new", "typo", "--set", "trainer.max_epoch=3")
    wrong_type = _experiment(runner, project, "new", "typo", "--set", "trainer.max_epochs=abc")
    existing = _experiment(runner, project, "new", "small")
    no_parent = _experiment(runner, project, "new", "orphan", "--from", "nope")
    the_defaults = _experiment(runner, project, "new", "default")
    assert unknown.exit_code == 2 and "unknown config key 'trainer.max_epoch'" in unknown.stderr
    assert "did you mean trainer.max_epochs" in unknown.stderr
    assert wrong_type.exit_code == 2 and "trainer.max_epochs='abc'" in wrong_type.stderr
    assert existing.exit_code == 2 and "experiment 'small' exists" in existing.stderr
    assert no_parent.exit_code == 2 and "no parent 'nope'" in no_parent.stderr
    assert the_defaults.exit_code == 2 and "stands for configs/default.yaml" in the_defaults.stderr
    assert tree_state(project) == before

    write_digits_dataset(project / "data")
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    for name in ("small", "child"):
        subprocess.run(
            [sys.executable, "-m", "proj", "fit", "--experiment", name, "--trainer.max_epochs=2",
             "--data.num_workers=0", "--data.download=false", "--trainer.enable_progress_bar=false"],
            cwd=project, env=env, check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        run = project / "logs" / name / "version_0"
        assert (run / "checkpoints" / "last.ckpt").is_file()
        assert list(run.glob("events.out.tfevents.*"))
    assert not (project / "logs" / "proj").exists()

    listed = _experiment(runner, project, "list")
    assert listed.exit_code == 0
    rows = {line.split()[0]: line for line in listed.output.splitlines()[1:]}
    assert "data.init_args.batch_size" in rows["small"] and "val_acc=0." in rows["small"]
    assert "logs/small/version_0/checkpoints/last.ckpt" in rows["small"]
    assert rows["child"].split()[1] == "small" and "model.init_args.lr" in rows["child"]
    assert rows["smoke"].split()[1] == "template:debug"

    compared = _experiment(runner, project, "compare", "small", "child")
    assert compared.exit_code == 0, compared.stderr
    assert "model.init_args.lr" in compared.output and "0.001" in compared.output
    png = project / "logs" / "compare-small-vs-child.png"
    assert f"Validation curves: {png}" in compared.output
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


def test_lineage_cannot_be_set_and_a_parent_is_never_a_path(
    runner: CliRunner, project: Path
) -> None:
    before = tree_state(project)
    refused = _experiment(runner, project, "new", "sneaky", "--set", "lineage.parent=../../x")
    assert refused.exit_code == 2 and "lineage records where" in refused.stderr
    assert tree_state(project) == before

    # A hand-written file naming a parent outside the project: that file is never read.
    # (Were it read, its logger name would show the run under logs/leaked/ in the list.)
    (project.parent / "evil.yaml").write_text(
        "trainer:\n  logger:\n    init_args:\n      name: leaked\n"
    )
    run = project / "logs" / "leaked" / "version_0" / "checkpoints"
    run.mkdir(parents=True)
    (run / "epoch=00-val_acc=0.5000.ckpt").write_bytes(b"")
    experiments = project / "configs" / "experiments"
    experiments.mkdir()
    (experiments / "x.yaml").write_text("lineage:\n  parent: ../../../evil\n")
    listed = _experiment(runner, project, "list")
    assert listed.exit_code == 0, listed.output + listed.stderr
    assert "x " in listed.output and "val_acc=0.5000" not in listed.output
