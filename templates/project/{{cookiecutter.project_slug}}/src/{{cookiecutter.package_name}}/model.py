{% if cookiecutter.model == "gan" -%}
{% set gan_class = cookiecutter.class_name ~ "LitModule" -%}
{% include "gan/model.py" %}
{%- else -%}
"""The LightningModule: how a network is trained, validated, tested and used to predict."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from pytorch_lightning.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from typing_extensions import override

Batch = tuple[Tensor, Tensor]
STAGES = ("train", "val", "test")
LEGACY = ["num_classes", "lr", "weight_decay"]  # hyperparameters of templates before 1.1.0


class {{ cookiecutter.class_name }}LitModule(LightningModule):
    """Trains a network from (N, 1, 28, 28) images in [0, 1], which it normalises, to logits.

    Args:
        net: Builds the network, whose outputs are the classes; like the optimizer and the
            scheduler, a class_path with init_args, which checkpoints record, not objects.
        optimizer: Builds the optimizer from the parameters (``--model.optimizer SGD``).
        scheduler: Builds the scheduler from the optimizer, stepped every optimizer step
            (``--model.scheduler StepLR``); None: a cosine from the optimizer's rate to zero
            over the run's steps, or a constant rate for a run without an end.
        mean: Mean of the training images, subtracted from every input.
        std: Standard deviation of the training images, dividing every input.
        compile: ``torch.compile`` the network in place: ``true`` or a mode name.
        legacy: Ignored: what checkpoints of earlier versions record (num_classes, lr, ...).
    """

    def __init__(
        self,
        net: Callable[[], nn.Module],
        optimizer: OptimizerCallable = torch.optim.AdamW,
        scheduler: LRSchedulerCallable | None = None,
        mean: float = 0.1307,
        std: float = 0.3081,
        compile: bool | str = False,
        **legacy: Any,
    ) -> None:
        super().__init__()
        if unknown := sorted(set(legacy) - set(LEGACY)):
            raise TypeError(f"got an unexpected keyword argument {unknown[0]!r}")
        self.save_hyperparameters(ignore=LEGACY)
        self.net, self.optimizer, self.scheduler = net(), optimizer, scheduler
        self.example_input_array = torch.zeros(2, 1, 28, 28)
        with torch.no_grad():
            classes = self.net(self.example_input_array).shape[-1]
        if compile:
            self.net.compile(mode=None if compile is True else compile)
        # One set per stage, their states apart; no input checks (they wait for the GPU).
        for stage in STAGES:
            setattr(self, f"{stage}_loss", MeanMetric(nan_strategy="disable"))
            accuracy = MulticlassAccuracy(classes, average="micro", validate_args=False)
            setattr(self, f"{stage}_acc", accuracy)
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # in checkpoints: a resumed run keeps its best
        self.lr: float | None = None  # set by Lightning's LearningRateFinder: the rate to use

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
        if not self.trainer.sanity_checking:  # an untrained model's few batches are no record
            self.val_acc_best(self.val_acc.compute())
            # A value, not the metric, which Lightning would reset each epoch; the same on
            # every process (both metrics are synced), which sync_dist tells Lightning.
            self.log("val_acc_best", self.val_acc_best.compute(), sync_dist=True)
        self._log_epoch_metrics("val")

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
        optimizer = self.optimizer(self.parameters())
        for group in optimizer.param_groups if self.lr else ():
            group["lr"] = self.lr
        if self.scheduler is not None:
            scheduler = self.scheduler(optimizer)
        else:  # the length of this run, not the one a resumed checkpoint started
            total = max(self.trainer.estimated_stepping_batches, 1)
            scheduler = LambdaLR(
                optimizer, lambda step: (1 + math.cos(math.pi * min(step / total, 1))) / 2
            )
        schedule = {"scheduler": scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if isinstance(self.hparams.get("net"), dict):
            return  # built by LightningCLI, which records the configs (a resume)
        # load_from_checkpoint builds the module from the configs LightningCLI saved but
        # records what they built, which would be pickled: keep the configs.
        saved = checkpoint[self.CHECKPOINT_HYPER_PARAMS_KEY]
        self.hparams.clear()
        self.hparams.update({k: v for k, v in saved.items() if k not in LEGACY})
{% endif -%}
