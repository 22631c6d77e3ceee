"""A callback that logs each training epoch's wall time and throughput."""

from __future__ import annotations

import time
from typing import Any

from pytorch_lightning import Callback, LightningModule, Trainer
from typing_extensions import override


class {{ cookiecutter.component_class }}Callback(Callback):
    """Logs ``<prefix>/epoch_seconds`` and ``<prefix>/samples_per_second`` per training epoch.

    Args:
        prefix: Prefix of the logged metric names.
    """

    def __init__(self, prefix: str = "{{ cookiecutter.component_module }}") -> None:
        super().__init__()
        self.prefix = prefix
        self._started = 0.0
        self._samples = 0

    @override
    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._started = time.perf_counter()
        self._samples = 0

    @override
    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        self._samples += len(inputs)

    @override
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        seconds = time.perf_counter() - self._started
        # Samples seen by this process; under DDP, sum them over processes.
        pl_module.log(f"{self.prefix}/epoch_seconds", seconds, sync_dist=True)
        pl_module.log(
            f"{self.prefix}/samples_per_second",
            self._samples / max(seconds, 1e-9),
            reduce_fx="sum",
            sync_dist=True,
        )
