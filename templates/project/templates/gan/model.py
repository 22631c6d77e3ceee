"""The LightningModule: a GAN whose generator and discriminator take turns, one optimizer each."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from pytorch_lightning.core.optimizer import LightningOptimizer
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchvision.utils import make_grid, save_image
from typing_extensions import override

Batch = tuple[Tensor, Tensor]
STAGES = ("train", "val", "test")
METRICS = ("d_loss", "g_loss", "d_acc")


class {{ gan_class }}(LightningModule):
    """Trains a generator to draw images that a discriminator, trained beside it, takes as real.

    Manual optimization: each training step first updates the discriminator on real images
    (target 1) and generated ones (target 0), then the generator through the updated
    discriminator (its images' target 1). Each network has its own Adam optimizer, and
    ``toggled_optimizer`` keeps the other network's gradients off during each turn.
    Checkpoints hold both optimizers' states, and ``--ckpt_path last`` restores both.
    Gradients are clipped here, with ``clip_gradients``: the Trainer's
    ``gradient_clip_val`` applies to automatic optimization only. Lightning counts both
    optimizers' steps, so ``global_step`` (and ``max_steps``) grows by two per batch.

    Metrics per stage and epoch: ``d_loss``, ``g_loss`` and ``d_acc``, the share of real
    and generated images the discriminator tells apart; 0.5 is chance, and a generator
    that keeps up holds it well below 1. After each validation a grid of images drawn
    from one fixed batch of noise is saved to ``<run>/samples/epoch=NNN.png`` (and
    logged to TensorBoard when that is the logger), so the grids show the same images
    improving.

    Args:
        generator: Maps noise (N, latent_dim) to images (N, 1, 28, 28) in [0, 1]; it has a
            ``latent_dim`` attribute. Picked in the config by class_path.
        discriminator: Maps images to one logit each, positive for real.
        lr: Learning rate of both optimizers.
        betas: Adam's betas for both (0.5 for the first, as in DCGAN, damps oscillation).
        grad_clip_norm: Clip each network's gradient norm to this before its step; ``null``
            leaves gradients as they are.
        num_samples: Images in the grid, drawn from noise fixed at the start.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        lr: float = 0.001,
        betas: tuple[float, float] = (0.5, 0.999),
        grad_clip_norm: float | None = 5.0,
        num_samples: int = 64,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim: int = generator.latent_dim
        # Saved in checkpoints: a resumed run draws its grids from the same noise.
        seeded = torch.Generator().manual_seed(0)
        self.register_buffer(
            "fixed_noise", torch.randn(num_samples, self.latent_dim, generator=seeded)
        )
        # One set per stage: their states must never mix. Neither checks its input, because
        # each check waits for the GPU.
        for stage in STAGES:
            for metric in METRICS:
                setattr(self, f"{stage}_{metric}", MeanMetric(nan_strategy="disable"))
        self.example_input_array = torch.zeros(2, self.latent_dim)
        self._eval_noise: torch.Generator | None = None

    @override
    def forward(self, noise: Tensor) -> Tensor:
        return self.generator(noise)

    def _generate(self, count: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``count`` images in [0, 1], the range of the datamodule's real ones."""
        noise = torch.randn(count, self.latent_dim, device=self.device, generator=generator)
        return self(noise)

    def _score(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return the discriminator's loss, its per-image accuracy, and its logits on fakes."""
        logits = self.discriminator(torch.cat([real, fake]))
        targets = torch.cat([logits.new_ones(len(real)), logits.new_zeros(len(fake))])
        loss = F.binary_cross_entropy_with_logits(logits, targets)
        correct = ((logits > 0) == targets.bool()).float()
        return loss, correct, logits[len(real) :]

    def _update(self, stage: str, d_loss: Tensor, g_loss: Tensor, correct: Tensor) -> None:
        getattr(self, f"{stage}_d_loss").update(d_loss.detach())
        getattr(self, f"{stage}_g_loss").update(g_loss.detach())
        getattr(self, f"{stage}_d_acc").update(correct)

    def _log_epoch_metrics(self, stage: str) -> None:
        # Logged as metric objects: Lightning computes them (over all processes under DDP),
        # then resets them for the next epoch.
        for metric in METRICS:
            self.log(f"{stage}_{metric}", getattr(self, f"{stage}_{metric}"), prog_bar=True)

    def _optimizer_step(self, optimizer: LightningOptimizer, loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if self.hparams.grad_clip_norm is not None:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=self.hparams.grad_clip_norm,
                gradient_clip_algorithm="norm",
            )
        optimizer.step()

    @override
    def training_step(self, batch: Batch, batch_idx: int) -> None:
        real, _ = batch
        g_optimizer, d_optimizer = self.optimizers()
        fake = self._generate(len(real))
        # The discriminator's turn: detached fakes, so no gradient reaches the generator.
        with self.toggled_optimizer(d_optimizer):
            d_loss, correct, _ = self._score(real, fake.detach())
            self._optimizer_step(d_optimizer, d_loss)
        # The generator's turn: its images should pass the updated discriminator as real.
        with self.toggled_optimizer(g_optimizer):
            logits = self.discriminator(fake)
            g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            self._optimizer_step(g_optimizer, g_loss)
        self._update("train", d_loss, g_loss, correct)
        # Written every log_every_n_steps by Lightning, beside the epoch means.
        self.log_dict({"train_d_loss_step": d_loss, "train_g_loss_step": g_loss})

    @override
    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")

    def _evaluate(self, batch: Batch, stage: str) -> None:
        real, _ = batch
        fake = self._generate(len(real), self._eval_noise)
        d_loss, correct, fake_logits = self._score(real, fake)
        g_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        self._update(stage, d_loss, g_loss, correct)

    def _start_evaluation(self) -> None:
        # The same noise at every evaluation, so epochs are compared on the same fakes.
        self._eval_noise = torch.Generator(self.device).manual_seed(self.global_rank)

    @override
    def on_validation_epoch_start(self) -> None:
        self._start_evaluation()

    @override
    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    @override
    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")
        # One grid per training epoch: not in the sanity check, nor in `validate`.
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self._save_samples()

    @override
    def on_test_epoch_start(self) -> None:
        self._start_evaluation()

    @override
    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    @override
    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    @override
    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        # One generated image per input: the inputs only set how many.
        return self._generate(len(batch[0]))

    def _save_samples(self) -> None:
        images = self(self.fixed_noise).float()
        grid = make_grid(images, nrow=8, padding=2, pad_value=1.0)
        # Every process asks: under DDP, the run's folder is a broadcast from the first one.
        folder = Path(self.trainer.log_dir or self.trainer.default_root_dir) / "samples"
        if not self.trainer.is_global_zero:
            return
        folder.mkdir(parents=True, exist_ok=True)
        save_image(grid, folder / f"epoch={self.current_epoch:03d}.png")
        for logger in self.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image("samples", grid, self.current_epoch)

    @override
    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        # fused: one kernel for the whole update instead of one or more per parameter. Not
        # with clipping: Lightning's mixed precision refuses to clip a fused optimizer's
        # gradients, which it unscales inside its step.
        fused = self.hparams.grad_clip_norm is None
        return [
            torch.optim.Adam(
                net.parameters(), lr=self.hparams.lr, betas=self.hparams.betas, fused=fused
            )
            for net in (self.generator, self.discriminator)
        ]
