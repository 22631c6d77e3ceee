"""DeferredRequeue: Lightning's SLURM requeue, run between batches, not inside a signal handler."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from lightning_fabric.plugins.environments import SLURMEnvironment
from pytorch_lightning import Callback, LightningModule, Trainer
from typing_extensions import override


class DeferredRequeue(Callback):
    """Run Lightning's auto-requeue after the current batch instead of inside the handler.

    Before its time limit SLURM sends the requeue signal (SIGUSR1); Lightning's handler
    then flushes the loggers, saves ``hpc_ckpt_<n>.ckpt`` and calls ``scontrol requeue``,
    all inside the Python signal handler. A signal that lands while the training loop
    holds a lock that work needs (TensorBoard's event queue, during a log write) hangs
    the job until SLURM kills it, without the checkpoint. This callback lets the signal
    only be noted, and calls Lightning's own handler at the next batch or epoch end, when
    the loop holds no lock: same checkpoint, same requeue, no deadlock.
    """

    def __init__(self) -> None:
        super().__init__()
        self._handler: Any = None
        self._pending: int | None = None

    @override
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Lightning installs its handlers when training starts, just before this hook.
        environment = getattr(trainer.strategy, "cluster_environment", None)
        if not isinstance(environment, SLURMEnvironment) or not environment.auto_requeue:
            return
        signum = environment.requeue_signal
        handler = signal.getsignal(signum) if signum is not None else None
        if not callable(handler) or threading.current_thread() is not threading.main_thread():
            return
        self._handler = handler
        signal.signal(signum, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._pending = signum

    def _run_pending(self) -> None:
        if self._pending is not None and self._handler is not None:
            signum, self._pending = self._pending, None
            self._handler(signum, None)

    @override
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        self._run_pending()

    @override
    def on_validation_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, *args: Any
    ) -> None:
        self._run_pending()

    @override
    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._run_pending()
