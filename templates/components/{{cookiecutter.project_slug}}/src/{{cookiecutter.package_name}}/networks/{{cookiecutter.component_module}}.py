"""{{ cookiecutter.component_class }}: a small residual network for 28x28 grayscale images."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added back to their input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class {{ cookiecutter.component_class }}(nn.Module):
    """A convolution stem, residual blocks, global average pooling and a linear head.

    Args:
        num_classes: Number of output logits.
        channels: Width of the residual blocks.
        num_blocks: Residual blocks after the stem.
    """

    def __init__(self, num_classes: int = 10, channels: int = 32, num_blocks: int = 2) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            *(ResidualBlock(channels) for _ in range(num_blocks)),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(channels, num_classes),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
