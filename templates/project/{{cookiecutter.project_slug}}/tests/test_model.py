{% if cookiecutter.model == "gan" -%}
{% set gan_class = cookiecutter.class_name ~ "LitModule" -%}
{% set gan_module = cookiecutter.package_name ~ ".model" -%}
{% set gan_config = "" -%}
{% include "gan/test_model.py" %}
{%- else -%}
"""The LightningModule: its steps, its saved hyperparameters, its schedule and its checkpoints."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ResumedRun
from pytorch_lightning import LightningModule, Trainer

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule
{%- if cookiecutter.model == "mlp" %}
from {{ cookiecutter.package_name }}.networks import MLP, ConvNet
{%- else %}
from {{ cookiecutter.package_name }}.networks import ConvNet
{%- endif %}

LitModule = {{ cookiecutter.class_name }}LitModule
NETWORK = {{ "MLP" if cookiecutter.model == "mlp" else "ConvNet" }}  # configs/default.yaml's


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


def _optimizers(model: LightningModule, total_steps: float, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return what ``configure_optimizers`` gives in a run of ``total_steps`` steps."""
    model.trainer = Trainer(logger=False, enable_checkpointing=False)
    monkeypatch.setattr(Trainer, "estimated_stepping_batches", property(lambda _: total_steps))
    return model.configure_optimizers()


@pytest.mark.parametrize(
    ("total_steps", "shares"), [(100, [1.0, 0.5, 0.0, 0.0]), (math.inf, [1.0, 1.0, 1.0, 1.0])]
)
def test_the_default_is_fused_adamw_and_a_cosine_over_the_runs_steps(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch, total_steps: float, shares: list[float]
) -> None:
    # max_epochs=-1 has no known end (math.inf steps): the rate stays at its peak.
    config = _optimizers(build_model(cpu_args), total_steps, monkeypatch)
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(151):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()

    assert type(optimizer) is torch.optim.AdamW and optimizer.defaults["fused"] is True
    assert optimizer.defaults["weight_decay"] == 1e-4
    assert config["lr_scheduler"]["interval"] == "step"
    peak = {{ cookiecutter.lr }}
    assert rates[::50] == pytest.approx([peak * share for share in shares], abs=1e-12)


def test_the_optimizer_and_scheduler_are_chosen_on_the_command_line(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sgd = ["--model.optimizer=SGD", "--model.optimizer.lr=0.1"]
    step = ["--model.scheduler=StepLR", "--model.scheduler.step_size=10"]
    model = build_model(cpu_args, *sgd, *step)

    config = _optimizers(model, 100, monkeypatch)

    assert type(config["optimizer"]) is torch.optim.SGD
    assert config["optimizer"].defaults["lr"] == 0.1
    scheduler = config["lr_scheduler"]["scheduler"]
    assert type(scheduler) is torch.optim.lr_scheduler.StepLR and scheduler.step_size == 10
    assert model.hparams.optimizer["class_path"] == "torch.optim.SGD"
    assert model.hparams.scheduler["init_args"]["step_size"] == 10


def test_the_cli_offers_no_optimizer_besides_the_models(cpu_args: list[str]) -> None:
    # LightningCLI's own --optimizer would build a second one that a resume cannot restore.
    with pytest.raises(SystemExit):
        cli_main([*cpu_args, "--optimizer=SGD"], run=False)


def test_hyperparameters_hold_the_network_config(cpu_args: list[str]) -> None:
    model = build_model(
        cpu_args, "--model.optimizer.lr=0.01", "--model.net.init_args.hidden_dim=32"
    )

    assert model.hparams.optimizer["init_args"]["lr"] == 0.01
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


def test_the_sanity_check_is_no_best_accuracy(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = build_model(cpu_args)
    model.trainer = Trainer(logger=False, enable_checkpointing=False)
    model.trainer.sanity_checking = True
    monkeypatch.setattr(model, "log", lambda *args, **kwargs: None)
    model.val_acc.update(torch.eye(10), torch.arange(10))  # every answer right

    model.on_validation_epoch_end()

    assert float(model.val_acc_best.max_value) == -math.inf


def _logged(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, dict[str, Any]]]:
    """Record each ``self.log`` call's name, value and options from now on."""
    calls: list[tuple[str, Any, dict[str, Any]]] = []
    log = LightningModule.log

    def spy(self: LightningModule, name: str, value: Any, **kwargs: Any) -> None:
        calls.append((name, value, kwargs))
        log(self, name, value, **kwargs)

    monkeypatch.setattr(LightningModule, "log", spy)
    return calls


def test_the_best_accuracy_is_logged_as_one_value_over_all_processes(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under DDP, Lightning warns about an epoch-level value logged without sync_dist.
    calls = _logged(monkeypatch)
    cli_main(["validate", *cpu_args, "--trainer.limit_val_batches=1", "--data.batch_size=8"])

    assert [options for name, _, options in calls if name == "val_acc_best"] == [
        {"sync_dist": True}
    ]


@pytest.mark.slow
def test_a_resumed_run_keeps_its_best_accuracy(resumed_run: ResumedRun) -> None:
    best = float(resumed_run.first.trainer.callback_metrics["val_acc_best"])
    assert resumed_run.saved_best == best  # in the checkpoint

    logged = resumed_run.logged_best  # the resumed start's two epochs
    assert len(logged) == 2 and min(logged) >= best


@pytest.mark.slow
def test_a_run_resumes_with_its_optimizer_and_schedule(resumed_run: ResumedRun) -> None:
    steps = resumed_run.steps  # two epochs of three steps, then two more

    assert type(resumed_run.resumed.trainer.optimizers[0]) is torch.optim.SGD
    # The rates of one uninterrupted run; the momentum buffers were restored, not started anew.
    halved = [0.1 * 0.5**n for n in range(6) for _ in range(2)]
    assert [rate for rate, _ in steps] == pytest.approx(halved)
    assert steps[0][1] == 0 and steps[6][1] > 0


def _old_checkpoint(cpu_args: list[str], path: Path) -> Path:
    """Write a checkpoint as template version 1.0.2 saved it: lr and weight_decay in hparams."""
    model = build_model(cpu_args)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("val_acc_best")}
    hparams = {
        "_class_path": f"{LitModule.__module__}.{LitModule.__qualname__}",
        **{k: v for k, v in model.hparams.items() if k not in ("optimizer", "scheduler")},
        "lr": 0.01,
        "weight_decay": 1e-4,
        "_instantiator": "pytorch_lightning.cli.instantiate_module",
    }
    version = {"pytorch-lightning_version": "2.5.2"}
    torch.save({"state_dict": state, "hyper_parameters": hparams, **version}, path)
    return path


def test_a_checkpoint_of_template_1_0_2_loads(cpu_args: list[str], tmp_path: Path) -> None:
    old = _old_checkpoint(cpu_args, tmp_path / "old.ckpt")

    model = LitModule.load_from_checkpoint(old)

    assert isinstance(model.net, NETWORK) and "lr" not in model.hparams


@pytest.mark.slow
def test_a_loaded_checkpoint_saved_again_holds_configs_only(
    cpu_args: list[str], tmp_path: Path, resumed_run: ResumedRun
) -> None:
    # torch.load(weights_only=True) refuses pickled objects: a network, an optimizer class.
    last = resumed_run.folder / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "Attribute 'net' is an instance of"
        model = LitModule.load_from_checkpoint(last)
    trainer = Trainer(logger=False, enable_progress_bar=False, limit_val_batches=1)
    trainer.validate(model, resumed_run.resumed.datamodule)
    trainer.save_checkpoint(tmp_path / "again.ckpt")

    hparams = torch.load(tmp_path / "again.ckpt", weights_only=True)["hyper_parameters"]
    assert hparams["net"]["class_path"].endswith(NETWORK.__name__)
    assert hparams["optimizer"]["class_path"] == "torch.optim.SGD"  # the run's
    assert isinstance(LitModule.load_from_checkpoint(tmp_path / "again.ckpt").net, NETWORK)
    # The CLI loads a 1.0.2 checkpoint's hyperparameters (lr, weight_decay) too.
    old = _old_checkpoint(cpu_args, tmp_path / "old.ckpt")
    validated = cli_main(["validate", *cpu_args, f"--ckpt_path={old}"])
    assert "val_acc" in validated.trainer.callback_metrics
{% endif -%}
