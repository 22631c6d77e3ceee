"""ConvNet: two convolution blocks and a classifier head for 28x28 grayscale images."""

from __future__ import annotations

from torch import Tensor, nn
from typing_extensions import override


class ConvNet(nn.Module):
    """Two convolution blocks and a classifier head; reaches about 99% on MNIST.

    Args:
        num_classes: Number of output logits.
        channels: Output channels of the two convolution blocks.
        hidden_dim: Width of the hidden layer of the head.
        dropout: Dropout probability before each linear layer.
    """

    def __init__(
        self,
        num_classes: int = 10,
        channels: tuple[int, int] = (32, 64),
        hidden_dim: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 14 -> 7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c2 * 7 * 7, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
