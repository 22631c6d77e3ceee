"""The LightningDataModule: MNIST read by torchvision, served in batches sliced from memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from PIL import Image
from pytorch_lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import MNIST
from torchvision.transforms.functional import pil_to_tensor
from typing_extensions import override

# The four files torchvision reads, in MNIST's IDX format, under <data_dir>/MNIST/raw/.
MNIST_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
Batch = tuple[Tensor, Tensor]


class ImageTensors(Dataset[Batch]):
    """uint8 images (N, 28, 28), labels and file names; ``__getitems__`` slices a batch at once."""

    def __init__(self, images: Tensor, labels: Tensor, names: list[str] | None = None) -> None:
        self.images, self.labels, self.names = images, labels, names

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Batch:
        return self.images[index].unsqueeze(0), self.labels[index]

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices)
        return self.images[index].unsqueeze(1), self.labels[index]

    @staticmethod
    def collate(batch: Batch) -> Batch:  # the DataLoader's: __getitems__ made the batch
        return batch


def read_images(path: Path) -> ImageTensors:
    """Read images to predict on: a folder (by name, as 28x28 grey) or a tensor file; label -1."""
    names = None  # a tensor file's images are known by their index
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not names:
            raise FileNotFoundError(f"no {'/'.join(IMAGE_SUFFIXES)} images in {path}")
        grey = [Image.open(path / name).convert("L").resize((28, 28)) for name in names]
        images = torch.stack([pil_to_tensor(image)[0] for image in grey])
    elif path.is_file():
        images = torch.load(path, weights_only=True).to(torch.uint8).reshape(-1, 28, 28)
    else:
        raise FileNotFoundError(f"--data.predict_path {path}: no such folder or tensor file")
    # MNIST's digits are white on black: invert a dark digit on a light ground.
    light = images.float().mean(dim=(1, 2), keepdim=True) > 127
    images = torch.where(light, 255 - images, images)
    return ImageTensors(images, torch.full((len(images),), -1), names)


class MNISTDataModule(LightningDataModule):
    """MNIST's train (split into train and validation) and test sets, as floats in [0, 1].

    Args:
        data_dir: Folder that holds (or will hold) ``MNIST/raw/``.
        batch_size: Samples per batch, per process.
        num_workers: DataLoader workers; slicing memory needs none.
        val_fraction: Share of the training set held out for validation.
        seed: Seed of the train/validation split, independent of the training seed.
        download: Download MNIST in ``prepare_data`` when it is not on disk.
        predict_path: Images for ``predict`` (see ``read_images``); MNIST's test set if None.
    """

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = {{ cookiecutter.batch_size }},
        num_workers: int = 0,
        val_fraction: float = 0.1,
        seed: int = {{ cookiecutter.seed }},
        download: bool = True,
        predict_path: str | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
        self.save_hyperparameters()
        self.raw_dir = Path(data_dir) / "MNIST" / "raw"  # where torchvision reads the files
        self.datasets: dict[str, ImageTensors] = {}

    def _missing(self, why: str) -> FileNotFoundError:
        names = ", ".join(n for n in MNIST_RAW_FILES if not (self.raw_dir / n).is_file())
        return FileNotFoundError(
            f"MNIST is not in {self.raw_dir.absolute()} ({why}); copy {names} there, "
            "uncompressed, or run once with network access and --data.download true"
        )

    @override
    def prepare_data(self) -> None:
        # Lightning calls this on one process per node: the only place that downloads.
        if self.hparams.predict_path or all((self.raw_dir / n).is_file() for n in MNIST_RAW_FILES):
            return
        if not self.hparams.download:
            raise self._missing("--data.download is false")
        try:
            MNIST(self.hparams.data_dir, train=True, download=True)
            MNIST(self.hparams.data_dir, train=False, download=True)
        except (RuntimeError, OSError) as err:
            raise self._missing("downloading it failed") from err

    def _read(self, train: bool) -> ImageTensors:
        try:
            mnist = MNIST(self.hparams.data_dir, train=train)
        except RuntimeError as err:  # torchvision: "Dataset not found"
            raise self._missing("not found") from err
        return ImageTensors(mnist.data, mnist.targets)

    @override
    def setup(self, stage: str) -> None:
        if stage in ("fit", "validate") and "train" not in self.datasets:
            full = self._read(train=True)
            val_size = max(1, round(len(full) * self.hparams.val_fraction))
            generator = torch.Generator().manual_seed(self.hparams.seed)
            val, train = torch.randperm(len(full), generator=generator).tensor_split([val_size])
            self.datasets["train"] = ImageTensors(full.images[train], full.labels[train])
            self.datasets["val"] = ImageTensors(full.images[val], full.labels[val])
        if stage == "test" and "test" not in self.datasets:
            self.datasets["test"] = self._read(train=False)
        if stage == "predict" and "predict" not in self.datasets:
            path = self.hparams.predict_path
            self.datasets["predict"] = read_images(Path(path)) if path else self._read(train=False)

    def _dataloader(self, split: str, shuffle: bool = False) -> DataLoader[Batch]:
        on_cuda = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        return DataLoader(
            self.datasets[split],
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            collate_fn=ImageTensors.collate,
            num_workers=self.hparams.num_workers,
            pin_memory=on_cuda,
            persistent_workers=self.hparams.num_workers > 0,
        )

    @override
    def train_dataloader(self) -> DataLoader[Batch]:
        # Overfitting a batch (debug/overfit_batch) repeats the first: Lightning warns of shuffling.
        return self._dataloader("train", shuffle=not getattr(self.trainer, "overfit_batches", 0))

    @override
    def val_dataloader(self) -> DataLoader[Batch]:
        return self._dataloader("val")

    @override
    def test_dataloader(self) -> DataLoader[Batch]:
        return self._dataloader("test")

    @override
    def predict_dataloader(self) -> DataLoader[Batch]:
        return self._dataloader("predict")

    @override
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if not isinstance(batch, tuple):  # the model's example input passes here too
            return batch
        images, labels = batch
        return images.float().div_(255), labels
