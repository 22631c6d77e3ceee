{% set gan = cookiecutter.model == "gan" -%}
{% set train_metric = "train_g_loss" if gan else "train_loss" -%}
"""Training through the entry point: {{ "a smoke run, resumes, monitors" if gan else "a smoke run, a real fit that learns, the schedule" }}, GPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
{%- if not gan %}
import torch.nn.functional as F
from pytorch_lightning import Callback, LightningModule, Trainer
{%- else %}
from pytorch_lightning import Callback, Trainer
{%- endif %}
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule
from {{ cookiecutter.package_name }}.errors import CheckpointNotFoundError, UnloggedMonitorError
{%- if not gan %}
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule, cosine_decay
{%- endif %}


def _checkpoint_callback(cli: Any) -> ModelCheckpoint:
    return next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))


def test_fast_dev_run(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--trainer.fast_dev_run=true"])

    assert cli.trainer.state.status == TrainerStatus.FINISHED
    assert torch.isfinite(cli.trainer.callback_metrics["{{ train_metric }}"])


def test_fast_dev_run_on_device_resident_batches(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--data.device_resident=true", "--trainer.fast_dev_run=true"])

    assert cli.datamodule.resident
    assert cli.trainer.state.status == TrainerStatus.FINISHED


{% if not gan -%}
# load_from_checkpoint rebuilds an injected network through jsonargparse, then Lightning
# warns that the rebuilt model's hyperparameters hold a module: its own loading path.
@pytest.mark.filterwarnings("ignore:Attribute 'net' is an instance")
def test_fit_learns_and_writes_checkpoints_that_reload(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--trainer.max_epochs=3", "--data.batch_size=32"])

    assert float(cli.trainer.callback_metrics["val_acc"]) >= 0.9
    best = Path(_checkpoint_callback(cli).best_model_path).resolve()
    assert best.parent == Path(cli.trainer.logger.log_dir).resolve() / "checkpoints"
    assert (best.parent / "last.ckpt").is_file()

    model = {{ cookiecutter.class_name }}LitModule.load_from_checkpoint(best)
    assert model.hparams.lr == cli.model.hparams.lr
    assert type(model.net) is type(cli.model.net)

    # A new CLI, as in a new process: `test --ckpt_path best` finds the best checkpoint.
    tested = cli_main(["test", *cpu_args, "--ckpt_path=best"])
    assert Path(tested.trainer.ckpt_path).resolve() == best
    assert float(tested.trainer.callback_metrics["test_acc"]) >= 0.9


{% endif -%}
def _continue(cpu_args: list[str], run: Any, *args: str) -> Any:
    """Build, without running it, what `fit --ckpt_path last` builds to continue ``run``."""
    folder = Path(run.trainer.logger.log_dir)
    version = f"--trainer.logger.init_args.version={folder.name}"
    resumed = cli_main([*cpu_args, version, *args], run=False)
    resumed.last = str(folder / "checkpoints" / "last.ckpt")
    return resumed


{% if not gan -%}
class _LearningRates(Callback):
    """Record the learning rate each training step uses."""

    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_resuming_with_more_epochs_follows_the_longer_schedule(cpu_args: list[str]) -> None:
    first = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    steps, peak = first.trainer.global_step, first.model.hparams.lr

    # `fit --ckpt_path last --trainer.max_epochs 3`, with a probe on the learning rates.
    resumed = _continue(cpu_args, first, "--trainer.max_epochs=3")
    probe = _LearningRates()
    resumed.trainer.callbacks.append(probe)
    with pytest.warns(UserWarning, match="exists and is not empty"):  # the run's own folder
        resumed.trainer.fit(resumed.model, resumed.datamodule, ckpt_path=resumed.last)

    total = 3 * steps
    assert resumed.trainer.global_step == total
    # Each step uses the rate the 3-epoch schedule gives it: no step at the 1-epoch run's
    # final rate of zero, and no jump back to the peak.
    expected = [peak * cosine_decay(step, total) for step in range(steps, total)]
    assert probe.rates == pytest.approx(expected)
    assert probe.rates[0] > 0.7 * peak
    assert all(a >= b for a, b in zip(probe.rates, probe.rates[1:], strict=False))


{% endif -%}
class _EpochLabels(Callback):
    """Record the labels of each training batch, by epoch."""

    def __init__(self) -> None:
        self.labels: dict[int, list[torch.Tensor]] = {}

    def on_train_batch_start(self, trainer: Trainer, _: Any, batch: Any, *args: Any) -> None:
        self.labels.setdefault(trainer.current_epoch, []).append(batch[1].clone())


def test_a_resumed_epoch_sees_the_order_of_an_uninterrupted_one(cpu_args: list[str]) -> None:
    # On the device-resident path the order follows the epoch Lightning sets on its sampler.
    cpu_args = [*cpu_args, "--data.device_resident=true"]
    straight = cli_main([*cpu_args, "--trainer.max_epochs=2"], run=False)
    uninterrupted = _EpochLabels()
    straight.trainer.callbacks.append(uninterrupted)
    straight.trainer.fit(straight.model, straight.datamodule)
    first = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    resumed = _continue(cpu_args, first, "--trainer.max_epochs=2")
    after_resume = _EpochLabels()
    resumed.trainer.callbacks.append(after_resume)
    with pytest.warns(UserWarning, match="exists and is not empty"):  # the run's own folder
        resumed.trainer.fit(resumed.model, resumed.datamodule, ckpt_path=resumed.last)

    assert list(after_resume.labels) == [1]
    assert torch.equal(torch.cat(after_resume.labels[1]), torch.cat(uninterrupted.labels[1]))
    assert not torch.equal(torch.cat(uninterrupted.labels[0]), torch.cat(uninterrupted.labels[1]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
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
    # 120 validation samples in batches of 32: the last batch is smaller, and a mean of
    # batch means would weigh its samples more than the others.
    cli = cli_main(["validate", *cpu_args, "--data.batch_size=32"])
    model = cli.model.eval()
    losses, correct = [], []
    with torch.no_grad():
        for images, targets in cli.datamodule.val_dataloader():
            logits = model(images)
            losses.append(F.cross_entropy(logits, targets, reduction="none"))
            correct.append(logits.argmax(dim=1) == targets)
    assert len(losses[-1]) < 32

    metrics = cli.trainer.callback_metrics
    assert float(metrics["val_loss"]) == pytest.approx(float(torch.cat(losses).mean()), rel=1e-5)
    assert float(metrics["val_acc"]) == pytest.approx(float(torch.cat(correct).float().mean()))


def test_the_step_loss_is_logged_only_on_logging_steps(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: list[str] = []
    log = LightningModule.log

    def spy(self: LightningModule, name: str, *args: Any, **kwargs: Any) -> None:
        logged.append(name)
        log(self, name, *args, **kwargs)

    monkeypatch.setattr(LightningModule, "log", spy)
    cli = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--trainer.log_every_n_steps=5"])

    steps = cli.trainer.global_step
    assert steps >= 10
    assert logged.count("train_loss_step") == steps // 5
    assert logged.count("train_loss") == 1
    assert torch.isfinite(cli.trainer.callback_metrics["train_loss_step"])


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


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
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
    assert datamodule.resident


def test_a_monitor_that_is_never_logged_fails_before_the_first_epoch(cpu_args: list[str]) -> None:
    message = "monitored metric val_acc2 is never logged"
    with pytest.raises(UnloggedMonitorError, match=message) as excinfo:
        cli_main(["fit", *cpu_args, "--checkpoint.monitor=val_acc2", "--trainer.max_epochs=1"])

    assert "{{ "val_d_acc, val_d_loss, val_g_loss" if gan else "val_acc, val_loss" }}" in str(excinfo.value)


def test_a_training_metric_can_be_monitored(cpu_args: list[str]) -> None:
    # {{ train_metric }} is logged when the training epoch ends, after validation: it must not
    # be taken for a metric that is never logged.
    cli = cli_main(
        [
            "fit",
            *cpu_args,
            "--trainer.max_epochs=1",
            "--checkpoint.monitor={{ train_metric }}",
            "--checkpoint.mode=min",
            "--early_stopping.monitor={{ train_metric }}",
            "--early_stopping.mode=min",
        ]
    )

    checkpoint = _checkpoint_callback(cli)
    assert Path(checkpoint.best_model_path).is_file()
    assert checkpoint.best_model_score == pytest.approx(
        float(cli.trainer.callback_metrics["{{ train_metric }}"])
    )


def test_same_seed_same_config_gives_identical_validation_metrics(cpu_args: list[str]) -> None:
    args = ["fit", *cpu_args, "--trainer.max_epochs=1", "--checkpoint.save_last=false"]
    first = cli_main(args).trainer.callback_metrics
    second = cli_main(args).trainer.callback_metrics

    for key in ({{ '"val_d_acc", "val_g_loss"' if gan else '"val_loss", "val_acc"' }}):
        assert float(first[key]) == float(second[key])


def test_resume_from_last_without_a_checkpoint_starts_fresh(cpu_args: list[str]) -> None:
    with pytest.warns(UserWarning, match="no last checkpoint available"):
        cli = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--ckpt_path=last"])

    assert cli.trainer.current_epoch == 1


def test_a_missing_checkpoint_file_is_an_error(cpu_args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.ckpt"

    with pytest.raises(CheckpointNotFoundError, match="nope.ckpt: no such file"):
        cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", f"--ckpt_path={missing}"])
