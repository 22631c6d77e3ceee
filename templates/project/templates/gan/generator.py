"""Generator: draws 28x28 grayscale images from latent noise with transposed convolutions."""

from __future__ import annotations

from torch import Tensor, nn
from typing_extensions import override


class Generator(nn.Module):
    """Maps noise (N, latent_dim) to images (N, 1, 28, 28) with pixels in [0, 1].

    Args:
        latent_dim: Size of the noise vector each image is drawn from.
        channels: Channels of the 14x14 feature map; the 7x7 one has twice as many.
    """

    def __init__(self, latent_dim: int = 64, channels: int = 32) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, 2 * channels * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * channels * 7 * 7),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (2 * channels, 7, 7)),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),  # 14x14
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),  # 28x28
            nn.Sigmoid(),
        )

    @override
    def forward(self, noise: Tensor) -> Tensor:
        return self.layers(noise)
