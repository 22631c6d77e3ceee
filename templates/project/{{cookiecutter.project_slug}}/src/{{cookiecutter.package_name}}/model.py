{% if cookiecutter.model == "gan" -%}
{% set gan_class = cookiecutter.class_name ~ "LitModule" -%}
{% include "gan/model.py" %}
{%- else -%}
"""The LightningModule: how a network is trained, validated, tested and used to predict."""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from pytorch_lightning.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from typing_extensions import override

Batch = tuple[Tensor, Tensor]
STAGES = ("train", "val", "test")


def cosine_decay(step: int, total_steps: float) -> float:
    """Return the share of the peak learning rate at ``step`` of ``total_steps``."""
    if not math.isfinite(total_steps):
        return 1.0  # no known end (max_epochs=-1): a constant rate
    return 0.5 * (1.0 + math.cos(math.pi * min(step / max(total_steps, 1), 1.0)))


class {{ cookiecutter.class_name }}LitModule(LightningModule):
    """Trains a network from (N, 1, 28, 28) images in [0, 1], which it normalises, to logits.

    Args:
        net: The network (a class_path in the config); its outputs are the classes.
        lr: Peak learning rate of AdamW, decayed along a cosine over the run's steps.
        weight_decay: AdamW weight decay.
        mean: Mean of the training images, subtracted from every input.
        std: Standard deviation of the training images, dividing every input.
        compile: ``torch.compile`` the network in place: ``true`` or a mode name.
        num_classes: Ignored; checkpoints of template versions before 1.0.0 record it.
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = {{ cookiecutter.lr }},
        weight_decay: float = 1e-4,
        mean: float = 0.1307,
        std: float = 0.3081,
        compile: bool | str = False,
        num_classes: int | None = None,
    ) -> None:
        super().__init__()
        with warnings.catch_warnings():
            # The net is saved as its config (LightningCLI): load_from_checkpoint rebuilds it.
            warnings.filterwarnings("ignore", "Attribute 'net' is an instance of")
            self.save_hyperparameters(ignore=["num_classes"])
        self.net = net
        self.example_input_array = torch.zeros(2, 1, 28, 28)
        with torch.no_grad():
            classes = net(self.example_input_array).shape[-1]  # the network's outputs
        if compile:
            self.net.compile(mode=None if compile is True else compile)
        # One set per stage, their states apart; no input checks (they wait for the GPU).
        for stage in STAGES:
            setattr(self, f"{stage}_loss", MeanMetric(nan_strategy="disable"))
            accuracy = MulticlassAccuracy(classes, average="micro", validate_args=False)
            setattr(self, f"{stage}_acc", accuracy)
        self.val_acc_best = MaxMetric()

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.hparams.mean) / self.hparams.std)

    def _shared_step(self, batch: Batch, stage: str) -> Tensor:
        images, targets = batch
        logits = self(images)
        losses = F.cross_entropy(logits, targets, reduction="none")
        # Per-sample losses: the epoch mean stays exact when the last batch is smaller.
        getattr(self, f"{stage}_loss").update(losses.detach())
        getattr(self, f"{stage}_acc").update(logits.detach(), targets)
        return losses.mean()

    def _log_epoch_metrics(self, stage: str) -> None:
        # Metric objects: Lightning computes them (over every process) and resets them.
        self.log(f"{stage}_loss", getattr(self, f"{stage}_loss"), prog_bar=True)
        self.log(f"{stage}_acc", getattr(self, f"{stage}_acc"), prog_bar=True)

    @override
    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self._shared_step(batch, "train")
        # Only on the steps the logger writes: each self.log of a tensor waits for the GPU.
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self.log("train_loss_step", loss)
        return loss

    @override
    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")

    @override
    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._shared_step(batch, "val")

    @override
    def on_validation_epoch_end(self) -> None:
        self.val_acc_best(self.val_acc.compute())
        self._log_epoch_metrics("val")
        self.log("val_acc_best", self.val_acc_best.compute())

    @override
    def on_train_start(self) -> None:
        # The sanity check's batches must not count as the best accuracy so far.
        self.val_acc_best.reset()
        if self.global_step:
            # Resumed: start from this run's schedule, not the old run's last rate.
            scheduler = self.lr_schedulers()
            groups = scheduler.optimizer.param_groups
            for group, base_lr in zip(groups, scheduler.base_lrs, strict=True):
                group["lr"] = base_lr * self._lr_factor(self.global_step)

    @override
    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    @override
    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    @override
    def predict_step(self, batch: Batch, batch_idx: int) -> dict[str, Tensor]:
        images, labels = batch
        probabilities = self(images).softmax(dim=1)
        return {"label": labels, "prediction": probabilities.argmax(1), "p": probabilities}

    @override
    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        # fused: one kernel for the whole update; Lightning's 16-mixed scaler cannot clip
        # the gradients of an optimizer that unscales them itself.
        clipped_amp = self.trainer.precision == "16-mixed" and self.trainer.gradient_clip_val
        optimizer = torch.optim.AdamW(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=not clipped_amp,
        )
        # The run's length is read from the trainer at each step, never stored: a run
        # resumed with more epochs follows the longer run's curve from where it stopped.
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def _lr_factor(self, step: int) -> float:
        # Step 0 needs no length: the trainer counts its batches once data is set up.
        return cosine_decay(step, self.trainer.estimated_stepping_batches) if step else 1.0
{% endif -%}
