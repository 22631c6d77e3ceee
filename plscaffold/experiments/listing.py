"""``experiment list``: each experiment with its parent, changes and its latest run's best."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plscaffold.experiments.configs import (
    DEFAULT_PARENT,
    experiment_names,
    experiment_path,
    flatten,
    owned_key,
    read_yaml,
)
from plscaffold.experiments.runs import experiment_runs, logger_keys, project_monitor


@dataclass(frozen=True)
class Experiment:
    """One experiment file and what is known about its latest run."""

    name: str
    parent: str
    description: str
    changed_keys: list[str]
    monitor: str
    best_value: float | None
    best_epoch: int | None
    last_checkpoint_relpath: str | None
    runs: int


def list_experiments(root_abspath: Path) -> list[Experiment]:
    """Return every experiment with its parent, changed keys, best metric and last checkpoint.

    The metric (read from the run's logs) and checkpoint are those of its latest run; the
    metric is the run's ``checkpoint.monitor``, else the project's.
    """
    experiments = []
    logger, default_monitor = logger_keys(root_abspath), project_monitor(root_abspath)
    for name in experiment_names(root_abspath):
        own = read_yaml(experiment_path(root_abspath, name))
        lineage = own.get("lineage") or {}
        changed = [key for key in flatten(own) if owned_key(key) is None]
        runs = experiment_runs(root_abspath, name, logger)
        latest = runs[-1] if runs else None
        monitor, mode = latest.monitor(default_monitor) if latest else default_monitor
        best = latest.metrics().best(monitor, mode) if latest else None
        last = latest.folder / "checkpoints" / "last.ckpt" if latest else None
        experiments.append(
            Experiment(
                name,
                str(lineage.get("parent") or DEFAULT_PARENT),
                str(lineage.get("description") or ""),
                changed,
                monitor,
                best["value"] if best else None,
                best["epoch"] if best else None,
                last.relative_to(root_abspath).as_posix() if last and last.is_file() else None,
                len(runs),
            )
        )
    return experiments
