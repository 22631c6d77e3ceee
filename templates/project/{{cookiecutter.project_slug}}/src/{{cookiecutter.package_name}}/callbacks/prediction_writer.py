{%- set gan = cookiecutter.model == "gan" -%}
"""PredictionWriter: ``predict`` writes {{ "the generated images as a grid" if gan else "its predictions to a CSV file" }} in its folder."""

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
{%- if not gan %}


def merge_parts(path: Path, parts: int) -> int:
    """Merge the ``<stem>-rank<N>`` files of ``parts`` processes into ``path``; count its rows."""
    files = [path.with_name(f"{path.stem}-rank{rank}{path.suffix}") for rank in range(parts)]
    tables = [file.read_text().splitlines() for file in files]
    rows = sorted((r for table in tables for r in table[1:]), key=lambda r: int(r.split(",")[0]))
    path.write_text("\n".join([tables[0][0], *rows]) + "\n")
    for file in files:
        file.unlink()
    return len(rows)
{%- endif %}


class PredictionWriter(BasePredictionWriter):
{%- if gan %}
    """Write every image predict generated, 16 to a row.

    The file goes to the predict's folder; under DDP each process writes ``<stem>-rank<N>``.
{%- else %}
    """Write each sample's index, name (file or index), label (-1: unknown), prediction, p<class>.

    In the predict's folder: each process writes its part, which the first merges into it.
{%- endif %}

    Args:
        filename: Name of the file in the predict's folder.
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
{%- if gan %}
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}-rank{trainer.global_rank}{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        images = torch.cat(list(predictions)).float()
        save_image(images, path, nrow=16, padding=2, pad_value=1.0)
        rank_zero_info(f"Wrote {len(images)} generated images to {path.resolve()}")
{%- else %}
        part = path.with_name(f"{path.stem}-rank{trainer.global_rank}{path.suffix}")
        part.parent.mkdir(parents=True, exist_ok=True)
        index = [i for batch in batch_indices[0] for i in batch]  # the one dataloader's samples
        names = dict(enumerate(getattr(trainer.predict_dataloaders.dataset, "names", None) or []))
        columns = {k: torch.cat([out[k] for out in predictions]).tolist() for k in predictions[0]}
        with part.open("w", newline="") as handle:
            writer = csv.writer(handle)
            classes = [f"p{c}" for c in range(len(columns["p"][0]))]
            writer.writerow(["index", "name", "label", "prediction", *classes])
            for i, label, prediction, p in zip(index, *columns.values(), strict=True):
                writer.writerow([i, names.get(i, i), label, prediction, *(f"{q:.4f}" for q in p)])
        trainer.strategy.barrier()  # every process has written its part
        if trainer.is_global_zero:
            count = merge_parts(path, trainer.world_size)
            rank_zero_info(f"Wrote {count} predictions to {path.resolve()}")
{%- endif %}
