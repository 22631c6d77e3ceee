{% set gan = cookiecutter.model == "gan" -%}
{% set train_metric = "train_g_loss" if gan else "train_loss" -%}
"""Training through the entry point: {{ "a smoke run, resumes, monitors" if gan else "a smoke run, a real fit that learns, the schedule" }}, GPU."""

from __future__ import annotations

{% if not gan -%}
import warnings
{% endif -%}
from pathlib import Path
from typing import Any

import pytest
import torch
{%- if not gan %}
import torch.nn.functional as F
{%- endif %}
from conftest import SHORT_EPOCHS, run_if
{%- if not gan %}
from pytorch_lightning import Callback, LightningModule, Trainer
{%- else %}
from pytorch_lightning import Callback, Trainer
{%- endif %}
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.configs import config_dir
from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule
{%- if not gan %}
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule, cosine_decay
{%- endif %}
from {{ cookiecutter.package_name }}.runs import RunError


def _checkpoint_callback(cli: Any) -> ModelCheckpoint:
    return next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))


def test_fast_dev_run(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--trainer.fast_dev_run=true"])

    assert cli.trainer.state.status == TrainerStatus.FINISHED
    assert torch.isfinite(cli.trainer.callback_metrics["{{ train_metric }}"])


{% if not gan -%}
@pytest.mark.slow
def test_fit_learns_and_writes_checkpoints_that_reload(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--trainer.max_epochs=3", "--data.batch_size=32"])

    assert float(cli.trainer.callback_metrics["val_acc"]) >= 0.9
    best = Path(_checkpoint_callback(cli).best_model_path).resolve()
    assert best.parent == Path(cli.trainer.logger.log_dir).resolve() / "checkpoints"
    assert (best.parent / "last.ckpt").is_file()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Attribute 'net' is an instance of nn.Module"
        model = {{ cookiecutter.class_name }}LitModule.load_from_checkpoint(best).eval()
    assert model.hparams.lr == cli.model.hparams.lr
    assert type(model.net) is type(cli.model.net)
    # The checkpoint carries the normalisation: raw images in [0, 1] are all it needs.
    images, labels = next(iter(cli.datamodule.val_dataloader()))
    with torch.no_grad():
        predicted = model(images.float() / 255).argmax(1)
    assert float((predicted == labels).float().mean()) >= 0.8
    assert float(cli.trainer.callback_metrics["val_acc_best"]) >= 0.9

    # A new CLI, as in a new process: `test --ckpt_path best` finds the best checkpoint.
    tested = cli_main(["test", *cpu_args, "--ckpt_path=best"])
    assert Path(tested.trainer.ckpt_path).resolve() == best
    assert float(tested.trainer.callback_metrics["test_acc"]) >= 0.9


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


@pytest.mark.slow
def test_the_step_loss_is_logged_only_on_logging_steps(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logged: list[str] = []
    log = LightningModule.log

    def spy(self: LightningModule, name: str, *args: Any, **kwargs: Any) -> None:
        logged.append(name)
        log(self, name, *args, **kwargs)

    monkeypatch.setattr(LightningModule, "log", spy)
    one_epoch = ["--trainer.max_epochs=1", "--data.batch_size=32"]
    cli = cli_main(["fit", *cpu_args, *one_epoch, "--trainer.log_every_n_steps=5"])

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
@pytest.mark.parametrize("name", ["fast_dev_run", "overfit_batch", "limit_batches", "profiler"])
def test_each_debug_config_runs(cpu_args: list[str], name: str) -> None:
    config = f"--config={config_dir() / 'debug' / name}.yaml"
    # Two steps at most, whatever the config asks; small batches, so a tenth is a batch.
    cli = cli_main(["fit", config, *cpu_args, "--trainer.max_steps=2", "--data.batch_size=4"])

    assert cli.trainer.state.status == TrainerStatus.FINISHED
    if name == "fast_dev_run":  # no logs, no checkpoints, not even last.ckpt
        assert not list(Path.cwd().rglob("*.ckpt"))
