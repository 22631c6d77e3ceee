{% if cookiecutter.model == "gan" -%}
{% set gan_class = cookiecutter.class_name ~ "LitModule" -%}
{% set gan_module = cookiecutter.package_name ~ ".model" -%}
{% set gan_config = "" -%}
{% include "gan/test_model.py" %}
{%- else -%}
"""The LightningModule: its steps, its saved hyperparameters, its schedule and its checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from pytorch_lightning import LightningModule

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.errors import CheckpointMismatchError
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule, cosine_decay
from {{ cookiecutter.package_name }}.networks import MLP, ConvNet

# load_from_checkpoint rebuilds an injected network through jsonargparse, then Lightning
# warns that the rebuilt model's hyperparameters hold a module: its own loading path.
LOADS_INJECTED_NETWORK = pytest.mark.filterwarnings("ignore:Attribute 'net' is an instance")


def build_model(cpu_args: list[str], *args: str) -> LightningModule:
    """Build the model from the configs, as the entry point does, without training it."""
    return cli_main([*cpu_args, *args], run=False).model


def test_forward_returns_one_logit_per_class(cpu_args: list[str]) -> None:
    model = build_model(cpu_args)

    logits = model(torch.randn(4, 1, 28, 28))

    assert logits.shape == (4, 10)


def test_predict_step_returns_class_indices(cpu_args: list[str]) -> None:
    model = build_model(cpu_args).eval()
    batch = (torch.randn(3, 1, 28, 28), torch.zeros(3, dtype=torch.int64))

    predictions = model.predict_step(batch, 0)

    assert predictions.shape == (3,)
    assert predictions.dtype == torch.int64
    assert int(predictions.min()) >= 0 and int(predictions.max()) < 10


def test_hyperparameters_hold_the_network_config(cpu_args: list[str]) -> None:
    model = build_model(cpu_args, "--model.lr=0.01", "--model.net.init_args.hidden_dim=32")

    assert model.hparams.lr == 0.01
    assert model.hparams.net["init_args"]["hidden_dim"] == 32
    assert model.hparams.net["class_path"].endswith(type(model.net).__qualname__)


def test_batch_norm_restores_the_layout_earlier_convnets_were_trained_with() -> None:
    # Before batch_norm was an option, ConvNet always had it: their checkpoints load
    # with --model.net.init_args.batch_norm true.
    norm = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    earlier = [
        *("0.weight", "0.bias", *(f"1.{name}" for name in norm)),
        *("4.weight", "4.bias", *(f"5.{name}" for name in norm)),
    ]

    assert list(ConvNet(batch_norm=True).features.state_dict()) == earlier
    assert list(ConvNet().features.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]


def test_compiling_keeps_parameter_names(cpu_args: list[str]) -> None:
    # Checkpoints of a compiled model load into an uncompiled one, and back.
    compiled = build_model(cpu_args, "--model.compile=true")
    plain = build_model(cpu_args)

    assert list(compiled.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(compiled.state_dict())


def test_cosine_decay_runs_from_the_peak_to_zero() -> None:
    assert cosine_decay(0, 100) == 1.0
    assert cosine_decay(50, 100) == pytest.approx(0.5)
    assert cosine_decay(100, 100) == pytest.approx(0.0)
    assert cosine_decay(150, 100) == pytest.approx(0.0)
    assert cosine_decay(10, math.inf) == 1.0  # max_epochs=-1: no end to decay towards


@LOADS_INJECTED_NETWORK
def test_a_checkpoint_of_another_network_is_named_as_such(
    cpu_args: list[str], runs_dir: Path
) -> None:
    convnet = f"--model.net={ConvNet.__module__}.ConvNet"
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", convnet])
    (checkpoint,) = runs_dir.glob("version_0/checkpoints/last.ckpt")
    mlp = cli_main([*cpu_args, f"--model.net={MLP.__module__}.MLP"], run=False)

    with pytest.raises(CheckpointMismatchError) as excinfo:
        mlp.trainer.validate(mlp.model, mlp.datamodule, ckpt_path=str(checkpoint))

    message = str(excinfo.value)
    assert "another architecture" in message and "ConvNet" in message and ".MLP" in message
    assert "config.yaml" in message and "load_from_checkpoint" in message
    # load_from_checkpoint rebuilds the network the checkpoint was trained with.
    loaded = {{ cookiecutter.class_name }}LitModule.load_from_checkpoint(checkpoint)
    assert type(loaded.net) is ConvNet
{% endif %}