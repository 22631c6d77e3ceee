"""Every config builds a model, a datamodule and a trainer; bad configs fail in a few lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytorch_lightning import LightningDataModule, LightningModule
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
{%- if cookiecutter.model != "gan" %}
from pytorch_lightning.trainer.states import TrainerStatus
{%- endif %}

from {{ cookiecutter.package_name }} import __version__, configs, devices
from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.configs import config_dir
from {{ cookiecutter.package_name }}.errors import (
    ConfigNotFoundError,
    DevicesUnavailableError,
    ExperimentNotFoundError,
)
{%- if cookiecutter.model != "gan" %}
from {{ cookiecutter.package_name }}.networks import MLP, ConvNet
{%- endif %}

CONFIGS = sorted(config_dir().rglob("*.yaml"))


def test_configs_are_found() -> None:
    assert config_dir() / "default.yaml" in CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_instantiates(config: Path, cpu_args: list[str]) -> None:
    # Each file is stacked on configs/default.yaml, as `--config FILE` does on the command line.
    cli = cli_main(["--config", str(config), *cpu_args], run=False)

    assert isinstance(cli.model, LightningModule)
    assert isinstance(cli.datamodule, LightningDataModule)
    assert any(isinstance(cb, ModelCheckpoint) for cb in cli.trainer.callbacks)
    assert any(isinstance(cb, EarlyStopping) for cb in cli.trainer.callbacks)


def test_the_default_config_is_valid_without_the_hardware_it_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Parsed and type-checked, not instantiated: a GPU config is checked on any machine.
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", "--print_config"])

    assert exit_info.value.code == 0
    assert "trainer:" in capsys.readouterr().out


{% if cookiecutter.model != "gan" -%}
@pytest.mark.parametrize("network", [ConvNet, MLP])
def test_each_network_trains_when_the_config_picks_it(cpu_args: list[str], network: type) -> None:
    class_path = f"{network.__module__}.{network.__qualname__}"

    cli = cli_main(["fit", *cpu_args, f"--model.net={class_path}", "--trainer.fast_dev_run=true"])

    assert type(cli.model.net) is network
    assert cli.trainer.state.status == TrainerStatus.FINISHED


{% endif -%}
def test_command_line_overrides_the_config(cpu_args: list[str]) -> None:
    cli = cli_main([*cpu_args, "--checkpoint.save_top_k=1", "--model.lr=0.5"], run=False)

    checkpoint = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert checkpoint.save_top_k == 1
    assert cli.model.hparams.lr == 0.5


@pytest.mark.parametrize(
    ("visible", "requested", "message"),
    [
        (0, "1", "this machine has no GPU"),
        (1, "2", "this machine has 1 GPU. "),
        (2, "[0,3]", "this machine has 2 GPUs"),
    ],
)
def test_asking_for_gpus_the_machine_lacks_names_both_and_the_fix(
    cpu_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    visible: int,
    requested: str,
    message: str,
) -> None:
    monkeypatch.setattr(devices, "visible_gpus", lambda: visible)
    gpu = ["--trainer.accelerator=gpu", f"--trainer.devices={requested}"]

    with pytest.raises(DevicesUnavailableError) as excinfo:
        cli_main(["fit", *cpu_args, *gpu])

    text = str(excinfo.value)
    assert message in text and "accelerator 'gpu'" in text
    assert "--trainer.accelerator cpu --trainer.devices 1" in text
    assert "plscaffold generate config --gpus 0" in text


def test_an_unknown_experiment_is_named_with_the_known_ones(cpu_args: list[str]) -> None:
    with pytest.raises(ExperimentNotFoundError, match="no experiment 'nosuch'"):
        cli_main(["fit", *cpu_args, "--experiment", "nosuch"])


def test_version_is_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"{{ cookiecutter.package_name }} {__version__}"


def test_help_lists_experiment_and_run(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["fit", "--help"])

    out = capsys.readouterr().out
    assert "--experiment EXPERIMENT" in out and "--run RUN" in out


def test_an_installed_copy_of_the_configs_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "{{ cookiecutter.package_name }}"
    (package / "configs").mkdir(parents=True)
    monkeypatch.setattr(configs, "PACKAGE_DIR", package)
    with pytest.raises(ConfigNotFoundError, match="default.yaml"):
        config_dir()

    (package / "configs" / "default.yaml").write_text("trainer: {}\n")
    assert config_dir() == package / "configs"


def test_an_experiment_parent_is_a_name_never_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site-packages" / "{{ cookiecutter.package_name }}"
    experiments = package / "configs" / "experiments"
    experiments.mkdir(parents=True)
    (package / "configs" / "default.yaml").write_text("trainer: {}\n")
    (tmp_path / "outside.yaml").write_text("trainer:\n  max_epochs: 1\n")
    (experiments / "sneaky.yaml").write_text("lineage:\n  parent: ../../../../outside\n")
    monkeypatch.setattr(configs, "PACKAGE_DIR", package)

    with pytest.raises(ExperimentNotFoundError, match="names the parent '../../../../outside'"):
        configs.experiment_configs("sneaky")
