"""Every config under configs/ builds a model, a datamodule and a trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pytorch_lightning import LightningDataModule, LightningModule
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

from {{ cookiecutter.package_name }}.cli import DEFAULT_CONFIG, cli_main
from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule

CONFIGS = sorted(DEFAULT_CONFIG.parent.rglob("*.yaml"))


def test_configs_are_found() -> None:
    assert DEFAULT_CONFIG in CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_instantiates(config: Path, cpu_args: list[str]) -> None:
    # Each file is stacked on configs/default.yaml, as `--config FILE` does on the command line.
    cli = cli_main(["--config", str(config), *cpu_args], run=False)

    assert isinstance(cli.model, LightningModule)
    assert isinstance(cli.datamodule, LightningDataModule)
    checkpoint = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert (checkpoint.monitor, checkpoint.mode) == ("val_acc", "max")
    assert checkpoint.save_last
    assert any(isinstance(cb, EarlyStopping) for cb in cli.trainer.callbacks)


def test_default_config_selects_the_project_classes(cpu_args: list[str]) -> None:
    cli = cli_main(cpu_args, run=False)

    assert type(cli.model) is {{ cookiecutter.class_name }}LitModule
    assert type(cli.datamodule) is MNISTDataModule


def test_default_config_holds_the_generation_options() -> None:
    # Read, not instantiated: a GPU config must be checkable on a machine without GPUs.
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    trainer = config["trainer"]

    assert trainer["accelerator"] == "{{ cookiecutter.__accelerator }}"
    assert trainer["devices"] == {{ cookiecutter.__devices }}
    assert trainer["strategy"] == "{{ cookiecutter.__strategy }}"
    assert trainer["precision"] == "{{ cookiecutter.precision }}"
    assert trainer["max_epochs"] == {{ cookiecutter.max_epochs }}
    assert trainer["logger"]["class_path"].endswith("{{ 'TensorBoardLogger' if cookiecutter.logger == 'tensorboard' else 'CSVLogger' }}")
    assert config["model"]["class_path"].endswith(".{{ cookiecutter.class_name }}LitModule")
    assert config["model"]["init_args"]["lr"] == pytest.approx({{ cookiecutter.lr }})
    assert config["data"]["init_args"]["batch_size"] == {{ cookiecutter.batch_size }}
    assert config["seed_everything"] == {{ cookiecutter.seed }}


def test_command_line_overrides_the_config(cpu_args: list[str]) -> None:
    cli = cli_main([*cpu_args, "--checkpoint.save_top_k=1", "--model.lr=0.5"], run=False)

    checkpoint = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert checkpoint.save_top_k == 1
    assert cli.model.hparams.lr == 0.5
