"""Training through the entry point: a smoke run, a real fit that learns, resume, and GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerStatus

from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule


def _checkpoint_callback(cli: object) -> ModelCheckpoint:
    return next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))


def test_fast_dev_run(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--trainer.fast_dev_run=true"])

    assert cli.trainer.state.status == TrainerStatus.FINISHED
    assert torch.isfinite(cli.trainer.callback_metrics["train_loss"])


def test_fast_dev_run_on_device_resident_batches(cpu_args: list[str]) -> None:
    cli = cli_main(["fit", *cpu_args, "--data.device_resident=true", "--trainer.fast_dev_run=true"])

    assert cli.datamodule.resident
    assert cli.trainer.state.status == TrainerStatus.FINISHED


def test_fit_learns_and_writes_checkpoints_that_reload(cpu_args: list[str], tmp_path: Path) -> None:
    cli = cli_main(["fit", *cpu_args, "--trainer.max_epochs=3", "--data.batch_size=32"])

    assert float(cli.trainer.callback_metrics["val_acc"]) >= 0.9
    checkpoint = _checkpoint_callback(cli)
    assert Path(checkpoint.best_model_path).is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()

    model = {{ cookiecutter.class_name }}LitModule.load_from_checkpoint(checkpoint.best_model_path)
    assert model.hparams.lr == cli.model.hparams.lr

    # A new CLI, as in a new process: `test --ckpt_path best` finds the best checkpoint.
    tested = cli_main(["test", *cpu_args, "--ckpt_path=best"])
    assert tested.trainer.ckpt_path == checkpoint.best_model_path
    assert float(tested.trainer.callback_metrics["test_acc"]) >= 0.9


def test_best_checkpoint_needs_a_fit_first(cpu_args: list[str]) -> None:
    with pytest.raises(FileNotFoundError, match="train first with `fit`"):
        cli_main(["test", *cpu_args, "--ckpt_path=best"])


def test_fit_resumes_from_last_checkpoint(cpu_args: list[str], tmp_path: Path) -> None:
    cli_main(["fit", *cpu_args, "--trainer.max_epochs=1"])
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()

    resumed = cli_main(["fit", *cpu_args, "--trainer.max_epochs=2", "--ckpt_path=last"])

    assert resumed.trainer.current_epoch == 2
    assert resumed.trainer.global_step == 2 * resumed.trainer.num_training_batches


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fast_dev_run_on_gpu(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = cli_main(
        [
            "fit",
            "--trainer.accelerator=gpu",
            "--trainer.devices=1",
            "--trainer.strategy=auto",
            "--trainer.fast_dev_run=true",
            f"--data.data_dir={mnist_dir}",
            "--data.num_workers=0",
        ]
    )

    assert cli.trainer.state.status == TrainerStatus.FINISHED
    assert cli.trainer.strategy.root_device.type == "cuda"


def test_a_monitor_that_is_never_logged_fails_at_the_first_step(cpu_args: list[str]) -> None:
    with pytest.raises(ValueError, match="monitored metric val_acc2 is never logged") as excinfo:
        cli_main(["fit", *cpu_args, "--checkpoint.monitor=val_acc2", "--trainer.max_epochs=1"])

    assert "val_acc, val_loss" in str(excinfo.value)


def test_same_seed_same_config_gives_identical_validation_metrics(cpu_args: list[str]) -> None:
    args = ["fit", *cpu_args, "--trainer.max_epochs=1", "--checkpoint.save_last=false"]
    first = cli_main(args).trainer.callback_metrics
    second = cli_main(args).trainer.callback_metrics

    for key in ("val_loss", "val_acc"):
        assert float(first[key]) == float(second[key])


def test_resume_from_last_without_a_checkpoint_starts_fresh(cpu_args: list[str]) -> None:
    with pytest.warns(UserWarning, match="no last checkpoint available"):
        cli = cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", "--ckpt_path=last"])

    assert cli.trainer.current_epoch == 1


def test_a_missing_checkpoint_file_is_an_error(cpu_args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.ckpt"

    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        cli_main(["fit", *cpu_args, "--trainer.max_epochs=1", f"--ckpt_path={missing}"])
