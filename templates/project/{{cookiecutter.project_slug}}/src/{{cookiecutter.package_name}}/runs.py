"""Run folders: every ``fit`` is one run, and ``--ckpt_path last|best`` mean one run's files.

A run keeps what it made in one folder, in Lightning's own layout::

    logs/<name>/<run>/               the logger's files and hparams.yaml
    logs/<name>/<run>/config.yaml    the config the run trained with
    logs/<name>/<run>/checkpoints/   its ModelCheckpoint files: the top k and last.ckpt

``<name>`` is the logger's name (the package, or the experiment) and ``<run>`` is
``version_N`` for a new run, or the name ``--run`` gives it. :func:`select_run` turns
``--ckpt_path last|best`` and ``--run`` into a file of one run and points the logger
(and the Trainer's ``default_root_dir``, where SLURM requeue checkpoints go) at that
run's folder: a resumed run continues in its folder with its step count, and
``test``/``validate``/``predict`` log beside the checkpoint they evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from jsonargparse import Namespace

from {{ cookiecutter.package_name }}.errors import (
    CheckpointNotFoundError,
    RunExistsError,
    RunNotFoundError,
)

if TYPE_CHECKING:
    from pytorch_lightning import Trainer

CHECKPOINT_DIR = "checkpoints"
# Lightning saves these in default_root_dir when SLURM signals a requeue.
REQUEUE_CHECKPOINTS = "hpc_ckpt_*.ckpt"


@dataclass(frozen=True)
class Run:
    """One run: its folder, and the folder its ModelCheckpoint writes to."""

    folder: Path
    checkpoint_dir: Path

    @property
    def name(self) -> str:
        return self.folder.name

    def checkpoints(self) -> list[Path]:
        """Return every checkpoint of the run: ModelCheckpoint's and SLURM's requeue ones."""
        return [*self.checkpoint_dir.glob("*.ckpt"), *self.folder.glob(REQUEUE_CHECKPOINTS)]

    def last_checkpoint(self) -> Path | None:
        """Return where training stopped: the newest of last.ckpt and the requeue ones."""
        return _newest([p for p in self.checkpoints() if p.name.startswith(("last", "hpc_ckpt_"))])

    def best_checkpoint(self) -> Path | None:
        """Return the best checkpoint by the monitored metric, or None if none was kept."""
        newest = _newest(self.checkpoints())
        if newest is None:
            return None
        # Every checkpoint holds ModelCheckpoint's state, which names the best file so far.
        saved = torch.load(newest, map_location="cpu", weights_only=True, mmap=True)
        for key, state in saved.get("callbacks", {}).items():
            if key.startswith("ModelCheckpoint") and state.get("best_model_path"):
                best = self.checkpoint_dir / Path(state["best_model_path"]).name
                return best if best.is_file() else None
        return None


def _newest(paths: list[Path]) -> Path | None:
    return max(paths, key=lambda path: path.stat().st_mtime_ns, default=None)


def run_folder(trainer: Trainer) -> Path:
    """Return the folder of the run in progress, where its files go.

    That is the first logger's ``log_dir`` with every logger of this project (Lightning's
    ``trainer.log_dir`` is the run's folder for TensorBoard and CSV only). Every process
    must call it: under DDP, the folder is the first process's.
    """
    logger = trainer.loggers[0] if trainer.loggers else None
    folder = getattr(logger, "log_dir", None) if trainer.is_global_zero else None
    return Path(trainer.strategy.broadcast(folder) or trainer.default_root_dir)


def runs_in(root: Path) -> list[Run]:
    """Return the runs under a logger's folder (``<save_dir>/<name>``) that hold checkpoints."""
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    runs = [Run(folder, folder / CHECKPOINT_DIR) for folder in folders]
    return [run for run in runs if run.checkpoints()]


def latest_run(runs: list[Run]) -> Run | None:
    """Return the run that saved a checkpoint last."""
    return max(
        runs,
        key=lambda run: max(path.stat().st_mtime_ns for path in run.checkpoints()),
        default=None,
    )


def run_name(text: str) -> str:
    """Return the folder name ``--run`` means: ``3`` is ``version_3``, a name is itself.

    Raises:
        RunNotFoundError: the name is not a plain folder name.
    """
    name = f"version_{text}" if text.isdigit() else text
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise RunNotFoundError(
            f"--run {text!r} is not a run name; give a folder name such as version_3 or slurm-1234"
        )
    return name


def _versioned_loggers(trainer: Namespace) -> list[Namespace]:
    """Return the configured loggers that keep runs in ``<save_dir>/<name>/<version>``."""
    configured = trainer.get("logger")
    loggers = configured if isinstance(configured, list) else [configured]
    return [
        logger
        for logger in loggers
        if isinstance(logger, Namespace)
        and isinstance(init := logger.get("init_args"), Namespace)
        and all(key in init for key in ("save_dir", "name", "version"))
    ]


def select_run(config: Namespace, subcommand: str) -> None:
    """Point one subcommand's parsed config at the run it continues or evaluates.

    ``--ckpt_path last`` and ``best`` become a file of the named run (``--run``) or of
    the run that saved a checkpoint last; a checkpoint file inside a run selects that
    run. The logger then writes into that run's folder instead of a new ``version_N``.

    Raises:
        RunNotFoundError: there is no such run, or it has no such checkpoint.
        RunExistsError: ``fit --run NAME`` without ``--ckpt_path`` names an existing run.
        CheckpointNotFoundError: ``--ckpt_path`` names a file that is not there.
    """
    ckpt_path, wanted = config.get("ckpt_path"), config.get("run")
    name = run_name(str(wanted)) if wanted is not None else None
    if _is_local_file_path(ckpt_path) and not Path(str(ckpt_path)).is_file():
        raise CheckpointNotFoundError(
            f"--ckpt_path {ckpt_path}: no such file; pass an existing checkpoint, or last or "
            "best for one of a run's"
        )
    loggers = _versioned_loggers(config.trainer)
    dirpath = config.get("checkpoint.dirpath")
    if dirpath is not None or not loggers:
        if name is not None:
            raise RunNotFoundError(
                "--run needs a folder per run: a logger with a save_dir (trainer.logger) and "
                "checkpoint.dirpath: null"
            )
        if ckpt_path == "best":  # Lightning finds last.ckpt in that one folder itself
            folder = Path(config.trainer.get("default_root_dir") or ".")
            checkpoints = Path(dirpath) if dirpath is not None else folder / CHECKPOINT_DIR
            config.ckpt_path = str(_checkpoint_of(Run(folder, checkpoints), "best"))
        return
    init = loggers[0].init_args
    save_dir = Path(init.save_dir or config.trainer.get("default_root_dir") or ".")
    root = save_dir / init.name if init.name else save_dir
    run, checkpoint = _choose(runs_in(root), root, name, ckpt_path, subcommand)
    if checkpoint is not None:
        config.ckpt_path = str(checkpoint)
    if run is None:
        return
    for logger in loggers:
        logger.init_args.version = run.name
    if config.trainer.get("default_root_dir") is None:
        config.trainer.default_root_dir = str(run.folder)


def _choose(
    runs: list[Run], root: Path, name: str | None, ckpt_path: Any, subcommand: str
) -> tuple[Run | None, Path | None]:
    """Return the run a command works in (None: a new ``version_N``) and its checkpoint."""
    named = next((run for run in runs if run.name == name), None)
    new = Run(root / name, root / name / CHECKPOINT_DIR) if name is not None else None
    if ckpt_path in ("last", "best"):
        run = named if name is not None else latest_run(runs)
        if run is not None:
            return run, _checkpoint_of(run, ckpt_path)
        if subcommand == "fit" and ckpt_path == "last":
            # Nothing to resume yet: Lightning warns and starts afresh (in the named run).
            return new, None
        known = ", ".join(run.name for run in runs) or "none"
        which = f"run {name!r}" if name else "a run"
        raise RunNotFoundError(
            f"--ckpt_path {ckpt_path}: {which} with checkpoints is not in {root} (runs there: "
            f"{known}); train one with `fit`, or pass --ckpt_path PATH/TO/FILE.ckpt"
        )
    if _is_local_file_path(ckpt_path):
        folder = Path(str(ckpt_path)).resolve().parent
        holder = next(
            (run for run in runs if folder in (run.checkpoint_dir.resolve(), run.folder.resolve())),
            None,
        )
        return new or holder, None
    if ckpt_path is not None:  # hpc, a model registry or a URL: Lightning resolves those
        return new, None
    if new is None:
        return None, None
    if subcommand != "fit":
        raise RunNotFoundError(
            f"--run {name}: say which of its checkpoints to {subcommand} with --ckpt_path "
            "best, last or a file"
        )
    if new.folder.exists():
        raise RunExistsError(
            f"run {name!r} exists in {root}; continue it with --ckpt_path last, or give the new "
            "run another name"
        )
    return new, None


def _is_local_file_path(ckpt_path: Any) -> bool:
    """Tell a checkpoint file on this machine from Lightning's names and URLs."""
    text = "" if ckpt_path is None else str(ckpt_path)
    return bool(text) and text not in ("last", "best", "hpc") and ":" not in text.split("/")[0]


def _checkpoint_of(run: Run, which: str) -> Path:
    path = run.last_checkpoint() if which == "last" else run.best_checkpoint()
    if path is None:
        raise RunNotFoundError(
            f"--ckpt_path {which}: run {run.folder} has no {which} checkpoint (its files: "
            f"{', '.join(p.name for p in run.checkpoints()) or 'none'}); pass --ckpt_path "
            "PATH/TO/FILE.ckpt"
        )
    return path
