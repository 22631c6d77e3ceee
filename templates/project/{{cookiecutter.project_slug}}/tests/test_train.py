{% set gan = cookiecutter.model == "gan" -%}
{% set train_metric = "train_g_loss" if gan else "train_loss" -%}
"""Training through the entry point: {{ "a smoke run, resumes, monitors" if gan else "a smoke run, a real fit that learns, the schedule" }}, GPU."""

from __future__ import annotations

import contextlib
{% if not gan -%}
import math
{% endif -%}
import os
import re
import socket
import subprocess
import sys
{% if not gan -%}
import warnings
from collections.abc import Callable
from dataclasses import dataclass
{% endif -%}
from pathlib import Path
from typing import Any

import pytest
import torch
{%- if not gan %}
import torch.nn.functional as F
{%- endif %}
{%- if not gan %}
from conftest import SHORT_EPOCHS, run_if, working_in
from pytorch_lightning import Callback, LightningModule, Trainer
{%- else %}
from conftest import SHORT_EPOCHS, run_if
from pytorch_lightning import Callback, Trainer
{%- endif %}
from pytorch_lightning.callbacks import ModelCheckpoint
{%- if not gan %}
from pytorch_lightning.cli import LightningCLI, SaveConfigCallback
{%- else %}
from pytorch_lightning.cli import SaveConfigCallback
{%- endif %}
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule
{%- if not gan %}
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule
{%- endif %}
from {{ cookiecutter.package_name }}.runs import RunError


def _checkpoint_callback(cli: Any) -> ModelCheckpoint:
    return next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))


def test_fast_dev_run(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--trainer.fast_dev_run=true", "--data.batch_size=8"])

    assert cli.trainer.state.status == TrainerStatus.FINISHED
    assert torch.isfinite(cli.trainer.callback_metrics["{{ train_metric }}"])


{% if not gan -%}
@dataclass
class TrainedRun:
    """A fit that learns, the names of the ``self.log`` calls it made, and a test of it."""

    folder: Path  # the working directory, which the runs' paths are relative to
    fit: LightningCLI
    logged: list[str]
    tested: LightningCLI


@pytest.fixture(scope="module")
def trained_run(
    cpu_args_for: Callable[[Path], list[str]], tmp_path_factory: pytest.TempPathFactory
) -> TrainedRun:
    """Fit three epochs of batches of 32, logging every 5 steps; then `test --ckpt_path best`."""
    folder = tmp_path_factory.mktemp("trained")
    cpu_args = cpu_args_for(folder)
    logged: list[str] = []
    log = LightningModule.log

    def spy(self: LightningModule, name: str, *args: Any, **kwargs: Any) -> None:
        logged.append(name)
        log(self, name, *args, **kwargs)

    with working_in(folder) as monkeypatch:
        with monkeypatch.context() as spying:
            spying.setattr(LightningModule, "log", spy)
            fit = cli_main(["fit", *cpu_args, "--trainer.max_epochs=3", "--data.batch_size=32"])
        # A new CLI, as in a new process.
        tested = cli_main(["test", *cpu_args, "--ckpt_path=best"])
    return TrainedRun(folder, fit, logged, tested)


@pytest.mark.slow
def test_fit_learns_and_writes_checkpoints_that_reload(
    trained_run: TrainedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(trained_run.folder)
    cli = trained_run.fit

    assert float(cli.trainer.callback_metrics["val_acc"]) >= 0.9
    best = Path(_checkpoint_callback(cli).best_model_path).resolve()
    assert best.parent == Path(cli.trainer.logger.log_dir).resolve() / "checkpoints"
    assert (best.parent / "last.ckpt").is_file()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Attribute 'net' is an instance of nn.Module"
        model = {{ cookiecutter.class_name }}LitModule.load_from_checkpoint(best).eval()
    assert model.hparams.optimizer == cli.model.hparams.optimizer
    assert type(model.net) is type(cli.model.net)
    # The checkpoint carries the normalisation: raw images in [0, 1] are all it needs.
    images, labels = next(iter(cli.datamodule.val_dataloader()))
    with torch.no_grad():
        predicted = model(images.float() / 255).argmax(1)
    assert float((predicted == labels).float().mean()) >= 0.8
    assert float(cli.trainer.callback_metrics["val_acc_best"]) >= 0.9

    # `test --ckpt_path best` in a new CLI finds the best checkpoint.
    tested = trained_run.tested
    assert Path(tested.trainer.ckpt_path).resolve() == best
    assert float(tested.trainer.callback_metrics["test_acc"]) >= 0.9


@pytest.mark.slow
def test_the_step_loss_is_logged_only_on_logging_steps(trained_run: TrainedRun) -> None:
    cli, logged = trained_run.fit, trained_run.logged

    steps = cli.trainer.global_step
    assert steps >= 10 and cli.trainer.log_every_n_steps == 5
    assert logged.count("train_loss_step") == steps // 5
    assert logged.count("train_loss") == cli.trainer.max_epochs  # once an epoch
    assert torch.isfinite(cli.trainer.callback_metrics["train_loss_step"])


{% endif -%}
def _continue(cpu_args: list[str], run: Any, *args: str) -> Any:
    """Build, without running it, what `fit --ckpt_path last` builds to continue ``run``."""
    folder = Path(run.trainer.log_dir)
    # The run's folder, kept by a CSV logger (of every variant's loggers, the simplest).
    logger = ["--trainer.logger=pytorch_lightning.loggers.CSVLogger",
              f"--trainer.logger.save_dir={folder.parents[1]}",
              f"--trainer.logger.name={folder.parent.name}",
              f"--trainer.logger.version={folder.name}"]  # fmt: skip
    resumed = cli_main([*cpu_args, *logger, *args], run=False)
    # The run's config.yaml is its first start's: `fit` would save this one beside it.
    callbacks = resumed.trainer.callbacks
    resumed.trainer.callbacks = [cb for cb in callbacks if not isinstance(cb, SaveConfigCallback)]
    resumed.last = str(folder / "checkpoints" / "last.ckpt")
    return resumed


{% if not gan -%}
class _LearningRates(Callback):
    """Record the learning rate each training step uses."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.slow
def test_resuming_with_more_epochs_follows_the_longer_schedule(cpu_args: list[str]) -> None:
    cpu_args = [*cpu_args, *SHORT_EPOCHS]
    first = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    steps, peak = first.trainer.global_step, first.model.hparams.optimizer["init_args"]["lr"]

    # `fit --ckpt_path last --trainer.max_epochs 3`, with a probe on the learning rates.
    resumed = _continue(cpu_args, first, "--trainer.max_epochs=3")
    probe = _LearningRates()
    resumed.trainer.callbacks.append(probe)
    with pytest.warns(UserWarning, match="exists and is not empty"):  # the run's own folder
        resumed.trainer.fit(resumed.model, resumed.datamodule, ckpt_path=resumed.last)

    total = 3 * steps
    assert resumed.trainer.global_step == total
    # The first step uses the rate the checkpoint saved; from the next one each step uses
    # the rate the 3-epoch cosine gives it: no jump back to the peak.
    expected = [
        peak * (1 + math.cos(math.pi * step / total)) / 2 for step in range(steps + 1, total)
    ]
    assert probe.rates[1:] == pytest.approx(expected)
    assert all(a >= b for a, b in zip(probe.rates[1:], probe.rates[2:], strict=False))


{% endif -%}
@run_if(min_gpus=1)
def test_fast_dev_run_on_gpu(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = cli_main(
        [
            "fit",
            "--trainer.accelerator=gpu",
            "--trainer.devices=1",
            "--trainer.strategy=auto",
            "--trainer.fast_dev_run=true",
            f"--data.data_dir={mnist_dir}",
            "--data.num_workers=0",
        ]
    )

    assert cli.trainer.state.status == TrainerStatus.FINISHED
    assert cli.trainer.strategy.root_device.type == "cuda"


{% if not gan -%}
def test_epoch_metrics_cover_every_sample_once(cpu_args: list[str]) -> None:
    # 64 validation samples in batches of 24: the last batch is smaller, and a mean of
    # batch means would weigh its samples more than the others.
    cli = cli_main(["validate", *cpu_args, "--data.batch_size=24"])
    model = cli.model.eval()
    losses, correct = [], []
    with torch.no_grad():
        for batch in cli.datamodule.val_dataloader():
            images, targets = cli.datamodule.on_after_batch_transfer(batch, 0)
            logits = model(images)
            losses.append(F.cross_entropy(logits, targets, reduction="none"))
            correct.append(logits.argmax(dim=1) == targets)
    assert len(losses[-1]) < 24

    metrics = cli.trainer.callback_metrics
    assert float(metrics["val_acc_best"]) == float(metrics["val_acc"])  # the only epoch
    assert float(metrics["val_loss"]) == pytest.approx(float(torch.cat(losses).mean()), rel=1e-5)
    assert float(metrics["val_acc"]) == pytest.approx(float(torch.cat(correct).float().mean()))


{% endif -%}
class _NoHostSync(Callback):
    """Make any wait for the GPU an error while a training epoch runs its batches.

    From each epoch's start to the end of its validation batches: training and validation
    steps, Lightning's work between them and the data. Off where Lightning logs the
    epoch's metrics, which turns them into numbers on purpose.
    """

    def on_train_epoch_start(self, *args: Any) -> None:
        torch.cuda.set_sync_debug_mode("error")

    def on_validation_epoch_end(self, *args: Any) -> None:
        torch.cuda.set_sync_debug_mode("default")

    def on_train_epoch_end(self, *args: Any) -> None:
        torch.cuda.set_sync_debug_mode("default")


@run_if(min_gpus=1)
def test_training_steps_never_wait_for_the_gpu(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wait per step leaves the GPU idle while Python prepares the next one.
    monkeypatch.chdir(tmp_path)
    model = cli_main([f"--data.data_dir={mnist_dir}", "--trainer.accelerator=gpu"], run=False).model
    trainer = Trainer(
        accelerator="gpu",
        devices=1,
        precision="bf16-mixed",
        max_steps=40,
        log_every_n_steps=5,  # the step loss is logged inside the checked window too
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        callbacks=[_NoHostSync()],
        default_root_dir=tmp_path,
    )
    datamodule = MNISTDataModule(data_dir=str(mnist_dir), batch_size=64, num_workers=0)
    try:
        trainer.fit(model, datamodule)
    finally:
        torch.cuda.set_sync_debug_mode("default")

    assert trainer.global_step == 40


@pytest.mark.slow
def test_a_training_metric_can_be_monitored(cpu_args: list[str]) -> None:
    # {{ train_metric }} is logged when the training epoch ends, after validation.
    cli = cli_main(
        [
            "fit",
            *cpu_args,
            *SHORT_EPOCHS,
            "--trainer.max_epochs=1",
            "--checkpoint.monitor={{ train_metric }}",
            "--checkpoint.mode=min",
            "--trainer.callbacks=[]",
        ]
    )

    checkpoint = _checkpoint_callback(cli)
    assert Path(checkpoint.best_model_path).is_file()
    assert checkpoint.best_model_score == pytest.approx(
        float(cli.trainer.callback_metrics["{{ train_metric }}"])
    )


@pytest.mark.slow
def test_same_seed_same_config_gives_identical_validation_metrics(cpu_args: list[str]) -> None:
    # Three shuffled batches: enough for the seed to decide every number.
    one_epoch = ["--trainer.max_epochs=1", "--checkpoint.save_last=false"]
    args = ["fit", *cpu_args, *SHORT_EPOCHS, *one_epoch]
    first = cli_main(args).trainer.callback_metrics
    second = cli_main(args).trainer.callback_metrics

    for key in ({{ '"val_d_acc", "val_g_loss"' if gan else '"val_loss", "val_acc"' }}):
        assert float(first[key]) == float(second[key])


def test_a_missing_checkpoint_file_is_an_error(cpu_args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.ckpt"

    with pytest.raises(RunError, match="nope.ckpt: no such checkpoint file"):
        cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", f"--ckpt_path={missing}"])


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_trains_one_run_logged_a_line_per_epoch(
    cpu_args: list[str], tmp_path: Path
) -> None:
    # Two processes started at once, as torchrun and SLURM's srun start them. Their stderr is
    # a file, as under nohup or SLURM, and the progress bar is not set.
    args = [arg for arg in cpu_args if "enable_progress_bar" not in arg]
    strategy = "{{ "ddp_find_unused_parameters_true" if gan else "ddp" }}"
    ddp = ["--trainer.devices=2", f"--trainer.strategy={strategy}", *SHORT_EPOCHS]
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "fit", *args, *ddp]
    command.append("--trainer.max_epochs=2")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port), "WORLD_SIZE": "2", "NODE_RANK": "0"}  # fmt: skip
    logs = [tmp_path / f"rank{rank}.log" for rank in range(2)]
    with contextlib.ExitStack() as stack:
        processes = [
            subprocess.Popen(
                command, cwd=tmp_path, env={**env, "LOCAL_RANK": str(rank)},
                stdout=subprocess.DEVNULL, stderr=stack.enter_context(log.open("w")),
            )
            for rank, log in enumerate(logs)
        ]  # fmt: skip
        stack.callback(lambda: [process.kill() for process in processes])  # if one fails
        codes = [process.wait(timeout=120) for process in processes]
    stderr = [log.read_text() for log in logs]

    assert codes == [0, 0], stderr
    assert "MEMBER: 1/2" in stderr[0] and "MEMBER: 2/2" in stderr[1]
    (run,) = (tmp_path / "logs" / "{{ cookiecutter.package_name }}").iterdir()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    # Off a terminal each epoch is a line, of the first process only, and there is no bar.
    lines = stderr[0].splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/2", "2/2"]
    assert not [line for line in stderr[1].splitlines() if line.startswith("epoch ")]
    assert all(re.search(r" step \d+ .*{{ "val_g_loss" if gan else "val_acc" }}=[\d.]+ .*\d+s$", line) for line in epochs)
    assert not [text for text in stderr if "\r" in text or "it/s" in text]  # no bar
    # The fit ends naming its run folder and best checkpoint.
    best = re.fullmatch(r"Run folder: (\S+); best checkpoint: (\S+\.ckpt)(.*)", lines[-1])
    assert best and Path(best[2]).is_file() and Path(best[2]).parent.parent == Path(best[1])
    assert Path(best[1]).resolve() == run.resolve()
{%- if not gan %}
    assert re.fullmatch(r" \(val_acc=[\d.]+\)", best[3])
{%- endif %}
