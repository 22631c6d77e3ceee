{% if cookiecutter.model == "gan" -%}
{% set gan_class = cookiecutter.class_name ~ "LitModule" -%}
{% include "gan/model.py" %}
{%- else -%}
"""The LightningModule: how a network is trained, validated, tested and used to predict."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from pytorch_lightning.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from typing_extensions import override

from {{ cookiecutter.package_name }}.errors import CheckpointMismatchError

Batch = tuple[Tensor, Tensor]


def stage_metrics(num_classes: int) -> tuple[MeanMetric, MulticlassAccuracy]:
    """Mean loss and accuracy of one stage, updated at every step and logged per epoch.

    Neither checks its input, because each check waits for the GPU; cross_entropy
    already rejects labels out of range.
    """
    return (
        MeanMetric(nan_strategy="disable"),
        MulticlassAccuracy(num_classes, average="micro", validate_args=False),
    )


def cosine_decay(step: int, total_steps: float) -> float:
    """Return the share of the peak learning rate at ``step`` of ``total_steps``."""
    if not math.isfinite(total_steps):
        return 1.0  # no known end (max_epochs=-1): a constant rate
    return 0.5 * (1.0 + math.cos(math.pi * min(step / max(total_steps, 1), 1.0)))


class {{ cookiecutter.class_name }}LitModule(LightningModule):
    """Trains a network that maps (N, 1, 28, 28) images to one logit per class.

    Args:
        net: The network, picked in the config by class_path (see ``networks/``). Under
            LightningCLI the hyperparameters hold its class_path and init_args, so
            ``load_from_checkpoint`` and ``--ckpt_path`` rebuild the network a checkpoint
            was trained with.
        lr: Peak learning rate of AdamW, decayed along a cosine over the run's steps.
        weight_decay: AdamW weight decay.
        num_classes: Number of classes the network's logits stand for.
        compile: Compile the network with ``torch.compile`` in place, so checkpoints keep
            their parameter names: ``true`` for the default mode, or a mode name such as
            ``reduce-overhead`` (CUDA graphs: fewer launches for small models on a GPU).
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = {{ cookiecutter.lr }},
        weight_decay: float = 1e-4,
        num_classes: int = 10,
        compile: bool | str = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = net
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
    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        # fused: one kernel for the whole update instead of one or more per parameter.
        optimizer = torch.optim.AdamW(
            self.parameters(),
            lr=self.hparams.lr,
            weight_decay=self.hparams.weight_decay,
            fused=True,
        )
        # The run's length is read from the trainer at each step, never stored in the
        # scheduler's state: a run resumed with a larger max_epochs follows the longer
        # run's curve from where it stopped instead of replaying the old one's end.
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def _lr_factor(self, step: int) -> float:
        # Step 0 needs no length: the trainer counts its batches only once data is set up.
        return cosine_decay(step, self.trainer.estimated_stepping_batches) if step else 1.0

    @override
    def on_train_start(self) -> None:
        if not self.global_step:
            return
        # Resumed: the optimizer holds the learning rate of the old run's schedule; start
        # this run from the rate of its own schedule at this step.
        scheduler = self.lr_schedulers()
        factor = self._lr_factor(self.global_step)
        groups = scheduler.optimizer.param_groups
        for group, base_lr in zip(groups, scheduler.base_lrs, strict=True):
            group["lr"] = base_lr * factor

    @override
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Compared before Lightning loads the weights, which would otherwise fail with a
        # list of every tensor that does not fit.
        if not self.strict_loading:
            return
        saved = {key: tuple(value.shape) for key, value in checkpoint["state_dict"].items()}
        ours = {key: tuple(value.shape) for key, value in self.state_dict().items()}
        if saved == ours:
            return
        differing = sorted(k for k in saved.keys() | ours.keys() if saved.get(k) != ours.get(k))
        net = (checkpoint.get("hyper_parameters") or {}).get("net")
        trained = net.get("class_path", "?") if isinstance(net, dict) else "an unrecorded network"
        raise CheckpointMismatchError(
            f"the checkpoint holds the weights of another architecture: it was trained with "
            f"{trained}, and this model builds {type(self.net).__module__}."
            f"{type(self.net).__qualname__}; {len(differing)} tensors differ, such as "
            f"{differing[0]} (checkpoint {saved.get(differing[0])}, model "
            f"{ours.get(differing[0])}). Load it with the config its run saved "
            "(--config <run folder>/config.yaml), or with "
            f"{type(self).__name__}.load_from_checkpoint(PATH), which rebuilds its network."
        )
{% endif %}