"""The LightningModule: the {{ 'convolutional network' if cookiecutter.model == 'cnn' else 'multilayer perceptron' }} and how it trains, validates and tests."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from torch import Tensor, nn
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


class {{ cookiecutter.class_name }}LitModule(LightningModule):
    """Classifies 28x28 grayscale digits into ``num_classes`` classes.

    Args:
        lr: Peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        hidden_dim: Width of the hidden layer before the classifier.
        dropout: Dropout probability in the network.
        num_classes: Number of output classes.
    """

    def __init__(
        self,
        lr: float = {{ cookiecutter.lr }},
        weight_decay: float = 1e-4,
        hidden_dim: int = 128,
        dropout: float = {{ '0.25' if cookiecutter.model == 'cnn' else '0.1' }},
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        # Every argument lands in the checkpoint, so load_from_checkpoint rebuilds the model.
        self.save_hyperparameters()
        self.net = {{ 'ConvNet' if cookiecutter.model == 'cnn' else 'MLP' }}(num_classes=num_classes, hidden_dim=hidden_dim, dropout=dropout)
        # One metric object per stage: their states must never mix.
        self.train_acc = MulticlassAccuracy(num_classes=num_classes)
        self.val_acc = MulticlassAccuracy(num_classes=num_classes)
        self.test_acc = MulticlassAccuracy(num_classes=num_classes)
        self.example_input_array = torch.zeros(1, 1, 28, 28)

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _shared_step(self, batch: Batch, stage: str) -> Tensor:
        images, targets = batch
        logits = self(images)
        loss = F.cross_entropy(logits, targets)
        accuracy = getattr(self, f"{stage}_acc")
        accuracy.update(logits, targets)
        on_step = stage == "train"
        # sync_dist averages the loss over processes under DDP; the metric syncs itself.
        self.log(
            f"{stage}_loss",
            loss,
            on_step=on_step,
            on_epoch=True,
            prog_bar=True,
            sync_dist=not on_step,
        )
        if stage != "train":
            self.log(f"{stage}_acc", accuracy, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    @override
    def on_train_epoch_end(self) -> None:
        # Logged once per epoch rather than registered at every step: self.log is the
        # costliest part of a small model's training step.
        self.log("train_acc", self.train_acc.compute(), prog_bar=True)
        self.train_acc.reset()

    @override
    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    @override
    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._shared_step(batch, "val")

    @override
    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    @override
    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        images, _ = batch
        return self(images).argmax(dim=1)

    @override
    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        # Cosine decay over the configured epochs, stepped once per epoch.
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(1, self.trainer.max_epochs or 1)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
