"""Loggers for runs that continue: Lightning's CSVLogger, keeping a resumed run's rows."""

from __future__ import annotations

import csv

from pytorch_lightning.loggers import CSVLogger as LightningCSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment
from typing_extensions import override


class ContinuingExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer that appends to an existing metrics.csv instead of deleting it."""

    @override
    def _check_log_dir_exists(self) -> None:
        # Lightning's writer deletes the metrics.csv of a folder in use. A resumed run
        # (--ckpt_path last) writes into its own folder on purpose: keep its rows and
        # header, and let new rows follow them.
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])


class CSVLogger(LightningCSVLogger):
    """Lightning's CSVLogger: ``<save_dir>/<name>/<version>/metrics.csv`` and hparams.yaml.

    When a run continues in its folder, ``metrics.csv`` keeps the rows of its earlier
    steps, as TensorBoard's event files do.
    """

    @property
    @override
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = ContinuingExperimentWriter(log_dir=self.log_dir)
        return self._experiment
