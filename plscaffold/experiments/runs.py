"""Runs of an experiment: the folders its logger made, the config each saved and its metrics.

Every ``fit`` of an experiment is one folder, ``<save_dir>/<name>/<run>/``, holding the
config LightningCLI saved (``config.yaml``, what the run really used), the logger's files
(TensorBoard event files or ``metrics.csv``) and ``checkpoints/``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plscaffold.experiments.configs import (
    DEFAULT_CONFIG_RELPATH,
    chain_keys,
    flatten,
    read_yaml,
)

SAVED_CONFIG = "config.yaml"
# Metrics that are not per epoch: step-level values and what Lightning logs for itself.
_NOT_PER_EPOCH = ("epoch", "step", "hp_metric")


@dataclass(frozen=True)
class Metrics:
    """Per-epoch metrics of a run: ``{name: {epoch: value}}``, or why they cannot be read."""

    values: dict[str, dict[int, float]] = field(default_factory=dict)
    unreadable: str | None = None

    def best(self, monitor: str, mode: str) -> dict[str, Any] | None:
        """Return the best epoch of ``monitor`` (``mode`` max or min), or None if not logged."""
        by_epoch = {e: v for e, v in self.values.get(monitor, {}).items() if not math.isnan(v)}
        if not by_epoch:
            return None
        pick = max if mode == "max" else min
        epoch = pick(sorted(by_epoch), key=by_epoch.__getitem__)  # the earliest of equals
        return {"metric": monitor, "mode": mode, "value": by_epoch[epoch], "epoch": epoch}


@dataclass(frozen=True)
class Run:
    """One run of an experiment."""

    experiment: str
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    def saved_config(self) -> dict[str, Any] | None:
        """Return the config the run trained with (LightningCLI's ``config.yaml``), if saved."""
        path = self.folder / SAVED_CONFIG
        return read_yaml(path) if path.is_file() else None

    def metrics(self) -> Metrics:
        """Return the run's per-epoch metrics from its CSV or TensorBoard logs."""
        csv_path = self.folder / "metrics.csv"
        if csv_path.is_file():
            return _csv_metrics(csv_path)
        if any(self.folder.glob("events.out.tfevents.*")):
            return _tensorboard_metrics(self.folder)
        return Metrics()

    def monitor(self) -> tuple[str, str]:
        """Return the metric the run's ModelCheckpoint monitored and its mode."""
        flat = flatten(self.saved_config() or {})
        return str(flat.get("checkpoint.monitor") or "val_acc"), str(
            flat.get("checkpoint.mode") or "max"
        )

    def last_change_ns(self) -> int:
        """Return when the run last wrote a file."""
        times = [p.stat().st_mtime_ns for p in self.folder.rglob("*") if p.is_file()]
        return max(times, default=self.folder.stat().st_mtime_ns)


def epoch_lists(values: dict[str, dict[int, float]]) -> dict[str, list[float | None]]:
    """Return each metric as a list indexed by epoch, ``None`` where it was not logged."""
    return {
        name: [by_epoch.get(epoch) for epoch in range(max(by_epoch) + 1)]
        for name, by_epoch in sorted(values.items())
        if by_epoch
    }


def _per_epoch(name: str) -> bool:
    return name not in _NOT_PER_EPOCH and not name.endswith("_step")


def _csv_metrics(path: Path) -> Metrics:
    values: dict[str, dict[int, float]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            epoch = row.get("epoch") or ""
            if not epoch.strip():
                continue
            for name, text in row.items():
                if name and text and _per_epoch(name):
                    values.setdefault(name, {})[int(float(epoch))] = float(text)
    return Metrics(values)


def _tensorboard_metrics(folder: Path) -> Metrics:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return Metrics(
            unreadable="its TensorBoard logs need the tensorboard package: pip install tensorboard"
        )
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags().get("scalars", [])
    epochs = {e.step: int(e.value) for e in events.Scalars("epoch")} if "epoch" in tags else {}
    values: dict[str, dict[int, float]] = {}
    for tag in tags:
        if not _per_epoch(tag):
            continue
        for event in events.Scalars(tag):
            if event.step in epochs:
                values.setdefault(tag, {})[epochs[event.step]] = float(event.value)
    return Metrics(values)


def runs_root(root_abspath: Path, name: str) -> Path:
    """Return the folder that holds an experiment's runs: ``<save_dir>/<logger name>``."""
    merged = flatten(read_yaml(root_abspath / DEFAULT_CONFIG_RELPATH))
    merged.update(chain_keys(root_abspath, name))
    save_dir = root_abspath / str(merged.get("trainer.logger.init_args.save_dir") or "logs")
    return save_dir / str(merged.get("trainer.logger.init_args.name") or name)


def experiment_runs(root_abspath: Path, name: str) -> list[Run]:
    """Return an experiment's runs, oldest first (by when each last wrote a file)."""
    folder = runs_root(root_abspath, name)
    found = [Run(name, p) for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    return sorted(found, key=Run.last_change_ns)
