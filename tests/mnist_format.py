"""Real handwritten digits written in MNIST's IDX files, in torchvision's raw layout.

scikit-learn ships 1,797 8x8 digits scanned from people's handwriting. Each is scaled to
20x20 and centred in a 28x28 frame, as MNIST's digits are, so that the generated project
reads them through the real ``torchvision.datasets.MNIST`` code path.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_idx(raw_dir: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write uint8 ``images`` (N, 28, 28) and ``labels`` (N,) as one split's two IDX files."""
    images_name, labels_name = RAW_FILES[split]
    raw_dir.mkdir(parents=True, exist_ok=True)
    count, rows, cols = images.shape
    with open(raw_dir / images_name, "wb") as handle:
        handle.write(struct.pack(">IIII", 0x0803, count, rows, cols))
        handle.write(images.astype(np.uint8).tobytes())
    with open(raw_dir / labels_name, "wb") as handle:
        handle.write(struct.pack(">II", 0x0801, count))
        handle.write(labels.astype(np.uint8).tobytes())


def digits_as_mnist() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's digits as uint8 (N, 28, 28) images and their labels."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.from_numpy(digits.images).float().unsqueeze(1) * (255.0 / 16.0)
    scaled = F.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    framed = F.pad(scaled, (4, 4, 4, 4)).squeeze(1).clamp(0, 255).round()
    return framed.to(torch.uint8).numpy(), digits.target.astype(np.uint8)


def write_digits_dataset(
    data_dir: Path, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, int]:
    """Write a train split and a held-out test split under ``data_dir/MNIST/raw``.

    Returns:
        The number of images in each split.
    """
    from sklearn.model_selection import train_test_split

    images, labels = digits_as_mnist()
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    raw_dir = data_dir / "MNIST" / "raw"
    write_idx(raw_dir, "train", train_x, train_y)
    write_idx(raw_dir, "test", test_x, test_y)
    return {"train": len(train_y), "test": len(test_y)}
