"""The entry point: Lightning's own CLI over the model, the data and configs/ (see README)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
{%- if cookiecutter.logger in ("mlflow", "wandb") %}
from pathlib import Path
{%- endif %}

import torch
import yaml
from pytorch_lightning import Callback, LightningDataModule, LightningModule, Trainer
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
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from typing_extensions import override

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.callbacks import EpochProgress
from {{ cookiecutter.package_name }}.configs import ConfigError, config_dir, read_config, with_experiment_configs
from {{ cookiecutter.package_name }}.runs import RunError, next_config_name, {{ "record_tracker_run, " if cookiecutter.logger in ("mlflow", "wandb") else "" }}select_run

# Printed as one line, exit status 2: data, a run or GPUs (Lightning's message) not there.
USER_ERRORS = (FileNotFoundError, ConfigError, RunError, MisconfigurationException)
ON_CPU = "--trainer.accelerator cpu --trainer.devices 1 --trainer.strategy auto"
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
    """LightningCLI with a ModelCheckpoint, named callbacks, experiments and runs."""

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Runs and --ckpt_path last|best rest on it: --checkpoint.save_top_k 5, and so on.
        parser.add_class_arguments(ModelCheckpoint, "checkpoint", fail_untyped=False)
        default = yaml.safe_load(read_config(config_dir() / "default.yaml"))
        for name in default.get("callbacks") or {}:  # a config or --callbacks.NAME null drops one
            parser.add_argument(f"--callbacks.{name}", type=Callback | None)
        parser.add_argument("--test", type=bool, default=False, help="Then test fit's best.")
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
            saved = sorted(folder.glob("config*.yaml"), key=os.path.getmtime) if folder else []
            if saved and self.config[subcommand].ckpt_path:
                # A resumed fit takes its run's last saved config; the command line overrides it.
                argv.insert(argv.index(subcommand) + 1, f"--config={saved[-1]}")
                try:
                    with contextlib.redirect_stderr(io.StringIO()):
                        self.config = parser.parse_args(with_experiment_configs(argv))
                except SystemExit as exit:  # saved by older code, before a key moved
                    if not exit.code:
                        raise
                    rank_zero_warn(f"{saved[-1]} no longer parses: resuming with today's configs")
                folder = select_run(self.config[subcommand], subcommand)
            # A run's every start keeps the config it used: config.yaml, config-2.yaml, ...
            self.save_config_kwargs["config_filename"] = next_config_name(folder, subcommand)

    @override
    def instantiate_trainer(self, **kwargs: object) -> Trainer:
        config = self.config_init.get(str(self.subcommand), self.config_init)
        listed = config.trainer.callbacks or []  # a list, or one callback
        callbacks = list(listed) if isinstance(listed, list) else [listed]
        # The named ones, but a class trainer.callbacks lists (a config of 1.0) replaces its own.
        named = (config.get("callbacks") or {}).values()
        callbacks += [each for each in named if type(each) not in {type(c) for c in callbacks}]
        if config.trainer.enable_checkpointing is not False:
            if self.subcommand not in (None, "fit"):  # the run's folder as it trained: state loads
                config.checkpoint.dirpath = self.config[self.subcommand].checkpoint.dirpath
            callbacks.append(config.checkpoint)
        # Off a terminal (nohup, SLURM's log) a bar's redraws fill the file: a line per epoch.
        if config.trainer.enable_progress_bar is None and not sys.stderr.isatty():
            callbacks.append(EpochProgress())
            kwargs["enable_progress_bar"] = False
        kwargs["callbacks"] = [callback for callback in callbacks if callback is not None]
        return super().instantiate_trainer(**kwargs)

    def after_fit(self) -> None:
        """Print the run's folder and best checkpoint; with ``--test true``, test that one."""
        checkpoint = self.trainer.checkpoint_callback
        best = checkpoint.best_model_path if checkpoint else ""
        if best and checkpoint.best_model_score is not None:
            best += f" ({checkpoint.monitor}={checkpoint.best_model_score:.4f})"
        rank_zero_info(f"Run folder: {self.trainer.log_dir}; best checkpoint: {best or None}")
        if self.config.fit.test:
            ckpt_path = "best" if best else None  # else the weights fit ended with
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt_path)


def not_a_tip(record: logging.LogRecord) -> bool:
    """Tell Lightning's log lines from its tips (added once: the same filter each call)."""
    return not record.getMessage().startswith("💡 Tip")


def cli_main(args: ArgsType = None, run: bool = True) -> {{ cookiecutter.class_name }}CLI:
    """Build the CLI over configs/default.yaml and run the subcommand in ``args``.

    With ``run=False``: no subcommand; the model, data and trainer are built, not run.
    """
    # Notices that do not apply: Lightning's cloud tips, jsonargparse's on LightningCLI's calls,
    # "few workers" (batches are sliced from memory), newer torch's LeafSpec one from Lightning,
    # CSVLogger's "previous log files will be deleted" (runs.keep_metrics moved them aside).
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(not_a_tip)
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    warnings.filterwarnings("ignore", ".*does not have many workers")
    warnings.filterwarnings("ignore", ".*LeafSpec.* is deprecated")
    warnings.filterwarnings("ignore", ".*Previous log files in this directory will be deleted")
    defaults = {"default_config_files": [str(config_dir() / "default.yaml")]}
    subcommands = {name: defaults for name in ("fit", "validate", "test", "predict")}
    program = {"prog": "{{ cookiecutter.package_name }}", "version": __version__}
    return {{ cookiecutter.class_name }}CLI(
        # Any LightningModule and LightningDataModule, chosen by class_path in the config.
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        auto_configure_optimizers=False,  # the model's own, in its config
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
        message = str(err)
        if "gpu" in message.lower() and not torch.cuda.is_available():  # Lightning's words vary
            message = f"this machine has no GPU; train on the CPU with {ON_CPU}"
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    finally:
        # Lightning leaves a gloo (CPU) process group to the interpreter's exit, where its
        # threads can abort a process that trained to the end: leave it first, as torch asks.
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
