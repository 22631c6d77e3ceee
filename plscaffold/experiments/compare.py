"""``experiment compare``: what each run really used (its saved config) and logged (its metrics)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
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
from plscaffold.experiments.runs import (
    Run,
    epoch_lists,
    experiment_runs,
    logger_keys,
    project_monitor,
)
from plscaffold.experiments.sweeps import sweep_points
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
    point: dict[str, Any] = field(default_factory=dict)
    """The values its sweep set (``lineage.point``); empty for an experiment of no sweep."""


@dataclass(frozen=True)
class ExperimentSummary:
    """An experiment as compared: the runs looked at (its latest, or all), or why none."""

    name: str
    runs: list[RunSummary]
    missing: str | None
    point: dict[str, Any] = field(default_factory=dict)
    """The values its sweep set (``lineage.point``); empty for an experiment of no sweep."""

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
        sweeps: Each sweep named in the comparison, with its points.
    """

    experiments: list[ExperimentSummary]
    columns: list[str]
    rows: list[tuple[str, list[Any]]]
    best: dict[str, Any] | None
    sweeps: dict[str, list[str]] = field(default_factory=dict)


def expand_names(root_abspath: Path, names: list[str]) -> list[str]:
    """Return the experiments asked for, a sweep's name standing for all of its points.

    Raises:
        ExperimentError: a name is neither an experiment, a sweep nor ``default``.
    """
    return list(dict.fromkeys(m for ms in _expanded(root_abspath, names).values() for m in ms))


def _expanded(root_abspath: Path, names: list[str]) -> dict[str, list[str]]:
    """Return each name asked for with the experiments it stands for.

    Raises:
        ExperimentError: a name is neither an experiment, a sweep nor ``default``.
    """
    known = experiment_names(root_abspath)
    known_set = {*known, DEFAULT_PARENT}
    expanded: dict[str, list[str]] = {}
    for name in names:
        # `default`: the runs of the defaults, the baseline of every experiment.
        members = [name] if name in known_set else sweep_points(root_abspath, name, known)
        if not members:
            raise ExperimentError(
                f"no experiment or sweep {name!r}; known experiments: {', '.join(known) or 'none'} "
                "(and default, the runs without --experiment)"
            )
        expanded[name] = members
    return expanded


@dataclass(frozen=True)
class _Project:
    """What every experiment of one comparison shares: where runs go, the default monitor."""

    root_abspath: Path
    package: str
    logger: dict[str, Any]
    monitor: tuple[str, str]


def _summarize(run: Run, label: str, project: _Project, point: dict[str, Any]) -> RunSummary:
    metrics = run.metrics()
    monitor, mode = run.monitor(project.monitor)
    return RunSummary(
        label,
        run.folder.relative_to(project.root_abspath).as_posix(),
        run.saved_config(),
        metrics.values,
        metrics.best(monitor, mode),
        metrics.unreadable,
        point,
    )


def _summary(project: _Project, name: str, all_runs: bool) -> ExperimentSummary:
    root_abspath = project.root_abspath
    point: dict[str, Any] = {}
    if name != DEFAULT_PARENT:
        stored = lineage_of(root_abspath, name).get("point")
        point = stored if isinstance(stored, dict) else {}
    runs = experiment_runs(root_abspath, name, project.logger)
    if not runs:
        command = f"{project.package} fit" + (
            "" if name == DEFAULT_PARENT else f" --experiment {name}"
        )
        return ExperimentSummary(name, [], f"no run yet; train it with `{command}`", point)
    chosen = runs if all_runs else runs[-1:]
    summaries = [
        _summarize(run, f"{name}/{run.name}" if all_runs else name, project, point)
        for run in chosen
    ]
    return ExperimentSummary(name, summaries, None, point)


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
    expanded = _expanded(root_abspath, names)
    project = _Project(
        root_abspath, package, logger_keys(root_abspath), project_monitor(root_abspath)
    )
    members = dict.fromkeys(member for group in expanded.values() for member in group)
    summaries = [_summary(project, name, all_runs) for name in members]
    runs = [run for summary in summaries for run in summary.runs]
    sweeps = {name: group for name, group in expanded.items() if group != [name]}
    return Comparison(
        summaries, [run.label for run in runs], _differences(runs), _best_run(runs), sweeps
    )


def missing_lines(comparison: Comparison) -> list[str]:
    """Return why experiments have no run, a line each; a sweep's points count as one line.

    ``lr: 1,000 points, 0 run; train them with ...`` stands for the points of ``lr`` that
    have no run yet, naming up to three of them when only some are missing.
    """
    in_sweeps = {point for points in comparison.sweeps.values() for point in points}
    lines = [
        f"{summary.name}: {summary.missing}"
        for summary in comparison.experiments
        if summary.missing and summary.name not in in_sweeps
    ]
    return lines + sweep_missing_lines(comparison)


def sweep_missing_lines(comparison: Comparison) -> list[str]:
    """Return a line for each sweep compared whose points have not all run; see
    :func:`missing_lines`."""
    by_name = {summary.name: summary for summary in comparison.experiments}
    lines = []
    for sweep, points in comparison.sweeps.items():
        idle = [point for point in points if by_name[point].missing]
        if not idle:
            continue
        named = f" ({', '.join(idle)} without)" if len(idle) <= 3 < len(points) else ""
        lines.append(
            f"{sweep}: {len(points):,} points, {len(points) - len(idle):,} run{named}; train "
            f"them with `plscaffold experiment sweep {sweep} --run` (here, in turn) or "
            f"`plscaffold experiment sweep {sweep} --slurm` (a SLURM job array)"
        )
    return lines


def short_keys(keys: list[str]) -> dict[str, str]:
    """Return each dotted key by its shortest ending that no other key shares.

    ``model.init_args.optimizer.init_args.lr`` is ``lr`` beside ``data.init_args.batch_size``
    (``batch_size``); ``init_args`` parts are left out.
    """
    parts = {key: [part for part in key.split(".") if part != "init_args"] for key in keys}
    short = {}
    for key, names in parts.items():
        for length in range(1, len(names) + 1):
            ending = ".".join(names[-length:])
            others = [k for k in keys if k != key and ".".join(parts[k][-length:]) == ending]
            if not others:
                break
        short[key] = ending
    return short


def point_label(point: dict[str, Any]) -> str:
    """Return a sweep point by its values: ``lr=0.001, batch_size=32``."""
    names = short_keys(list(point))
    return ", ".join(f"{names[key]}={cell_text(value)}" for key, value in point.items())


def sweep_table(comparison: Comparison) -> tuple[list[str], list[list[str]]] | None:
    """Return a table of the compared runs by their sweep points' values, the best marked.

    One row per run: its name, each swept value, its best monitored value and epoch;
    ``*`` marks the best run. None when a compared run is of no sweep.
    """
    runs = [run for summary in comparison.experiments for run in summary.runs]
    if not runs or not all(run.point for run in runs):
        return None
    keys = list(dict.fromkeys(key for run in runs for key in run.point))
    names = short_keys(keys)
    metrics = {run.best["metric"] for run in runs if run.best}
    header = ["point", *(names[key] for key in keys)]
    header += [f"best {metrics.pop()}" if len(metrics) == 1 else "best", "epoch", ""]
    best_run = comparison.best["run"] if comparison.best else None
    rows = [
        [
            run.label,
            *(cell_text(run.point[key]) if key in run.point else "-" for key in keys),
            f"{run.best['value']:.4f}" if run.best else "-",
            str(run.best["epoch"]) if run.best else "-",
            "* best" if run.label == best_run else "",
        ]
        for run in runs
    ]
    return header, rows


def run_legend(run: RunSummary) -> str:
    """Return how a plot's legend names a run: by its sweep point's values, else its label."""
    if not run.point:
        return run.label
    run_name = run.label.partition("/")[2]
    return point_label(run.point) + (f" ({run_name})" if run_name else "")


def cell_text(value: Any, width: int = 40) -> str:
    """Return a config value for a table cell, at most ``width`` characters.

    A list of classes (callbacks, loggers) shows their class names; anything longer than
    ``width`` ends in ``...``.
    """
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and "class_path" in item for item in value)
    ):
        text = "[" + ", ".join(str(item["class_path"]).rpartition(".")[2] for item in value) + "]"
    elif isinstance(value, dict) and "class_path" in value:
        text = str(value["class_path"]).rpartition(".")[2] + "(...)"
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


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
