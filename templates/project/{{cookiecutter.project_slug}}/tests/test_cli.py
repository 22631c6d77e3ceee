{% set gan = cookiecutter.model == "gan" -%}
"""The command line: progress in a log, errors as one line, configs by name, callbacks by name."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
import yaml
from conftest import SHORT_EPOCHS
from pytorch_lightning.callbacks import DeviceStatsMonitor, ModelCheckpoint, ProgressBar
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.trainer.states import TrainerFn

from {{ cookiecutter.package_name }} import configs
from {{ cookiecutter.package_name }}.callbacks import EpochProgress, PredictionWriter
from {{ cookiecutter.package_name }}.cli import cli_main, main
from {{ cookiecutter.package_name }}.configs import config_dir, with_experiment_configs

FAST_DEV_RUN = str(config_dir() / "debug" / "fast_dev_run.yaml")
CONFLICT = "seed_everything: 1\n<<<<<<< yours\ntrainer: {max_epochs: 2}\n=======\n>>>>>>> new\n"


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch) -> int | str | None:
    """Run the console script with ``args``; return its exit status."""
    monkeypatch.setattr("sys.argv", ["{{ cookiecutter.package_name }}", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def types(cli: LightningCLI) -> list[type]:
    """Return the types of the callbacks of ``cli``'s trainer."""
    return [type(callback) for callback in cli.trainer.callbacks]


# Off a terminal each epoch is a line and fit ends naming the best checkpoint: the DDP
# test of test_train.py checks a subprocess's lines, its stderr a file as under SLURM.
def test_on_a_terminal_the_bar_stays_and_a_set_enable_progress_bar_wins(
    cpu_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [arg for arg in cpu_args if "enable_progress_bar" not in arg]

    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert EpochProgress in types(cli_main(args, run=False))
    shown = cli_main([*args, "--trainer.enable_progress_bar=true"], run=False)
    assert isinstance(shown.trainer.progress_bar_callback, ProgressBar)
    assert EpochProgress not in types(shown)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    on_terminal = cli_main(args, run=False)
    assert isinstance(on_terminal.trainer.progress_bar_callback, ProgressBar)
    assert EpochProgress not in types(on_terminal)


@pytest.mark.parametrize("where", ["default.yaml", "--config", "--experiment"])
def test_conflict_markers_in_a_config_are_one_line_naming_file_and_line(
    where: str,
    cpu_args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    package = tmp_path / "site-packages" / "{{ cookiecutter.package_name }}"
    (package / "configs" / "experiments").mkdir(parents=True)
    ok = (config_dir() / "default.yaml").read_text()
    (package / "configs" / "default.yaml").write_text(CONFLICT if where == "default.yaml" else ok)
    monkeypatch.setattr(configs, "PACKAGE_DIR", package)
    merged = package / "configs" / ("experiments/e1.yaml" if where == "--experiment" else where)
    merged.write_text(CONFLICT)
    chosen = {"--config": ["--config", str(merged)], "--experiment": ["--experiment", "e1"]}

    assert run_main(["fit", *cpu_args, *chosen.get(where, [])], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {merged}:2: conflict markers from plscaffold; resolve them")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "debug/fast_dev_run"],
        ["--config=debug/fast_dev_run.yaml"],
        ["--config", "configs/debug/fast_dev_run.yaml"],
    ],
)
def test_a_config_is_found_by_its_name_in_the_configs_from_any_folder(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no configs/ here, as where a wheel is installed

    assert with_experiment_configs(["fit", *args]) == ["fit", "--config", FAST_DEV_RUN]


def test_a_config_named_so_is_the_one_the_trainer_gets(cpu_args: list[str]) -> None:
    cli = cli_main(["--config", "debug/fast_dev_run", *cpu_args], run=False)

    assert cli.trainer.fast_dev_run


def test_a_file_or_a_yaml_string_given_to_config_is_kept(tmp_path: Path) -> None:
    mine = tmp_path / "debug" / "fast_dev_run.yaml"
    mine.parent.mkdir()
    mine.write_text("trainer:\n  max_epochs: 1\n")

    assert with_experiment_configs(["--config", str(mine)]) == ["--config", str(mine)]
    text = "trainer:\n  max_epochs: 1\n"
    assert with_experiment_configs(["--config", text]) == ["--config", text]


def test_checkpointing_can_be_turned_off(cpu_args: list[str]) -> None:
    cli = cli_main([*cpu_args, "--trainer.enable_checkpointing=false"], run=False)

    assert not any(isinstance(callback, ModelCheckpoint) for callback in cli.trainer.callbacks)


def test_named_callbacks_drop_one_by_one_and_trainer_callbacks_add_more(
    cpu_args: list[str], tmp_path: Path
) -> None:
    defaults = types(cli_main(cpu_args, run=False))
    assert PredictionWriter in defaults
    drop = tmp_path / "drop.yaml"
    drop.write_text("callbacks:\n  prediction_writer: null\n")
    listed = "--trainer.callbacks=[{class_path: pytorch_lightning.callbacks.DeviceStatsMonitor}]"

    for args in (["--callbacks.prediction_writer=null"], ["--config", str(drop)]):
        kept = types(cli_main([*cpu_args, *args, listed], run=False))
        assert PredictionWriter not in kept and DeviceStatsMonitor in kept
        assert set(defaults) - {PredictionWriter} <= set(kept)  # the other named ones stay


def test_print_config_round_trips_the_named_callbacks(
    cpu_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def printed(*args: str) -> str:
        with pytest.raises(SystemExit):
            cli_main(["fit", *args, "--print_config"])
        return capsys.readouterr().out

    first = printed(*cpu_args, "--callbacks.prediction_writer=null")
    saved = tmp_path / "printed.yaml"
    saved.write_text(first)

    assert yaml.safe_load(first)["callbacks"]["prediction_writer"] is None
    assert printed(f"--config={saved}") == first


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fast_dev_run", "overfit_batch", "limit_batches", "profiler"])
def test_each_debug_config_runs_at_any_batch_size_without_logging_warnings(
    cpu_args: list[str], name: str
) -> None:
    # After cpu_args: each config's own log_every_n_steps. 128: fewer batches than a tenth of them.
    args = ["fit", *cpu_args, f"--config=debug/{name}", "--data.batch_size=128"]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ".*smaller than the logging interval")
        cli = cli_main([*args, "--trainer.max_epochs=1"])  # an epoch that validates

    assert cli.trainer.global_step > 0


@pytest.mark.slow
def test_fit_then_test_tests_the_best_checkpoint_into_the_runs_folder(
    cpu_args: list[str], tmp_path: Path
) -> None:
    csv_logger = ["--trainer.logger=pytorch_lightning.loggers.CSVLogger",
                  "--trainer.logger.save_dir=logs"]  # fmt: skip
    one_epoch = [*SHORT_EPOCHS, "--trainer.max_epochs=1", "--trainer.limit_test_batches=2"]
    cli = cli_main(["fit", *cpu_args, *csv_logger, *one_epoch, "--test=true"])

    assert cli.trainer.state.fn == TrainerFn.TESTING
    best = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    assert cli.trainer.ckpt_path == best.best_model_path
    folder = Path(cli.trainer.log_dir)
    assert Path(best.best_model_path).parent == folder / "checkpoints"
    with (folder / "metrics.csv").open() as handle:
        columns = next(csv.reader(handle))
    assert {"{{ "val_g_loss" if gan else "val_acc" }}", "{{ "test_d_acc" if gan else "test_acc" }}"} <= set(columns)
