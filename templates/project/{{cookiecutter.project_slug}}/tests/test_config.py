"""Every config builds a model, a datamodule and a trainer; bad configs fail in a few lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pytorch_lightning import LightningDataModule, LightningModule
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }} import __version__, configs
from {{ cookiecutter.package_name }}.cli import cli_main, main
from {{ cookiecutter.package_name }}.configs import config_dir
{%- if cookiecutter.model != "gan" %}
from {{ cookiecutter.package_name }}.networks import MLP, ConvNet
{%- endif %}

CONFIGS = sorted(config_dir().rglob("*.yaml"))


def test_configs_are_found() -> None:
    assert config_dir() / "default.yaml" in CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_instantiates(config: Path, cpu_args: list[str]) -> None:
    # Each file is stacked on configs/default.yaml, as `--config FILE` does on the command
    # line; an experiment loads by name with its parents, as `--experiment NAME` does.
    experiment = config.parent == config_dir() / "experiments"
    chosen = ["--experiment", config.stem] if experiment else ["--config", str(config)]
    cli = cli_main([*chosen, *cpu_args], run=False)

    assert isinstance(cli.model, LightningModule)
    assert isinstance(cli.datamodule, LightningDataModule)
    assert any(isinstance(cb, ModelCheckpoint) for cb in cli.trainer.callbacks)


def test_the_default_config_is_valid_without_the_hardware_it_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Parsed and type-checked, not instantiated: a GPU config is checked on any machine.
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", "--print_config"])

    assert exit_info.value.code == 0
    assert "trainer:" in capsys.readouterr().out


{% if cookiecutter.model != "gan" -%}
@pytest.mark.slow
@pytest.mark.parametrize("network", [ConvNet, MLP])
def test_each_network_trains_when_the_config_picks_it(cpu_args: list[str], network: type) -> None:
    class_path = f"{network.__module__}.{network.__qualname__}"

    one_step = ["--trainer.fast_dev_run=true", "--data.batch_size=8"]
    cli = cli_main(["fit", *cpu_args, f"--model.net={class_path}", *one_step])

    assert type(cli.model.net) is network
    assert cli.trainer.state.status == TrainerStatus.FINISHED


{% endif -%}
def test_command_line_overrides_the_config(cpu_args: list[str]) -> None:
    lr = "{{ '--model.lr=0.5' if cookiecutter.model == 'gan' else '--model.optimizer.lr=0.5' }}"
    cli = cli_main([*cpu_args, "--checkpoint.save_top_k=1", lr], run=False)

    checkpoint = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert checkpoint.save_top_k == 1
{%- if cookiecutter.model == "gan" %}
    assert cli.model.hparams.lr == 0.5
{%- else %}
    assert cli.model.hparams.optimizer["init_args"]["lr"] == 0.5
{%- endif %}


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int | str | None:
    """Run the console script with ``args``; return its exit status."""
    monkeypatch.setattr("sys.argv", ["{{ cookiecutter.package_name }}", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_the_machine_lacks_is_one_line(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gpu = ["--trainer.accelerator=gpu", "--trainer.devices=1"]

    assert run_main(["fit", *cpu_args, *gpu], monkeypatch) == 2
    assert capsys.readouterr().err == (
        "error: this machine has no GPU; train on the CPU with --trainer.accelerator cpu "
        "--trainer.devices 1 --trainer.strategy auto\n"
    )


@pytest.mark.slow
def test_early_stopping_can_be_removed_and_a_run_without_validation_ends(
    cpu_args: list[str],
) -> None:
    # The callbacks are named in the config: a config or a flag drops one.
    dropped = "--callbacks.{{ "prediction_writer" if cookiecutter.model == "gan" else "early_stopping" }}=null"
    few_steps = ["--trainer.max_steps=3", "--data.batch_size=8"]
    cli = cli_main([*cpu_args, dropped, *few_steps], run=False)
    assert not any(isinstance(cb, EarlyStopping) for cb in cli.trainer.callbacks)

    # With the defaults: 3 steps end before the epoch's validation, and nothing crashes.
{%- if cookiecutter.model == "gan" %}
    cli = cli_main(["fit", *cpu_args, *few_steps])
{%- else %}
    with pytest.warns(UserWarning, match="could not find the monitored key"):  # no val_acc yet
        cli = cli_main(["fit", *cpu_args, *few_steps])
{%- endif %}
    assert cli.trainer.state.status == TrainerStatus.FINISHED
    assert cli.trainer.global_step == {{ "4  # two optimizer steps per batch" if cookiecutter.model == "gan" else "3" }}


def test_an_unknown_experiment_is_named_with_the_known_ones(cpu_args: list[str]) -> None:
    with pytest.raises(FileNotFoundError, match="no experiment 'nosuch'"):
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
    with pytest.raises(FileNotFoundError, match="default.yaml"):
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

    with pytest.raises(FileNotFoundError, match="names the parent '../../../../outside'"):
        configs.experiment_configs("sneaky")
