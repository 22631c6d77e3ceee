"""Runs: every ``fit`` is one run folder, and ``--ckpt_path last|best`` mean one run's files.

A run, ``logs/<name>/<run>/`` (``version_N`` or ``--run``'s name), is the first logger's folder:
its logs, each start's config, ``checkpoints/``, SLURM's requeue ones, each evaluation's folder.
"""

from __future__ import annotations

{% if cookiecutter.logger in ("mlflow", "wandb") -%}
import json
{% endif -%}
{% if cookiecutter.logger == "mlflow" -%}
from collections.abc import Mapping
{% endif -%}
from pathlib import Path
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
from typing import Any
{%- endif %}

import torch
from jsonargparse import Namespace
{%- if cookiecutter.logger == "mlflow" %}
from pytorch_lightning.loggers import MLFlowLogger as LightningMLFlowLogger
{%- endif %}
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only
{%- if cookiecutter.logger == "mlflow" %}
from typing_extensions import override
{%- endif %}

CHECKPOINTS = "checkpoints"
# Lightning saves these in default_root_dir when SLURM signals a requeue.
REQUEUE_CHECKPOINTS = "hpc_ckpt_*.ckpt"
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
# The tracker's run a run folder continues: {"run_id": ...} or {"id": ...}.
TRACKER_RECORD = "{{ cookiecutter.logger }}.json"
{%- endif %}


class RunError(Exception):
    """A run or checkpoint that is not there, or a run name in use; printed as one line."""


def checkpoints(folder: Path) -> list[Path]:
    """Return a run's checkpoints, ModelCheckpoint's and SLURM's requeue ones, oldest first."""
    found = [*(folder / CHECKPOINTS).glob("*.ckpt"), *folder.glob(REQUEUE_CHECKPOINTS)]
    return sorted(found, key=lambda path: path.stat().st_mtime_ns)


def checkpoint_of(folder: Path, which: str) -> Path:
    """Return a run's ``last`` checkpoint (where training stopped) or its ``best``."""
    found, path = checkpoints(folder), None
    if which == "last":
        path = next((p for p in reversed(found) if p.name.startswith(("last", "hpc_ckpt_"))), None)
    elif found:  # the newest checkpoint's ModelCheckpoint.state_dict() names the best
        saved = torch.load(found[-1], map_location="cpu", weights_only=True, mmap=True)
        best = [s["best_model_path"] for s in saved["callbacks"].values() if "best_model_path" in s]
        path = folder / CHECKPOINTS / Path(best[0]).name if best and best[0] else None
    if path is None or not path.is_file():
        names = ", ".join(p.name for p in found) or "none"
        raise RunError(f"{folder}: no {which} checkpoint (files: {names}); pass --ckpt_path FILE")
    return path


def run_name(text: str) -> str:
    """Return the folder ``--run`` means: ``3`` is ``version_3``, a name is itself."""
    name = f"version_{text}" if text.isdigit() else text
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise RunError(f"--run {text!r}: give a folder name such as version_3 or slurm-1234")
    return name


def _free_name(folder: Path, stem: str, suffix: str = "") -> str:
    names = (f"{stem}{suffix}", *(f"{stem}-{n}{suffix}" for n in range(2, 10_000)))
    return next(name for name in names if not (folder / name).exists())


def next_config_name(folder: Path | None, subcommand: str) -> str:
    """Return the name a start of ``subcommand`` saves its config under, keeping earlier ones."""
    stem = "config" if subcommand == "fit" else f"{subcommand}-config"
    return _free_name(folder, stem, ".yaml") if folder else f"{stem}.yaml"


def _loggers(trainer: Namespace) -> list[Namespace]:
    configured = trainer.get("logger")
    loggers = configured if isinstance(configured, list) else [configured]
    return [logger for logger in loggers if isinstance(logger, Namespace)]


def select_run(config: Namespace, subcommand: str) -> Path | None:
    """Point a subcommand's config at the run it continues or evaluates; return its folder."""
    ckpt_path, wanted = config.get("ckpt_path"), config.get("run")
    name = run_name(str(wanted)) if wanted is not None else None
    is_file = ckpt_path is not None and ckpt_path not in ("last", "best", "hpc")
    if is_file and "://" not in str(ckpt_path) and not Path(str(ckpt_path)).is_file():
        raise RunError(f"--ckpt_path {ckpt_path}: no such checkpoint file")
    init = next((logger.init_args for logger in _loggers(config.trainer)), None)
    if config.get("experiment") and init is not None and "name" in init:
        init.name = config.experiment  # an experiment's runs: logs/<experiment>/<run>/
    if init is None or "version" not in init or config.get("checkpoint.dirpath") is not None:
        if name is not None or ckpt_path in ("last", "best"):
            raise RunError(
                "--run and --ckpt_path last|best need a folder per run: a TensorBoard or CSV "
                "logger first in trainer.logger, and checkpoint.dirpath: null"
            )
        return None
    root = Path(init.save_dir or config.trainer.get("default_root_dir") or ".") / init.name
    runs = [p for p in root.iterdir() if p.is_dir() and checkpoints(p)] if root.is_dir() else []
    folder: Path | None = None
    if ckpt_path in ("last", "best"):
        newest = max(runs, key=lambda run: checkpoints(run)[-1].stat().st_mtime_ns, default=None)
        folder = root / name if name is not None else newest
        if name and subcommand == "fit" and ckpt_path == "last" and folder not in runs:
            rank_zero_info(f"run {name!r} has no checkpoint yet: training it from the start")
            config.ckpt_path = None
        elif folder is None or folder not in runs:
            known = ", ".join(sorted(run.name for run in runs)) or "none"
            raise RunError(
                f"--ckpt_path {ckpt_path}: {f'run {name!r}' if name else 'a run'} with checkpoints "
                f"is not in {root} (runs there: {known}); train one with `fit` or pass a file"
            )
        else:
            config.ckpt_path = str(checkpoint_of(folder, ckpt_path))
    elif is_file:  # a checkpoint inside a run continues that run
        parent = Path(str(ckpt_path)).resolve().parent
        folder = next((r for r in runs if parent in (r.resolve(), r.resolve() / CHECKPOINTS)), None)
    elif name is not None:
        if subcommand != "fit":
            raise RunError(f"--run {name}: say which checkpoint to use with --ckpt_path")
        if (root / name).exists():
            fix = "continue it with --ckpt_path last, or give the new run another name"
            raise RunError(f"run {name!r} exists in {root}: {fix}")
    if name is not None and folder is None:
        folder = root / name  # a new run with that name
    if folder is None:
        return None
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
    continue_tracker_run(folder, config.trainer)
{%- endif %}
    if subcommand != "fit":  # in a folder of its own: the run's metrics stay its training's
        config.checkpoint.dirpath = str(folder / CHECKPOINTS)  # where its checkpoints are
        folder = folder / _free_name(folder, subcommand)
    init.version = folder.relative_to(root).as_posix()  # the run-folder logger's
    if config.trainer.get("default_root_dir") is None:
        config.trainer.default_root_dir = str(folder)
    keep_metrics(folder)  # a resumed fit's
    return folder if folder.is_dir() else None

{%- if cookiecutter.logger in ("mlflow", "wandb") %}


def continue_tracker_run(folder: Path, trainer: Namespace) -> None:
    """Give the tracker's logger the id of the run this folder's first start made."""
    record = folder / TRACKER_RECORD
    saved = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
    for logger in _loggers(trainer):
        for key in ("run_id", "id"):  # MLFlowLogger's and WandbLogger's
            if key in logger.init_args and key in saved:
                logger.init_args[key] = saved[key]
{%- endif %}


@rank_zero_only
def keep_metrics(folder: Path) -> None:
    """Lightning's CSVLogger deletes the metrics.csv of a folder it starts in: move it aside."""
    metrics = folder / "metrics.csv"
    if metrics.is_file():
        metrics.rename(folder / f"metrics-{1 + len(list(folder.glob('metrics-*.csv')))}.csv")
{%- if cookiecutter.logger == "mlflow" %}


def flat(params: Mapping[str, Any], parent: str = "") -> dict[str, Any]:
    """Return nested hyperparameters on one level, ``net/init_args/width``, as Lightning logs."""
    items: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        items.update(flat(value, name) if isinstance(value, Mapping) else {name: value})
    return items


class MLFlowLogger(LightningMLFlowLogger):
    """Lightning's MLFlowLogger, for a run that continues: it keeps its first parameters.

    MLflow refuses to change a logged parameter, so a resume or a test with another batch
    size would fail; only new ones are added (each start's config is in the run folder).
    """

    @override
    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace) -> None:
        logged = self.experiment.get_run(self.run_id).data.params
        given = flat(vars(params) if isinstance(params, Namespace) else params)
        super().log_hyperparams({k: v for k, v in given.items() if k not in logged})
{%- endif %}
{%- if cookiecutter.logger in ("mlflow", "wandb") %}


def record_tracker_run(folder: Path, loggers: list[Any]) -> None:
    """Write which {{ 'MLflow' if cookiecutter.logger == 'mlflow' else 'W&B' }} run this folder is, for its next start to continue."""
    for logger in loggers:
        {%- if cookiecutter.logger == "mlflow" %}
        record = {"run_id": logger.run_id} if type(logger).__name__ == "MLFlowLogger" else None
        {%- else %}
        record = {"id": logger.version} if type(logger).__name__ == "WandbLogger" else None
        {%- endif %}
        if record:
            temporary = folder / f".{TRACKER_RECORD}.tmp"
            temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
            temporary.replace(folder / TRACKER_RECORD)
{%- endif %}
