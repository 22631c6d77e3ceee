"""Real handwritten digits written in MNIST's IDX files, in torchvision's raw layout.

scikit-learn ships 1,797 8x8 digits scanned from people's handwriting. Each is scaled to
20x20 and centred in a 28x28 frame, as MNIST's digits are, so that the generated project
reads them through the real ``torchvision.datasets.MNIST`` code path.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _bundled_write_idx() -> Callable[[Path, str, Any, Any], None]:
    """Return ``write_idx`` of the bundled template's partial, the one MNIST writer there is.

    Generated projects' conftest includes the same file; here it is run with the modules
    it names.
    """
    from plscaffold.templates import bundled_templates_abspath

    path = bundled_templates_abspath() / "project" / "templates" / "mnist_idx.py"
    namespace: dict[str, Any] = {"Any": Any, "Path": Path, "struct": struct}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace["write_idx"]  # type: ignore[no-any-return]


write_idx = _bundled_write_idx()


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
