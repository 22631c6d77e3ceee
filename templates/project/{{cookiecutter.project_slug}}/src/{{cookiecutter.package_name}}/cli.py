"""The entry point: Lightning's own CLI over the model, the data and configs/.

Examples:
    {{ cookiecutter.package_name }} fit                            # a new run: logs/{{ cookiecutter.package_name }}/version_N/
    {{ cookiecutter.package_name }} fit --trainer.max_epochs 3     # override any key
    {{ cookiecutter.package_name }} fit --experiment NAME          # configs/experiments/NAME.yaml
    {{ cookiecutter.package_name }} fit --ckpt_path last           # continue the latest run, in its folder
    {{ cookiecutter.package_name }} test --ckpt_path best          # the latest run's best checkpoint
    {{ cookiecutter.package_name }} test --run version_0 --ckpt_path best   # ... of a run you name
"""

from __future__ import annotations

import sys

import torch
from jsonargparse import Namespace
from pytorch_lightning import LightningDataModule, LightningModule, Trainer
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.cli import (
    ArgsType,
    LightningArgumentParser,
    LightningCLI,
    SaveConfigCallback,
)
from typing_extensions import override

from {{ cookiecutter.package_name }} import __version__
from {{ cookiecutter.package_name }}.callbacks import DeferredRequeue, MonitoredMetricsCheck
from {{ cookiecutter.package_name }}.configs import config_dir, with_experiment_configs
from {{ cookiecutter.package_name }}.devices import check_devices
from {{ cookiecutter.package_name }}.errors import UserError
from {{ cookiecutter.package_name }}.runs import run_folder, select_run

SUBCOMMANDS = ("fit", "validate", "test", "predict")


class SaveRunConfig(SaveConfigCallback):
    """LightningCLI's SaveConfigCallback, saving into the run's folder with every logger.

    Lightning saves in ``trainer.log_dir``: the run's folder for TensorBoard and CSV, but
    for MLflow and W&B their shared ``save_dir``, where each run would overwrite the last
    one's config. A logger that keeps files of its own (``log_config``) gets it too.
    """

    @override
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        folder = run_folder(trainer)  # every process asks: a broadcast under DDP
        if trainer.is_global_zero:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / self.config_filename
            self.parser.save(
                self.config,
                str(path),
                skip_unset=False,  # keep null values: they are what the run used
                overwrite=self.overwrite,
                multifile=self.multifile,
            )
            for logger in trainer.loggers:
                if hasattr(logger, "log_config"):
                    logger.log_config(path)
            self.already_saved = True
        self.already_saved = trainer.strategy.broadcast(self.already_saved)


class {{ cookiecutter.class_name }}CLI(LightningCLI):
    """LightningCLI with checkpointing and early stopping always on, experiments and runs."""

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Forced callbacks get their own config sections and flags, such as
        # --checkpoint.save_top_k 5 or --early_stopping.patience 10.
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.add_argument(
            "--experiment",
            type=str | None,
            default=None,
            help="Stack configs/experiments/NAME.yaml and its parents on the defaults.",
        )
        parser.add_argument(
            "--run",
            type=str | None,
            default=None,
            help="The run (version_N, N, or a name) that --ckpt_path last/best read from; "
            "a new fit with a new name starts that run.",
        )
        parser.add_argument(
            "--lineage",
            type=dict | None,
            default=None,
            help="Where an experiment came from, recorded by plscaffold; training ignores it.",
        )

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        if isinstance(args, (dict, Namespace)):
            self.config = parser.parse_object(args)
        else:
            argv = sys.argv[1:] if args is None else list(args)
            self.config = parser.parse_args(with_experiment_configs(argv))
        subcommand = self.config.get("subcommand")
        if subcommand:
            select_run(self.config[subcommand], subcommand)

    @override
    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        check_devices(config.trainer.accelerator, config.trainer.devices)
        if self.subcommand not in (None, "fit"):
            # Evaluation logs into the run it evaluates: keep the config fit saved there.
            self.save_config_kwargs["config_filename"] = f"{self.subcommand}-config.yaml"


def cli_main(args: ArgsType = None, run: bool = True) -> {{ cookiecutter.class_name }}CLI:
    """Build the CLI over configs/default.yaml and, unless ``run=False``, run the subcommand.

    Args:
        args: Command-line arguments; ``None`` reads ``sys.argv``.
        run: With subcommands (``fit``, ``test``, ...) when true; a bare parser otherwise,
            which instantiates the model, data and trainer without running anything.
    """
    defaults = {"default_config_files": [str(config_dir() / "default.yaml")]}
    subcommands = {name: defaults for name in SUBCOMMANDS}
    # `--version` prints the package's version; usage lines name the package, also under
    # `python -m`, where the program would be __main__.py.
    program = {"prog": "{{ cookiecutter.package_name }}", "version": __version__}
    return {{ cookiecutter.class_name }}CLI(
        # Any LightningModule and LightningDataModule, chosen by class_path in the config.
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults={"callbacks": [MonitoredMetricsCheck(), DeferredRequeue()]},
        parser_kwargs={**subcommands, **program} if run else defaults,
        save_config_callback=SaveRunConfig,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def main() -> None:
    """Console script: ``{{ cookiecutter.package_name }} {fit,validate,test,predict} [options]``."""
    # Let float32 matrix products use tensor cores on GPUs that have them; no effect on CPUs.
    torch.set_float32_matmul_precision("high")
    try:
        cli_main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
