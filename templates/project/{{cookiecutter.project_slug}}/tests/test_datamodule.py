"""The datamodule reads MNIST's files, splits them reproducibly and batches them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler
from torchvision import transforms
from torchvision.datasets import MNIST

from {{ cookiecutter.package_name }} import datamodule as datamodule_module
from {{ cookiecutter.package_name }}.datamodule import (
    MNIST_RAW_FILES,
    MNISTDataModule,
    ResidentBatches,
)
from {{ cookiecutter.package_name }}.errors import MissingDatasetError


def test_batches_have_mnist_shapes(mnist_dir: Path) -> None:
    datamodule = MNISTDataModule(
        data_dir=str(mnist_dir), batch_size=16, num_workers=0, device_resident=False
    )
    datamodule.prepare_data()
    datamodule.setup("fit")

    loader = datamodule.train_dataloader()
    images, labels = next(iter(loader))

    assert isinstance(loader, DataLoader) and not loader.pin_memory  # no CUDA device here
    assert images.shape == (16, 1, 28, 28)
    assert images.dtype == torch.float32
    assert labels.shape == (16,)
    assert labels.dtype == torch.int64


def test_splits_cover_the_data_and_are_seeded(mnist_dir: Path) -> None:
    first = MNISTDataModule(data_dir=str(mnist_dir), val_fraction=0.25, seed=7)
    second = MNISTDataModule(data_dir=str(mnist_dir), val_fraction=0.25, seed=7)
    for datamodule in (first, second):
        datamodule.setup(None)

    assert (len(first.train_set), len(first.val_set), len(first.test_set)) == (900, 300, 300)
    assert first.val_set.indices == second.val_set.indices
    assert not set(first.train_set.indices) & set(first.val_set.indices)


def test_missing_data_without_download_names_the_folder_the_files_and_the_flag(
    tmp_path: Path,
) -> None:
    datamodule = MNISTDataModule(data_dir=str(tmp_path), download=False)

    with pytest.raises(MissingDatasetError) as excinfo:
        datamodule.prepare_data()

    message = str(excinfo.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert all(name in message for name in MNIST_RAW_FILES)
    assert "--data.download is false" in message and "--data.download true" in message


def test_a_failed_download_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(self: MNIST) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(MNIST, "download", no_network)
    datamodule = MNISTDataModule(data_dir=str(tmp_path), download=True)

    with pytest.raises(MissingDatasetError, match="downloading it failed") as excinfo:
        datamodule.prepare_data()

    assert all(name in str(excinfo.value) for name in MNIST_RAW_FILES)


def test_a_bad_validation_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        MNISTDataModule(val_fraction=1.5)


def test_the_device_resident_path_yields_the_same_batches(mnist_dir: Path) -> None:
    loaders = {}
    for resident in (False, True):
        datamodule = MNISTDataModule(
            data_dir=str(mnist_dir), batch_size=50, num_workers=0, device_resident=resident
        )
        datamodule.setup(None)
        loaders[resident] = datamodule.val_dataloader()

    dataloader, resident_batches = loaders[False], loaders[True]
    assert isinstance(resident_batches, ResidentBatches)
    assert len(resident_batches) == len(dataloader)
    for (images, labels), (resident_images, resident_labels) in zip(
        dataloader, resident_batches, strict=True
    ):
        torch.testing.assert_close(resident_images, images)
        assert torch.equal(resident_labels, labels)


def test_the_resident_shuffle_follows_the_epoch_lightning_sets(mnist_dir: Path) -> None:
    datamodule = MNISTDataModule(data_dir=str(mnist_dir), device_resident=True)
    datamodule.setup("fit")
    batches = datamodule.train_dataloader()

    def labels_of_epoch(epoch: int) -> torch.Tensor:
        batches.batch_sampler.sampler.set_epoch(epoch)  # what Lightning does at each epoch
        return torch.cat([labels for _, labels in batches])

    first, again, second = labels_of_epoch(0), labels_of_epoch(0), labels_of_epoch(1)
    assert torch.equal(first, again)  # a resumed epoch sees the same order
    assert not torch.equal(first, second)
    assert torch.equal(first.sort().values, second.sort().values)


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_process_gets_as_many_resident_batches_and_all_samples(shuffle: bool) -> None:
    # 7,297 samples on 2 processes: an uneven split would leave one process a batch short,
    # and DDP waits forever for its gradients.
    count, world = 7297, 2
    images = torch.zeros(count, 28, 28, dtype=torch.uint8)
    labels = torch.arange(count)
    per_rank = [
        ResidentBatches(
            images,
            labels,
            BatchSampler(
                DistributedSampler(
                    range(count), num_replicas=world, rank=rank, shuffle=shuffle, seed=3
                ),
                batch_size=64,
                drop_last=False,
            ),
        )
        for rank in range(world)
    ]

    batches = [list(rank_batches) for rank_batches in per_rank]

    assert len(batches[0]) == len(batches[1]) == len(per_rank[0]) == len(per_rank[1]) == 58
    seen = torch.cat([y for rank_batches in batches for _, y in rank_batches])
    assert set(seen.tolist()) == set(range(count))
    assert len(seen) == count + 1  # one sample repeated to even out the shares


def test_by_default_batches_are_resident_unless_the_transform_is_another(
    mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datamodule = MNISTDataModule(data_dir=str(mnist_dir))  # no trainer: the CPU
    datamodule.setup("fit")
    assert isinstance(datamodule.train_dataloader(), ResidentBatches)

    # An augmentation the resident path would skip: the DataLoader, with spare workers.
    monkeypatch.setattr(datamodule_module, "spare_cpus", lambda: 1)
    datamodule.transform = transforms.Compose([transforms.RandomRotation(10), datamodule.transform])
    loader = datamodule.train_dataloader()
    assert isinstance(loader, DataLoader) and loader.num_workers == 1


@pytest.mark.parametrize(("cores", "spare"), [(1, 0), (2, 0), (4, 2), (16, 8), (64, 8)])
def test_spare_cpus_leaves_two_cores_to_training(
    monkeypatch: pytest.MonkeyPatch, cores: int, spare: int
) -> None:
    monkeypatch.setattr(datamodule_module.os, "sched_getaffinity", lambda _: set(range(cores)))

    assert datamodule_module.spare_cpus() == spare


def test_the_resident_path_refuses_a_transform_it_would_skip(mnist_dir: Path) -> None:
    datamodule = MNISTDataModule(data_dir=str(mnist_dir), device_resident=True)
    datamodule.transform = transforms.Compose([transforms.RandomRotation(10), datamodule.transform])
    datamodule.setup("fit")

    with pytest.raises(ValueError, match="--data.device_resident false"):
        datamodule.train_dataloader()
