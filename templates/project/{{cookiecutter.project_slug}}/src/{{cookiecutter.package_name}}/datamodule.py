"""The LightningDataModule: MNIST on disk, its splits and its dataloaders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import torch
from pytorch_lightning import LightningDataModule
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    DistributedSampler,
    Subset,
    random_split,
)
from torchvision import transforms
from torchvision.datasets import MNIST
from typing_extensions import override

from {{ cookiecutter.package_name }}.errors import MissingDatasetError

# The four files torchvision reads, in MNIST's IDX format, under <data_dir>/MNIST/raw/.
MNIST_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

Sample = tuple[torch.Tensor, int]


def spare_cpus() -> int:
    """Return the worker processes this machine can spare: its cores less two, at most 8.

    Training takes two cores (the Python loop and torch's threads). On a 2-core machine a
    DataLoader worker only competes with them: 5 epochs of 7,200 images took 13.9 s with
    none, 16.2 s with one and about 16 s with two.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(8, max(0, (cores or 1) - 2))


def mnist_transform() -> transforms.Compose:
    """Return the per-sample transform: a float tensor in [0, 1], normalised."""
    return transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]
    )


class ResidentBatches:
    """Batches sliced from uint8 tensors that live on the training device.

    MNIST is 47 MB: it fits in any memory, a GPU's many times over, and slicing batches
    there and normalising them on the device removes the per-sample transform, the
    worker processes and, on a GPU, the host-to-device copies of a DataLoader. Which
    samples a process takes, and in which order, comes from torch's samplers, as for a
    DataLoader under DDP: a DistributedSampler gives every process the same number of
    batches (a few samples repeat to even out the shares) and reshuffles from the seed
    and the epoch, which Lightning sets on ``batch_sampler.sampler`` at the start of
    each epoch, a resumed one included.
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, batch_sampler: BatchSampler
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_sampler = batch_sampler

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # The epoch's order moves to the device in one copy that does not wait for the GPU.
        order = torch.tensor(list(self.batch_sampler.sampler))
        if self.images.is_cuda:
            order = order.pin_memory()
        order = order.to(self.images.device, non_blocking=True)
        size = self.batch_sampler.batch_size
        for start in range(0, len(order), size):
            index = order[start : start + size]
            images = self.images[index].unsqueeze(1).float().div_(255)
            yield images.sub_(MNIST_MEAN).div_(MNIST_STD), self.labels[index]


class MNISTDataModule(LightningDataModule):
    """MNIST split into train, validation and test sets.

    Args:
        data_dir: Folder that holds (or will hold) ``MNIST/raw/``.
        batch_size: Samples per batch, per process.
        num_workers: Worker processes per DataLoader; ``None`` takes what the machine can
            spare (see ``spare_cpus``). The resident path needs none.
        pin_memory: Pin host memory for faster copies to the GPU; ``None`` pins when
            training on a CUDA device.
        persistent_workers: Keep workers alive between epochs (needs ``num_workers > 0``).
        val_fraction: Share of the training set held out for validation.
        seed: Seed of the train/validation split, independent of the training seed.
        download: Download MNIST in ``prepare_data`` when it is not on disk.
        device_resident: Keep the dataset on the training device and slice training,
            validation and test batches there (see ResidentBatches); ``None`` chooses it
            whenever the transform is MNIST's normalisation, which it applies on the
            device, on a CPU as on a GPU (faster on both), and the DataLoader for any
            other transform, such as an augmentation. ``predict`` always uses the
            DataLoader, which tells each prediction's sample.
    """

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = {{ cookiecutter.batch_size }},
        num_workers: int | None = None,
        pin_memory: bool | None = None,
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
        self.transform = mnist_transform()
        self.train_set: Dataset[Sample] | None = None
        self.val_set: Dataset[Sample] | None = None
        self.test_set: Dataset[Sample] | None = None

    @property
    def raw_dir(self) -> Path:
        """The folder torchvision reads the four IDX files from."""
        return Path(self.hparams.data_dir) / "MNIST" / "raw"

    def missing_files(self) -> list[str]:
        """Return the IDX files that are not on disk yet."""
        return [name for name in MNIST_RAW_FILES if not (self.raw_dir / name).is_file()]

    def _missing_dataset_error(self, download_failed: bool) -> MissingDatasetError:
        names = "\n".join(f"  {name}" for name in self.missing_files())
        if download_failed:
            why = "and downloading it failed (is there network access?)"
            fix = "Run `fit` once on a machine with network access, which downloads them"
        else:
            why = "and --data.download is false"
            fix = "Pass --data.download true on a machine with network access"
        return MissingDatasetError(
            f"MNIST is not in {self.raw_dir.absolute()} {why}. {fix}, or copy these files there, "
            f"uncompressed, from a machine that has them:\n{names}"
        )

    @override
    def prepare_data(self) -> None:
        # Lightning calls this on one process per node: the only place that downloads.
        if not self.missing_files():
            return
        if not self.hparams.download:
            raise self._missing_dataset_error(download_failed=False)
        try:
            MNIST(self.hparams.data_dir, train=True, download=True)
            MNIST(self.hparams.data_dir, train=False, download=True)
        except (RuntimeError, OSError) as err:
            raise self._missing_dataset_error(download_failed=True) from err

    @override
    def setup(self, stage: str | None = None) -> None:
        if self.missing_files():
            raise self._missing_dataset_error(download_failed=self.hparams.download)
        if stage in ("fit", "validate", None) and self.train_set is None:
            full = MNIST(self.hparams.data_dir, train=True, transform=self.transform)
            val_size = max(1, round(len(full) * self.hparams.val_fraction))
            generator = torch.Generator().manual_seed(self.hparams.seed)
            self.train_set, self.val_set = random_split(
                full, [len(full) - val_size, val_size], generator=generator
            )
        if stage in ("test", "predict", None) and self.test_set is None:
            self.test_set = MNIST(self.hparams.data_dir, train=False, transform=self.transform)

    @property
    def device(self) -> torch.device:
        """The device the trainer runs this process on; the CPU without a trainer."""
        return self.trainer.strategy.root_device if self.trainer else torch.device("cpu")

    @property
    def resident(self) -> bool:
        """Whether batches are sliced on the device (see ``device_resident``)."""
        wanted = self.hparams.device_resident
        return self._transform_is_normalisation() if wanted is None else wanted

    def _transform_is_normalisation(self) -> bool:
        return repr(self.transform) == repr(mnist_transform())

    def _dataloader(
        self, dataset: Dataset[Sample] | None, shuffle: bool, resident: bool
    ) -> DataLoader[Sample] | ResidentBatches:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        if resident:
            return self._resident_batches(dataset, shuffle)
        workers = self.hparams.num_workers
        if workers is None:
            workers = spare_cpus()
        pin_memory = self.hparams.pin_memory
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=workers,
            pin_memory=self.device.type == "cuda" if pin_memory is None else pin_memory,
            persistent_workers=self.hparams.persistent_workers and workers > 0,
        )

    def _resident_batches(self, dataset: Dataset[Sample], shuffle: bool) -> ResidentBatches:
        # Normalising on the device replaces the per-sample transform: refuse any other.
        if not self._transform_is_normalisation():
            raise ValueError(
                f"device_resident batches are normalised with MNIST's mean and std only, so "
                f"they would skip this datamodule's transform {self.transform}; set "
                "--data.device_resident false to train through it"
            )
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
        rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        sampler = DistributedSampler(
            range(len(labels)),
            num_replicas=world,
            rank=rank,
            shuffle=shuffle,
            seed=self.hparams.seed,
        )
        batches = BatchSampler(sampler, self.hparams.batch_size, drop_last=False)
        return ResidentBatches(images.to(self.device), labels.to(self.device), batches)

    @override
    def train_dataloader(self) -> DataLoader[Sample] | ResidentBatches:
        return self._dataloader(self.train_set, shuffle=True, resident=self.resident)

    @override
    def val_dataloader(self) -> DataLoader[Sample] | ResidentBatches:
        return self._dataloader(self.val_set, shuffle=False, resident=self.resident)

    @override
    def test_dataloader(self) -> DataLoader[Sample] | ResidentBatches:
        return self._dataloader(self.test_set, shuffle=False, resident=self.resident)

    @override
    def predict_dataloader(self) -> DataLoader[Sample]:
        return self._dataloader(self.test_set, shuffle=False, resident=False)
