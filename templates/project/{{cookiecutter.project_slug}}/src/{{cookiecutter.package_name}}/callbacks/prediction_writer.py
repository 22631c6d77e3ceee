{%- set gan = cookiecutter.model == "gan" -%}
"""PredictionWriter: ``predict`` writes {{ "the generated images as a grid" if gan else "its predictions to a CSV file" }} in the run's folder."""

from __future__ import annotations
{% if not gan %}
import csv
{%- endif %}
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning import LightningModule, Trainer
from pytorch_lightning.callbacks import BasePredictionWriter
from pytorch_lightning.utilities import rank_zero_info
{%- if gan %}
from torchvision.utils import save_image
{%- endif %}
from typing_extensions import override


class PredictionWriter(BasePredictionWriter):
    """Write {{ "every image predict generated, 16 to a row" if gan else "each sample's index, label (-1: unknown), prediction and class probabilities" }}.

    The file goes to the run's folder; under DDP each process writes ``<stem>-rank<N>``.

    Args:
        filename: Name of the file in the run's folder.
    """

    def __init__(self, filename: str = "{{ "samples.png" if gan else "predictions.csv" }}") -> None:
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
        path = Path(trainer.log_dir or trainer.default_root_dir) / self.filename
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}-rank{trainer.global_rank}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
{%- if gan %}
        images = torch.cat(list(predictions)).float()
        save_image(images, path, nrow=16, padding=2, pad_value=1.0)
        rank_zero_info(f"Wrote {len(images)} generated images to {path.resolve()}")
{%- else %}
        (indices,) = batch_indices  # one predict dataloader: its batches' sample indices
        index = [i for batch in indices for i in batch]
        columns = {k: torch.cat([out[k] for out in predictions]).tolist() for k in predictions[0]}
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            classes = len(columns["p"][0])
            writer.writerow(["index", "label", "prediction", *(f"p{c}" for c in range(classes))])
            for i, label, prediction, p in zip(index, *columns.values(), strict=True):
                writer.writerow([i, label, prediction, *(f"{q:.4f}" for q in p)])
        rank_zero_info(f"Wrote {len(index)} predictions to {path.resolve()}")
{%- endif %}
