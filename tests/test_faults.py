"""The generated project under faults: killed mid-training, then its run resumed from last.ckpt."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plscaffold.api import new_project, project_options
from tests.mnist_format import write_digits_dataset

pytestmark = pytest.mark.e2e

EPOCHS = 5
BATCH = 64


def test_sigkill_during_fit_then_resume_finishes_and_every_checkpoint_loads(tmp_path: Path) -> None:
    import torch

    project = new_project(project_options("kill-check"), output_dir=tmp_path).project_abspath
    sizes = write_digits_dataset(project / "data")
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    fit = [sys.executable, "-m", "kill_check", "fit", f"--trainer.max_epochs={EPOCHS}",
           f"--data.batch_size={BATCH}", "--data.num_workers=0", "--data.download=false",
           "--trainer.enable_progress_bar=false"]  # fmt: skip
    run = project / "logs" / "kill_check" / "version_0"
    checkpoints = run / "checkpoints"

    victim = subprocess.Popen(
        fit, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("epoch=01-*.ckpt")) and victim.poll() is None:
        assert time.monotonic() < deadline, "training never reached a second epoch"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    killed_at = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=False)[
        "epoch"
    ]
    assert killed_at < EPOCHS - 1

    resumed = subprocess.run([*fit, "--ckpt_path=last"], cwd=project, env=env,
                             capture_output=True, text=True, timeout=600)  # fmt: skip

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    restored = f"Restoring states from the checkpoint path at {checkpoints.relative_to(project)}"
    assert restored in resumed.stderr + resumed.stdout
    assert [p.name for p in run.parent.iterdir()] == ["version_0"]  # the same run, continued
    final = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    train_size = sizes["train"] - round(sizes["train"] * 0.1)
    assert final["epoch"] == EPOCHS - 1
    assert final["global_step"] == EPOCHS * math.ceil(train_size / BATCH)
    for path in checkpoints.glob("*.ckpt"):
        state = torch.load(path, map_location="cpu", weights_only=False)
        assert state.get("state_dict"), path
