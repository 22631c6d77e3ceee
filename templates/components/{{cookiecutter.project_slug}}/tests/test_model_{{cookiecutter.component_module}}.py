"""The added network: its shapes, and training runs that select it from a config or a flag."""

from __future__ import annotations

import pytest
import torch
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.configs import config_dir
from {{ cookiecutter.package_name }}.networks.{{ cookiecutter.component_module }} import (
    {{ cookiecutter.component_class }},
)

Network = {{ cookiecutter.component_class }}
CLASS_PATH = f"{Network.__module__}.{Network.__qualname__}"
CONFIG = config_dir() / "model" / "{{ cookiecutter.component_module }}.yaml"


def test_forward_returns_one_logit_per_class() -> None:
    network = Network(channels=8, num_blocks=1)

    assert network(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize(
    "selection",
    [["--config", str(CONFIG)], [f"--model.net={CLASS_PATH}"]],
    ids=["config-file", "class-path"],
)
def test_selected_it_trains(cpu_args: list[str], selection: list[str]) -> None:
    cli = cli_main(["fit", *selection, *cpu_args, "--trainer.fast_dev_run=true"])

    assert isinstance(cli.model.net, Network)
    assert cli.trainer.state.status == TrainerStatus.FINISHED
