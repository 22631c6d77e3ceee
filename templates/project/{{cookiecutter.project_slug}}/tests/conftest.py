"""Shared fixtures: MNIST-format data written to disk, and CLI arguments that force the CPU."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from {{ cookiecutter.package_name }}.datamodule import MNIST_RAW_FILES


def run_if(min_gpus: int = 0) -> Callable[[Any], Any]:
    """Mark a test ``gpu`` and skip it on a machine with fewer CUDA GPUs (as Lightning's RunIf)."""

    def mark(test: Any) -> Any:
        skip = pytest.mark.skipif(
            torch.cuda.device_count() < min_gpus, reason=f"needs {min_gpus} CUDA GPU(s)"
        )
        return skip(pytest.mark.gpu(test)) if min_gpus else test

    return mark


IMAGE_SIZE = 28
NUM_CLASSES = 10
# Epochs of three training batches and two validation batches, each step logged: for
# tests of what a run does rather than of what it learns.
SHORT_EPOCHS = [
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=2",
    "--trainer.log_every_n_steps=1",
]


{% include "mnist_idx.py" %}

def synthetic_digits(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy, shifted copies of one random blob pattern per class: learnable, not trivial.

    Returns uint8 images (N, 28, 28) and their labels (N,).
    """
    coarse = torch.rand(NUM_CLASSES, 1, 7, 7, generator=torch.Generator().manual_seed(0))
    prototypes = (F.interpolate(coarse, size=IMAGE_SIZE, mode="nearest")[:, 0] > 0.6).float()
    labels = torch.randint(0, NUM_CLASSES, (count,), generator=generator)
    images = prototypes[labels]
    shifts = torch.randint(-2, 3, (count, 2), generator=generator)
    images = torch.stack(
        [img.roll(tuple(s.tolist()), dims=(0, 1)) for img, s in zip(images, shifts, strict=True)]
    )
    images = images * 200 + torch.rand(images.shape, generator=generator) * 120
    return images.clamp(0, 255).to(torch.uint8), labels.to(torch.uint8)


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_dir holding small MNIST-format train and test sets, read by torchvision."""
    root = tmp_path_factory.mktemp("data")
    generator = torch.Generator().manual_seed(1234)
    for split, count in (("train", 640), ("test", 160)):
        images, labels = synthetic_digits(count, generator)
        write_idx(root / "MNIST" / "raw", split, images.numpy(), labels.numpy())
    assert all((root / "MNIST" / "raw" / name).is_file() for name in MNIST_RAW_FILES)
    return root


{% if cookiecutter.logger == "mlflow" -%}
@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow store for the session's runs: a new SQLite store takes about a second."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def cpu_args(
    mnist_dir: Path, mlflow_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
{%- else -%}
@pytest.fixture
def cpu_args(mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
{%- endif %}
    """Arguments that run any config on one CPU process, writing only under ``tmp_path``.

    Data loads in the main process: the tests' epochs are a few dozen steps, and worker
    processes would cost more than they save. Lightning logs every 5 steps, which such
    short epochs reach.
    """
    monkeypatch.chdir(tmp_path)  # logs/ is relative to the working directory
    return [
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.strategy=auto",
        "--trainer.num_nodes=1",
        "--trainer.precision=32-true",
        "--trainer.enable_progress_bar=false",
        "--trainer.log_every_n_steps=5",
        f"--trainer.default_root_dir={tmp_path}",
        f"--data.data_dir={mnist_dir}",
        "--data.num_workers=0",
{%- if cookiecutter.logger == "mlflow" %}
        f"--trainer.logger.init_args.tracking_uri={mlflow_store}",
{%- endif %}
    ]


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """The folder the default logger keeps this test's runs in."""
    return tmp_path / "logs" / "{{ cookiecutter.package_name }}"
