"""The datamodule reads MNIST's files, splits them reproducibly and batches them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from pytorch_lightning import seed_everything
from torch.utils.data import DataLoader, default_collate
from torchvision.datasets import MNIST

{% if cookiecutter.model != "gan" -%}
from {{ cookiecutter.package_name }}.callbacks.prediction_writer import merge_parts
{% endif -%}
from {{ cookiecutter.package_name }}.datamodule import MNIST_RAW_FILES, MNISTDataModule


def ready(mnist_dir: Path, stage: str = "fit", **kwargs: object) -> MNISTDataModule:
    datamodule = MNISTDataModule(data_dir=str(mnist_dir), **kwargs)  # type: ignore[arg-type]
    datamodule.prepare_data()
    datamodule.setup(stage)
    return datamodule


def test_batches_are_mnist_shaped_and_reach_the_model_in_0_to_1(mnist_dir: Path) -> None:
    loader = ready(mnist_dir, batch_size=16).train_dataloader()
    images, labels = MNISTDataModule().on_after_batch_transfer(next(iter(loader)), 0)

    assert isinstance(loader, DataLoader) and not loader.pin_memory  # no CUDA device here
    assert images.shape == (16, 1, 28, 28) and images.dtype == torch.float32
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert labels.shape == (16,) and labels.dtype == torch.int64


def test_a_batch_sliced_at_once_is_the_batch_of_its_samples(mnist_dir: Path) -> None:
    dataset = ready(mnist_dir).datasets["val"]
    indices = [5, 0, 17, 3]

    sliced = dataset.__getitems__(indices)
    collated = default_collate([dataset[i] for i in indices])

    assert all(torch.equal(a, b) for a, b in zip(sliced, collated, strict=True))


def test_splits_cover_the_data_and_are_seeded(mnist_dir: Path) -> None:
    first, second = (ready(mnist_dir, val_fraction=0.25, seed=7) for _ in range(2))

    assert (len(first.datasets["train"]), len(first.datasets["val"])) == (480, 160)
    assert torch.equal(first.datasets["val"].labels, second.datasets["val"].labels)
    assert len(ready(mnist_dir, stage="test").datasets["test"]) == 160


def test_the_training_order_follows_seed_everything(mnist_dir: Path) -> None:
    loader = ready(mnist_dir).train_dataloader()

    def first_labels(seed: int) -> torch.Tensor:
        seed_everything(seed, verbose=False)
        return next(iter(loader))[1]

    assert torch.equal(first_labels(1), first_labels(1))
    assert not torch.equal(first_labels(1), first_labels(2))


def test_predict_reads_a_folder_of_images_or_a_tensor_file(tmp_path: Path) -> None:
    images = torch.randint(0, 200, (3, 28, 28), dtype=torch.uint8) // 2  # dark, as MNIST's
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image.numpy()).save(folder / f"{i}.png")
    torch.save(images, tmp_path / "digits.pt")

    for path, names in ((folder, ["0.png", "1.png", "2.png"]), (tmp_path / "digits.pt", None)):
        datamodule = ready(tmp_path, stage="predict", predict_path=str(path))
        read, labels = next(iter(datamodule.predict_dataloader()))
        assert torch.equal(read.squeeze(1), images)
        assert labels.tolist() == [-1, -1, -1]  # unknown
        assert datamodule.datasets["predict"].names == names  # a tensor's are its indices


def test_a_dark_digit_on_white_is_read_white_on_black_as_mnist_s(tmp_path: Path) -> None:
    digit = torch.zeros(28, 28, dtype=torch.uint8)
    digit[6:22, 12:16] = 255  # a white "1" on black, as MNIST draws it
    folder = tmp_path / "digits"
    folder.mkdir()
    Image.fromarray(digit.numpy()).save(folder / "a-white-on-black.png")
    Image.fromarray((255 - digit).numpy()).save(folder / "b-black-on-white.png")

    dataset = ready(tmp_path, stage="predict", predict_path=str(folder)).datasets["predict"]

    assert dataset.names == ["a-white-on-black.png", "b-black-on-white.png"]
    assert torch.equal(dataset.images[0], digit) and torch.equal(dataset.images[1], digit)
{%- if cookiecutter.model != "gan" %}


def test_the_parts_of_each_process_merge_into_one_file_by_index(tmp_path: Path) -> None:
    header = "index,name,label,prediction,p0\n"
    # A DDP predict's parts: each process's share of the samples, in its own order.
    (tmp_path / "predictions-rank0.csv").write_text(header + "0,a.png,-1,1,0.9\n2,c.png,-1,3,0.1\n")
    (tmp_path / "predictions-rank1.csv").write_text(header + "1,b.png,-1,2,0.5\n")

    count = merge_parts(tmp_path / "predictions.csv", 2)

    assert count == 3 and [p.name for p in tmp_path.iterdir()] == ["predictions.csv"]
    rows = (tmp_path / "predictions.csv").read_text().splitlines()
    assert rows == [header.strip(), "0,a.png,-1,1,0.9", "1,b.png,-1,2,0.5", "2,c.png,-1,3,0.1"]
{%- endif %}


def test_missing_data_without_download_names_the_folder_the_files_and_the_flag(
    tmp_path: Path,
) -> None:
    with pytest.raises(FileNotFoundError) as excinfo:
        MNISTDataModule(data_dir=str(tmp_path), download=False).prepare_data()

    message = str(excinfo.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert all(name in message for name in MNIST_RAW_FILES)
    assert "--data.download is false" in message and "--data.download true" in message


def test_a_failed_download_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(self: MNIST) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(MNIST, "download", no_network)

    with pytest.raises(FileNotFoundError, match="downloading it failed") as excinfo:
        MNISTDataModule(data_dir=str(tmp_path), download=True).prepare_data()

    assert all(name in str(excinfo.value) for name in MNIST_RAW_FILES)


def test_a_bad_validation_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        MNISTDataModule(val_fraction=1.5)
