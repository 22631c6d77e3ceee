"""The compare plot: one panel per metric, per-epoch values of every compared run."""

from __future__ import annotations

import io
import math
from typing import Any

from plscaffold.errors import PlotUnavailableError
from plscaffold.experiments.compare import Comparison, RunSummary, missing_lines, run_legend

_COLUMNS = 3
# Metrics of an evaluation after training (``test`` logs at epoch 0 of its own trainer).
_AFTER_TRAINING = "test_"


def _points(run: RunSummary, metric: str) -> list[tuple[int, float]]:
    """Return a run's ``(epoch, value)`` of a metric; an evaluation's at the last epoch."""
    points = sorted(run.metrics.get(metric, {}).items())
    if not metric.startswith(_AFTER_TRAINING) or not points:
        return points
    trained = [max(by_epoch) for name, by_epoch in run.metrics.items()
               if by_epoch and not name.startswith(_AFTER_TRAINING)]  # fmt: skip
    return [(max(trained, default=points[-1][0]), points[-1][1])]


def _panel_metrics(comparison: Comparison) -> list[str]:
    """Return the metrics to draw: the monitored one first, then the others by name."""
    runs = [run for summary in comparison.experiments for run in summary.runs]
    names = sorted({name for run in runs for name in run.metrics})
    monitors = [run.best["metric"] for run in runs if run.best]
    first = [m for m in dict.fromkeys(monitors) if m in names]
    return first + [name for name in names if name not in first]


def _pyplot() -> Any:
    """Return matplotlib's pyplot with a non-interactive backend.

    Raises:
        PlotUnavailableError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise PlotUnavailableError(
            "no plot: matplotlib is not installed in this Python (pip install matplotlib)"
        ) from err
    return plt


def draw_comparison(comparison: Comparison, title: str) -> Any:
    """Draw the comparison; return the matplotlib figure, or None when no run logged a metric.

    A run's line has a marker at each epoch, so a run of one epoch shows as a point on an
    axis around that epoch; a sweep's runs are named by their points' values, the best
    run is drawn bold with a star at its best epoch, and a ``test_*`` metric (an
    evaluation after training) is a star at the run's last trained epoch. Experiments
    without data get a title line saying why (a sweep's, one line for all its points).

    Raises:
        PlotUnavailableError: matplotlib is not installed.
    """
    metrics = _panel_metrics(comparison)
    if not metrics:
        return None
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    # The best is marked where there is a choice: among two runs or more.
    best = comparison.best["run"] if comparison.best and len(comparison.columns) > 1 else None
    columns = min(_COLUMNS, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5 * columns, 3.6 * rows + 0.6), squeeze=False
    )
    for axis, metric in zip(axes.flat, metrics, strict=False):
        epochs_seen: set[int] = set()
        for summary in comparison.experiments:
            for run in summary.runs:
                points = _points(run, metric)
                if not points:
                    continue
                epochs, values = zip(*points, strict=True)
                epochs_seen.update(epochs)
                is_best = run.label == best
                label = run_legend(run) + (" (best)" if is_best else "")
                if metric.startswith(_AFTER_TRAINING):
                    axis.plot(epochs, values, marker="*", markersize=10, linestyle="none",
                              label=label)  # fmt: skip
                    continue
                (line,) = axis.plot(epochs, values, marker="o", markersize=4, label=label,
                                    linewidth=2.5 if is_best else 1.5)  # fmt: skip
                if is_best and comparison.best and comparison.best["metric"] == metric:
                    # A scatter, not a line: the star sits on the run's line, in its colour.
                    axis.scatter([comparison.best["epoch"]], [comparison.best["value"]],
                                 marker="*", s=200, color=line.get_color(), zorder=3)  # fmt: skip
        axis.set_title(metric + (" (after training)" if metric.startswith(_AFTER_TRAINING) else ""))
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if epochs_seen:
            axis.set_xlim(min(epochs_seen) - 0.5, max(epochs_seen) + 0.5)
            axis.legend(fontsize="small")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(metrics) :]:
        axis.set_visible(False)
    lines = [title, *missing_lines(comparison)]
    for summary in comparison.experiments:
        lines += [f"{summary.name}: {run.unreadable}" for run in summary.runs if run.unreadable]
    figure.suptitle("\n".join(lines), fontsize="medium")
    figure.tight_layout()
    return figure


def plot_comparison(comparison: Comparison, title: str) -> bytes | None:
    """Draw the comparison as a PNG, in memory; None when no run logged a metric.

    The caller writes it through the project's write path, as every file plscaffold makes.

    Raises:
        PlotUnavailableError: matplotlib is not installed.
    """
    figure = draw_comparison(comparison, title)
    if figure is None:
        return None
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    _pyplot().close(figure)
    return png.getvalue()
