"""``plscaffold experiment new``, ``templates`` and ``list``, against a real project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.errors import ExperimentError
from plscaffold.experiments import probe
from plscaffold.experiments.configs import flatten, normalize_key, parse_assignment, unflatten
from plscaffold.experiments.schema import SCHEMA_RELPATH, judge
from tests.conftest import tree_state
from tests.mnist_format import write_digits_dataset


def test_keys_and_values_are_parsed() -> None:
    assert parse_assignment("trainer.max_epochs=20") == ("trainer.max_epochs", 20)
    assert parse_assignment("model.lr=1e-3") == ("model.init_args.lr", 0.001)
    assert parse_assignment("data.pin_memory=true") == ("data.init_args.pin_memory", True)
    assert parse_assignment("trainer.logger=null") == ("trainer.logger", None)
    assert normalize_key("model.class_path") == "model.class_path"
    # Each class below model and data takes init_args, which a key may leave out.
    optimizer_lr = "model.init_args.optimizer.init_args.lr"
    assert normalize_key("model.optimizer.lr") == optimizer_lr
    assert normalize_key("model.init_args.optimizer.lr") == optimizer_lr
    assert normalize_key("model.net.class_path") == "model.init_args.net.class_path"
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

    child = _experiment(runner, project, "new", "child", "--from", "small", "--set", "model.optimizer.lr=0.01",
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
    assert wrong_type.exit_code == 2
    assert (
        "trainer.max_epochs='abc' does not fit: trainer.max_epochs takes int or null"
        in wrong_type.stderr
    )
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
    assert rows["child"].split()[1] == "small"
    assert "model.init_args.optimizer.init_args.lr" in rows["child"]
    assert rows["smoke"].split()[1] == "template:debug"

    compared = _experiment(runner, project, "compare", "small", "child", "--json")
    assert compared.exit_code == 0, compared.stderr
    document = json.loads(compared.output)
    small_json, child_json = document["experiments"]
    # What each run used: the command line's --trainer.max_epochs=2, not the file's 10.
    assert small_json["config"]["trainer"]["max_epochs"] == 2
    assert len(small_json["metrics"]["val_acc"]) == 2  # read from TensorBoard's event files
    assert child_json["config"]["model"]["init_args"]["optimizer"]["init_args"]["lr"] == 0.01


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
    (run.parent / "metrics.csv").write_text("epoch,step,val_acc\n0,10,0.5\n")
    experiments = project / "configs" / "experiments"
    experiments.mkdir()
    (experiments / "x.yaml").write_text("lineage:\n  parent: ../../../evil\n")
    listed = _experiment(runner, project, "list")
    assert listed.exit_code == 0, listed.output + listed.stderr
    assert "x " in listed.output and "val_acc=0.5000" not in listed.output


@pytest.mark.parametrize(
    ("spec", "value", "verdict"),
    [
        ("int", 3, True),
        ("int", True, False),  # a bool is not a number to the parser
        ("int", 2.0, False),
        ("int", "5", None),  # the parser reads '5' as 5
        ("int", "abc", False),
        ("float", 1, True),
        ("str", 3, False),
        ("any", object(), None),
        ({"union": ["int", "null"]}, None, True),
        ({"union": ["int", "null"]}, "x", False),
        ({"union": ["str", "any"]}, {"class_path": "x"}, None),
        ({"literal": ["16-mixed", "32-true"]}, "bf16", False),
        ({"literal": [16, 32]}, 16, True),
        ({"literal": [1]}, True, False),
        ({"list": "int"}, [1, 2], True),
        ({"list": "int"}, [1, "a"], False),
        ({"list": "int"}, 1, False),
        ({"tuple": ["int", "int"]}, [1, 2], True),
        ({"tuple": ["int", "int"]}, [1, 2, 3], False),
        ("dict", {"hours": 1}, True),
    ],
)
def test_values_are_judged_by_their_type_spec(spec: object, value: object, verdict: object) -> None:
    assert judge(spec, value) is verdict


def _no_parser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any run of the project's parser fail the test, and record that it was asked."""
    asked: list[str] = []

    def refuse(*args: object) -> object:
        asked.append("parser")
        raise AssertionError("the project's parser ran")

    monkeypatch.setattr(probe, "_run", refuse)
    return asked


def test_new_reads_the_cached_schema_and_never_starts_the_projects_python(
    runner: CliRunner, schema_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_parser(monkeypatch)
    made = _experiment(runner, schema_project, "new", "wide",
                       "--set", "model.net.init_args={hidden_dim: 256, dropout: 0.5}",
                       "--set", "model.net.init_args.channels=[16, 32]",
                       "--set", "trainer.log_every_n_steps=null", "--set", "trainer.devices=[0]")  # fmt: skip
    assert made.exit_code == 0, made.output + made.stderr
    assert "config schema" not in made.stderr
    wide = _read(schema_project, "wide")
    assert wide["model.init_args.net.init_args.hidden_dim"] == 256  # a mapping sets its keys
    assert wide["model.init_args.net.init_args.dropout"] == 0.5
    assert wide["model.init_args.net.init_args.channels"] == [16, 32]
    assert wide["trainer.log_every_n_steps"] is None and wide["trainer.devices"] == [0]
    smoke = _experiment(runner, schema_project, "new", "smoke", "--from", "debug")
    assert smoke.exit_code == 0, smoke.output + smoke.stderr
    assert _read(schema_project, "smoke")["trainer.fast_dev_run"] is True  # the template's keys
    child = _experiment(
        runner, schema_project, "new", "child", "--from", "wide", "--set", "model.optimizer.lr=0.01"
    )
    assert child.exit_code == 0, child.output + child.stderr
    assert "model.init_args.net.init_args.hidden_dim" not in _read(schema_project, "child")

    before = tree_state(schema_project)
    refusals = {
        "trainer.max_epoch=3": "unknown config key 'trainer.max_epoch'; did you mean trainer.max_epochs",
        "trainer.max_epochs=abc": "trainer.max_epochs='abc' does not fit: trainer.max_epochs takes int or null",
        "model.net.init_args.channels=[16, 32, 64]": "takes a list of 2: int, int",
        "trainer.precision=bf16-mix": "trainer.precision='bf16-mix' does not fit",
        "data.batch_size=null": "data.init_args.batch_size=None does not fit",
        "checkpoint.dirpath=/x": "checkpoint.dirpath is set by the experiment machinery",
        "checkpoint={dirpath: /x, save_top_k: 1}": "checkpoint.dirpath is set by the experiment machinery",
        "trainer.logger.init_args.name=other": "trainer.logger.init_args.name is set by the experiment",
        "trainer.default_root_dir=/tmp": "trainer.default_root_dir is set by the experiment",
        "lineage.parent=x": "lineage records where the experiment came from",
        "lineage={parent: x}": "lineage records where the experiment came from",
    }
    for assignment, message in refusals.items():
        refused = _experiment(runner, schema_project, "new", "bad", "--set", assignment)
        assert refused.exit_code == 2, assignment
        assert message in refused.stderr, (assignment, refused.stderr)
        assert "Nothing was written" in refused.stderr
    assert tree_state(schema_project) == before


@pytest.mark.e2e
def test_the_schema_is_rebuilt_when_the_project_changes(
    runner: CliRunner, schema_project: Path
) -> None:
    cache = schema_project / SCHEMA_RELPATH
    old_key = yaml.safe_load(cache.read_text())["key"]
    model = schema_project / "src" / "proj" / "model.py"
    source = model.read_text()
    assert "        compile: bool | str = False,\n" in source
    model.write_text(source.replace(
        "        compile: bool | str = False,\n",
        "        compile: bool | str = False,\n        label_smoothing: float = 0.0,\n",
    ))  # fmt: skip

    made = _experiment(
        runner, schema_project, "new", "smooth", "--set", "model.label_smoothing=0.1"
    )
    assert made.exit_code == 0, made.output + made.stderr
    assert "Reading the project's config schema with its own parser" in made.stderr
    assert _read(schema_project, "smooth")["model.init_args.label_smoothing"] == 0.1
    rebuilt = yaml.safe_load(cache.read_text())
    assert rebuilt["key"] != old_key
    assert rebuilt["types"]["model.init_args.label_smoothing"] == "float"
    assert ".plscaffold/cache/" in (schema_project / ".gitignore").read_text()


@pytest.mark.e2e
def test_what_only_the_parser_can_judge_is_judged_by_it(
    runner: CliRunner, schema_project: Path
) -> None:
    # Another network class: the keys below it are the parser's to judge, not the schema's.
    mlp = _experiment(runner, schema_project, "new", "mlp", "--set", "model.net.class_path=proj.networks.MLP",
                      "--set", "model.net.init_args.hidden_dim=32")  # fmt: skip
    assert mlp.exit_code == 0, mlp.output + mlp.stderr
    assert "Checking the experiment with the project's own parser" in mlp.stderr
    assert _read(schema_project, "mlp")["model.init_args.net.class_path"] == "proj.networks.MLP"

    before = tree_state(schema_project)
    wrong = _experiment(runner, schema_project, "new", "bad", "--set", "model.net.class_path=proj.networks.MLP",
                        "--set", "model.net.init_args.channels=[8, 16]")  # fmt: skip
    assert wrong.exit_code == 2
    assert "the project's entry point rejects" in wrong.stderr and "channels" in wrong.stderr
    assert tree_state(schema_project) == before


def test_the_default_monitor_is_the_projects_checkpoint_monitor(tmp_path: Path) -> None:
    from plscaffold.experiments.runs import FALLBACK_MONITOR, monitor_of, project_monitor

    (tmp_path / "configs").mkdir()
    default = tmp_path / "configs" / "default.yaml"
    default.write_text("checkpoint:\n  monitor: val_loss\n  mode: min\n")
    assert project_monitor(tmp_path) == ("val_loss", "min")
    assert monitor_of({}, ("val_loss", "min")) == ("val_loss", "min")
    assert monitor_of({"checkpoint.monitor": "val_f1", "checkpoint.mode": "max"}) == (
        "val_f1",
        "max",
    )
    default.write_text("trainer:\n  max_epochs: 3\n")
    assert project_monitor(tmp_path) == FALLBACK_MONITOR


def test_a_yaml_file_read_twice_gives_two_documents_one_can_change(tmp_path: Path) -> None:
    from plscaffold.yaml_reader import read_yaml_file

    path = tmp_path / "x.yaml"
    path.write_text("a: {b: [1, 2]}\n")
    first = read_yaml_file(path)
    first["a"]["b"].append(3)
    assert read_yaml_file(path) == {"a": {"b": [1, 2]}}
    path.write_text("a: {b: [1, 4]}\n")  # the same size, written again
    assert read_yaml_file(path) == {"a": {"b": [1, 4]}}
