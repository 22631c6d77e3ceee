"""The generated project on several processes: Lightning's DDP, torchrun, FSDP and SLURM."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plscaffold.api import new_project, project_options
from tests.mnist_format import write_digits_dataset

COMMON = ["--data.num_workers=0", "--data.download=false", "--trainer.enable_progress_bar=false"]


def _env(project: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(project / "src")}


@pytest.mark.e2e
@pytest.mark.parametrize("launcher", ["lightning", "torchrun"])
def test_ddp_on_two_cpu_processes_writes_one_set_of_outputs(tmp_path: Path, launcher: str) -> None:
    project = new_project(project_options("ddp-check"), output_dir=tmp_path).project_abspath
    write_digits_dataset(project / "data")
    fit = ["fit", "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp",
           "--trainer.max_epochs=1", *COMMON]  # fmt: skip
    if launcher == "lightning":
        command = [sys.executable, "-m", "ddp_check", *fit]
    else:
        torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or "torchrun"
        command = [torchrun, "--standalone", "--nproc-per-node=2", "-m", "ddp_check", *fit]

    result = subprocess.run(
        command, cwd=project, env=_env(project), capture_output=True, text=True, timeout=600
    )

    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in output and "GLOBAL_RANK: 1, MEMBER: 2/2" in output
    checkpoints = sorted(p.name for p in (project / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints, checkpoints
    assert re.fullmatch(r"epoch=00-val_acc=[\d.]+\.ckpt", checkpoints[0])
    runs = list((project / "logs" / "ddp_check").iterdir())
    assert [run.name for run in runs] == ["version_0"]
    assert len(list(runs[0].glob("events.out.tfevents.*"))) == 1


@pytest.mark.e2e
def test_fsdp_on_the_cpu_fails_with_lightnings_reason(tmp_path: Path) -> None:
    options = project_options("fsdp-check", gpus=1, strategy="fsdp")
    project = new_project(options, output_dir=tmp_path).project_abspath
    write_digits_dataset(project / "data")

    result = subprocess.run(
        [sys.executable, "-m", "fsdp_check", "fit", "--trainer.accelerator=cpu", *COMMON],
        cwd=project, env=_env(project), capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    assert result.returncode != 0
    assert "The strategy `fsdp` requires a GPU accelerator" in result.stderr
    assert not (project / "checkpoints").exists()


def _sbatch(script: str) -> dict[str, str]:
    return dict(
        line.removeprefix("#SBATCH --").split("=", 1)
        for line in script.splitlines()
        if line.startswith("#SBATCH --") and "=" in line
    )


@pytest.mark.parametrize(
    "given",
    [{}, {"gpus": 4, "num_nodes": 2}, {"gpus": 2, "strategy": "fsdp"}, {"gpus": 1, "num_nodes": 8}],
    ids=["cpu", "4-gpus-2-nodes", "fsdp-2-gpus", "1-gpu-8-nodes"],
)
def test_slurm_script_matches_the_trainer_config(tmp_path: Path, given: dict[str, int]) -> None:
    project = new_project(
        project_options("slurm-check", **given), output_dir=tmp_path
    ).project_abspath
    script_path = project / "scripts" / "slurm.sbatch"
    script = script_path.read_text()
    trainer = yaml.safe_load((project / "configs" / "default.yaml").read_text())["trainer"]

    subprocess.run(["bash", "-n", str(script_path)], check=True)
    sbatch = _sbatch(script)
    assert int(sbatch["nodes"]) == trainer["num_nodes"]
    assert int(sbatch["ntasks-per-node"]) == trainer["devices"]
    if trainer["accelerator"] == "gpu":
        assert int(sbatch["gpus-per-node"]) == trainer["devices"]
    else:
        assert "gpus-per-node" not in sbatch
    assert sbatch["signal"] == "SIGUSR1@90"
    assert "#SBATCH --requeue" in script
    assert "srun slurm_check fit" in script
    assert f"--trainer.num_nodes {trainer['num_nodes']}" in script
    assert script_path.stat().st_mode & 0o111
