"""Sweeps: one experiment per point of a grid, run as a SLURM job array or one after another.

A sweep ``NAME`` is the experiments ``NAME-0``, ``NAME-1``, ...: each holds only its
point's changes and its lineage (the sweep's parent, ``sweep: NAME`` and ``point``).
SLURM schedules them (``scripts/sweep-NAME.sbatch``, a job array whose task ``i`` trains
``NAME-i``); locally they run in turn, or several at once on disjoint GPUs.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plscaffold.errors import ExperimentError, TargetExistsError
from plscaffold.experiments.configs import (
    chain_keys,
    experiment_names,
    experiment_path,
    flatten,
    lineage_of,
    normalize_key,
    read_value,
)
from plscaffold.experiments.create import (
    PlannedExperiment,
    Progress,
    check_new_name,
    config_on_parent,
    find_parent,
    plan_base,
    plan_experiment,
    write_experiments,
)
from plscaffold.experiments.schema import load_schema
from plscaffold.names import check_experiment_name
from plscaffold.project_code import project_python_env
from plscaffold.render import RenderedFile
from plscaffold.writer import open_project_log

if TYPE_CHECKING:
    from plscaffold.state import ProjectState

SCRIPTS_RELPATH = "scripts"
MAX_SWEEP_POINTS = 10_000
"""Points one sweep may write, each an experiment file: ten times SLURM's default array size."""
_POLL_SECONDS = 0.5
# SLURM options the array script sets from the sweep; the project's others are kept.
_ARRAY_OPTIONS = ("job-name", "array", "nodes", "ntasks-per-node", "gpus-per-node", "gres",
                  "output", "error")  # fmt: skip
_DEFAULT_OPTIONS = ("--cpus-per-task=4", "--time=24:00:00", "--open-mode=append",
                    "--signal=SIGUSR1@90", "--requeue")  # fmt: skip


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """Parse ``KEY=V1,V2,...``: each value read as YAML (``[16, 32],[32, 64]`` are two lists).

    Raises:
        ExperimentError: no ``=``, no key, or no value.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ExperimentError(
            f"--grid {text!r} is not KEY=V1,V2,...; write for example "
            "--grid model.optimizer.lr=1e-3,1e-2"
        )
    values = read_value(f"--grid {text}", f"[{raw}]")
    values = [read_value(f"--grid {text}", v) if isinstance(v, str) else v for v in values]
    return normalize_key(key.strip()), values


def grid_points(
    grids: list[tuple[str, list[Any]]], sample: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Return the points of a grid: every combination, or ``sample`` of them drawn with ``seed``.

    Raises:
        ExperimentError: no grid, a key given twice, more samples than points, or more
            points than :data:`MAX_SWEEP_POINTS`.
    """
    if not grids:
        raise ExperimentError("a sweep needs at least one --grid KEY=V1,V2")
    keys = [key for key, _ in grids]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ExperimentError(f"--grid {', '.join(repeated)} is given twice; give each key once")
    sizes = [len(values) for _, values in grids]
    total = math.prod(sizes)
    if sample is None and total > MAX_SWEEP_POINTS:
        raise ExperimentError(
            f"the grid of {', '.join(keys)} has {total:,} points "
            f"({' x '.join(map(str, sizes))}), more than the {MAX_SWEEP_POINTS:,} a sweep "
            "writes; give fewer values, or draw some points with --random N"
        )
    if sample is not None and sample > MAX_SWEEP_POINTS:
        raise ExperimentError(
            f"--random {sample} asks for more than the {MAX_SWEEP_POINTS:,} points a sweep "
            "writes; ask for fewer"
        )
    if sample is None:
        combos = itertools.product(*(values for _, values in grids))
        return [dict(zip(keys, combo, strict=True)) for combo in combos]
    if not 1 <= sample <= total:
        raise ExperimentError(
            f"--random {sample}: the grid has {total} points; ask for 1 to {total}"
        )
    points = []
    for index in sorted(random.Random(seed).sample(range(total), sample)):
        point = {}
        for (key, values), size in zip(reversed(grids), reversed(sizes), strict=True):
            index, digit = divmod(index, size)
            point[key] = values[digit]
        points.append({key: point[key] for key in keys})
    return points


def sweep_points(root_abspath: Path, sweep: str, names: list[str] | None = None) -> list[str]:
    """Return the experiments of a sweep (``SWEEP-0``, ``SWEEP-1``, ...), by point number.

    Args:
        root_abspath: The project.
        sweep: The sweep's name.
        names: The project's experiments, where they are listed already.
    """
    points = [
        name
        for name in (experiment_names(root_abspath) if names is None else names)
        if _numbered(name, sweep) and lineage_of(root_abspath, name).get("sweep") == sweep
    ]
    return sorted(points, key=lambda name: int(name.rpartition("-")[2]))


def _numbered(name: str, sweep: str) -> bool:
    """Tell whether a name is the sweep's name, a dash and a number (a point's name)."""
    return name.startswith(f"{sweep}-") and name.rpartition("-")[2].isdigit()


def sweeps(root_abspath: Path) -> dict[str, list[str]]:
    """Return each sweep of the project with its points (see :func:`sweep_points`)."""
    found: dict[str, list[str]] = {}
    for name in experiment_names(root_abspath):  # each file read once
        sweep = lineage_of(root_abspath, name).get("sweep")
        if isinstance(sweep, str) and sweep and _numbered(name, sweep):
            found.setdefault(sweep, []).append(name)
    return {
        sweep: sorted(points, key=lambda name: int(name.rpartition("-")[2]))
        for sweep, points in sorted(found.items())
    }


def check_sweep_name(root_abspath: Path, name: str) -> None:
    """Refuse a sweep name that is an experiment or already has points.

    Raises:
        InvalidNameError: not a plain name.
        ExperimentError: an experiment or a sweep of that name exists.
    """
    check_experiment_name(name, "sweep")
    if experiment_path(root_abspath, name).exists():
        raise ExperimentError(f"{name!r} is an experiment; give the sweep another name")
    if sweep_points(root_abspath, name):
        raise ExperimentError(
            f"sweep {name!r} exists; run it with `plscaffold experiment sweep {name} --run` or "
            "--slurm (no --grid), or give the new sweep another name"
        )


def plan_sweep(
    root_abspath: Path,
    package: str,
    name: str,
    parent: str,
    points: list[dict[str, Any]],
    changes: dict[str, Any],
    description: str | None = None,
    on_progress: Progress | None = None,
) -> list[PlannedExperiment]:
    """Check every point of a sweep like ``experiment new`` and return the files to write.

    Raises:
        ExperimentError: the name is taken, or a point's key or value is refused.
        ProjectEnvironmentError: the project's entry point cannot run here.
    """
    check_sweep_name(root_abspath, name)
    found = find_parent(root_abspath, parent)
    point_names = [f"{name}-{index}" for index in range(len(points))]
    if point_names:  # the longest: the others keep the naming rules as the sweep's name does
        check_new_name(root_abspath, point_names[-1])
    existing = set(experiment_names(root_abspath))
    for point_name in point_names:
        if point_name in existing:
            check_new_name(root_abspath, point_name)  # says that it exists
    # The schema, the parent's keys and the lineage are the same for every point.
    base = plan_base(root_abspath, package, found, description, on_progress)
    return [
        plan_experiment(
            root_abspath,
            package,
            point_name,
            found,
            {**changes, **point},
            description,
            {"sweep": name, "point": point},
            on_progress,
            base=base,
        )
        for point_name, point in zip(point_names, points, strict=True)
    ]


def create_sweep(
    state: ProjectState,
    name: str,
    parent: str,
    points: list[dict[str, Any]],
    changes: dict[str, Any],
    description: str | None = None,
    on_progress: Progress | None = None,
    slurm_throttle: int | None = None,
    slurm: bool = False,
) -> tuple[list[str], Path | None]:
    """Write the experiments of a sweep, with its SLURM script if asked, all or none.

    Returns:
        The points' names, and the SLURM script or None.

    Raises:
        TargetExistsError: with ``slurm``, a script plscaffold did not write as it is is
            there (see :func:`check_slurm_script_free`).
    """
    root_abspath, package = state.root_abspath, state.package_name
    if slurm:
        check_slurm_script_free(root_abspath, name)
    planned = plan_sweep(
        root_abspath, package, name, parent, points, changes, description, on_progress
    )
    extra = []
    if slurm:
        on_parent = config_on_parent(root_abspath, package, find_parent(root_abspath, parent), {})
        configs = {
            p.name: {
                **on_parent,
                **flatten({k: v for k, v in p.document.items() if k != "lineage"}),
            }
            for p in planned
        }
        extra.append(slurm_script_change(root_abspath, package, name, configs, slurm_throttle))
    write_experiments(state, planned, extra)
    script = root_abspath / extra[0][0] if extra else None
    return [p.name for p in planned], script


@dataclass(frozen=True)
class Resources:
    """What each task of a SLURM array gets: nodes, processes per node, GPUs per node."""

    nodes: int
    tasks_per_node: int
    gpus_per_node: int


def device_count(devices: Any) -> int | None:
    """Return how many devices ``trainer.devices`` names, or None for auto, -1 and the like."""
    if isinstance(devices, bool):
        return None
    if isinstance(devices, int) and devices > 0:
        return devices
    if isinstance(devices, list) and devices:
        return len(devices)
    if isinstance(devices, str) and devices.strip().isdigit() and int(devices) > 0:
        return int(devices)
    if isinstance(devices, str) and "," in devices:
        return len([part for part in devices.split(",") if part.strip()])
    return None


def point_configs(root_abspath: Path, package: str, points: list[str]) -> dict[str, dict[str, Any]]:
    """Return each written point's config as its files set it on the defaults, flat."""
    schema = load_schema(root_abspath, package)
    return {point: {**schema.defaults, **chain_keys(root_abspath, point)} for point in points}


def sweep_resources(configs: dict[str, dict[str, Any]]) -> Resources:
    """Return the resources every point trains with: trainer num_nodes, devices, accelerator.

    Args:
        configs: Each point's flat config (``trainer.devices: 2``, ...).

    Raises:
        ExperimentError: points differ in them (a job array gives all tasks the same), or
            the device count is not a number (``auto``, ``-1``).
    """
    found = set()
    for point, merged in configs.items():
        devices = merged.get("trainer.devices")
        count = device_count(devices)
        if count is None:
            raise ExperimentError(
                f"{point} trains on trainer.devices={devices!r}; a SLURM job needs a number of "
                f"devices per node: add --set trainer.devices=N to the sweep. Nothing was written."
            )
        nodes = int(merged.get("trainer.num_nodes") or 1)
        accelerator = str(merged.get("trainer.accelerator") or "auto")
        gpus = count if accelerator in ("gpu", "cuda") else 0
        found.add(Resources(nodes, count, gpus))
    if len(found) != 1:
        raise ExperimentError(
            "the points train on different trainer.devices, num_nodes or accelerator; a job "
            "array gives every task the same resources: make them equal, or sweep in two "
            "arrays. Nothing was written."
        )
    return found.pop()


def _kept_options(root_abspath: Path) -> list[str]:
    """Return the project's own ``#SBATCH`` options (time, partition, ...) the array keeps."""
    script = root_abspath / SCRIPTS_RELPATH / "slurm.sbatch"
    if not script.is_file():
        return list(_DEFAULT_OPTIONS)
    kept = []
    for line in script.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#SBATCH "):
            continue
        option = line.removeprefix("#SBATCH ").strip()
        key = option.lstrip("-").split("=")[0].split()[0] if option else ""
        if option.startswith("--") and key not in _ARRAY_OPTIONS:
            kept.append(option)
    return kept


def slurm_array_script(
    root_abspath: Path,
    package: str,
    name: str,
    points: list[str],
    resources: Resources,
    throttle: int | None = None,
) -> str:
    """Return ``scripts/sweep-NAME.sbatch``: a job array whose task ``i`` trains ``NAME-i``."""
    array = f"0-{len(points) - 1}" + (f"%{throttle}" if throttle else "")
    options = [
        f"--job-name={name}",
        f"--array={array}",
        f"--nodes={resources.nodes}",
        f"--ntasks-per-node={resources.tasks_per_node}",
        *([f"--gpus-per-node={resources.gpus_per_node}"] if resources.gpus_per_node else []),
        "--output=slurm-%A_%a.out",
        *_kept_options(root_abspath),
    ]
    sbatch = "\n".join(f"#SBATCH {option}" for option in options)
    return f"""#!/bin/bash
# Sweep {name}: {len(points)} points, one SLURM array task each (task i trains {name}-i):
#   sbatch scripts/sweep-{name}.sbatch [more `{package} fit` options for every point]
# Written by `plscaffold experiment sweep {name} --slurm`; the options below other than the
# array's come from scripts/slurm.sbatch. Compare the points with
#   plscaffold experiment compare {name}
{sbatch}

set -euo pipefail
cd "${{SLURM_SUBMIT_DIR:-.}}"

# Each task is one run, named after the array job and task: logs/{name}-<i>/slurm-<job>_<i>/.
# A requeued task keeps its ids and counts SLURM_RESTART_COUNT up, so it continues its own
# run from its newest checkpoint.
run=(--run "slurm-${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}")
if [[ "${{SLURM_RESTART_COUNT:-0}}" -gt 0 ]]; then
    run+=(--ckpt_path last)
fi

srun {package} fit \\
    --experiment "{name}-${{SLURM_ARRAY_TASK_ID}}" \\
    --trainer.num_nodes {resources.nodes} \\
    --trainer.devices {resources.tasks_per_node} \\
    "${{run[@]}}" "$@"
"""


def slurm_script_change(
    root_abspath: Path,
    package: str,
    name: str,
    configs: dict[str, dict[str, Any]],
    throttle: int | None,
) -> tuple[str, RenderedFile]:
    """Return ``scripts/sweep-NAME.sbatch`` for points with these configs, to write.

    Raises:
        ExperimentError: a throttle below 1, or points that train on different resources.
    """
    if throttle is not None and throttle < 1:
        raise ExperimentError(f"--throttle {throttle}: run at least 1 task at a time")
    points = list(configs)
    resources = sweep_resources(configs)
    text = slurm_array_script(root_abspath, package, name, points, resources, throttle)
    return f"{SCRIPTS_RELPATH}/sweep-{name}.sbatch", RenderedFile(text.encode(), 0o755)


def check_slurm_script_free(root_abspath: Path, name: str) -> None:
    """Refuse to write ``scripts/sweep-NAME.sbatch`` over a file plscaffold did not write
    just as it is: a script of the user's, or the generated one since edited.

    Raises:
        InvalidNameError: not a plain name.
        TargetExistsError: such a file is there.
    """
    from plscaffold.paths import project_path
    from plscaffold.state import is_as_written

    check_experiment_name(name, "sweep")
    relpath = f"{SCRIPTS_RELPATH}/sweep-{name}.sbatch"
    target = project_path(root_abspath, relpath)
    if os.path.lexists(target) and not is_as_written(root_abspath, relpath):
        raise TargetExistsError(
            f"{target} is there already and is not the script plscaffold last wrote (yours, "
            "or edited since); nothing was written. Move or remove it (commit anything of "
            "yours in it first) and run this again, or give the sweep another name"
        )


def write_slurm_script(
    state: ProjectState, name: str, points: list[str], throttle: int | None
) -> Path:
    """Write ``scripts/sweep-NAME.sbatch`` for the sweep's written points and return it.

    Raises:
        TargetExistsError: a script plscaffold did not write as it is is there (see
            :func:`check_slurm_script_free`).
    """
    root_abspath, package = state.root_abspath, state.package_name
    check_slurm_script_free(root_abspath, name)
    configs = point_configs(root_abspath, package, points)
    change = slurm_script_change(root_abspath, package, name, configs, throttle)
    state.write([change])
    return root_abspath / change[0]


def existing_points(root_abspath: Path, name: str) -> list[str]:
    """Return a sweep's experiments.

    Raises:
        ExperimentError: there is no such sweep.
    """
    points = sweep_points(root_abspath, name)
    if not points:
        raise ExperimentError(
            f"no sweep {name!r} in {root_abspath}; create it with "
            f"`plscaffold experiment sweep {name} --grid KEY=V1,V2`"
        )
    return points


def visible_gpus() -> list[str]:
    """Return the GPUs this process may use: ``CUDA_VISIBLE_DEVICES``, else nvidia-smi's."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [part.strip() for part in visible.split(",") if part.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    listed = subprocess.run(
        ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        check=False,
    )
    return listed.stdout.split() if listed.returncode == 0 else []


@dataclass(frozen=True)
class PointRun:
    """How one point ran: its command, exit code and, when run beside others, its output file."""

    point: str
    command: list[str]
    returncode: int
    output: Path | None


def _fit_command(package: str, point: str) -> list[str]:
    return [sys.executable, "-m", package, "fit", "--experiment", point]


def _environment(root_abspath: Path, gpus: list[str] | None) -> dict[str, str]:
    env = project_python_env(root_abspath)
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    return env


def run_points(
    root_abspath: Path,
    package: str,
    points: list[str],
    devices_per_run: int | None = None,
    on_start: Callable[[str, list[str]], None] | None = None,
) -> list[PointRun]:
    """Train the points in this machine, with the project's own entry point.

    One after another, output to this terminal; with ``devices_per_run`` each trains on
    that many devices, and with GPUs for two runs or more, as many run at once as the
    visible GPUs allow (each sees only its own GPUs; its output goes to
    ``<logs>/sweep-NAME/POINT.out``).
    """
    gpus = visible_gpus()
    slots = len(gpus) // devices_per_run if devices_per_run else 1
    if slots < 2 or devices_per_run is None:
        finished = []
        devices = ["--trainer.devices", str(devices_per_run)] if devices_per_run else []
        for point in points:
            command = [*_fit_command(package, point), *devices]
            if on_start is not None:
                on_start(point, command)
            code = subprocess.run(
                command, cwd=root_abspath, env=_environment(root_abspath, None), check=False
            ).returncode
            finished.append(PointRun(point, command, code, None))
        return finished
    return _run_side_by_side(root_abspath, package, points, gpus, devices_per_run, on_start)


def _run_side_by_side(
    root_abspath: Path,
    package: str,
    points: list[str],
    gpus: list[str],
    per_run: int,
    on_start: Callable[[str, list[str]], None] | None,
) -> list[PointRun]:
    """Run the points on disjoint GPU groups, a new one as soon as a group is free."""
    groups = [gpus[i : i + per_run] for i in range(0, len(gpus) - per_run + 1, per_run)]
    sweep = points[0].rpartition("-")[0]
    out_relpath = f"logs/sweep-{sweep}"
    pending = list(points)
    running: dict[int, tuple[str, list[str], subprocess.Popen[bytes], Path]] = {}
    finished: dict[str, PointRun] = {}
    while pending or running:
        for slot in range(len(groups)):
            if slot in running or not pending:
                continue
            point = pending.pop(0)
            command = [*_fit_command(package, point), "--trainer.devices", str(per_run)]
            output = root_abspath / out_relpath / f"{point}.out"
            if on_start is not None:
                on_start(point, [f"CUDA_VISIBLE_DEVICES={','.join(groups[slot])}", *command])
            with open_project_log(root_abspath, f"{out_relpath}/{point}.out") as handle:
                process = subprocess.Popen(
                    command,
                    cwd=root_abspath,
                    env=_environment(root_abspath, groups[slot]),
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            running[slot] = (point, command, process, output)
        time.sleep(_POLL_SECONDS)
        for slot, (point, command, process, output) in list(running.items()):
            if process.poll() is not None:
                finished[point] = PointRun(point, command, process.returncode, output)
                del running[slot]
    return [finished[point] for point in points]
