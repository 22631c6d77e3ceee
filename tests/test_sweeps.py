"""``plscaffold experiment sweep``: grid points as experiments, a SLURM array, local runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.errors import ExperimentError
from plscaffold.experiments import sweeps
from plscaffold.experiments.configs import flatten
from tests.conftest import tree_state
from tests.mnist_format import write_digits_dataset


def _sweep(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["experiment", "sweep", *args, "--project", str(project)])


def _read(project: Path, name: str) -> dict[str, object]:
    path = project / "configs" / "experiments" / f"{name}.yaml"
    return flatten(yaml.safe_load(path.read_text()))


def _lineage(project: Path, name: str) -> dict[str, object]:
    path = project / "configs" / "experiments" / f"{name}.yaml"
    lineage: dict[str, object] = yaml.safe_load(path.read_text())["lineage"]
    return lineage


def test_grid_values_are_yaml_and_points_cover_the_grid() -> None:
    assert sweeps.parse_grid("model.lr=1e-3,1e-2") == ("model.init_args.lr", [0.001, 0.01])
    assert sweeps.parse_grid("model.net.init_args.channels=[16, 32],[32, 64]") == (
        "model.init_args.net.init_args.channels", [[16, 32], [32, 64]]
    )  # fmt: skip
    assert sweeps.parse_grid("trainer.max_time=null,'00:01:00:00'")[1] == [None, "00:01:00:00"]
    for bad in ("model.lr", "=1,2", "model.lr="):
        with pytest.raises(ExperimentError, match="is not KEY=V1,V2"):
            sweeps.parse_grid(bad)

    grid = [("a", [1, 2, 3]), ("b", ["x", "y"])]
    every = sweeps.grid_points(grid)
    assert every == [{"a": a, "b": b} for a in (1, 2, 3) for b in ("x", "y")]
    drawn = sweeps.grid_points(grid, sample=4, seed=7)
    assert len(drawn) == 4 and all(point in every for point in drawn)
    assert len({json.dumps(point) for point in drawn}) == 4  # without repeats
    assert sweeps.grid_points(grid, sample=4, seed=7) == drawn  # the seed decides
    assert any(sweeps.grid_points(grid, sample=4, seed=s) != drawn for s in range(8))
    with pytest.raises(ExperimentError, match="the grid has 6 points"):
        sweeps.grid_points(grid, sample=7)
    with pytest.raises(ExperimentError, match="given twice"):
        sweeps.grid_points([("a", [1]), ("a", [2])])


def test_a_sweep_writes_one_experiment_per_point_all_or_none(
    runner: CliRunner, schema_project: Path
) -> None:
    made = _sweep(runner, schema_project, "lr", "--grid", "model.optimizer.lr=1e-3,1e-2",
                  "--grid", "data.batch_size=32,64", "--set", "trainer.max_epochs=3",
                  "--from", "debug")  # fmt: skip
    assert made.exit_code == 0, made.output + made.stderr
    assert "Created 4 experiments" in made.output
    points = [_read(schema_project, f"lr-{i}") for i in range(4)]
    lineages = [_lineage(schema_project, f"lr-{i}") for i in range(4)]
    assert [lineage["point"] for lineage in lineages] == [
        {"model.init_args.optimizer.init_args.lr": lr, "data.init_args.batch_size": bs}
        for lr in (0.001, 0.01) for bs in (32, 64)
    ]  # fmt: skip
    for index, (point, lineage) in enumerate(zip(points, lineages, strict=True)):
        assert lineage["sweep"] == "lr"
        assert lineage["parent"] == "template:debug"  # the sweep's parent, not the sweep
        assert point["trainer.max_epochs"] == 3 and point["trainer.fast_dev_run"] is True
        assert point["trainer.logger.init_args.name"] == f"lr-{index}"
    lr = "model.init_args.optimizer.init_args.lr"
    assert lr not in points[0]  # 1e-3 is the default: not a change
    assert points[2][lr] == 0.01

    before = tree_state(schema_project)
    again = _sweep(runner, schema_project, "lr", "--grid", "model.optimizer.lr=0.1")
    assert again.exit_code == 2 and "sweep 'lr' exists" in again.stderr
    one_bad_point = _sweep(runner, schema_project, "bs", "--grid", "data.batch_size=32,abc")
    assert one_bad_point.exit_code == 2
    assert "data.init_args.batch_size='abc' does not fit" in one_bad_point.stderr
    nothing = _sweep(runner, schema_project, "empty")
    assert nothing.exit_code == 2 and "give --grid KEY=V1,V2" in nothing.stderr
    assert tree_state(schema_project) == before  # no point of a refused sweep was written


def _sbatch_options(script: str) -> dict[str, str]:
    return dict(
        (m["key"], m["value"] or "")
        for m in re.finditer(r"^#SBATCH --(?P<key>[\w-]+)(?:=(?P<value>\S+))?", script, re.M)
    )


@pytest.fixture
def gpu_project(tmp_path: Path) -> Path:
    from plscaffold.api import new_project, project_options

    options = project_options("gpuproj", gpus=2, num_nodes=2)
    return new_project(options, output_dir=tmp_path).project_abspath


@pytest.mark.e2e
def test_the_slurm_array_matches_the_trainer_and_runs_each_point(
    runner: CliRunner, gpu_project: Path, tmp_path: Path
) -> None:
    slurm = gpu_project / "scripts" / "slurm.sbatch"
    slurm.write_text(
        slurm.read_text().replace("--time=24:00:00", "--time=02:00:00\n#SBATCH --partition=gpu")
    )
    made = _sweep(runner, gpu_project, "wd", "--grid", "model.optimizer.weight_decay=0,1e-4,1e-3",
                  "--slurm", "--throttle", "2")  # fmt: skip
    assert made.exit_code == 0, made.output + made.stderr
    script_path = gpu_project / "scripts" / "sweep-wd.sbatch"
    assert f"sbatch {script_path}" in made.output
    script = script_path.read_text()
    assert subprocess.run(["bash", "-n", str(script_path)], check=False).returncode == 0
    assert os.access(script_path, os.X_OK)
    options = _sbatch_options(script)
    config = yaml.safe_load((gpu_project / "configs" / "default.yaml").read_text())["trainer"]
    assert (config["num_nodes"], config["devices"]) == (2, 2)
    assert options["array"] == "0-2%2"
    assert options["nodes"] == "2" and options["ntasks-per-node"] == "2"
    assert options["gpus-per-node"] == "2"
    assert options["time"] == "02:00:00" and options["partition"] == "gpu"  # the project's own
    assert "requeue" in options and options["signal"] == "SIGUSR1@90"

    # Run a task as SLURM would, with srun standing in for the launcher: it prints its argv.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text('#!/bin/bash\nprintf "%s\\n" "$@"\n')
    (bin_dir / "srun").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_SUBMIT_DIR": str(gpu_project),
           "SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "1"}  # fmt: skip
    first = subprocess.run(
        ["bash", str(script_path)], env=env, capture_output=True, text=True, check=True
    )
    assert first.stdout.split() == ["gpuproj", "fit", "--experiment", "wd-1", "--trainer.num_nodes", "2",
                                    "--trainer.devices", "2", "--run", "slurm-77_1"]  # fmt: skip
    requeued = subprocess.run(["bash", str(script_path)], env={**env, "SLURM_RESTART_COUNT": "1"},
                              capture_output=True, text=True, check=True)  # fmt: skip
    assert requeued.stdout.split()[-2:] == ["--ckpt_path", "last"]


def test_slurm_refuses_points_on_different_resources_and_writes_nothing(
    runner: CliRunner, schema_project: Path
) -> None:
    before = tree_state(schema_project)
    refused = _sweep(runner, schema_project, "dev", "--grid", "trainer.devices=1,2", "--slurm")
    assert refused.exit_code == 2 and "a job array gives every task the same" in refused.stderr
    orphan = _sweep(
        runner, schema_project, "dev", "--grid", "model.optimizer.lr=0.1", "--throttle", "2"
    )
    assert orphan.exit_code == 2 and "--throttle limits a SLURM array" in orphan.stderr
    assert tree_state(schema_project) == before  # neither the points nor a script

    made = _sweep(runner, schema_project, "dev", "--grid", "trainer.devices=1,2")
    assert made.exit_code == 0, made.output + made.stderr
    assert _sweep(runner, schema_project, "dev", "--slurm").exit_code == 2
    same = _sweep(runner, schema_project, "lr", "--grid", "model.optimizer.lr=0.1,0.2")
    assert same.exit_code == 0, same.output + same.stderr
    later = _sweep(runner, schema_project, "lr", "--slurm")  # the points written before
    assert later.exit_code == 0, later.output + later.stderr
    script = (schema_project / "scripts" / "sweep-lr.sbatch").read_text()
    assert _sbatch_options(script)["array"] == "0-1" and "gpus-per-node" not in script


def test_points_run_side_by_side_on_disjoint_gpus(
    schema_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Four points, four visible GPUs, two per run: two at a time, each on its own pair."""
    seen = tmp_path / "seen"
    (seen / "started").mkdir(parents=True)
    # Stands in for `proj fit --experiment POINT --trainer.devices 2`: records its GPUs,
    # arguments and when it ran. With PAIRS set, each run waits for the partner it should
    # run beside (the 1st and 2nd to start, then the 3rd and 4th), however loaded the
    # machine; a scheduler that never starts the partner fails it after two minutes.
    program = f"""
import json, os, sys, time
start, started = time.time(), os.path.join({str(seen)!r}, "started")
open(os.path.join(started, sys.argv[1]), "x").close()
partners = 2 * ((len(os.listdir(started)) + 1) // 2) if os.environ.get("PAIRS") else 0
deadline = time.monotonic() + 120
while len(os.listdir(started)) < partners and time.monotonic() < deadline:
    time.sleep(0.01)
record = [os.environ["CUDA_VISIBLE_DEVICES"], sys.argv[2:], start, time.time()]
open(os.path.join({str(seen)!r}, sys.argv[1]), "w").write(json.dumps(record))
"""
    monkeypatch.setattr(
        sweeps, "_fit_command", lambda package, point: [sys.executable, "-c", program, point]
    )
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    monkeypatch.setenv("PAIRS", "1")
    points = [f"p-{i}" for i in range(4)]
    runs = sweeps.run_points(schema_project, "proj", points, devices_per_run=2)
    assert [run.returncode for run in runs] == [0, 0, 0, 0]
    assert all(run.output is not None and run.output.is_file() for run in runs)
    spans = {}
    for point in points:
        devices, args, start, end = json.loads((seen / point).read_text())
        assert args == ["--trainer.devices", "2"]
        spans[point] = (devices, start, end)
    assert {spans[p][0] for p in points} == {"0,1", "2,3"}
    # Runs that overlap in time never share a GPU; two run at once, never more.
    for a in points:
        for b in points:
            if a < b and spans[a][1] < spans[b][2] and spans[b][1] < spans[a][2]:
                assert spans[a][0] != spans[b][0]
    at_once = [sum(spans[p][1] <= spans[q][1] < spans[p][2] for p in points) for q in points]
    assert max(at_once) == 2

    # Fewer GPUs than two runs need: one after another, each on its K devices.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.delenv("PAIRS")
    for point in points:
        (seen / point).unlink()
        (seen / "started" / point).unlink()
    in_turn = sweeps.run_points(schema_project, "proj", points[:2], devices_per_run=2)
    assert [run.output for run in in_turn] == [None, None]
    first, second = (json.loads((seen / p).read_text()) for p in points[:2])
    assert first[0] == second[0] == "0" and first[1] == ["--trainer.devices", "2"]
    assert first[3] <= second[2]  # the second started after the first ended


@pytest.mark.e2e
def test_a_two_point_sweep_trains_here_and_compares(runner: CliRunner, project: Path) -> None:
    write_digits_dataset(project / "data")
    made = _sweep(runner, project, "lr", "--grid", "model.optimizer.lr=1e-3,3e-3",
                  "--set", "trainer.max_epochs=2", "--set", "data.num_workers=0",
                  "--set", "data.download=false", "--set", "trainer.enable_progress_bar=false",
                  "--run")  # fmt: skip
    assert made.exit_code == 0, made.output + made.stderr
    assert "Trained 2 points" in made.output
    for point in ("lr-0", "lr-1"):
        assert (project / "logs" / point / "version_0" / "checkpoints" / "last.ckpt").is_file()

    compared = runner.invoke(
        app, ["experiment", "compare", "lr", "--json", "--project", str(project)]
    )
    assert compared.exit_code == 0, compared.output + compared.stderr
    document = json.loads(compared.output)
    assert [e["name"] for e in document["experiments"]] == ["lr-0", "lr-1"]
    optimizers = [e["config"]["model"]["init_args"]["optimizer"] for e in document["experiments"]]
    lrs = [optimizer["init_args"]["lr"] for optimizer in optimizers]
    assert lrs == [0.001, 0.003]
    assert all(len(e["metrics"]["val_acc"]) == 2 for e in document["experiments"])
    best = max(document["experiments"], key=lambda e: e["best"]["value"])
    assert document["best"]["run"] == best["name"]

    plotted = runner.invoke(app, ["experiment", "compare", "lr", "--project", str(project)])
    png = project / "logs" / "compare-lr.png"
    assert f"Plot: {png}" in plotted.output and png.stat().st_size > 10_000
    assert f"Best: {best['name']}" in plotted.output


def test_a_grid_of_more_points_than_a_sweep_writes_is_refused_by_name(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweeps, "MAX_SWEEP_POINTS", 100)
    before = tree_state(project)
    grids = [f"{key}=1,2,3,4,5" for key in ("model.lr", "trainer.max_epochs", "data.batch_size")]

    result = _sweep(runner, project, "s", *[part for grid in grids for part in ("--grid", grid)])

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: the grid of model.init_args.lr, trainer.max_epochs, data.init_args.batch_size "
        "has 125 points (5 x 5 x 5), more than the 100 a sweep writes; give fewer values, or "
        "draw some points with --random N\n"
    )
    assert tree_state(project) == before


def test_the_sweep_cap_bounds_the_grid_not_what_is_drawn_from_it() -> None:
    """Three grids of 1,000 values are a billion points: too many to list, not to draw from."""
    assert sweeps.MAX_SWEEP_POINTS == 10_000
    with pytest.raises(ExperimentError, match=r"has 10,100 points \(101 x 100\)"):
        sweeps.grid_points([("a", list(range(101))), ("b", list(range(100)))])
    with pytest.raises(ExperimentError, match="--random 10001 asks for more than the 10,000"):
        sweeps.grid_points([("a", list(range(101))), ("b", list(range(100)))], sample=10_001)
    huge = [(key, list(range(1000))) for key in ("a", "b", "c")]

    assert len(sweeps.grid_points(huge, sample=3, seed=1)) == 3


def test_slurm_never_overwrites_a_script_plscaffold_did_not_write_as_it_is(
    runner: CliRunner, schema_project: Path
) -> None:
    """A hand-written script of the sweep's name, or the generated one edited since."""
    script = schema_project / "scripts" / "sweep-lr.sbatch"
    script.write_text("#!/bin/sh\n# mine\n")
    before = tree_state(schema_project)

    refused = _sweep(runner, schema_project, "lr", "--grid", "model.optimizer.lr=0.1,0.2",
                     "--slurm")  # fmt: skip

    assert refused.exit_code == 2
    assert f"{script} is there already and is not the script plscaffold" in refused.stderr
    assert "Move or remove it" in refused.stderr
    assert tree_state(schema_project) == before  # neither the points nor a script

    script.unlink()
    made = _sweep(runner, schema_project, "lr", "--grid", "model.optimizer.lr=0.1,0.2", "--slurm")
    assert made.exit_code == 0, made.output + made.stderr
    again = _sweep(runner, schema_project, "lr", "--slurm", "--throttle", "1")  # its own
    assert again.exit_code == 0, again.output + again.stderr
    script.write_text(script.read_text() + "# mine\n")
    edited = _sweep(runner, schema_project, "lr", "--slurm")
    assert edited.exit_code == 2 and f"{script} is there already" in edited.stderr
    assert script.read_text().endswith("# mine\n")
