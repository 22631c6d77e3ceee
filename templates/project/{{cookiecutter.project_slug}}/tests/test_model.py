{% if cookiecutter.model == "gan" -%}
{% set gan_class = cookiecutter.class_name ~ "LitModule" -%}
{% set gan_module = cookiecutter.package_name ~ ".model" -%}
{% set gan_config = "" -%}
{% include "gan/test_model.py" %}
{%- else -%}
"""The LightningModule: its steps, its saved hyperparameters, its schedule and its checkpoints."""

from __future__ import annotations

import math

import pytest
import torch
from pytorch_lightning import LightningModule, Trainer

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.model import cosine_decay
from {{ cookiecutter.package_name }}.networks import ConvNet


def build_model(cpu_args: list[str], *args: str) -> LightningModule:
    """Build the model from the configs, as the entry point does, without training it."""
    return cli_main([*cpu_args, *args], run=False).model


def test_forward_returns_one_logit_per_class(cpu_args: list[str]) -> None:
    model = build_model(cpu_args)

    logits = model(torch.randn(4, 1, 28, 28))

    assert logits.shape == (4, 10)


def test_predict_step_returns_labels_classes_and_probabilities(cpu_args: list[str]) -> None:
    model = build_model(cpu_args).eval()
    batch = (torch.rand(3, 1, 28, 28), torch.tensor([4, -1, 7]))

    out = model.predict_step(batch, 0)

    assert out["label"].tolist() == [4, -1, 7]
    assert out["p"].shape == (3, 10) and torch.allclose(out["p"].sum(1), torch.ones(3))
    assert torch.equal(out["prediction"], out["p"].argmax(1))


def test_the_number_of_classes_is_the_networks(cpu_args: list[str]) -> None:
    model = build_model(cpu_args, "--model.net.init_args.num_classes=5")

    assert model.val_acc.num_classes == 5 and model(torch.rand(2, 1, 28, 28)).shape == (2, 5)


@pytest.mark.parametrize(
    ("precision", "clip", "fused"),
    [("32-true", 1.0, True), ("16-mixed", None, True), ("16-mixed", 1.0, False)],
)
def test_adamw_is_fused_unless_16_bit_scaling_must_clip_its_gradients(
    cpu_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    precision: str,
    clip: float | None,
    fused: bool,
) -> None:
    # Lightning's 16-mixed scaler refuses to clip a fused optimizer's gradients; 16-mixed
    # needs a GPU, so the CPU trainer reports it.
    model = build_model(cpu_args)
    model.trainer = Trainer(logger=False, enable_checkpointing=False, gradient_clip_val=clip)
    monkeypatch.setattr(Trainer, "precision", property(lambda _: precision))

    optimizer = model.configure_optimizers()["optimizer"]

    assert optimizer.defaults["fused"] is fused


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


@pytest.mark.slow
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
{% endif -%}
