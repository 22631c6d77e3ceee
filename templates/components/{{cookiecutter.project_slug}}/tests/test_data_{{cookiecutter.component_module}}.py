"""The added datamodule: images from class folders, and a run that selects it by class_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }}.cli import cli_main, main
from {{ cookiecutter.package_name }}.data.{{ cookiecutter.component_module }} import (
    {{ cookiecutter.component_class }}DataModule,
)

DataModule = {{ cookiecutter.component_class }}DataModule
CLASS_PATH = f"{DataModule.__module__}.{DataModule.__qualname__}"


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """Ten classes of 32x32 colour PNGs, eight per class in train/ and two in test/."""
    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 8), ("test", 2)):
        for label in range(10):
            folder = tmp_path / "images" / split / f"class_{label}"
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = torch.randint(0, 256, (32, 32, 3), generator=generator, dtype=torch.uint8)
                Image.fromarray(pixels.numpy()).save(folder / f"{index}.png")
    return tmp_path / "images"


def test_batches_are_resized_grayscale(image_dir: Path) -> None:
    datamodule = DataModule(data_dir=str(image_dir), batch_size=4, num_workers=0)
    datamodule.prepare_data()
    datamodule.setup(None)

    images, labels = next(iter(datamodule.train_dataloader()))

    assert images.shape == (4, 1, 28, 28)
    assert labels.dtype == torch.int64
    assert (len(datamodule.train_set), len(datamodule.val_set)) == (72, 8)
    assert len(datamodule.test_set) == 20


def test_a_missing_folder_says_what_to_put_there(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="one sub-folder of images per class"):
        DataModule(data_dir=str(tmp_path / "nothing")).prepare_data()


def test_a_missing_folder_is_one_line_from_the_command_line(
    cpu_args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = [f"--data={CLASS_PATH}", f"--data.data_dir={tmp_path / 'nothing'}"]
    monkeypatch.setattr("sys.argv", ["{{ cookiecutter.package_name }}", "fit", *cpu_args, *missing])

    with pytest.raises(SystemExit) as exit_info:
        main()

    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "nothing" in err


def test_selected_by_class_path_it_trains(cpu_args: list[str], image_dir: Path) -> None:
    cli = cli_main(
        [
            "fit",
            *cpu_args,
            f"--data={CLASS_PATH}",
            f"--data.data_dir={image_dir}",
            "--trainer.fast_dev_run=true",
        ]
    )

    assert isinstance(cli.datamodule, DataModule)
    assert cli.trainer.state.status == TrainerStatus.FINISHED
