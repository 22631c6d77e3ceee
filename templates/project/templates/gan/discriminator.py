"""Discriminator: scores 28x28 grayscale images, real against generated, with convolutions."""

from __future__ import annotations

from torch import Tensor, nn
from typing_extensions import override


class Discriminator(nn.Module):
    """Maps images (N, 1, 28, 28) to one logit each: above zero for an image it takes as real.

    It has no batch normalisation, so real and generated images can share one batch.

    Args:
        channels: Channels of the 14x14 feature map; the 7x7 one has twice as many.
        dropout: Dropout probability before the final linear layer.
    """

    def __init__(self, channels: int = 16, dropout: float = 0.3) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1),  # 14x14
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1),  # 7x7
            nn.LeakyReLU(0.2, inplace=True),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(2 * channels * 7 * 7, 1),
        )

    @override
    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images).squeeze(1)
