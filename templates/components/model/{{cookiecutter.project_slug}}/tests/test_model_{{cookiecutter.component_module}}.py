"""The added model: its shapes, and a training run that selects it from the command line."""

from __future__ import annotations

import torch
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.models.{{ cookiecutter.component_module }} import (
    {{ cookiecutter.component_class }}LitModule,
)

Model = {{ cookiecutter.component_class }}LitModule
CLASS_PATH = f"{Model.__module__}.{Model.__qualname__}"


def test_forward_returns_one_logit_per_class() -> None:
    model = Model(channels=8, num_blocks=1)

    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_selected_by_class_path_it_trains(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, f"--model={CLASS_PATH}", "--trainer.fast_dev_run=true"])

    assert isinstance(cli.model, Model)
    assert cli.trainer.state.status == TrainerStatus.FINISHED
