"""PredictionWriter: ``predict`` writes its predictions to a CSV file in the run's folder."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Any

from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.callbacks import BasePredictionWriter
from pytorch_lightning.utilities import rank_zero_info
from typing_extensions import override

from {{ cookiecutter.package_name }}.runs import run_folder


class PredictionWriter(BasePredictionWriter):
    """Write one row per predicted sample: its index in the dataset and the predicted class.

    The file goes to the run's folder (the logger's, which ``--ckpt_path best`` points at
    the run that trained the checkpoint). Under DDP each process writes its own file,
    ``<stem>-rank<N>.csv``; the indices tell which sample each row is.

    Args:
        filename: Name of the file in the run's folder.
    """

    def __init__(self, filename: str = "predictions.csv") -> None:
        super().__init__(write_interval="epoch")
        self.filename = filename

    @override
    def write_on_epoch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        path = run_folder(trainer) / self.filename
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}-rank{trainer.global_rank}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        (indices_per_batch,) = batch_indices  # one predict dataloader: its batches' indices
        rows = 0
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["index", "prediction"])
            for batch, indices in zip(predictions, indices_per_batch, strict=True):
                writer.writerows(zip(indices, batch.tolist(), strict=True))
                rows += len(indices)
        rank_zero_info(f"Wrote {rows} predictions to {path.resolve()}")
