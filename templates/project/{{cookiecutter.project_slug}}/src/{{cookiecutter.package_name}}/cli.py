"""The training entry point: Lightning's own CLI over the model, the data and configs/.

Examples:
    {{ cookiecutter.package_name }} fit                          # train with configs/default.yaml
    {{ cookiecutter.package_name }} fit --trainer.max_epochs 3   # override any key
    {{ cookiecutter.package_name }} fit --ckpt_path last         # resume from checkpoints/last.ckpt
    {{ cookiecutter.package_name }} test --ckpt_path best        # evaluate the best checkpoint
    {{ cookiecutter.package_name }} fit --experiment NAME        # configs/experiments/NAME.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from pytorch_lightning import Callback, LightningDataModule, LightningModule, Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from typing_extensions import override

# Imported so that `--model` and `--data` also take these classes by their short names.
from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule  # noqa: F401
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule  # noqa: F401

# src/<package>/cli.py -> the project root, where configs/ lives.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"
EXPERIMENTS_DIR = PROJECT_ROOT / "configs" / "experiments"


def experiment_configs(name: str) -> list[Path]:
    """Return an experiment's config files, its farthest parent first.

    Each file holds only what differs from its parent, named in its ``lineage.parent``;
    the chain ends at the default config or a built-in experiment template.
    """
    chain: list[Path] = []
    while name and (EXPERIMENTS_DIR / f"{name}.yaml").is_file():
        path = EXPERIMENTS_DIR / f"{name}.yaml"
        if path in chain:
            raise ValueError(f"experiment {name!r} is its own ancestor: {chain}")
        chain.insert(0, path)
        lineage = (yaml.safe_load(path.read_text()) or {}).get("lineage") or {}
        name = str(lineage.get("parent") or "")
    if not chain:
        known = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml"))
        raise FileNotFoundError(
            f"no experiment {name!r} in {EXPERIMENTS_DIR}; known: {', '.join(known) or 'none'}"
        )
    return chain


def expand_experiment(args: list[str]) -> list[str]:
    """Replace ``--experiment NAME`` by one ``--config`` per file of the experiment's chain."""
    expanded: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--experiment" or arg.startswith("--experiment="):
            name = arg.partition("=")[2] if "=" in arg else next(rest, "")
            for path in experiment_configs(name):
                expanded += ["--config", str(path)]
        else:
            expanded.append(arg)
    return expanded


class MonitoredMetricsCheck(Callback):
    """Stop at the first training step when a monitored validation metric is never logged.

    Lightning itself notices only at the end of the first epoch. By the first training
    step the sanity check has run validation once, so every metric validation logs is
    known: a monitor named like one (``val...``) that it did not log is a typo or a
    missing ``self.log``. Training metrics may be logged only at the end of an epoch, so
    Lightning checks those itself, then. Without a sanity check (``num_sanity_val_steps=0``)
    nothing is checked.
    """

    def __init__(self) -> None:
        super().__init__()
        self._validation_metrics: set[str] | None = None

    @override
    def on_sanity_check_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._validation_metrics = set(trainer.callback_metrics)

    @override
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._validation_metrics is None:
            return
        logged = self._validation_metrics | set(trainer.callback_metrics)
        self._validation_metrics = None  # check once
        monitors = {cb.monitor for cb in trainer.checkpoint_callbacks if cb.monitor}
        monitors |= {cb.monitor for cb in trainer.early_stopping_callbacks}
        missing = sorted(m for m in monitors - logged if m.startswith("val"))
        if missing:
            raise ValueError(
                f"monitored metric {', '.join(missing)} is never logged; logged metrics: "
                f"{', '.join(sorted(logged))}. Set --checkpoint.monitor and "
                "--early_stopping.monitor to one of those, or log it with self.log()."
            )


class {{ cookiecutter.class_name }}CLI(LightningCLI):
    """LightningCLI with checkpointing and early stopping always on, set from the config."""

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Forced callbacks get their own config sections and flags, such as
        # --checkpoint.save_top_k 5 or --early_stopping.patience 10.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        # Where an experiment came from (parent, description, creation time, git commit):
        # recorded in its config file, read by plscaffold, ignored by training.
        parser.add_argument("--lineage", type=dict | None, default=None)
        parser.set_defaults(
            {
                "checkpoint.monitor": "val_acc",
                "checkpoint.mode": "max",
                "early_stopping.monitor": "val_acc",
                "early_stopping.mode": "max",
            }
        )

    def _resolve_best_checkpoint(self) -> None:
        """Let ``--ckpt_path best`` work in a new process, not only right after ``fit``.

        Lightning knows the best checkpoint only inside the run that trained; the
        ModelCheckpoint state saved in ``last.ckpt`` remembers it across processes.
        """
        config = self.config_init[self.subcommand]
        checkpoint = self.trainer.checkpoint_callback
        if config.get("ckpt_path") != "best" or checkpoint is None or checkpoint.best_model_path:
            return
        last = Path(checkpoint.dirpath or "checkpoints") / "last.ckpt"
        if not last.is_file():
            raise FileNotFoundError(
                f"--ckpt_path best: no {last} to find the best checkpoint in; "
                "train first with `fit`, or pass --ckpt_path PATH/TO/FILE.ckpt"
            )
        # Our own file, written by fit: it holds callback states, not only tensors.
        states = torch.load(last, map_location="cpu", weights_only=False).get("callbacks", {})
        best = next(
            (
                state.get("best_model_path")
                for key, state in states.items()
                if key.startswith("ModelCheckpoint") and state.get("best_model_path")
            ),
            None,
        )
        config["ckpt_path"] = best or str(last)

    def before_validate(self) -> None:
        self._resolve_best_checkpoint()

    def before_test(self) -> None:
        self._resolve_best_checkpoint()

    def before_predict(self) -> None:
        self._resolve_best_checkpoint()


def cli_main(args: list[str] | None = None, run: bool = True) -> {{ cookiecutter.class_name }}CLI:
    """Build the CLI over ``configs/default.yaml`` and, unless ``run=False``, run the subcommand.

    Args:
        args: Command-line arguments; ``None`` reads ``sys.argv``.
        run: With subcommands (``fit``, ``test``, ...) when true; a bare parser otherwise,
            which instantiates the model, data and trainer without running anything.
    """
    config_kwargs = {
        "default_config_files": [str(DEFAULT_CONFIG)] if DEFAULT_CONFIG.is_file() else []
    }
    # With subcommands, each subcommand's parser reads the default config.
    if args is not None:
        args = expand_experiment(args)
    subcommands = ("fit", "validate", "test", "predict")
    parser_kwargs = {name: config_kwargs for name in subcommands} if run else config_kwargs
    return {{ cookiecutter.class_name }}CLI(
        # Any LightningModule and LightningDataModule can be chosen by class_path, from a
        # config file or the command line; configs/default.yaml picks the defaults.
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default={{ cookiecutter.seed }},
        trainer_defaults={"callbacks": [MonitoredMetricsCheck()]},
        parser_kwargs=parser_kwargs,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def main() -> None:
    """Console script: ``{{ cookiecutter.package_name }} {fit,validate,test,predict} [options]``."""
    # Let float32 matrix products use tensor cores on GPUs that have them; no effect on CPUs.
    torch.set_float32_matmul_precision("high")
    sys.argv[1:] = expand_experiment(sys.argv[1:])
    cli_main()


if __name__ == "__main__":
    main()
