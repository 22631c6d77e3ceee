"""MonitoredMetricsCheck: catch a monitor nobody logs before the first epoch, not after it."""

from __future__ import annotations

from pytorch_lightning import Callback, LightningModule, Trainer
from typing_extensions import override

from {{ cookiecutter.package_name }}.errors import UnloggedMonitorError


class MonitoredMetricsCheck(Callback):
    """Stop after the sanity check when a monitored validation metric is never logged.

    Lightning's own check in ModelCheckpoint and EarlyStopping comes at the end of the
    first epoch, so a typo in ``--checkpoint.monitor`` costs a whole epoch of training.
    The sanity check runs validation first, on a few batches: every metric validation
    logs is known then, and a monitor named like one (``val...``) that is not among them
    is a typo or a missing ``self.log``. Other monitors, such as ``train_loss``, are left
    to Lightning. With ``num_sanity_val_steps=0`` there is nothing to check against.
    """

    @override
    def on_sanity_check_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        logged = set(trainer.callback_metrics)
        monitors = {cb.monitor for cb in trainer.checkpoint_callbacks if cb.monitor}
        monitors |= {cb.monitor for cb in trainer.early_stopping_callbacks}
        missing = sorted(m for m in monitors - logged if m.startswith("val"))
        if missing:
            raise UnloggedMonitorError(
                f"monitored metric {', '.join(missing)} is never logged; validation logs "
                f"{', '.join(sorted(logged)) or 'nothing'}. Set --checkpoint.monitor and "
                "--early_stopping.monitor to one of those, or log it with self.log()."
            )
