"""Shared fixtures: MNIST-format data on disk, CLI arguments that force the CPU, shared runs."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
{%- if cookiecutter.model != "gan" %}
from dataclasses import dataclass
{%- endif %}
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
{% if cookiecutter.model != "gan" -%}
from pytorch_lightning import LightningModule
from pytorch_lightning.cli import LightningCLI

from {{ cookiecutter.package_name }}.cli import cli_main
{% else %}
{% endif -%}
from {{ cookiecutter.package_name }}.datamodule import MNIST_RAW_FILES
{%- if cookiecutter.model != "gan" %}
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule
{%- endif %}


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
# Epochs of three training batches and two validation batches of 16 images, each step
# logged: for tests of what a run does rather than of what it learns.
SHORT_EPOCHS = [
    "--data.batch_size=16",
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


@pytest.fixture(scope="session")
def cpu_args_for(mnist_dir: Path, mlflow_store: str) -> Callable[[Path], list[str]]:
{%- else -%}
@pytest.fixture(scope="session")
def cpu_args_for(mnist_dir: Path) -> Callable[[Path], list[str]]:
{%- endif %}
    """Arguments that run any config on one CPU process, writing only under a given folder.

    Data loads in the main process: the tests' epochs are a few dozen steps, and worker
    processes would cost more than they save. Lightning logs every 5 steps, which such
    short epochs reach.
    """

    def cpu_args(folder: Path) -> list[str]:
        return [
            "--trainer.accelerator=cpu",
            "--trainer.devices=1",
            "--trainer.strategy=auto",
            "--trainer.num_nodes=1",
            "--trainer.precision=32-true",
            "--trainer.enable_progress_bar=false",
            "--trainer.log_every_n_steps=5",
            f"--trainer.default_root_dir={folder}",
            f"--data.data_dir={mnist_dir}",
            "--data.num_workers=0",
{%- if cookiecutter.logger == "mlflow" %}
            f"--trainer.logger.init_args.tracking_uri={mlflow_store}",
{%- endif %}
        ]

    return cpu_args


@pytest.fixture
def cpu_args(
    cpu_args_for: Callable[[Path], list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """``cpu_args_for`` this test's ``tmp_path``, which is the working directory too."""
    monkeypatch.chdir(tmp_path)  # logs/ is relative to the working directory
    return cpu_args_for(tmp_path)


@contextmanager
def working_in(folder: Path) -> Iterator[pytest.MonkeyPatch]:
    """Work in ``folder`` (where logs/ goes) for a fixture shared by several tests.

    The MonkeyPatch it gives undoes its patches, and the change of folder, on leaving.
    """
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        yield monkeypatch


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """The folder the default logger keeps this test's runs in."""
    return tmp_path / "logs" / "{{ cookiecutter.package_name }}"
{%- if cookiecutter.model != "gan" %}


@dataclass
class ResumedRun:
    """A run of two short epochs, continued for two more by `fit --ckpt_path last`."""

    folder: Path  # the run's
    first: LightningCLI
    resumed: LightningCLI
    saved_best: float  # val_acc_best in the first start's last.ckpt
    steps: list[tuple[float, int]]  # each step's rate, and the optimizer's states then
    logged_best: list[float]  # each val_acc_best the resumed start logged


@pytest.fixture(scope="session")
def resumed_run(
    cpu_args_for: Callable[[Path], list[str]], tmp_path_factory: pytest.TempPathFactory
) -> ResumedRun:
    """Fit SGD with momentum and a halving schedule in batches of 8, then continue the run.

    The continuation names only its epochs and the run's last checkpoint: the optimizer,
    the schedule, the batch size and the short epochs are the run's own config.
    """
    folder = tmp_path_factory.mktemp("resumed")
    cpu_args = cpu_args_for(folder)
    steps: list[tuple[float, int]] = []
    logged_best: list[float] = []
    log = LightningModule.log

    def record(self: LightningModule, batch: Any, batch_idx: int) -> None:
        optimizer = self.trainer.optimizers[0]
        steps.append((optimizer.param_groups[0]["lr"], len(optimizer.state)))

    def spy(self: LightningModule, name: str, value: Any, **kwargs: Any) -> None:
        if name == "val_acc_best":
            logged_best.append(float(value))
        log(self, name, value, **kwargs)

    sgd = ["--model.optimizer=SGD", "--model.optimizer.lr=0.1", "--model.optimizer.momentum=0.9"]
    halving = ["--model.scheduler=StepLR", "--model.scheduler.step_size=2"]
    mine = [*SHORT_EPOCHS, "--data.batch_size=8", *sgd, *halving, "--model.scheduler.gamma=0.5"]
    with working_in(folder) as monkeypatch:
        model = {{ cookiecutter.class_name }}LitModule
        monkeypatch.setattr(model, "on_train_batch_start", record, raising=False)
        first = cli_main(["fit", *cpu_args, *mine, "--trainer.max_epochs=2"])
        last = Path(first.trainer.log_dir).resolve() / "checkpoints" / "last.ckpt"
        saved = torch.load(last, weights_only=True)["state_dict"]
        monkeypatch.setattr(LightningModule, "log", spy)
        again = ["fit", *cpu_args, "--trainer.log_every_n_steps=1", "--trainer.max_epochs=4"]
        with pytest.warns(UserWarning, match="exists and is not empty"):  # the run's own folder
            resumed = cli_main([*again, "--ckpt_path=last"])
    saved_best = float(saved["val_acc_best.max_value"])
    return ResumedRun(last.parents[1], first, resumed, saved_best, steps, logged_best)
{%- endif %}
