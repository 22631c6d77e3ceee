"""Optuna studies over a project's config: each trial an experiment, trained with pruning.

A study ``NAME`` lives in ``<logs>/sweep-NAME/optuna.db`` (SQLite), so several processes
in the project (or SLURM tasks sharing its file system) join the same study by running
the same command. Trial ``n`` is the experiment ``NAME-n``, checked like
``experiment new`` and written before it trains; it trains in a child Python inside the
project (:mod:`plscaffold.experiments.trial`) with the project's own entry point on one
device, and reports its monitored metric after each validation so that Optuna's pruner
can stop it early.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from plscaffold.errors import ExperimentError, ProjectEnvironmentError
from plscaffold.experiments.configs import DEFAULT_PARENT, normalize_key, read_value
from plscaffold.experiments.create import (
    Progress,
    check_new_name,
    config_on_parent,
    find_parent,
    plan_experiment,
    write_experiments,
)
from plscaffold.experiments.runs import monitor_of, project_monitor, runs_root
from plscaffold.experiments.trial import pruner
from plscaffold.experiments.trial import storage as trial_storage
from plscaffold.project_code import project_python_env
from plscaffold.state import open_project

_USER_ATTR = "plscaffold"
LOCK_WAIT_SECONDS = 120.0
"""How long a study's process waits for the project's lock: processes sharing a study take
it for moments (to write a trial's experiment), so waiting is right, where other commands
refuse at once."""
_CATEGORICAL = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Range:
    """A numeric search range: ``KEY=LOW:HIGH`` (ints when both are), ``:log`` for log scale."""

    key: str
    low: float | int
    high: float | int
    log: bool


@dataclass(frozen=True)
class BestTrial:
    """A study's best trial so far: its experiment, monitored value and point."""

    experiment: str
    value: float
    point: dict[str, Any]


@dataclass(frozen=True)
class SearchSpace:
    """What a study searches and how it scores a trial."""

    parent: str
    changes: dict[str, Any]
    grids: dict[str, list[Any]]
    ranges: list[Range]
    monitor: str
    direction: str

    def to_attr(self) -> dict[str, Any]:
        return {**asdict(self), "ranges": [asdict(r) for r in self.ranges]}

    @classmethod
    def from_attr(cls, stored: dict[str, Any]) -> SearchSpace:
        return cls(
            stored["parent"],
            stored["changes"],
            stored["grids"],
            [Range(**r) for r in stored["ranges"]],
            stored["monitor"],
            stored["direction"],
        )


def parse_range(text: str) -> Range:
    """Parse ``KEY=LOW:HIGH`` or ``KEY=LOW:HIGH:log``.

    Raises:
        ExperimentError: the text is not of that form, or LOW is not below HIGH.
    """
    key, sep, raw = text.partition("=")
    parts = raw.split(":")
    usage = (
        f"--range {text!r} is not KEY=LOW:HIGH[:log]; write for example "
        "--range model.optimizer.lr=1e-4:1e-1:log"
    )
    if not sep or not key.strip() or len(parts) not in (2, 3) or parts[2:] not in ([], ["log"]):
        raise ExperimentError(usage)
    low, high = (read_value(f"--range {text}", part) for part in parts[:2])
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not low < high:
        raise ExperimentError(f"{usage}; LOW and HIGH are numbers, LOW below HIGH")
    if len(parts) == 3 and low <= 0:
        raise ExperimentError(f"--range {text!r}: a log scale needs LOW above 0")
    if not (isinstance(low, int) and isinstance(high, int)):
        low, high = float(low), float(high)
    return Range(normalize_key(key.strip()), low, high, len(parts) == 3)


def search_space(
    root_abspath: Path,
    package: str,
    parent: str,
    changes: dict[str, Any],
    grids: list[tuple[str, list[Any]]],
    ranges: list[Range],
) -> SearchSpace:
    """Return the search space, scored by the parent's monitored metric and mode.

    Raises:
        ExperimentError: no grid or range, or a key given twice.
    """
    keys = [key for key, _ in grids] + [r.key for r in ranges]
    if not keys:
        raise ExperimentError("an Optuna study needs --grid KEY=V1,V2 or --range KEY=LOW:HIGH")
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ExperimentError(f"{', '.join(repeated)} is searched twice; give each key once")
    merged = config_on_parent(root_abspath, package, find_parent(root_abspath, parent), changes)
    monitor, mode = monitor_of(merged, project_monitor(root_abspath))
    direction = "maximize" if mode == "max" else "minimize"
    return SearchSpace(parent, changes, dict(grids), ranges, monitor, direction)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as err:
        raise ProjectEnvironmentError(
            'Optuna studies need optuna in this Python: pip install "plscaffold[optuna]"'
        ) from err
    return optuna


def study_storage(root_abspath: Path, name: str) -> Path:
    """Return the study's SQLite file: ``<logs>/sweep-NAME/optuna.db``."""
    # The logs folder: the study's name is no experiment, so the defaults' logger places it.
    return runs_root(root_abspath, DEFAULT_PARENT).parent / f"sweep-{name}" / "optuna.db"


def _make_storage_folder(root_abspath: Path, storage_path: Path) -> None:
    """Make the study's folder: through the project's path policy when it is in the project
    (no link on the way, nothing reserved); an absolute ``save_dir`` is the user's own."""
    from plscaffold.writer import project_folder

    relpath = os.path.relpath(storage_path.parent, root_abspath)
    if relpath.startswith(".."):
        storage_path.parent.mkdir(parents=True, exist_ok=True)
    else:
        project_folder(root_abspath, Path(relpath).as_posix())


def _check_space(
    root_abspath: Path, package: str, name: str, space: SearchSpace, on_progress: Progress | None
) -> None:
    """Check every grid value and range bound like ``experiment new``, and one device a trial.

    Raises:
        ExperimentError: a value is refused, a grid value is not a plain scalar, or the
            trials would train on several devices or nodes.
    """
    from plscaffold.experiments.sweeps import device_count

    parent = find_parent(root_abspath, space.parent)
    for key, values in space.grids.items():
        odd = [v for v in values if not isinstance(v, _CATEGORICAL)]
        if odd:
            raise ExperimentError(
                f"--grid {key}: Optuna chooses among plain values (numbers, strings, true, "
                f"false, null), not {odd[0]!r}; sweep lists with a grid sweep instead"
            )
    probes = [{k: v} for k, values in space.grids.items() for v in values]
    probes += [{r.key: bound} for r in space.ranges for bound in (r.low, r.high)]
    for probe in probes or [{}]:
        plan_experiment(
            root_abspath, package, f"{name}-0", parent, {**space.changes, **probe},
            None, None, on_progress,
        )  # fmt: skip
    merged = config_on_parent(root_abspath, package, parent, space.changes)
    devices, nodes = merged.get("trainer.devices"), merged.get("trainer.num_nodes") or 1
    if device_count(devices) != 1 or nodes != 1:
        raise ExperimentError(
            f"an Optuna trial trains in this process on one device, and the trials would use "
            f"trainer.devices={devices!r} on {nodes} node(s): add --set trainer.devices=1"
        )


def _storage(optuna: Any, storage_path: Path) -> Any:
    """Return the study's SQLite storage; see :func:`plscaffold.experiments.trial.storage`."""
    return trial_storage(optuna, f"sqlite:///{storage_path}")


def _stored_space(optuna: Any, storage_path: Path, name: str) -> SearchSpace:
    """Return the search space an existing study stored.

    Raises:
        ExperimentError: there is no such study.
    """
    storage = _storage(optuna, storage_path) if storage_path.is_file() else None
    if storage is None or name not in optuna.study.get_all_study_names(storage):
        raise ExperimentError(
            f"no Optuna study {name!r} in {storage_path}; start it with --grid or --range"
        )
    study = optuna.load_study(study_name=name, storage=storage)
    return SearchSpace.from_attr(study.user_attrs[_USER_ATTR])


def _suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    point = {key: trial.suggest_categorical(key, values) for key, values in space.grids.items()}
    for r in space.ranges:
        suggest = trial.suggest_int if isinstance(r.low, int) else trial.suggest_float
        point[r.key] = suggest(r.key, r.low, r.high, log=r.log)
    return point


def run_study(
    root_abspath: Path,
    package: str,
    name: str,
    space: SearchSpace | None,
    trials: int,
    seed: int | None = None,
    on_progress: Progress | None = None,
    on_trial: Callable[[str, dict[str, Any]], None] | None = None,
) -> BestTrial:
    """Run ``trials`` trials of the study ``NAME``, creating it or joining it.

    Args:
        space: The search space; None joins an existing study with its own.
        seed: Seeds the sampler (give none where several processes share a study).

    Returns:
        The study's best trial so far: its experiment, value and point.

    Raises:
        ExperimentError: a bad search space, one that differs from the existing study's,
            or no study to join.
        ProjectEnvironmentError: optuna or the project's dependencies are missing here.
    """
    optuna = _optuna()
    storage_path = study_storage(root_abspath, name)
    # Setting up the storage (its tables, the study) is not safe for two processes at
    # once: they take turns, under the project's lock.
    with open_project(root_abspath, wait=LOCK_WAIT_SECONDS):
        if space is None:
            space = _stored_space(optuna, storage_path, name)
        _check_space(root_abspath, package, name, space, on_progress)
        _make_storage_folder(root_abspath, storage_path)
        study = optuna.create_study(
            study_name=name,
            storage=_storage(optuna, storage_path),
            direction=space.direction,
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=pruner(optuna),
            load_if_exists=True,
        )
        stored = study.user_attrs.get(_USER_ATTR)
        if stored is None:
            study.set_user_attr(_USER_ATTR, space.to_attr())
        elif stored != space.to_attr():
            raise ExperimentError(
                f"the Optuna study {name!r} searches another space ({storage_path}); join it "
                "without --grid/--range, or name a new study"
            )

    def objective(trial: Any) -> float:
        point = _suggest(trial, space)
        point_name = f"{name}-{trial.number}"
        with open_project(root_abspath, wait=LOCK_WAIT_SECONDS) as state:
            check_new_name(root_abspath, point_name)
            parent = find_parent(root_abspath, space.parent)
            extra = {"sweep": name, "point": point, "optuna_trial": trial.number}
            planned = plan_experiment(
                root_abspath, package, point_name, parent, {**space.changes, **point},
                None, extra, on_progress,
            )  # fmt: skip
            write_experiments(state, [planned])
        if on_trial is not None:
            on_trial(point_name, point)
        return _train(root_abspath, package, point_name, trial.number, name, space.monitor)

    study.optimize(objective, n_trials=trials)
    best = study.best_trial
    return BestTrial(f"{name}-{best.number}", float(best.value), dict(best.params))


def _train(
    root_abspath: Path, package: str, point: str, number: int, study_name: str, monitor: str
) -> float:
    """Train one trial's experiment in a child Python in the project; return its best value.

    Raises:
        optuna.TrialPruned: the pruner stopped it.
        ExperimentError: its training failed, or it logged no ``monitor``.
    """
    optuna = _optuna()
    url = f"sqlite:///{study_storage(root_abspath, study_name)}"
    with tempfile.TemporaryDirectory(prefix="plscaffold-trial-") as folder:
        result_path = Path(folder) / "result.json"
        command = [sys.executable, "-m", "plscaffold.experiments.trial", str(result_path), url,
                   study_name, str(number), package, point, monitor]  # fmt: skip
        done = subprocess.run(
            command, cwd=root_abspath, env=project_python_env(root_abspath), check=False
        )
        result = json.loads(result_path.read_text()) if result_path.is_file() else None
    if done.returncode != 0 or result is None:
        raise ExperimentError(
            f"{point}: training exited with status {done.returncode} (its output is above); "
            f"rerun it alone with `{package} fit --experiment {point}`"
        )
    if "pruned" in result:
        raise optuna.TrialPruned(result["pruned"])
    if result["score"] is None:
        raise ExperimentError(f"{point} logged no {monitor}; is checkpoint.monitor right?")
    return float(result["score"])
