"""Experiments of a generated project: create, list, compare, sweep and study them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plscaffold.errors import InvalidOptionError, TargetExistsError
from plscaffold.render import RenderedFile
from plscaffold.state import open_project

if TYPE_CHECKING:  # experiments import subprocess and more: only their commands need them
    from plscaffold.experiments.compare import Comparison
    from plscaffold.experiments.listing import Experiment
    from plscaffold.experiments.studies import BestTrial
    from plscaffold.experiments.sweeps import PointRun


@dataclass(frozen=True)
class CreatedExperiment:
    """What ``new_experiment`` wrote.

    Attributes:
        path: The experiment's file.
        parent: Its lineage's parent (``default``, an experiment, ``template:NAME``).
        keys: The keys it sets, flat (``trainer.max_epochs``), lineage left out.
        command: How to train it.
    """

    path: Path
    parent: str
    keys: dict[str, Any]
    command: str


def new_experiment(
    name: str,
    project_dir: Path = Path("."),
    parent: str = "default",
    assignments: list[str] | None = None,
    description: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> CreatedExperiment:
    """Write configs/experiments/NAME.yaml; see :func:`plscaffold.experiments.create`."""
    from plscaffold.experiments import configs, create

    changes = configs.changes_of(assignments or [])
    with open_project(project_dir) as state:  # held while the experiment is checked and written
        package = state.package_name
        path, document = create.new_experiment(
            state, name, parent, changes, description, on_progress
        )
    keys = {k: v for k, v in configs.flatten(document).items() if not k.startswith("lineage")}
    lineage = document["lineage"]["parent"]
    return CreatedExperiment(path, lineage, keys, f"{package} fit --experiment {name}")


def experiment_templates() -> dict[str, tuple[str, dict[str, Any]]]:
    """Return the built-in experiment templates: name -> (description, flat keys)."""
    from plscaffold.experiments import configs

    return {
        name: (description, configs.flatten(keys))
        for name, (description, keys) in configs.builtin_experiments().items()
    }


def experiment_names(project_dir: Path = Path(".")) -> list[str]:
    """Return the names of the project's experiments (its files in configs/experiments/)."""
    from plscaffold.experiments import configs

    with open_project(project_dir, read_only=True) as state:  # shell completion: only reads
        return configs.experiment_names(state.root_abspath)


def sweep_names(project_dir: Path = Path(".")) -> dict[str, list[str]]:
    """Return the project's sweeps, each with its points (``NAME-0``, ``NAME-1``, ...)."""
    from plscaffold.experiments.sweeps import sweeps

    with open_project(project_dir, read_only=True) as state:  # shell completion: only reads
        return sweeps(state.root_abspath)


def list_experiments(project_dir: Path = Path(".")) -> list[Experiment]:
    """Return the project's experiments with their lineage and their latest run's best."""
    from plscaffold.experiments.listing import list_experiments as listed

    with open_project(project_dir, read_only=True) as state:
        return listed(state.root_abspath)


@dataclass(frozen=True)
class ComparedExperiments:
    """What ``compare_experiments`` found and drew.

    Attributes:
        comparison: The runs compared, their differing config keys and the best run.
        plot: The PNG drawn, or None.
        plot_note: Why there is no plot (no metrics yet, no matplotlib, or a file there
            that plscaffold did not draw), else None.
    """

    comparison: Comparison
    plot: Path | None
    plot_note: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the ``--json`` document."""
        from plscaffold.experiments.compare import comparison_json

        return comparison_json(self.comparison, self.plot)


def compare_experiments(
    names: list[str], project_dir: Path = Path("."), *, all_runs: bool = False, plot: bool = True
) -> ComparedExperiments:
    """Compare experiments by what their runs used and logged; draw the metrics to a PNG."""
    from plscaffold.errors import PlotUnavailableError
    from plscaffold.experiments.compare import compare_experiments as compared
    from plscaffold.experiments.compare import plot_file_name
    from plscaffold.experiments.plot import plot_comparison
    from plscaffold.experiments.runs import runs_root

    with open_project(project_dir, read_only=not plot) as state:  # a plot is written
        root, package = state.root_abspath, state.package_name
        comparison = compared(root, package, names, all_runs)
        if not plot:
            return ComparedExperiments(comparison, None, None)
        logs = runs_root(root, comparison.experiments[0].name).parent
        png = logs / plot_file_name(names)
        try:
            drawn = plot_comparison(comparison, " vs ".join(names))
        except PlotUnavailableError as err:
            return ComparedExperiments(comparison, None, str(err))
        if drawn is None:
            note = "no plot: none of the compared runs has metrics that can be read yet"
            return ComparedExperiments(comparison, None, note)
        # Inside the project, through its one write path; a logs folder elsewhere
        # (an absolute save_dir) gets the plot in the project's root instead.
        png_relpath = os.path.relpath(png, root)
        if png_relpath.startswith(".."):
            png_relpath = png.name
        try:
            state.write([(png_relpath, RenderedFile(drawn))])
        except TargetExistsError as err:  # a file of the user's in its place: kept
            return ComparedExperiments(comparison, None, f"no plot: {err}")
    return ComparedExperiments(comparison, root / png_relpath, None)


@dataclass(frozen=True)
class CreatedSweep:
    """What ``new_sweep`` wrote: each point's experiment and values, and the SLURM script."""

    points: list[tuple[str, dict[str, Any]]]
    slurm_script: Path | None


def new_sweep(
    name: str,
    grids: list[str],
    project_dir: Path = Path("."),
    parent: str = "default",
    assignments: list[str] | None = None,
    sample: int | None = None,
    seed: int = 0,
    description: str | None = None,
    *,
    slurm: bool = False,
    throttle: int | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> CreatedSweep:
    """Write one experiment per grid point, ``NAME-0``, ``NAME-1``, ..., and with ``slurm``
    the job array ``scripts/sweep-NAME.sbatch``: all or none."""
    from plscaffold.experiments import configs, sweeps

    changes = configs.changes_of(assignments or [])
    points = sweeps.grid_points([sweeps.parse_grid(text) for text in grids], sample, seed)
    with open_project(project_dir) as state:
        written, script = sweeps.create_sweep(
            state, name, parent, points, changes, description, on_progress, throttle, slurm
        )
    return CreatedSweep(list(zip(written, points, strict=True)), script)


def run_optuna_study(
    name: str,
    trials: int,
    project_dir: Path = Path("."),
    parent: str = "default",
    grids: list[str] | None = None,
    ranges: list[str] | None = None,
    assignments: list[str] | None = None,
    seed: int | None = None,
    on_progress: Callable[[str], None] | None = None,
    on_trial: Callable[[str, dict[str, Any]], None] | None = None,
) -> BestTrial:
    """Run trials of the Optuna study NAME (created, or joined without grids and ranges).

    The project's lock is taken only while each trial's experiment is checked and written.

    Returns:
        The study's best trial so far: its experiment, value and point.
    """
    from plscaffold.experiments import configs, studies, sweeps

    if trials < 1:
        raise InvalidOptionError(f"--optuna {trials}: run 1 trial or more")
    changes = configs.changes_of(assignments or [])
    grid_values = [sweeps.parse_grid(text) for text in grids or []]
    range_values = [studies.parse_range(text) for text in ranges or []]
    # Processes beside this one share the study: each waits its turn for the lock.
    with open_project(project_dir, wait=studies.LOCK_WAIT_SECONDS) as state:
        root, package = state.root_abspath, state.package_name
        space = None
        if grid_values or range_values or changes:
            space = studies.search_space(root, package, parent, changes, grid_values, range_values)
    return studies.run_study(root, package, name, space, trials, seed, on_progress, on_trial)


def sweep_slurm_script(
    name: str, project_dir: Path = Path("."), throttle: int | None = None
) -> Path:
    """Write scripts/sweep-NAME.sbatch, a SLURM job array over the sweep's points."""
    from plscaffold.experiments import sweeps

    with open_project(project_dir) as state:
        points = sweeps.existing_points(state.root_abspath, name)
        return sweeps.write_slurm_script(state, name, points, throttle)


def run_sweep(
    name: str,
    project_dir: Path = Path("."),
    devices_per_run: int | None = None,
    on_start: Callable[[str, list[str]], None] | None = None,
) -> list[PointRun]:
    """Train a sweep's points on this machine (the project's lock is not held meanwhile).

    Raises:
        SweepRunError: a point's training exited with an error; the others still ran.
    """
    from plscaffold.errors import SweepRunError
    from plscaffold.experiments import sweeps

    if devices_per_run is not None and devices_per_run < 1:
        raise InvalidOptionError(f"--devices-per-run {devices_per_run}: give 1 or more")
    with open_project(project_dir) as state:
        root, package = state.root_abspath, state.package_name
        points = sweeps.existing_points(root, name)
    runs = sweeps.run_points(root, package, points, devices_per_run, on_start)
    failed = [run for run in runs if run.returncode != 0]
    if failed:
        raise SweepRunError(
            f"{len(failed)} of {len(runs)} points failed: "
            + ", ".join(f"{run.point} (exit {run.returncode})" for run in failed)
            + f"; rerun one with `{package} fit --experiment POINT`"
        )
    return runs
