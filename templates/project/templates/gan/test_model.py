"""The GAN: each optimizer steps its own network, resume restores both, both sides learn, DDP."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import synthetic_digits, write_idx
from PIL import Image
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.cli import SaveConfigCallback

from {{ cookiecutter.package_name }}.cli import cli_main
{%- if gan_config %}
from {{ cookiecutter.package_name }}.configs import config_dir
{%- endif %}
from {{ gan_module }} import {{ gan_class }}

GAN = {{ gan_class }}
{%- if gan_config %}
CONFIG = config_dir() / "{{ gan_config }}"
SELECT = ["--config", str(CONFIG)]
{%- else %}
SELECT: list[str] = []  # the default config trains the GAN
{%- endif %}
# How long a subprocess may run before it counts as hung: far above a slow machine's time.
HANG_SECONDS = 1200


def build(cpu_args: list[str], *args: str) -> Any:
    """Build the CLI (model, data, trainer) from the configs, without running anything."""
    return cli_main([*SELECT, *cpu_args, *args], run=False)


@pytest.fixture(scope="module")
def stroke_digits_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST-format digits drawn as smooth strokes on black, as real digits are.

    The shared synthetic digits carry per-pixel noise, which a small generator takes
    far longer to imitate than a digit's shape.
    """
    root = tmp_path_factory.mktemp("strokes")
    generator = torch.Generator().manual_seed(1234)
    for split, count in (("train", 1200), ("test", 300)):
        images, labels = synthetic_digits(count, generator)
        strokes = (images > 160).float()[:, None] * 255
        smooth = F.avg_pool2d(strokes, 3, stride=1, padding=1)[:, 0].to(torch.uint8)
        write_idx(root / "MNIST" / "raw", split, smooth.numpy(), labels.numpy())
    return root


def test_the_generator_draws_images_the_discriminator_scores(cpu_args: list[str]) -> None:
    model = build(cpu_args).model

    with torch.no_grad():
        images = model(torch.randn(4, model.latent_dim))

    assert isinstance(model, GAN)
    assert images.shape == (4, 1, 28, 28)
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert model.discriminator(images).shape == (4,)


NETWORKS = ("generator", "discriminator")  # the order of configure_optimizers


def _gradients(module: torch.nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor | None], b: list[torch.Tensor | None]) -> bool:
    return all(
        x is y or (x is not None and y is not None and torch.equal(x, y))
        for x, y in zip(a, b, strict=True)
    )


class _Turns(Callback):
    """Record each optimizer step: whose gradients it sees, and which network it changes."""

    def __init__(self) -> None:
        self.turns: list[dict[str, Any]] = []
        self._seen: dict[str, list[torch.Tensor | None]] = {}
        self._before: dict[str, list[torch.Tensor]] = {}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for index, optimizer in enumerate(trainer.optimizers):
            optimizer.register_step_pre_hook(lambda *_, i=index: self._pre(pl_module, i))
            optimizer.register_step_post_hook(lambda *_: self._post(pl_module))

    def _pre(self, pl_module: LightningModule, index: int) -> None:
        mine, other = NETWORKS[index], NETWORKS[1 - index]
        grads = {name: _gradients(getattr(pl_module, name)) for name in NETWORKS}
        own = [g for g in grads[mine] if g is not None]
        previous = self._seen.get(other, [None] * len(grads[other]))
        self.turns.append(
            {
                "network": mine,
                "has_gradients": len(own) == len(grads[mine]),
                "gradient_norm": float(
                    torch.linalg.vector_norm(torch.stack([g.norm() for g in own]))
                ),
                # The other network's gradients are those its own last turn left.
                "other_untouched": _same(grads[other], previous),
            }
        )
        self._seen = grads
        self._before = {
            name: [p.detach().clone() for p in getattr(pl_module, name).parameters()]
            for name in NETWORKS
        }

    def _post(self, pl_module: LightningModule) -> None:
        self.turns[-1]["changed"] = {
            name
            for name in NETWORKS
            if not _same(list(getattr(pl_module, name).parameters()), self._before[name])
        }


def test_each_optimizer_steps_its_own_network_only(cpu_args: list[str]) -> None:
    batches = [
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=3",
        "--trainer.log_every_n_steps=1",
    ]
    cli = build(cpu_args, *batches, "--model.grad_clip_norm=0.01")
    turns = _Turns()
    cli.trainer.callbacks.append(turns)

    cli.trainer.fit(cli.model, cli.datamodule)

    # The discriminator's turn, then the generator's, for each of three batches.
    assert [turn["network"] for turn in turns.turns] == ["discriminator", "generator"] * 3
    for turn in turns.turns:
        assert turn["has_gradients"] and turn["other_untouched"], turn
        assert turn["changed"] == {turn["network"]}, turn
        # Clipped by hand before each step: manual optimization skips the Trainer's clipping.
        assert turn["gradient_norm"] <= 0.01 * 1.001, turn


@pytest.mark.parametrize("clip", ["5.0", "null"], ids=["clipped", "fused"])
def test_mixed_precision_trains_both_networks(cpu_args: list[str], clip: str) -> None:
    # bf16-mixed on the CPU takes the same path as on a GPU: Lightning's AMP plugin, which
    # clips only optimizers that do not unscale inside their step.
    args = ["--trainer.precision=bf16-mixed", f"--model.grad_clip_norm={clip}"]
    args.append("--trainer.enable_model_summary=false")  # it counts 32-bit sizes, and says so
    cli = cli_main(["fit", *SELECT, *cpu_args, *args, "--trainer.fast_dev_run=2"])

    assert cli.trainer.state.finished
    assert torch.isfinite(cli.trainer.callback_metrics["train_g_loss"])


def test_resuming_restores_both_optimizers(cpu_args: list[str], runs_dir: Path) -> None:
    first = cli_main(["fit", *SELECT, *cpu_args, "--trainer.max_epochs=1"])
    last = runs_dir / "version_0" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=False)["optimizer_states"]
    assert len(saved) == 2

    # The run's folder, kept by a CSV logger (of every variant's loggers, the simplest).
    logger = ["--trainer.logger=pytorch_lightning.loggers.CSVLogger",
              f"--trainer.logger.save_dir={runs_dir.parent}",
              f"--trainer.logger.name={runs_dir.name}",
              "--trainer.logger.version=version_0"]  # fmt: skip
    resumed = build(cpu_args, "--trainer.max_epochs=2", *logger)
    restored: list[dict[str, Any]] = []

    class _Restored(Callback):
        def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
            # Copies: the states' tensors go on changing as training goes on.
            restored.extend(copy.deepcopy(opt.state_dict()) for opt in trainer.optimizers)

    # The run's config.yaml is its first start's: `fit` would save this one beside it.
    callbacks = resumed.trainer.callbacks
    resumed.trainer.callbacks = [cb for cb in callbacks if not isinstance(cb, SaveConfigCallback)]
    resumed.trainer.callbacks.append(_Restored())
    with pytest.warns(UserWarning, match="exists and is not empty"):  # the run's own folder
        resumed.trainer.fit(resumed.model, resumed.datamodule, ckpt_path=str(last))

    assert len(restored) == 2
    for ours, theirs in zip(restored, saved, strict=True):
        assert ours["state"].keys() == theirs["state"].keys()
        for key, state in theirs["state"].items():
            assert torch.equal(ours["state"][key]["step"], state["step"])
            assert torch.equal(ours["state"][key]["exp_avg"], state["exp_avg"])
    assert resumed.trainer.global_step == 2 * first.trainer.global_step
    assert torch.equal(resumed.model.fixed_noise, first.model.fixed_noise)


class _DiscriminatorAccuracy(Callback):
    """Record the discriminator's accuracy on each training epoch's batches."""

    def __init__(self) -> None:
        self.accuracy: list[float] = []

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.accuracy.append(float(pl_module.train_d_acc.compute()))


def test_both_sides_learn_and_samples_are_saved_each_epoch(
    cpu_args: list[str], stroke_digits_dir: Path, runs_dir: Path
) -> None:
    epochs = 20
    cli = build(cpu_args, f"--data.data_dir={stroke_digits_dir}", f"--trainer.max_epochs={epochs}")
    accuracy = _DiscriminatorAccuracy()
    cli.trainer.callbacks.append(accuracy)

    cli.trainer.fit(cli.model, cli.datamodule)

    # The discriminator first learns to tell the generator's images from real ones...
    peak = max(range(epochs), key=accuracy.accuracy.__getitem__)
    assert accuracy.accuracy[peak] >= 0.9, accuracy.accuracy
    # ... then the generator learns to fool it, and its accuracy falls back towards chance.
    assert min(accuracy.accuracy[peak:]) <= accuracy.accuracy[peak] - 0.15, accuracy.accuracy

    samples = sorted((runs_dir / "version_0" / "samples").glob("*.png"))
    assert [path.name for path in samples] == [f"epoch={epoch:03d}.png" for epoch in range(epochs)]
    first, last = (Image.open(path) for path in (samples[0], samples[-1]))
    assert first.size == last.size == (8 * 30 + 2, 8 * 30 + 2)  # 64 images, 8 per row
    assert first.tobytes() != last.tobytes()
    # Evaluating a checkpoint draws no grid: the run's grids stay those of its epochs.
    cli.trainer.validate(cli.model, cli.datamodule)
    assert sorted((runs_dir / "version_0" / "samples").glob("*.png")) == samples


DRIVER = '''
"""Fit under DDP with a check that both networks stay the same on every process."""

import sys

import torch
from pytorch_lightning import Callback

from {{ cookiecutter.package_name }}.cli import cli_main


def flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


class SameOnEveryProcess(Callback):
    def on_train_start(self, trainer, pl_module):
        self.start = {n: flat(getattr(pl_module, n)) for n in ("generator", "discriminator")}

    def on_train_end(self, trainer, pl_module):
        for name, start in self.start.items():
            weights = flat(getattr(pl_module, name))
            gathered = trainer.strategy.all_gather(weights)
            assert torch.equal(gathered[0], gathered[1]), f"{name} differs between processes"
            assert not torch.equal(weights, start), f"{name} did not train"
        if trainer.is_global_zero:
            print(f"checked {trainer.world_size} processes")


cli = cli_main(sys.argv[1:], run=False)
cli.trainer.callbacks.append(SameOnEveryProcess())
cli.trainer.fit(cli.model, cli.datamodule)
'''


def test_manual_optimization_under_ddp_on_two_cpu_processes(
    cpu_args: list[str], tmp_path: Path
) -> None:
    driver = tmp_path / "ddp_fit.py"
    driver.write_text(textwrap.dedent(DRIVER))
    ddp = ["--trainer.devices=2", "--trainer.strategy=ddp_find_unused_parameters_true"]
    batches = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=4"]
    args = [*SELECT, *cpu_args, *ddp, *batches, "--trainer.limit_val_batches=2"]

    # Its own session: a hang kills both processes, the one launched and the one it launches.
    # The limit only catches a hang: a loaded machine may take minutes for these 4 steps.
    with subprocess.Popen(
        [sys.executable, str(driver), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"the DDP fit hung:\n{stderr[-4000:]}")

    assert process.returncode == 0, stderr[-4000:]
    assert "checked 2 processes" in stdout
    (last,) = tmp_path.glob("logs/*/version_0/checkpoints/last.ckpt")
    states = torch.load(last, map_location="cpu", weights_only=False)["optimizer_states"]
    assert [int(next(iter(s["state"].values()))["step"]) for s in states] == [4, 4]
