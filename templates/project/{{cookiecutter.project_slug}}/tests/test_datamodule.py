"""The datamodule reads MNIST's files, splits them reproducibly and batches them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from {{ cookiecutter.package_name }}.datamodule import (
    MNIST_RAW_FILES,
    MissingDatasetError,
    MNISTDataModule,
    ResidentBatches,
)


def test_batches_have_mnist_shapes(mnist_dir: Path) -> None:
    datamodule = MNISTDataModule(
        data_dir=str(mnist_dir), batch_size=16, num_workers=0, pin_memory=False
    )
    datamodule.prepare_data()
    datamodule.setup("fit")

    images, labels = next(iter(datamodule.train_dataloader()))

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


def test_missing_data_names_the_folder_and_the_files(tmp_path: Path) -> None:
    datamodule = MNISTDataModule(data_dir=str(tmp_path), download=False)

    with pytest.raises(MissingDatasetError) as excinfo:
        datamodule.prepare_data()

    message = str(excinfo.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert all(name in message for name in MNIST_RAW_FILES)


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
        loaders[resident] = (datamodule.val_dataloader(), datamodule.train_dataloader())

    (val_loader, _), (resident_val, resident_train) = loaders[False], loaders[True]
    assert isinstance(resident_val, ResidentBatches)
    assert len(resident_val) == len(val_loader)
    for (images, labels), (resident_images, resident_labels) in zip(
        val_loader, resident_val, strict=True
    ):
        torch.testing.assert_close(resident_images, images)
        assert torch.equal(resident_labels, labels)
    first, second = (torch.cat([y for _, y in resident_train]) for _ in range(2))
    assert not torch.equal(first, second)  # reshuffled each epoch
    assert torch.equal(first.sort().values, second.sort().values)
