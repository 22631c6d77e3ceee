"""Every config under configs/ builds a model, a datamodule and a trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from {{ cookiecutter.package_name }}.cli import DEFAULT_CONFIG, cli_main
from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule

CONFIGS = sorted(DEFAULT_CONFIG.parent.rglob("*.yaml"))


def test_configs_are_found() -> None:
    assert DEFAULT_CONFIG in CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_instantiates(config: Path, cpu_args: list[str]) -> None:
    cli = cli_main(["--config", str(config), *cpu_args], run=False)

    assert isinstance(cli.model, {{ cookiecutter.class_name }}LitModule)
    assert isinstance(cli.datamodule, MNISTDataModule)
    checkpoint = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert (checkpoint.monitor, checkpoint.mode) == ("val_acc", "max")
    assert checkpoint.save_last
    assert any(isinstance(cb, EarlyStopping) for cb in cli.trainer.callbacks)


def test_default_config_holds_the_generation_options() -> None:
    cli = cli_main(["--data.num_workers=0"], run=False)

    assert cli.config.trainer.accelerator == "{{ cookiecutter.__accelerator }}"
    assert cli.config.trainer.devices == {{ cookiecutter.__devices }}
    assert cli.config.trainer.strategy == "{{ cookiecutter.__strategy }}"
    assert cli.config.trainer.precision == "{{ cookiecutter.precision }}"
    assert cli.config.trainer.max_epochs == {{ cookiecutter.max_epochs }}
    assert cli.config.data.batch_size == {{ cookiecutter.batch_size }}
    assert cli.config.model.lr == pytest.approx({{ cookiecutter.lr }})
    assert cli.config.seed_everything == {{ cookiecutter.seed }}
    assert cli.config.trainer.logger.class_path.endswith("{{ 'TensorBoardLogger' if cookiecutter.logger == 'tensorboard' else 'CSVLogger' }}")


def test_command_line_overrides_the_config(cpu_args: list[str]) -> None:
    cli = cli_main([*cpu_args, "--checkpoint.save_top_k=1", "--model.lr=0.5"], run=False)

    checkpoint = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert checkpoint.save_top_k == 1
    assert cli.model.hparams.lr == 0.5
