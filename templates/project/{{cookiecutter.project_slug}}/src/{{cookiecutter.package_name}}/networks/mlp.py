"""MLP: a small multilayer perceptron over flattened 28x28 images."""

from __future__ import annotations

from torch import Tensor, nn
from typing_extensions import override


class MLP(nn.Module):
    """One hidden layer over the flattened image.

    Args:
        num_classes: Number of output logits.
        hidden_dim: Width of the hidden layer.
        dropout: Dropout probability after the hidden layer.
    """

    def __init__(self, num_classes: int = 10, hidden_dim: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )

    @override
    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
