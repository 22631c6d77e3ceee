"""EpochProgress: a line per epoch where a progress bar would fill a log (nohup, SLURM)."""

from __future__ import annotations

import time

from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.utilities import rank_zero_info
from typing_extensions import override


class EpochProgress(Callback):
    """Log each epoch's number, step, metrics and the time since training started."""

    @override
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.first_epoch, self.start = trainer.current_epoch, time.monotonic()

    # The model logs its training metrics after the callbacks' on_train_epoch_end: an
    # epoch's line waits for the next epoch's start, or the end of training.
    @override
    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.current_epoch > self.first_epoch:
            epoch = f"epoch {trainer.current_epoch}/{trainer.max_epochs} step {trainer.global_step}"
            metrics = " ".join(f"{k}={v:.4f}" for k, v in trainer.progress_bar_metrics.items())
            rank_zero_info(f"{epoch} {metrics} {time.monotonic() - self.start:.0f}s")

    on_train_end = on_train_epoch_start
