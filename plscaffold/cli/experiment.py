"""``plscaffold experiment``: new, templates, list, compare and sweep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from plscaffold.api import (
    compare_experiments,
    list_experiments,
    new_experiment,
    new_sweep,
    run_optuna_study,
    run_sweep,
    sweep_slurm_script,
)
from plscaffold.api import experiment_templates as templates
from plscaffold.cli.completion import complete_compared, complete_parent
from plscaffold.cli.output import echo, print_table, user_errors
from plscaffold.cli.params import ProjectOption
from plscaffold.errors import InvalidOptionError

app = typer.Typer(
    help="Experiments: config files under configs/experiments/ that hold only what they change.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _progress(message: str) -> None:
    echo(message, err=True)


@app.command("new", short_help="Write a new experiment, checked against the project.")
def experiment_new(
    name: Annotated[
        str, typer.Argument(help="Experiment name; its runs go to logs/NAME/.", metavar="NAME")
    ],
    parent: Annotated[
        str,
        typer.Option(
            "--from",
            help="Parent: default, another experiment, or a built-in template.",
            autocompletion=complete_parent,
        ),
    ] = "default",
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE to change; VALUE is YAML: 20, 1e-3, [32, 64], null."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What this experiment tries.")] = None,
    project: ProjectOption = ".",
) -> None:
    """Write configs/experiments/NAME.yaml, checked against the project's config schema."""
    with user_errors():
        created = new_experiment(
            name, Path(project), parent, assignments or [], description, _progress
        )
    echo(f"Created {created.path} (parent: {created.parent}).")
    for key, value in created.keys.items():
        echo(f"  {key}: {value}")
    echo(f"Run it with: {created.command}")


@app.command("templates", short_help="List the built-in experiment templates.")
def experiment_templates() -> None:
    """List the built-in experiment templates (use them with --from NAME)."""
    with user_errors():
        for name, (description, keys) in templates().items():
            echo(f"{name}: {description}")
            for key, value in keys.items():
                echo(f"    {key}: {value}")


@app.command("list", short_help="Table of experiments and their runs.")
def experiment_list(project: ProjectOption = ".") -> None:
    """Table of experiments: parent, changed keys, best monitored metric, last checkpoint."""
    with user_errors():
        experiments = list_experiments(Path(project))
    if not experiments:
        echo("No experiments yet; create one with `plscaffold experiment new NAME`.")
        return
    header = ("name", "parent", "changed keys", "best", "epoch", "last checkpoint")
    rows = [
        (
            e.name,
            e.parent,
            ", ".join(e.changed_keys) or "-",
            f"{e.monitor}={e.best_value:.4f}" if e.best_value is not None else "-",
            str(e.best_epoch) if e.best_epoch is not None else "-",
            e.last_checkpoint_relpath or "-",
        )
        for e in experiments
    ]
    print_table(header, rows)


@app.command("compare", short_help="Compare runs: configs, metrics, a plot.")
def experiment_compare(
    names: Annotated[
        list[str],
        typer.Argument(
            help="Experiments, or a sweep's name for all its points.",
            metavar="NAME...",
            autocompletion=complete_compared,
        ),
    ],
    all_runs: Annotated[
        bool, typer.Option("--all-runs", help="Every run of each experiment, not its latest.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON for scripts; no table, no plot.")
    ] = False,
    project: ProjectOption = ".",
) -> None:
    """Compare what runs used (their saved configs) and logged; plot the metrics to a PNG."""
    # Only compare needs these; the API leaves them unloaded, so every other command starts sooner.
    from plscaffold.experiments.compare import (
        cell_text,
        point_label,
        sweep_missing_lines,
        sweep_table,
    )

    with user_errors():
        compared = compare_experiments(names, Path(project), all_runs=all_runs, plot=not as_json)
    if as_json:
        echo(json.dumps(compared.to_json(), indent=2, default=str))
        return
    comparison = compared.comparison
    # A sweep's points without a run are counted on one line, not listed one by one.
    in_sweeps = {point for points in comparison.sweeps.values() for point in points}
    for summary in comparison.experiments:
        if summary.missing and summary.name not in in_sweeps:
            echo(f"{summary.name}: {summary.missing}")
        for run in summary.runs:
            score = _best_words(run.best) if run.best else "no monitored metric logged"
            echo(f"{run.label}: {run.relpath} ({score})")
            if run.unreadable:
                echo(f"  metrics unreadable: {run.unreadable}")
    for line in sweep_missing_lines(comparison):
        echo(line)
    by_point = sweep_table(comparison)
    if by_point is not None:
        print_table(*by_point)
    elif comparison.columns:
        print_table(
            ("key", *comparison.columns),
            [(key, *(cell_text(v) for v in values)) for key, values in comparison.rows],
        )
        if not comparison.rows:
            echo("(the saved configs are identical)")
    if comparison.best is not None and len(comparison.columns) > 1:
        best = comparison.best
        point = next(
            (
                run.point
                for s in comparison.experiments
                for run in s.runs
                if run.label == best["run"]
            ),
            {},
        )
        values = f" with {point_label(point)}" if point else ""
        echo(f"Best: {best['run']} ({_best_words(best)}){values}")
    if compared.plot is not None:
        echo(f"Plot: {compared.plot}")
    elif compared.plot_note:
        echo(compared.plot_note, err=True)


def _best_words(best: dict[str, Any]) -> str:
    return f"best {best['metric']}={best['value']:.4f} at epoch {best['epoch']} ({best['mode']})"


@app.command("sweep", short_help="Write a sweep's points; run them here, on SLURM, or with Optuna.")
def experiment_sweep(
    name: Annotated[
        str, typer.Argument(help="Sweep name; its points are NAME-0, NAME-1, ...", metavar="NAME")
    ],
    grids: Annotated[
        list[str] | None,
        typer.Option("--grid", help="KEY=V1,V2,... values to sweep (YAML each); repeat per key."),
    ] = None,
    parent: Annotated[
        str,
        typer.Option(
            "--from",
            help="Parent of every point: default, an experiment, a template.",
            autocompletion=complete_parent,
        ),
    ] = "default",
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="KEY=VALUE set on every point.")
    ] = None,
    sample: Annotated[
        int | None, typer.Option("--random", help="Draw N points of the grid instead of all.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of --random (default 0), or of Optuna's sampler.")
    ] = None,
    ranges: Annotated[
        list[str] | None,
        typer.Option("--range", help="With --optuna: KEY=LOW:HIGH[:log], a numeric range."),
    ] = None,
    optuna: Annotated[
        int | None,
        typer.Option(
            "--optuna",
            help="Run N trials of an Optuna study over --grid and --range, here; run the same "
            "command elsewhere to join it.",
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the sweep tries.")] = None,
    slurm: Annotated[
        bool, typer.Option("--slurm", help="Write scripts/sweep-NAME.sbatch, a SLURM job array.")
    ] = False,
    throttle: Annotated[
        int | None, typer.Option(help="With --slurm: at most this many tasks at once (%N).")
    ] = None,
    run: Annotated[
        bool, typer.Option("--run", help="Train the points here, one after another.")
    ] = False,
    devices_per_run: Annotated[
        int | None,
        typer.Option(help="With --run: GPUs per point; run several at once when GPUs allow."),
    ] = None,
    project: ProjectOption = ".",
) -> None:
    """Write one experiment per grid point; run them with SLURM (--slurm) or here (--run).

    Without --grid, --slurm and --run use the points of an existing sweep NAME.
    """
    if optuna is not None:
        _optuna_study(
            name, optuna, project, parent, grids, ranges, assignments, seed, (slurm, run, sample)
        )
        return
    with user_errors():
        if ranges:
            raise InvalidOptionError("--range is searched by an Optuna study: give --optuna N")
        if throttle is not None and not slurm:
            raise InvalidOptionError("--throttle limits a SLURM array: give it with --slurm")
        if devices_per_run is not None and not run:
            raise InvalidOptionError("--devices-per-run applies to local runs: give it with --run")
        if grids:
            script = _plan_sweep(
                name, grids, project, parent, assignments, sample, seed, description,
                slurm, throttle,
            )  # fmt: skip
        elif slurm or run:
            script = sweep_slurm_script(name, Path(project), throttle) if slurm else None
        else:
            raise InvalidOptionError(
                f"give --grid KEY=V1,V2 to create sweep {name!r}, or --slurm / --run to run "
                "an existing one"
            )
        if script is not None:
            echo(f"Wrote {script}; submit it with: sbatch {script}")
        compare = f"plscaffold experiment compare {name}"
        if run:
            runs = run_sweep(name, Path(project), devices_per_run, _started)
            echo(f"Trained {len(runs)} points; compare them with: {compare}")
        elif not slurm:
            echo(f"Train them with --run (here) or --slurm; compare them with: {compare}")


def _plan_sweep(
    name: str,
    grids: list[str],
    project: str,
    parent: str,
    assignments: list[str] | None,
    sample: int | None,
    seed: int | None,
    description: str | None,
    slurm: bool,
    throttle: int | None,
) -> Path | None:
    """Write the sweep's points (and with ``slurm`` its job array); print them."""
    created = new_sweep(
        name, grids, Path(project), parent, assignments or [], sample, seed or 0,
        description, slurm=slurm, throttle=throttle, on_progress=_progress,
    )  # fmt: skip
    echo(f"Created {len(created.points)} experiments in configs/experiments/:")
    for point, values in created.points:
        echo(f"  {point}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return created.slurm_script


def _optuna_study(
    name: str,
    trials: int,
    project: str,
    parent: str,
    grids: list[str] | None,
    ranges: list[str] | None,
    assignments: list[str] | None,
    seed: int | None,
    others: tuple[bool, bool, int | None],
) -> None:
    def started(point: str, values: dict[str, Any]) -> None:
        echo(f"== {point}: " + ", ".join(f"{k}={v}" for k, v in values.items()), err=True)

    with user_errors():
        if any(option not in (False, None) for option in others):
            raise InvalidOptionError(
                "--optuna runs its own trials: leave out --slurm, --run and --random"
            )
        best = run_optuna_study(
            name, trials, Path(project), parent, grids, ranges, assignments, seed,
            _progress, started,
        )  # fmt: skip
    values = ", ".join(f"{k}={v}" for k, v in best.point.items())
    echo(f"Best trial so far: {best.experiment} ({best.value:.4f}) with {values}")
    echo(f"Compare the trials with: plscaffold experiment compare {name}")


def _started(point: str, command: list[str]) -> None:
    echo(f"== {point}: {' '.join(command)}", err=True)
