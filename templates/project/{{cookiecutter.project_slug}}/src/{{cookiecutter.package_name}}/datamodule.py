"""The LightningDataModule: MNIST on disk, its splits and its dataloaders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from pytorch_lightning import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Subset, random_split
from torchvision import transforms
from torchvision.datasets import MNIST
from typing_extensions import override

# The four files torchvision reads, in MNIST's IDX format, under <data_dir>/MNIST/raw/.
MNIST_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class MissingDatasetError(RuntimeError):
    """Raised when MNIST is neither on disk nor downloadable."""


class ResidentBatches:
    """Batches sliced from uint8 tensors that live on the training device.

    MNIST is 47 MB: on a GPU it fits many times over, and slicing batches there and
    normalising them on the device removes the host-to-device copies and the worker
    processes of a DataLoader. Under DDP each process takes every world_size-th sample.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def __len__(self) -> int:
        per_rank = -(-len(self.labels) // self.world_size)
        return -(-per_rank // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        count = len(self.labels)
        if self.shuffle:
            generator = torch.Generator(device=self.images.device)
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(count, device=self.images.device, generator=generator)
        else:
            order = torch.arange(count, device=self.images.device)
        self.epoch += 1
        order = order[self.rank :: self.world_size]
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            images = self.images[index].unsqueeze(1).float().div_(255)
            yield images.sub_(MNIST_MEAN).div_(MNIST_STD), self.labels[index]


class MNISTDataModule(LightningDataModule):
    """MNIST split into train, validation and test sets.

    Args:
        data_dir: Folder that holds (or will hold) ``MNIST/raw/``.
        batch_size: Samples per batch, per process.
        num_workers: Worker processes per dataloader.
        pin_memory: Pin host memory for faster copies to the GPU.
        persistent_workers: Keep workers alive between epochs (needs ``num_workers > 0``).
        val_fraction: Share of the training set held out for validation.
        seed: Seed of the train/validation split, independent of the training seed.
        download: Download MNIST in ``prepare_data`` when it is not on disk.
        device_resident: Keep the whole dataset on the training device and slice batches
            there (see ResidentBatches); ``None`` chooses it on CUDA devices, where it is
            much faster, and the DataLoader path elsewhere.
    """

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = {{ cookiecutter.batch_size }},
        num_workers: int = 2,
        pin_memory: bool = {{ 'True' if cookiecutter.gpus|int > 0 else 'False' }},
        persistent_workers: bool = True,
        val_fraction: float = 0.1,
        seed: int = {{ cookiecutter.seed }},
        download: bool = True,
        device_resident: bool | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
        self.save_hyperparameters()
        self.transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]
        )
        self.train_set: Dataset[tuple[torch.Tensor, int]] | None = None
        self.val_set: Dataset[tuple[torch.Tensor, int]] | None = None
        self.test_set: Dataset[tuple[torch.Tensor, int]] | None = None
        self.resident = False

    @property
    def raw_dir(self) -> Path:
        """The folder torchvision reads the four IDX files from."""
        return Path(self.hparams.data_dir) / "MNIST" / "raw"

    def missing_files(self) -> list[str]:
        """Return the IDX files that are not on disk yet."""
        return [name for name in MNIST_RAW_FILES if not (self.raw_dir / name).is_file()]

    def _missing_dataset_error(self) -> MissingDatasetError:
        names = "\n".join(f"  {self.raw_dir / name}" for name in self.missing_files())
        return MissingDatasetError(
            f"MNIST is not in {self.raw_dir} and could not be downloaded. On a machine with "
            "network access run `prepare_data` once (or fetch the files yourself), then put "
            f"these four files, uncompressed, in that folder:\n{names}"
        )

    @override
    def prepare_data(self) -> None:
        # Lightning calls this on one process per node: the only place that downloads.
        if not self.missing_files():
            return
        if not self.hparams.download:
            raise self._missing_dataset_error()
        try:
            MNIST(self.hparams.data_dir, train=True, download=True)
            MNIST(self.hparams.data_dir, train=False, download=True)
        except (RuntimeError, OSError) as err:
            raise self._missing_dataset_error() from err

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.missing_files():
            raise self._missing_dataset_error()
        if stage in ("fit", "validate", None) and self.train_set is None:
            full = MNIST(self.hparams.data_dir, train=True, transform=self.transform)
            val_size = max(1, round(len(full) * self.hparams.val_fraction))
            generator = torch.Generator().manual_seed(self.hparams.seed)
            self.train_set, self.val_set = random_split(
                full, [len(full) - val_size, val_size], generator=generator
            )
        if stage in ("test", "predict", None) and self.test_set is None:
            self.test_set = MNIST(self.hparams.data_dir, train=False, transform=self.transform)
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        wanted = self.hparams.device_resident
        self.resident = device.type == "cuda" if wanted is None else wanted

    def _dataloader(
        self, dataset: Dataset[tuple[torch.Tensor, int]] | None, shuffle: bool
    ) -> DataLoader[tuple[torch.Tensor, int]] | ResidentBatches:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        if self.resident:
            return self._resident_batches(dataset, shuffle)
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.persistent_workers and workers > 0,
        )

    def _resident_batches(
        self, dataset: Dataset[tuple[torch.Tensor, int]], shuffle: bool
    ) -> ResidentBatches:
        # The same samples as the DataLoader path: a split's indices into MNIST's tensors.
        base, index = dataset, None
        if isinstance(dataset, Subset):
            base, index = dataset.dataset, torch.as_tensor(dataset.indices)
        if not isinstance(base, MNIST):
            raise TypeError(f"the resident path reads MNIST tensors, not {type(base).__name__}")
        images, labels = base.data, base.targets
        if index is not None:
            images, labels = images[index], labels[index]
        trainer = self.trainer
        device = trainer.strategy.root_device if trainer else torch.device("cpu")
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        return ResidentBatches(
            images.to(device),
            labels.to(device),
            self.hparams.batch_size,
            shuffle,
            self.hparams.seed,
            rank,
            world,
        )

    @override
    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, int]] | ResidentBatches:
        return self._dataloader(self.train_set, shuffle=True)

    @override
    def val_dataloader(self) -> DataLoader[tuple[torch.Tensor, int]] | ResidentBatches:
        return self._dataloader(self.val_set, shuffle=False)

    @override
    def test_dataloader(self) -> DataLoader[tuple[torch.Tensor, int]] | ResidentBatches:
        return self._dataloader(self.test_set, shuffle=False)

    @override
    def predict_dataloader(self) -> DataLoader[tuple[torch.Tensor, int]] | ResidentBatches:
        return self._dataloader(self.test_set, shuffle=False)
