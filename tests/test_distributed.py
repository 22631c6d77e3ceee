"""The generated project on several processes and on SLURM: DDP, torchrun, FSDP, requeue."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from plscaffold.api import new_project, project_options
from tests.conftest import run_ok
from tests.mnist_format import write_digits_dataset

COMMON = ["--data.num_workers=0", "--data.download=false", "--trainer.enable_progress_bar=false",
          "--trainer.log_every_n_steps=5"]  # fmt: skip
# 1,293 training digits: 647 on one process and 646 on the other. In batches of 38 that
# is 18 batches against 17 unless the shares are evened out, and DDP then waits forever.
UNEVEN_BATCH = "--data.batch_size=38"


def _env(project: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(project / "src"), **extra}


def _run(command: list[str], project: Path) -> subprocess.CompletedProcess[str]:
    """Run a command of the project with its sources importable; it must exit 0."""
    return run_ok([*command], project, {"PYTHONPATH": str(project / "src")}, timeout=300)


@pytest.mark.e2e
@pytest.mark.parametrize("launcher", ["lightning", "torchrun"])
def test_ddp_on_two_cpu_processes_keeps_one_run(tmp_path: Path, launcher: str) -> None:
    project = new_project(project_options("ddp-check"), output_dir=tmp_path).project_abspath
    write_digits_dataset(project / "data")
    fit = ["fit", "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp",
           "--trainer.max_epochs=1", UNEVEN_BATCH, *COMMON]  # fmt: skip
    if launcher == "lightning":
        command = [sys.executable, "-m", "ddp_check"]
    else:
        torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or "torchrun"
        command = [torchrun, "--standalone", "--nproc-per-node=2", "-m", "ddp_check"]

    result = _run([*command, *fit], project)

    output = result.stdout + result.stderr
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in output and "GLOBAL_RANK: 1, MEMBER: 2/2" in output
    runs = project / "logs" / "ddp_check"
    assert [run.name for run in runs.iterdir()] == ["version_0"]
    checkpoints = sorted(p.name for p in (runs / "version_0" / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints, checkpoints
    assert re.fullmatch(r"epoch=00-val_acc=[\d.]+\.ckpt", checkpoints[0])
    assert len(list((runs / "version_0").glob("events.out.tfevents.*"))) == 1
    if launcher == "lightning":
        # Both processes resolve `last` to the same run and continue it.
        _run([*command, *fit, "--trainer.max_epochs=2", "--ckpt_path=last"], project)
        assert [run.name for run in runs.iterdir()] == ["version_0"]
        assert list((runs / "version_0" / "checkpoints").glob("epoch=01-*.ckpt"))
        # Evaluation on two processes pads the shares, and Lightning says so.
        tested = _run([*command, "test", *fit[1:], "--ckpt_path=best"], project)
        assert "replicates some samples" in tested.stdout + tested.stderr


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
    assert not (project / "logs").exists()


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
    # SLURM opens the output file before the script runs: no folder the script makes.
    assert "/" not in sbatch["output"]
    assert "#SBATCH --requeue" in script
    assert "srun slurm_check fit" in script
    assert f"--trainer.num_nodes {trainer['num_nodes']}" in script
    assert script_path.stat().st_mode & 0o111


def _slurm_job(project: Path, bin_dir: Path, restart: int, *args: str) -> subprocess.Popen[str]:
    """Start scripts/slurm.sbatch as SLURM would, one task, with srun and scontrol faked."""
    env = _env(
        project,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        SLURM_JOB_ID="4242",
        SLURM_JOB_NAME="slurm-check",
        SLURM_RESTART_COUNT=str(restart),
        SLURM_SUBMIT_DIR=str(project),
        SLURM_NTASKS="1",
        SLURM_PROCID="0",
        SLURM_LOCALID="0",
        SLURM_NODEID="0",
    )
    return subprocess.Popen(
        ["bash", str(project / "scripts" / "slurm.sbatch"), *COMMON, *args],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # a process group, ended as SLURM ends a job
    )  # fmt: skip


def _alive_until(job: subprocess.Popen[str], deadline: float) -> None:
    """Wait a moment; fail with the job's output if it ended, or is still going at the deadline.

    A job past its deadline is killed first, so that reading its output cannot hang.
    """
    if job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.pid, signal.SIGKILL)
    pytest.fail(
        f"the job ended or hung (exit {job.poll()}):\n{job.communicate(timeout=60)[0][-3000:]}"
    )


@pytest.mark.e2e
def test_a_requeued_slurm_job_continues_its_own_run(tmp_path: Path) -> None:
    import torch

    project = new_project(project_options("slurm-check"), output_dir=tmp_path).project_abspath
    write_digits_dataset(project / "data")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {
        "srun": 'exec "$@"',
        "scontrol": f'echo "$@" >> {tmp_path / "scontrol.log"}',
        "slurm_check": f'exec {sys.executable} -m slurm_check "$@"',
    }.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    # Another job's requeue checkpoint where Lightning looks by default: never to be loaded.
    (project / "hpc_ckpt_9.ckpt").write_bytes(b"not a checkpoint of this job")
    run = project / "logs" / "slurm_check" / "slurm-4242"
    epochs = ["--trainer.max_epochs=3", "--data.batch_size=16"]
    requeued = tmp_path / "scontrol.log"

    first = _slurm_job(project, bin_dir, 0, *epochs)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "last.ckpt").is_file():
        _alive_until(first, deadline)
    # What SLURM sends the job's tasks 90 s before its time limit (not the batch shell).
    (task,) = Path(f"/proc/{first.pid}/task/{first.pid}/children").read_text().split()
    os.kill(int(task), signal.SIGUSR1)
    while not requeued.is_file():  # Lightning saves hpc_ckpt_1.ckpt, then asks for a requeue
        _alive_until(first, deadline)
    os.killpg(first.pid, signal.SIGKILL)  # and SLURM ends the job
    first.wait(timeout=60)
    hpc, last = run / "hpc_ckpt_1.ckpt", run / "checkpoints" / "last.ckpt"
    newest = max((hpc, last), key=lambda path: path.stat().st_mtime_ns)
    assert newest == hpc  # saved mid-epoch, after the epoch's last.ckpt
    saved = torch.load(newest, map_location="cpu", weights_only=True)

    second = _slurm_job(project, bin_dir, 1, *epochs)
    output = second.communicate(timeout=300)[0]

    assert second.returncode == 0, output[-3000:]
    assert requeued.read_text() == "requeue 4242\n"
    # The newest of the job's own checkpoints, never the other job's in the working folder.
    restored = f"Restoring states from the checkpoint path at {newest.relative_to(project)}\n"
    assert restored in output
    assert [p.name for p in run.parent.iterdir()] == ["slurm-4242"]
    final = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["epoch"] == 2 and final["global_step"] > saved["global_step"] > 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["trainer"]["default_root_dir"] == "logs/slurm_check/slurm-4242"
