"""The LightningModule: the {{ 'convolutional network' if cookiecutter.model == 'cnn' else 'multilayer perceptron' }} and how it trains, validates and tests."""

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
{% if cookiecutter.model == 'cnn' %}

class ConvNet(nn.Module):
    """Two convolution blocks and a classifier head; reaches about 99% on MNIST."""

    def __init__(
        self,
        num_classes: int = 10,
        channels: tuple[int, int] = (32, 64),
        hidden_dim: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 14 -> 7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c2 * 7 * 7, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
{%- else %}

class MLP(nn.Module):
    """A small multilayer perceptron over flattened 28x28 images."""

    def __init__(self, num_classes: int = 10, hidden_dim: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
{%- endif %}


def stage_metrics(num_classes: int) -> tuple[MeanMetric, MulticlassAccuracy]:
    """Mean loss and accuracy of one stage, updated at every step and logged per epoch.

    Neither checks its input, because each check waits for the GPU; cross_entropy
    already rejects labels out of range.
    """
    return (
        MeanMetric(nan_strategy="disable"),
        MulticlassAccuracy(num_classes, average="micro", validate_args=False),
    )


class {{ cookiecutter.class_name }}LitModule(LightningModule):
    """Classifies 28x28 grayscale digits into ``num_classes`` classes.

    Args:
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        hidden_dim: Width of the hidden layer before the classifier.
        dropout: Dropout probability in the network.
        num_classes: Number of output classes.
        compile: Compile the network with ``torch.compile`` in place, so checkpoints keep
            their parameter names: ``true`` for the default mode, or a mode name such as
            ``reduce-overhead`` (CUDA graphs: fewer launches for small models on a GPU).
    """

    def __init__(
        self,
        lr: float = {{ cookiecutter.lr }},
        weight_decay: float = 1e-4,
        hidden_dim: int = 128,
        dropout: float = {{ '0.25' if cookiecutter.model == 'cnn' else '0.1' }},
        num_classes: int = 10,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        # Every argument lands in the checkpoint, so load_from_checkpoint rebuilds the model.
        self.save_hyperparameters()
        self.net = {{ 'ConvNet' if cookiecutter.model == 'cnn' else 'MLP' }}(num_classes=num_classes, hidden_dim=hidden_dim, dropout=dropout)
        if compile:
            self.net.compile(mode=None if compile is True else compile)
        # One pair per stage: their states must never mix.
        self.train_loss, self.train_acc = stage_metrics(num_classes)
        self.val_loss, self.val_acc = stage_metrics(num_classes)
        self.test_loss, self.test_acc = stage_metrics(num_classes)
        self.example_input_array = torch.zeros(1, 1, 28, 28)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _shared_step(self, batch: Batch, stage: str) -> Tensor:
        images, targets = batch
        logits = self(images)
        losses = F.cross_entropy(logits, targets, reduction="none")
        # Per-sample losses, so the epoch mean is exact even when the last batch is smaller.
        getattr(self, f"{stage}_loss").update(losses.detach())
        getattr(self, f"{stage}_acc").update(logits.detach(), targets)
        return losses.mean()

    def _log_epoch_metrics(self, stage: str) -> None:
        # Logged as metric objects: Lightning computes them (over all processes under DDP),
        # then resets them for the next epoch.
        self.log(f"{stage}_loss", getattr(self, f"{stage}_loss"), prog_bar=True)
        self.log(f"{stage}_acc", getattr(self, f"{stage}_acc"), prog_bar=True)

    @override
    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self._shared_step(batch, "train")
        # self.log is the costliest call of a small model's step: the step loss is logged
        # only on the steps the logger writes (Trainer's log_every_n_steps), and not to the
        # progress bar, whose values Lightning turns into numbers at every step: a wait
        # for the GPU each time.
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
        # fused: one kernel for the whole update instead of one or more per parameter.
        optimizer = torch.optim.AdamW(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=True,
        )
        # Cosine decay over the configured epochs, stepped once per epoch.
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, self.trainer.max_epochs or 1)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
