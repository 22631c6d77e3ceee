"""``plscaffold experiment compare``: saved configs and logged metrics of runs, text, JSON, PNG."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.experiments.compare import compare_experiments
from plscaffold.experiments.plot import draw_comparison


def _experiment_file(project: Path, name: str, lineage: dict[str, object] | None = None) -> None:
    folder = project / "configs" / "experiments"
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "lineage": {"parent": "default", **(lineage or {})},
        "trainer": {"max_epochs": 10, "logger": {"init_args": {"name": name}}},
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(document))


def _run(project: Path, name: str, run: str, epochs: int, lr: float, acc: list[float]) -> Path:
    """Write a run folder as the project's fit leaves it: config.yaml and metrics.csv."""
    folder = project / "logs" / name / run
    folder.mkdir(parents=True)
    config = {
        "trainer": {"max_epochs": epochs, "logger": {"init_args": {"name": name}}},
        "model": {"init_args": {"lr": lr}},
        "checkpoint": {"monitor": "val_acc", "mode": "max", "dirpath": None},
        "experiment": name,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    rows = ["epoch,step,lr-Adam,train_loss_step,val_acc,val_loss"]
    rows += [f",{10 * e},0.001,,," for e in range(len(acc))]  # LearningRateMonitor: no epoch
    for epoch, value in enumerate(acc):
        rows.append(f"{epoch},{10 * epoch + 5},,2.5,,")  # a step-level value
        rows.append(f"{epoch},{10 * epoch + 9},,,{value},{1 - value}")
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture
def compared_project(project: Path) -> Path:
    """``small`` ran twice (1 epoch of 10 set in its file, then 3), ``large`` once, ``idle`` never."""
    for name in ("small", "large", "idle"):
        _experiment_file(project, name)
    _run(project, "small", "version_0", 1, 0.001, [0.5])
    newer = _run(project, "small", "version_1", 3, 0.001, [0.6, 0.8, 0.7])
    (newer / "metrics.csv").touch()  # written last: the latest run
    _run(project, "large", "version_0", 1, 0.01, [0.9])
    return project


def test_the_runs_of_the_defaults_compare_as_default(runner: CliRunner, project: Path) -> None:
    # Without --experiment a fit writes logs/<package>/version_N/: the baseline.
    _experiment_file(project, "small")
    _run(project, "small", "version_0", 1, 0.001, [0.5])
    _run(project, "proj", "version_0", 2, 0.001, [0.6, 0.7])

    result = runner.invoke(
        app, ["experiment", "compare", "default", "small", "--project", str(project)]
    )

    assert result.exit_code == 0, result.output + result.stderr
    assert "default: logs/proj/version_0 (best val_acc=0.7000 at epoch 1 (max))" in result.output


def test_the_defaults_without_a_run_say_how_to_train_them(project: Path) -> None:
    (summary,) = compare_experiments(project, "proj", ["default"]).experiments

    assert summary.missing == "no run yet; train it with `proj fit`"


def test_compare_shows_what_each_run_used_and_names_the_best(
    runner: CliRunner, compared_project: Path
) -> None:
    result = runner.invoke(
        app, ["experiment", "compare", "small", "large", "idle", "--project", str(compared_project)]
    )
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.output.splitlines()
    assert "small: logs/small/version_1 (best val_acc=0.8000 at epoch 1 (max))" in lines
    assert "large: logs/large/version_0 (best val_acc=0.9000 at epoch 0 (max))" in lines
    assert "idle: no run yet; train it with `proj fit --experiment idle`" in lines
    rows = {
        line.split()[0]: line.split()[1:]
        for line in lines
        if line.startswith(("key", "trainer", "model"))
    }
    assert rows["key"] == ["small", "large"]
    # The saved configs: what each run used (3 and 1 epochs), not the files' max_epochs: 10.
    assert rows["trainer.max_epochs"] == ["3", "1"]
    assert rows["model.init_args.lr"] == ["0.001", "0.01"]
    assert "experiment" not in rows and "checkpoint.dirpath" not in rows
    assert "Best: large (best val_acc=0.9000 at epoch 0 (max))" in lines
    png = compared_project / "logs" / "compare-small-vs-large-vs-idle.png"
    assert f"Plot: {png}" in lines
    assert png.read_bytes().startswith(b"\x89PNG")


def test_json_holds_each_runs_config_metrics_and_best(
    runner: CliRunner, compared_project: Path
) -> None:
    result = runner.invoke(app, ["experiment", "compare", "small", "large", "idle", "--all-runs",
                                 "--json", "--project", str(compared_project)])  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    document = json.loads(result.output)
    small, large, idle = document["experiments"]
    assert [run["run"] for run in small["runs"]] == ["version_0", "version_1"]
    assert small["config"]["trainer"]["max_epochs"] == 3  # the latest run's saved config
    assert small["metrics"] == {
        "lr-Adam": [0.001, 0.001, 0.001],  # logged as each epoch starts, without its epoch
        "val_acc": [0.6, 0.8, 0.7],
        "val_loss": [0.4, pytest.approx(0.2), pytest.approx(0.3)],
    }
    assert small["runs"][0]["metrics"]["val_acc"] == [0.5]
    assert small["best"] == {"metric": "val_acc", "mode": "max", "value": 0.8, "epoch": 1}
    assert large["best"]["value"] == 0.9
    assert idle == {"name": "idle", "runs": [], "config": None, "metrics": {}, "best": None,
                    "missing": "no run yet; train it with `proj fit --experiment idle`"}  # fmt: skip
    assert document["best"]["run"] == "large/version_0"
    assert document["plot"] is None


def test_the_plot_has_a_panel_per_metric_a_marker_per_point_and_names_the_missing(
    compared_project: Path,
) -> None:
    comparison = compare_experiments(compared_project, "proj", ["large", "idle"])
    figure = draw_comparison(comparison, "large vs idle")
    panels = {axis.get_title(): axis for axis in figure.axes if axis.get_visible()}
    assert sorted(panels) == ["lr-Adam", "val_acc", "val_loss"]
    (line,) = panels["val_acc"].get_lines()
    assert line.get_marker() == "o" and list(line.get_xdata()) == [0]
    assert panels["val_acc"].get_xlim() == (-0.5, 0.5)  # one epoch: not a sliver of an axis
    ticks = [t for t in panels["val_acc"].get_xticks() if -0.5 <= t <= 0.5]
    assert ticks == [0]  # epochs are whole numbers
    assert [t.get_text() for t in panels["val_acc"].get_legend().get_texts()] == ["large"]
    assert figure.get_suptitle().splitlines() == [
        "large vs idle",
        "idle: no run yet; train it with `proj fit --experiment idle`",
    ]


def test_without_matplotlib_the_text_and_json_still_print(
    runner: CliRunner, compared_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    result = runner.invoke(
        app, ["experiment", "compare", "small", "large", "--project", str(compared_project)]
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "Best: large" in result.output
    assert "no plot: matplotlib is not installed" in result.stderr
    assert not list((compared_project / "logs").glob("*.png"))


def test_a_sweep_name_compares_its_points_and_unknown_names_are_refused(
    runner: CliRunner, project: Path
) -> None:
    for index, acc in enumerate([0.7, 0.95, 0.8]):
        _experiment_file(
            project, f"lr-{index}", {"sweep": "lr", "point": {"model.init_args.lr": index}}
        )
        _run(project, f"lr-{index}", "version_0", 2, 0.001 * (index + 1), [acc - 0.1, acc])
    _experiment_file(project, "lr-other")  # not a point of the sweep: left out
    result = runner.invoke(app, ["experiment", "compare", "lr", "--project", str(project)])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.splitlines()[:3] == [
        f"lr-{i}: logs/lr-{i}/version_0 (best val_acc={acc:.4f} at epoch 1 (max))"
        for i, acc in enumerate([0.7, 0.95, 0.8])
    ]
    assert "lr-other" not in result.output
    assert "Best: lr-1 (best val_acc=0.9500 at epoch 1 (max))" in result.output

    unknown = runner.invoke(app, ["experiment", "compare", "nope", "--project", str(project)])
    assert unknown.exit_code == 2
    assert "no experiment or sweep 'nope'" in unknown.stderr


def test_tensorboard_metrics_are_read_per_epoch(project: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    from plscaffold.experiments.runs import Run

    folder = project / "logs" / "tb" / "version_0"
    writer = SummaryWriter(str(folder))
    for epoch in range(3):
        step = 10 * epoch + 9
        writer.add_scalar("train_loss_step", 2.0, step - 4)  # step-level: left out
        writer.add_scalar("val_acc", 0.5 + epoch / 10, step)
        writer.add_scalar("epoch", epoch, step)  # Lightning logs the epoch beside each metric
    writer.close()
    metrics = Run("tb", folder).metrics()
    assert metrics.unreadable is None
    assert metrics.values == {"val_acc": {0: 0.5, 1: pytest.approx(0.6), 2: pytest.approx(0.7)}}


def test_a_runs_evaluations_keep_its_training_metrics_and_are_no_runs(
    runner: CliRunner, compared_project: Path
) -> None:
    """The project's test, validate and predict of a run log into folders of their own in it
    (``test``, ``test-2``, ``predict``): the run's metrics.csv stays its training's."""
    run = compared_project / "logs" / "large" / "version_0"
    for folder in ("test", "test-2"):
        (run / folder).mkdir()
        (run / folder / "metrics.csv").write_text("epoch,step,test_acc,test_loss\n0,0,0.95,0.1\n")
        (run / folder / "test-config.yaml").write_text(yaml.safe_dump({"ckpt_path": "best"}))
    (run / "predict").mkdir()
    (run / "predict" / "predictions.csv").write_text("index,name,label,prediction,p0\n")

    result = runner.invoke(app, ["experiment", "compare", "large", "--all-runs", "--json",
                                 "--project", str(compared_project)])  # fmt: skip

    assert result.exit_code == 0, result.output + result.stderr
    (large,) = json.loads(result.output)["experiments"]
    assert [entry["run"] for entry in large["runs"]] == ["version_0"]
    assert large["best"] == {"metric": "val_acc", "mode": "max", "value": 0.9, "epoch": 0}
    assert large["metrics"] == {
        "lr-Adam": [0.001],
        "val_acc": [0.9],
        "val_loss": [pytest.approx(0.1)],
    }
    assert large["config"]["trainer"]["max_epochs"] == 1  # the fit's config.yaml


def test_the_plot_is_never_written_through_a_link(
    runner: CliRunner, compared_project: Path, tmp_path: Path
) -> None:
    """A link in the plot's place (committed in a cloned project) is refused by name; the file
    it points to, outside the project, stays as it was."""
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's file\n")
    plot = compared_project / "logs" / "compare-small.png"
    plot.symlink_to(victim)

    result = runner.invoke(
        app, ["experiment", "compare", "small", "--project", str(compared_project)]
    )

    assert result.exit_code == 2, result.output
    assert f"{plot} is a symbolic link" in result.stderr
    assert victim.read_text() == "the user's file\n"
    assert plot.is_symlink()


def test_a_file_of_the_users_in_the_plots_place_is_kept(
    runner: CliRunner, compared_project: Path
) -> None:
    """Only the plot plscaffold drew last is drawn again; anything else there is the user's."""
    plot = compared_project / "logs" / "compare-small.png"
    plot.write_bytes(b"mine")
    command = ["experiment", "compare", "small", "--project", str(compared_project)]

    kept = runner.invoke(app, command)

    assert kept.exit_code == 0, kept.output
    assert f"no plot: {plot} is there already" in kept.stderr
    assert plot.read_bytes() == b"mine"
    plot.unlink()
    for _ in range(2):  # drawn, then drawn again over its own
        drawn = runner.invoke(app, command)
        assert drawn.exit_code == 0 and "no plot" not in drawn.stderr, drawn.stderr
    assert plot.read_bytes().startswith(b"\x89PNG")


def _unreadable(runner: CliRunner, project: Path, name: str) -> str:
    """Compare one experiment (text, then JSON) and list them; return why its run's
    metrics were unreadable, which every command must say in one line, not crash on."""
    for command in (["compare", name], ["list"]):
        result = runner.invoke(app, ["experiment", *command, "--project", str(project)])
        assert result.exit_code == 0, result.output
    compared = runner.invoke(
        app, ["experiment", "compare", name, "--json", "--project", str(project)]
    )
    assert compared.exit_code == 0, compared.output
    (run,) = json.loads(compared.stdout)["experiments"][0]["runs"]
    assert run["metrics"] == {}
    return str(run["unreadable"])


@pytest.mark.parametrize("epoch", ["nan", "inf", "abc", "1e6", "-1", "2.5"])
def test_a_metrics_log_with_an_impossible_epoch_is_named_unreadable(
    runner: CliRunner, project: Path, epoch: str
) -> None:
    _experiment_file(project, "small")
    folder = _run(project, "small", "version_0", 1, 0.001, [0.5])
    (folder / "metrics.csv").write_text(f"epoch,step,val_acc\n0,9,0.5\n{epoch},19,0.6\n")

    assert _unreadable(runner, project, "small") == (
        f"{folder / 'metrics.csv'} could not be read: line 3: epoch {epoch!r} is not a whole "
        "number from 0 to 100,000; fix the file, or move the run's folder away"
    )


def test_a_metrics_log_that_is_not_utf8_is_named_unreadable(
    runner: CliRunner, project: Path
) -> None:
    _experiment_file(project, "small")
    folder = _run(project, "small", "version_0", 1, 0.001, [0.5])
    (folder / "metrics.csv").write_bytes(b"epoch,step,val_acc\n0,9,0.5\xff\n")

    assert _unreadable(runner, project, "small") == (
        f"{folder / 'metrics.csv'} could not be read: it is not UTF-8 text; fix the file, or "
        "move the run's folder away"
    )


def test_an_mlflow_record_that_is_no_object_is_named_unreadable(
    runner: CliRunner, project: Path
) -> None:
    _experiment_file(project, "small")
    folder = _run(project, "small", "version_0", 1, 0.001, [0.5])
    (folder / "metrics.csv").unlink()
    (folder / "mlflow.json").write_text("[]")

    assert _unreadable(runner, project, "small") == (
        f"its MLflow run ({folder / 'mlflow.json'}) could not be read: it is not a JSON "
        "object, as the project's MLflow logger writes; fix the file, or move the run's folder "
        "away"
    )


def test_a_name_given_many_times_is_compared_and_plotted_once(
    runner: CliRunner, project: Path
) -> None:
    _run(project, "proj", "version_0", 2, 0.001, [0.6, 0.7])

    result = runner.invoke(
        app, ["experiment", "compare", *["default"] * 30, "--project", str(project)]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.count("default: logs/proj/version_0 (") == 1
    assert f"Plot: {project / 'logs' / 'compare-default.png'}\n" in result.stdout
    assert (project / "logs" / "compare-default.png").is_file()


def test_a_plot_of_many_long_names_gets_a_file_name_a_file_system_takes() -> None:
    from plscaffold.experiments.compare import plot_file_name

    names = [f"experiment_{i}_" + "x" * 50 for i in range(30)]

    first, second = plot_file_name(names), plot_file_name(names[:-1])

    assert len(first.encode()) <= 255 and len(second.encode()) <= 255
    assert first.startswith("compare-experiment_0_x") and first.endswith(".png")
    assert first != second
    assert plot_file_name(["small", "large"]) == "compare-small-vs-large.png"


def _sweep(project: Path, name: str, lrs: list[float], ran: list[int]) -> None:
    """Write sweep ``name`` of points over ``model.init_args.lr``; the points in ``ran`` ran."""
    for index, lr in enumerate(lrs):
        point = {"model.init_args.lr": lr, "data.init_args.batch_size": 32}
        _experiment_file(project, f"{name}-{index}", {"sweep": name, "point": point})
        if index in ran:
            _run(project, f"{name}-{index}", "version_0", 2, lr, [0.5, 0.6 + lr])


def test_a_sweeps_points_without_runs_are_counted_on_one_line(
    runner: CliRunner, project: Path
) -> None:
    _sweep(project, "lr", [0.001 * (i + 1) for i in range(12)], ran=[])

    result = runner.invoke(app, ["experiment", "compare", "lr", "--project", str(project)])

    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.splitlines() == [
        "lr: 12 points, 0 run; train them with `plscaffold experiment sweep lr --run` (here, in "
        "turn) or `plscaffold experiment sweep lr --slurm` (a SLURM job array)"
    ]
    assert "no run yet" not in result.output


def test_a_sweep_is_tabled_by_its_swept_values_and_the_best_point_is_marked(
    runner: CliRunner, project: Path
) -> None:
    _sweep(project, "lr", [0.1, 0.3, 0.2, 0.4], ran=[0, 1, 2])

    result = runner.invoke(app, ["experiment", "compare", "lr", "--project", str(project)])

    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stdout.splitlines()
    assert "lr: 4 points, 3 run (lr-3 without); train them with" in result.output
    table = [line.split() for line in lines if line.startswith(("point", "lr-"))][-4:]
    # The keys in the order the points' files hold them (here, by name).
    assert table[0] == ["point", "batch_size", "lr", "best", "val_acc", "epoch"]
    assert table[1:] == [
        ["lr-0", "32", "0.1", "0.7000", "1"],
        ["lr-1", "32", "0.3", "0.9000", "1", "*", "best"],
        ["lr-2", "32", "0.2", "0.8000", "1"],
    ]
    best = "Best: lr-1 (best val_acc=0.9000 at epoch 1 (max)) with batch_size=32, lr=0.3"
    assert best in lines

    comparison = compare_experiments(project, "proj", ["lr"])
    figure = draw_comparison(comparison, "lr")
    panel = next(axis for axis in figure.axes if axis.get_title() == "val_acc")
    assert [t.get_text() for t in panel.get_legend().get_texts()] == [
        "batch_size=32, lr=0.1",
        "batch_size=32, lr=0.3 (best)",
        "batch_size=32, lr=0.2",
    ]
    (star,) = panel.collections  # the best point: a star at its best epoch
    assert star.get_offsets().tolist() == [[1.0, pytest.approx(0.9)]]
    assert "lr: 4 points, 3 run (lr-3 without)" in figure.get_suptitle()


def test_the_learning_rate_is_kept_at_the_epoch_it_was_logged_in(tmp_path: Path) -> None:
    """LearningRateMonitor logs as an epoch starts, at a step without an epoch: the epoch
    logged next from that step on is its (here a resumed run, as Lightning writes it)."""
    from plscaffold.experiments.runs import Run

    (tmp_path / "metrics.csv").write_text(
        "epoch,lr-AdamW,step,train_loss_step,val_acc\n"
        ",0.01,0,,\n0,,0,2.0,\n0,,2,,0.25\n"
        ",0.005,3,,\n1,,3,1.9,\n1,,5,,0.5\n"
    )

    metrics = Run("x", tmp_path).metrics()

    assert metrics.values == {"lr-AdamW": {0: 0.01, 1: 0.005}, "val_acc": {0: 0.25, 1: 0.5}}


def test_a_test_metric_is_drawn_after_training_not_at_epoch_0(project: Path) -> None:
    """A later ``test`` logs at epoch 0 of its own trainer: its value is the run's last."""
    _experiment_file(project, "small")
    folder = _run(project, "small", "version_0", 3, 0.001, [0.5, 0.6, 0.7])
    with (folder / "metrics.csv").open("a") as handle:
        handle.write("0,0,,,,,0.66\n")
    rows = (folder / "metrics.csv").read_text().splitlines()
    rows[0] += ",test_acc"
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")

    figure = draw_comparison(compare_experiments(project, "proj", ["small"]), "small")

    panel = next(a for a in figure.axes if a.get_title() == "test_acc (after training)")
    (line,) = panel.get_lines()
    assert list(line.get_xdata()) == [2] and list(line.get_ydata()) == [0.66]


def test_long_config_values_are_shortened_in_the_table() -> None:
    from plscaffold.experiments.compare import cell_text

    callbacks = [
        {"class_path": "pytorch_lightning.callbacks.EarlyStopping", "init_args": {"patience": 5}},
        {"class_path": "pytorch_lightning.callbacks.LearningRateMonitor", "init_args": {}},
    ]
    assert cell_text(callbacks) == "[EarlyStopping, LearningRateMonitor]"
    assert cell_text({"class_path": "a.b.Net", "init_args": {"width": 3}}) == "Net(...)"
    assert cell_text("x" * 100) == "x" * 37 + "..."
    assert cell_text(0.001) == "0.001"
