"""The entry point: Lightning's own CLI over the model, the data and configs/ (see README)."""

from __future__ import annotations

import logging
import os
import sys
import warnings
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
from pathlib import Path
{%- endif %}

import torch
from pytorch_lightning import LightningDataModule, LightningModule{{ ", Trainer" if cookiecutter.logger in ("mlflow", "wandb") else "" }}
from pytorch_lightning.callbacks import ModelCheckpoint
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
from pytorch_lightning.cli import (
    ArgsType,
    LightningArgumentParser,
    LightningCLI,
    SaveConfigCallback,
)
{%- else %}
from pytorch_lightning.cli import ArgsType, LightningArgumentParser, LightningCLI
{%- endif %}
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from typing_extensions import override

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.configs import config_dir, with_experiment_configs
from {{ cookiecutter.package_name }}.runs import RunError, next_config_name, {{ "record_tracker_run, " if cookiecutter.logger in ("mlflow", "wandb") else "" }}select_run

# Printed as one line, exit status 2: data, a run or GPUs (Lightning's message) not there.
USER_ERRORS = (FileNotFoundError, RunError, MisconfigurationException)
CPU_FIX = " (--trainer.accelerator cpu --trainer.devices 1 --trainer.strategy auto: the CPU)"
{%- if cookiecutter.logger in ("mlflow", "wandb") %}


class SaveRunConfig(SaveConfigCallback):
    """Lightning's SaveConfigCallback; it also records the tracker's run for a resume."""

    @override
    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # Lightning calls this on the first process only: no broadcast (trainer.log_dir) here.
        folder = trainer.loggers[0].log_dir if trainer.loggers else None
        if folder:
            record_tracker_run(Path(folder), trainer.loggers)
{%- endif %}


class {{ cookiecutter.class_name }}CLI(LightningCLI):
    """LightningCLI with a ModelCheckpoint always on, experiments and runs."""

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Runs and --ckpt_path last|best rest on it: --checkpoint.save_top_k 5, and so on.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        experiment = "Stack configs/experiments/NAME.yaml and its parents on the defaults."
        parser.add_argument("--experiment", type=str | None, help=experiment)
        run = "The run (version_N, N, or a name) of --ckpt_path last|best, or a new fit's name."
        parser.add_argument("--run", type=str | None, help=run)

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        argv = sys.argv[1:] if args is None else list(args)
        self.config = parser.parse_args(with_experiment_configs(argv))
        if subcommand := self.config.get("subcommand"):
            folder = select_run(self.config[subcommand], subcommand)
            # A run's every start keeps the config it used: config.yaml, config-2.yaml, ...
            if folder is not None:
                self.save_config_kwargs["config_filename"] = next_config_name(folder, subcommand)
            elif subcommand != "fit":
                self.save_config_kwargs["config_filename"] = f"{subcommand}-config.yaml"


def not_a_tip(record: logging.LogRecord) -> bool:
    """Tell Lightning's log lines from its tips about its cloud services, shown at every start."""
    return not record.getMessage().startswith("💡 Tip")


def quiet_lightning_notices() -> None:
    """Silence Lightning's notices that do not apply to this project."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(not_a_tip)
    # jsonargparse's, about calls inside LightningCLI (documented switch).
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    # Lightning's: batches are sliced from memory and need no worker processes.
    warnings.filterwarnings("ignore", ".*does not have many workers")
    # Raised inside Lightning by newer torch releases (torch.utils._pytree), not by this code.
    warnings.filterwarnings("ignore", ".*LeafSpec.* is deprecated")


def cli_main(args: ArgsType = None, run: bool = True) -> {{ cookiecutter.class_name }}CLI:
    """Build the CLI over configs/default.yaml and run the subcommand in ``args``.

    With ``run=False``: no subcommand; the model, data and trainer are built, not run.
    """
    quiet_lightning_notices()
    defaults = {"default_config_files": [str(config_dir() / "default.yaml")]}
    subcommands = {name: defaults for name in ("fit", "validate", "test", "predict")}
    program = {"prog": "{{ cookiecutter.package_name }}", "version": __version__}
    return {{ cookiecutter.class_name }}CLI(
        # Any LightningModule and LightningDataModule, chosen by class_path in the config.
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_kwargs={**subcommands, **program} if run else defaults,
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
        save_config_callback=SaveRunConfig,
{%- endif %}
        args=args,
        run=run,
    )


def main() -> None:
    """Console script: ``{{ cookiecutter.package_name }} {fit,validate,test,predict} [options]``."""
    # Let float32 matrix products use tensor cores on GPUs that have them; no effect on CPUs.
    torch.set_float32_matmul_precision("high")
    try:
        cli_main()
    except USER_ERRORS as err:
        # Lightning names missing GPUs; the fix is the same on every machine without them.
        print(f"error: {err}{CPU_FIX if 'gpu' in str(err).lower() else ''}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
