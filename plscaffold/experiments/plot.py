"""The compare plot: one panel per metric, per-epoch values of every compared run."""

from __future__ import annotations

import io
import math
from typing import Any

from plscaffold.errors import PlotUnavailableError
from plscaffold.experiments.compare import Comparison

_COLUMNS = 3


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
    axis around that epoch; experiments without data get a title line each, saying why.

    Raises:
        PlotUnavailableError: matplotlib is not installed.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    metrics = _panel_metrics(comparison)
    if not metrics:
        return None
    columns = min(_COLUMNS, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(5 * columns, 3.6 * rows + 0.6), squeeze=False
    )
    for axis, metric in zip(axes.flat, metrics, strict=False):
        epochs_seen: set[int] = set()
        for summary in comparison.experiments:
            for run in summary.runs:
                points = sorted(run.metrics.get(metric, {}).items())
                if not points:
                    continue
                epochs, values = zip(*points, strict=True)
                epochs_seen.update(epochs)
                axis.plot(epochs, values, marker="o", markersize=4, label=run.label)
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if epochs_seen:
            axis.set_xlim(min(epochs_seen) - 0.5, max(epochs_seen) + 0.5)
            axis.legend(fontsize="small")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(metrics) :]:
        axis.set_visible(False)
    lines = [title]
    for summary in comparison.experiments:
        reasons = [summary.missing] if summary.missing else []
        reasons += [run.unreadable for run in summary.runs if run.unreadable]
        lines += [f"{summary.name}: {reason}" for reason in reasons if reason]
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
