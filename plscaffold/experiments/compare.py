"""``experiment compare``: what each run really used (its saved config) and logged (its metrics)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plscaffold.errors import ExperimentError
from plscaffold.experiments.configs import (
    DEFAULT_PARENT,
    experiment_names,
    flatten,
    lineage_of,
    owned_key,
)
from plscaffold.experiments.runs import Run, epoch_lists, experiment_runs
from plscaffold.paths import MAX_NAME_BYTES


@dataclass(frozen=True)
class RunSummary:
    """One run as compared: its folder, saved config, per-epoch metrics and best epoch."""

    label: str
    relpath: str
    config: dict[str, Any] | None
    metrics: dict[str, dict[int, float]]
    best: dict[str, Any] | None
    unreadable: str | None


@dataclass(frozen=True)
class ExperimentSummary:
    """An experiment as compared: the runs looked at (its latest, or all), or why none."""

    name: str
    runs: list[RunSummary]
    missing: str | None

    @property
    def latest(self) -> RunSummary | None:
        return self.runs[-1] if self.runs else None


@dataclass(frozen=True)
class Comparison:
    """Experiments side by side.

    Attributes:
        experiments: One summary per experiment, in the order asked.
        columns: A label per compared run (``NAME``, or ``NAME/RUN`` with all runs).
        rows: ``(key, [value per column])`` for the saved-config keys that differ.
        best: The best run by the shared monitored metric, or None.
    """

    experiments: list[ExperimentSummary]
    columns: list[str]
    rows: list[tuple[str, list[Any]]]
    best: dict[str, Any] | None


def sweep_points(root_abspath: Path, sweep: str) -> list[str]:
    """Return the experiments of a sweep (``SWEEP-0``, ``SWEEP-1``, ...), by point number."""
    points = [
        name
        for name in experiment_names(root_abspath)
        if name.startswith(f"{sweep}-")
        and name.rpartition("-")[2].isdigit()
        and lineage_of(root_abspath, name).get("sweep") == sweep
    ]
    return sorted(points, key=lambda name: int(name.rpartition("-")[2]))


def sweeps(root_abspath: Path) -> dict[str, list[str]]:
    """Return each sweep of the project with its points (see :func:`sweep_points`)."""
    found: dict[str, list[str]] = {}
    for name in experiment_names(root_abspath):
        sweep = lineage_of(root_abspath, name).get("sweep")
        if isinstance(sweep, str) and sweep and sweep not in found:
            found[sweep] = sweep_points(root_abspath, sweep)
    return {sweep: points for sweep, points in sorted(found.items()) if points}


def expand_names(root_abspath: Path, names: list[str]) -> list[str]:
    """Return the experiments asked for, a sweep's name standing for all of its points.

    Raises:
        ExperimentError: a name is neither an experiment, a sweep nor ``default``.
    """
    known = experiment_names(root_abspath)
    expanded: list[str] = []
    for name in names:
        # `default`: the runs of the defaults, the baseline of every experiment.
        members = [name] if name in (*known, DEFAULT_PARENT) else sweep_points(root_abspath, name)
        if not members:
            raise ExperimentError(
                f"no experiment or sweep {name!r}; known experiments: {', '.join(known) or 'none'} "
                "(and default, the runs without --experiment)"
            )
        expanded += [member for member in members if member not in expanded]
    return expanded


def _summarize(run: Run, label: str, root_abspath: Path) -> RunSummary:
    metrics = run.metrics()
    monitor, mode = run.monitor()
    return RunSummary(
        label,
        run.folder.relative_to(root_abspath).as_posix(),
        run.saved_config(),
        metrics.values,
        metrics.best(monitor, mode),
        metrics.unreadable,
    )


def _summary(root_abspath: Path, package: str, name: str, all_runs: bool) -> ExperimentSummary:
    runs = experiment_runs(root_abspath, name)
    if not runs:
        command = f"{package} fit" + ("" if name == DEFAULT_PARENT else f" --experiment {name}")
        return ExperimentSummary(name, [], f"no run yet; train it with `{command}`")
    chosen = runs if all_runs else runs[-1:]
    summaries = [
        _summarize(run, f"{name}/{run.name}" if all_runs else name, root_abspath) for run in chosen
    ]
    return ExperimentSummary(name, summaries, None)


def _differences(runs: list[RunSummary]) -> list[tuple[str, list[Any]]]:
    flats = [flatten(run.config or {}) for run in runs]
    keys = sorted({key for flat in flats for key in flat if owned_key(key) is None})
    rows = [(key, [flat.get(key) for flat in flats]) for key in keys]
    return [(key, values) for key, values in rows if any(v != values[0] for v in values)]


def _best_run(runs: list[RunSummary]) -> dict[str, Any] | None:
    """Return the best run when every run with a best monitors the same metric the same way."""
    scored = [(run, run.best) for run in runs if run.best is not None]
    goals = {(best["metric"], best["mode"]) for _, best in scored}
    if len(goals) != 1:
        return None
    ((_, mode),) = goals
    pick = max if mode == "max" else min
    winner, best = pick(scored, key=lambda scored_run: float(scored_run[1]["value"]))
    return {"run": winner.label, "path": winner.relpath, **best}


def compare_experiments(
    root_abspath: Path, package: str, names: list[str], all_runs: bool = False
) -> Comparison:
    """Compare experiments (a sweep's name standing for its points) by what their runs used.

    Each experiment is looked at through its latest run (every run with ``all_runs``):
    the config LightningCLI saved there, and the metrics its logger wrote.

    Raises:
        ExperimentError: no name, or one that is neither an experiment nor a sweep.
    """
    if not names:
        raise ExperimentError("name the experiments to compare, such as: compare small large")
    summaries = [
        _summary(root_abspath, package, name, all_runs)
        for name in expand_names(root_abspath, names)
    ]
    runs = [run for summary in summaries for run in summary.runs]
    return Comparison(summaries, [run.label for run in runs], _differences(runs), _best_run(runs))


def plot_file_name(names: list[str]) -> str:
    """Return the file name of a comparison's plot: ``compare-A-vs-B.png``.

    Each name counts once, however often it was given, as in the comparison. Names too many
    or too long for one file name (255 bytes) keep their start and end in a hash of them
    all, so that two comparisons still get two files.
    """
    joined = "-vs-".join(dict.fromkeys(names))
    name = f"compare-{joined}.png"
    if len(os.fsencode(name)) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(os.fsencode(joined)).hexdigest()[:16]
    start = os.fsencode(joined)[:200].decode("utf-8", "ignore")
    return f"compare-{start}-{digest}.png"


def comparison_json(comparison: Comparison, plot: Path | None) -> dict[str, Any]:
    """Return a comparison as JSON-ready data (the ``--json`` output)."""

    experiments = []
    for summary in comparison.experiments:
        latest = summary.latest
        experiments.append(
            {
                "name": summary.name,
                "runs": [
                    {
                        "run": Path(run.relpath).name,
                        "path": run.relpath,
                        "metrics": epoch_lists(run.metrics),
                        "best": run.best,
                        **({"unreadable": run.unreadable} if run.unreadable else {}),
                    }
                    for run in summary.runs
                ],
                "config": latest.config if latest else None,
                "metrics": epoch_lists(latest.metrics) if latest else {},
                "best": latest.best if latest else None,
                "missing": summary.missing,
            }
        )
    return {
        "experiments": experiments,
        "best": comparison.best,
        "plot": str(plot) if plot else None,
    }
