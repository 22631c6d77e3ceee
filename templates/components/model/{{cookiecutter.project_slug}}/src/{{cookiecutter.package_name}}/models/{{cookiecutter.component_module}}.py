"""A residual network classifier, selectable by class_path from a config or the command line."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from typing_extensions import override

Batch = tuple[Tensor, Tensor]


def _stage_metrics(num_classes: int) -> tuple[MeanMetric, MulticlassAccuracy]:
    # No input checks: each one waits for the GPU, and cross_entropy checks the labels.
    return (
        MeanMetric(nan_strategy="disable"),
        MulticlassAccuracy(num_classes, average="micro", validate_args=False),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added back to their input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class {{ cookiecutter.component_class }}LitModule(LightningModule):
    """A small residual network for 28x28 grayscale images.

    Args:
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        channels: Width of the residual blocks.
        num_blocks: Residual blocks after the stem.
        num_classes: Number of output classes.
    """

    def __init__(
        self,
        lr: float = {{ cookiecutter.lr }},
        weight_decay: float = 1e-4,
        channels: int = 32,
        num_blocks: int = 2,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            *(ResidualBlock(channels) for _ in range(num_blocks)),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, num_classes),
        )
        # Updated at every step without waiting for the GPU, logged once per epoch.
        self.train_loss, self.train_acc = _stage_metrics(num_classes)
        self.val_loss, self.val_acc = _stage_metrics(num_classes)
        self.test_loss, self.test_acc = _stage_metrics(num_classes)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _shared_step(self, batch: Batch, stage: str) -> Tensor:
        images, targets = batch
        logits = self(images)
        losses = F.cross_entropy(logits, targets, reduction="none")
        getattr(self, f"{stage}_loss").update(losses.detach())
        getattr(self, f"{stage}_acc").update(logits.detach(), targets)
        return losses.mean()

    def _log_epoch_metrics(self, stage: str) -> None:
        self.log(f"{stage}_loss", getattr(self, f"{stage}_loss"), prog_bar=True)
        self.log(f"{stage}_acc", getattr(self, f"{stage}_acc"), prog_bar=True)

    @override
    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self._shared_step(batch, "train")
        # self.log is costly at every step of a small model: only on the logger's steps,
        # and not to the progress bar, which would wait for the GPU at every step.
        every = self.trainer.log_every_n_steps
        if every and (self.global_step + 1) % every == 0:
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
        self._log_epoch_metrics("val")

    @override
    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    @override
    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    @override
    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        images, _ = batch
        return self(images).argmax(dim=1)

    @override
    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=True,
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, self.trainer.max_epochs or 1)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
