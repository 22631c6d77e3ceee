"""Images in class folders (``train/<class>/*.png``, ``test/<class>/*.png``) as a datamodule."""

from __future__ import annotations

from pathlib import Path

import torch
from pytorch_lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, random_split
from torchvision import transforms
from torchvision.datasets import ImageFolder
from typing_extensions import override

Sample = tuple[torch.Tensor, int]


class {{ cookiecutter.component_class }}DataModule(LightningDataModule):
    """Your own images, one folder per class, resized for the project's 28x28 models.

    Layout under ``data_dir``::

        train/<class name>/<image>   split into train and validation with ``seed``
        test/<class name>/<image>    the test set (optional)

    Args:
        data_dir: Folder holding ``train/`` and ``test/``.
        batch_size: Samples per batch, per process.
        num_workers: Worker processes per dataloader.
        pin_memory: Pin host memory for faster copies to the GPU; ``None`` pins when
            training on a CUDA device.
        persistent_workers: Keep workers alive between epochs (needs ``num_workers > 0``).
        val_fraction: Share of ``train/`` held out for validation.
        seed: Seed of the train/validation split.
        image_size: Side of the square images the model sees.
        grayscale: Convert images to one channel.
    """

    def __init__(
        self,
        data_dir: str = "data/{{ cookiecutter.component_module }}",
        batch_size: int = {{ cookiecutter.batch_size }},
        num_workers: int = 2,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        val_fraction: float = 0.1,
        seed: int = {{ cookiecutter.seed }},
        image_size: int = 28,
        grayscale: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
        self.save_hyperparameters()
        steps: list[object] = [transforms.Grayscale()] if grayscale else []
        steps += [transforms.Resize((image_size, image_size)), transforms.ToTensor()]
        self.transform = transforms.Compose(steps)
        self.train_set: Dataset[Sample] | None = None
        self.val_set: Dataset[Sample] | None = None
        self.test_set: Dataset[Sample] | None = None

    def _folder(self, split: str) -> Path:
        folder = Path(self.hparams.data_dir) / split
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} does not exist: put one sub-folder of images per class there "
                f"(for example {folder}/cat/001.png), or set --data.data_dir"
            )
        return folder

    @override
    def prepare_data(self) -> None:
        # Nothing to download: fail early, on one process, if the images are missing.
        self._folder("train")

    @override
    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate", None) and self.train_set is None:
            full = ImageFolder(self._folder("train"), transform=self.transform)
            val_size = max(1, round(len(full) * self.hparams.val_fraction))
            generator = torch.Generator().manual_seed(self.hparams.seed)
            self.train_set, self.val_set = random_split(
                full, [len(full) - val_size, val_size], generator=generator
            )
        if stage in ("test", "predict", None) and self.test_set is None:
            self.test_set = ImageFolder(self._folder("test"), transform=self.transform)

    def _dataloader(self, dataset: Dataset[Sample] | None, shuffle: bool) -> DataLoader[Sample]:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        workers = self.hparams.num_workers
        pin_memory = self.hparams.pin_memory
        if pin_memory is None:
            device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
            pin_memory = device.type == "cuda"
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=workers,
            pin_memory=pin_memory,
            persistent_workers=self.hparams.persistent_workers and workers > 0,
        )

    @override
    def train_dataloader(self) -> DataLoader[Sample]:
        return self._dataloader(self.train_set, shuffle=True)

    @override
    def val_dataloader(self) -> DataLoader[Sample]:
        return self._dataloader(self.val_set, shuffle=False)

    @override
    def test_dataloader(self) -> DataLoader[Sample]:
        return self._dataloader(self.test_set, shuffle=False)

    @override
    def predict_dataloader(self) -> DataLoader[Sample]:
        return self._dataloader(self.test_set, shuffle=False)
