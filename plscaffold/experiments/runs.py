"""Runs of an experiment: the folders its logger made, the config each saved and its metrics.

Every ``fit`` of an experiment is one folder, ``<save_dir>/<name>/<run>/``, holding the
config LightningCLI saved (``config.yaml``, what the run really used), ``checkpoints/``
and the logger's files: TensorBoard event files, ``metrics.csv``, or the record of the
run's MLflow or W&B run (``mlflow.json``, ``wandb.json``). MLflow's metrics are read from
a local store (SQLite or files); W&B's offline files only W&B reads.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plscaffold.errors import ExperimentError, one_line
from plscaffold.experiments.configs import (
    DEFAULT_CONFIG_RELPATH,
    DEFAULT_PARENT,
    chain_keys,
    flatten,
    read_yaml,
)

SAVED_CONFIG = "config.yaml"
# What the project's MLflow and W&B loggers write in a run's folder: which tracker run it is.
MLFLOW_RECORD = "mlflow.json"
WANDB_RECORD = "wandb.json"
# Metrics that are not per epoch: step-level values and what Lightning logs for itself.
_NOT_PER_EPOCH = ("epoch", "step", "hp_metric")
FALLBACK_MONITOR = ("val_acc", "max")
"""The metric and mode a run is judged by where neither its config nor the project's
``configs/default.yaml`` sets ``checkpoint.monitor`` (the generated project's own choice)."""
MAX_EPOCH = 100_000
"""The highest epoch read from a log: JSON lists each metric by epoch, so ``1e12`` would be
a list of a trillion values; Lightning's default ``max_epochs`` is 1,000."""


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
    # Where the project runs from: a tracker's local store named by a relative path is there.
    project_abspath: Path | None = None

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
            try:
                return _csv_metrics(csv_path)
            except (OSError, ValueError, csv.Error) as err:  # a log damaged or not a CSV's
                return Metrics(unreadable=f"{csv_path} could not be read: {_reason(err)}")
        if any(self.folder.glob("events.out.tfevents.*")):
            try:
                return _tensorboard_metrics(self.folder)
            except ValueError as err:
                return Metrics(unreadable=f"its TensorBoard logs could not be read: {_reason(err)}")
        if (self.folder / MLFLOW_RECORD).is_file():
            record = self.folder / MLFLOW_RECORD
            try:
                return _mlflow_metrics(record, self.project_abspath or Path.cwd())
            except (OSError, ValueError, KeyError, RecursionError, sqlite3.Error) as err:
                return Metrics(
                    unreadable=f"its MLflow run ({record}) could not be read: {_reason(err)}"
                )
        if (self.folder / WANDB_RECORD).is_file():
            return Metrics(
                unreadable=f"its W&B files ({self.folder / 'wandb'}) are in W&B's own format, "
                "which plscaffold does not read; `wandb sync "
                f"{self.folder / 'wandb'}/offline-run-*` uploads them to compare in W&B"
            )
        return Metrics()

    def monitor(self, default: tuple[str, str] = FALLBACK_MONITOR) -> tuple[str, str]:
        """Return the metric the run's ModelCheckpoint monitored and its mode.

        Args:
            default: What a saved config without ``checkpoint.monitor`` stands for: the
                project's (see :func:`monitor_of`).
        """
        return monitor_of(flatten(self.saved_config() or {}), default)

    def last_change_ns(self) -> int:
        """Return when the run last wrote a file."""
        times = [p.stat().st_mtime_ns for p in self.folder.rglob("*") if p.is_file()]
        return max(times, default=self.folder.stat().st_mtime_ns)


def monitor_of(
    flat: dict[str, Any], default: tuple[str, str] = FALLBACK_MONITOR
) -> tuple[str, str]:
    """Return the ``checkpoint.monitor`` and ``checkpoint.mode`` a flat config sets,
    each one it leaves out taken from ``default``."""
    return (
        str(flat.get("checkpoint.monitor") or default[0]),
        str(flat.get("checkpoint.mode") or default[1]),
    )


def project_monitor(root_abspath: Path) -> tuple[str, str]:
    """Return the project's monitored metric and mode: ``checkpoint`` of its default config.

    This is the one default of every command that judges runs (``experiment list``,
    ``compare``, an Optuna study): :data:`FALLBACK_MONITOR` only where the project's
    ``configs/default.yaml`` names no monitor.
    """
    return monitor_of(flatten(read_yaml(root_abspath / DEFAULT_CONFIG_RELPATH)))


def epoch_lists(values: dict[str, dict[int, float]]) -> dict[str, list[float | None]]:
    """Return each metric as a list indexed by epoch, ``None`` where it was not logged."""
    return {
        name: [by_epoch.get(epoch) for epoch in range(max(by_epoch) + 1)]
        for name, by_epoch in sorted(values.items())
        if by_epoch
    }


def _per_epoch(name: str) -> bool:
    return name not in _NOT_PER_EPOCH and not name.endswith("_step")


def _epoch(logged: float | str) -> int:
    """Return an epoch as a logger wrote it (``3``, ``3.0``).

    Raises:
        ValueError: it is not a whole number from 0 to :data:`MAX_EPOCH`.
    """
    try:
        number = float(logged)
    except ValueError:
        number = math.nan
    if not (number.is_integer() and 0 <= number <= MAX_EPOCH):
        raise ValueError(
            f"epoch {str(logged)[:20]!r} is not a whole number from 0 to {MAX_EPOCH:,}"
        )
    return int(number)


def _reason(err: Exception) -> str:
    """Return why a log could not be read, on one line, with what to do about it."""
    if isinstance(err, UnicodeDecodeError):
        reason = "it is not UTF-8 text"
    elif isinstance(err, RecursionError):
        reason = "it nests too deeply"
    else:
        reason = one_line(str(err)) or type(err).__name__
    return f"{reason}; fix the file, or move the run's folder away"


def _csv_metrics(path: Path) -> Metrics:
    """Return the per-epoch metrics of a ``metrics.csv``.

    Raises:
        ValueError: an epoch or a value is not a number (the message names its line), or
            the file is not UTF-8 text.
        csv.Error: the file is not CSV.
    """
    read: list[tuple[int, int | ValueError | None, int | None, dict[str, str]]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle)
        for row in rows:
            text = (row.get("epoch") or "").strip()
            try:
                epoch: int | ValueError | None = _epoch(text) if text else None
            except ValueError as err:  # refused below if the row logged a value
                epoch = err
            read.append((rows.line_num, epoch, _step(row.get("step") or ""), row))
    steps = _EpochSteps(
        [(step, epoch) for _, epoch, step, _ in read if isinstance(epoch, int) and step is not None]
    )
    values: dict[str, dict[int, float]] = {}
    for line, epoch, step, row in read:
        logged = [(name, text) for name, text in row.items() if name and text and _per_epoch(name)]
        if isinstance(epoch, ValueError) and logged:
            raise ValueError(f"line {line}: {epoch}")
        # A row without an epoch (LearningRateMonitor's, logged as an epoch starts)
        # belongs to the epoch logged next from its step on.
        at = epoch if isinstance(epoch, int) else None
        if epoch is None and step is not None:
            at = steps.epoch_at(step)
        if at is None:
            continue
        for name, text in logged:
            try:
                values.setdefault(name, {})[at] = float(text)
            except ValueError as err:
                raise ValueError(f"line {line}: {err}") from err
    return Metrics(values)


def _step(text: str) -> int | None:
    """Return a step as a logger wrote it (``30``, ``30.0``), or None if it is none."""
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


class _EpochSteps:
    """The epochs logged at each step, to place a value logged at a step without one."""

    def __init__(self, logged: list[tuple[int, int]]) -> None:
        self._steps = sorted(logged)

    def epoch_at(self, step: int) -> int | None:
        """Return the epoch logged first at ``step`` or after; the last one past them all."""
        if not self._steps:
            return None
        index = bisect.bisect_left(self._steps, (step, -1))
        return self._steps[min(index, len(self._steps) - 1)][1]


def _tensorboard_metrics(folder: Path) -> Metrics:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return Metrics(
            unreadable="its TensorBoard logs need the tensorboard package: pip install tensorboard"
        )
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    logged = [
        (tag, float(event.value), int(event.step))
        for tag in events.Tags().get("scalars", [])
        for event in events.Scalars(tag)
    ]
    return _by_epoch(logged)


def _mlflow_metrics(record_path: Path, base: Path) -> Metrics:
    """Read a run's metrics from the MLflow store its record names: SQLite or a file store."""
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if not isinstance(record, dict):
        raise ValueError("it is not a JSON object, as the project's MLflow logger writes")
    uri, run_id = str(record.get("tracking_uri") or ""), str(record.get("run_id") or "")
    if uri.startswith("sqlite:///"):
        store = base / uri.removeprefix("sqlite:///")  # an absolute path stays itself
        if not store.is_file():
            return Metrics(unreadable=f"its MLflow store {store} is not there")
        with sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT key, value, step, is_nan FROM metrics WHERE run_uuid = ?"
                " ORDER BY timestamp",
                (run_id,),
            ).fetchall()
        logged = [
            (key, math.nan if is_nan else float(value), int(step))
            for key, value, step, is_nan in rows
        ]
    elif uri.startswith("file:"):
        store = base / uri.removeprefix("file:").removeprefix("//")
        folder = store / str(record.get("experiment_id")) / run_id / "metrics"
        if not folder.is_dir():
            return Metrics(unreadable=f"its MLflow run is not in {store}")
        logged = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = path.relative_to(folder).as_posix()
            for line in path.read_text(encoding="utf-8").splitlines():
                _, value, step = line.split()[:3]
                logged.append((key, float(value), int(step)))
    else:
        return Metrics(
            unreadable=f"its metrics are on the MLflow server {uri}; plscaffold reads local "
            "stores (sqlite:///, file:) only: compare them in MLflow's UI"
        )
    return _by_epoch(logged)


def _by_epoch(logged: list[tuple[str, float, int]]) -> Metrics:
    """Return per-epoch metrics from ``(name, value, step)`` rows that include ``epoch``."""
    epochs = {step: _epoch(value) for name, value, step in logged if name == "epoch"}
    steps = _EpochSteps(list(epochs.items()))
    values: dict[str, dict[int, float]] = {}
    for name, value, step in logged:
        # A value at a step without an epoch (the learning rate, logged as an epoch
        # starts) belongs to the epoch logged next from its step on.
        epoch = epochs[step] if step in epochs else steps.epoch_at(step)
        if _per_epoch(name) and epoch is not None:
            values.setdefault(name, {})[epoch] = value
    return Metrics(values)


def logger_keys(root_abspath: Path) -> dict[str, Any]:
    """Return the flat keys of the default config's first logger, which places the runs.

    Read it once for many experiments and pass it to :func:`runs_root`.
    """
    logger = (read_yaml(root_abspath / DEFAULT_CONFIG_RELPATH).get("trainer") or {}).get("logger")
    first = logger[0] if isinstance(logger, list) and logger else logger
    return flatten({"trainer": {"logger": first}} if isinstance(first, dict) else {})


def runs_root(root_abspath: Path, name: str, logger: dict[str, Any] | None = None) -> Path:
    """Return the folder that holds an experiment's runs: ``<save_dir>/<logger name>``.

    The logger is the config's first (a tracker logs beside it); ``default`` stands for the
    runs of the defaults, without ``--experiment``.

    Args:
        root_abspath: The project.
        name: The experiment, or ``default``.
        logger: :func:`logger_keys` of the project, where it is known already.
    """
    merged = dict(logger_keys(root_abspath) if logger is None else logger)
    # An experiment whose lineage is broken cannot run (the project refuses it): the
    # defaults' folder, which it would have had, is where any runs of its name lie.
    with contextlib.suppress(ExperimentError):
        merged.update(chain_keys(root_abspath, name) if name != DEFAULT_PARENT else {})
    save_dir = root_abspath / str(merged.get("trainer.logger.init_args.save_dir") or "logs")
    default_name = merged.get("trainer.logger.init_args.name") or "lightning_logs"
    return save_dir / str(default_name if name == DEFAULT_PARENT else name)


def experiment_runs(
    root_abspath: Path, name: str, logger: dict[str, Any] | None = None
) -> list[Run]:
    """Return an experiment's runs, oldest first (by when each last wrote a file).

    ``logger`` is :func:`logger_keys` of the project, where it is known already.
    """
    folder = runs_root(root_abspath, name, logger)
    found = (
        [Run(name, p, root_abspath) for p in folder.iterdir() if p.is_dir()]
        if folder.is_dir()
        else []
    )
    return sorted(found, key=Run.last_change_ns)
