"""``plscaffold new`` through the CLI: options, answers, output, exit codes and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold import __version__
from plscaffold.cli import app
from tests.conftest import tree_state


def _answers(project: Path) -> dict[str, object]:
    document = json.loads((project / ".plscaffold" / "answers.json").read_text())
    assert document["plscaffold_version"] == __version__
    assert document["template"] == "bundled:project"
    return document["answers"]


def test_help_lists_new(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "new" in result.output


def test_new_with_defaults_records_every_answer(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "myproj", "-o", str(tmp_path)])

    assert result.exit_code == 0, result.output
    project = tmp_path / "myproj"
    assert _answers(project) == {
        "project_name": "myproj",
        "description": "A PyTorch Lightning project on MNIST digits.",
        "gpus": 0,
        "strategy": "auto",
        "num_nodes": 1,
        "precision": "32-true",
        "model": "cnn",
        "max_epochs": 10,
        "batch_size": 64,
        "lr": 0.001,
        "seed": 42,
        "logger": "tensorboard",
    }
    assert f"Created {project}/" in result.output
    assert f"cd {project}" in result.output
    assert "myproj fit" in result.output
    assert (project / "src" / "myproj" / "model.py").is_file()
    assert (project / ".plscaffold" / "pristine" / "src" / "myproj" / "model.py").read_bytes() == (
        project / "src" / "myproj" / "model.py"
    ).read_bytes()


def test_every_option_reaches_the_answers_and_the_config(runner: CliRunner, tmp_path: Path) -> None:
    args = [
        "new", "my-net", "--output-dir", str(tmp_path), "--gpus", "2", "--strategy", "fsdp", "--num-nodes", "3", "--precision",
        "bf16-mixed", "--model", "mlp", "--max-epochs", "7", "--batch-size", "128", "--lr",
        "0.02", "--seed", "3", "--logger", "csv", "--description", "Digits, fast.",
    ]  # fmt: skip
    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    project = tmp_path / "my-net"
    assert _answers(project) == {
        "project_name": "my-net",
        "description": "Digits, fast.",
        "gpus": 2,
        "strategy": "fsdp",
        "num_nodes": 3,
        "precision": "bf16-mixed",
        "model": "mlp",
        "max_epochs": 7,
        "batch_size": 128,
        "lr": 0.02,
        "seed": 3,
        "logger": "csv",
    }
    config = (project / "configs" / "default.yaml").read_text()
    for line in (
        "accelerator: gpu",
        "devices: 2",
        "strategy: fsdp",
        "num_nodes: 3",
        "precision: bf16-mixed",
        "max_epochs: 7",
        "batch_size: 128",
        "lr: 0.02",
        "seed_everything: 3",
        "pytorch_lightning.loggers.CSVLogger",
    ):
        assert line in config
    model = (project / "src" / "my_net" / "model.py").read_text()
    assert "class MyNetLitModule(LightningModule):" in model
    assert "class_path: my_net.networks.MLP" in config
    assert "networks.ConvNet" not in config


def test_one_gpu_uses_the_default_strategy(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "p", "-o", str(tmp_path), "--gpus", "1"])

    assert result.exit_code == 0, result.output
    config = (tmp_path / "p" / "configs" / "default.yaml").read_text()
    assert "accelerator: gpu\n  devices: 1\n  strategy: auto\n" in config


def test_dry_run_prints_the_tree_and_writes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    before = tree_state(tmp_path)

    result = runner.invoke(app, ["new", "myproj", "-o", str(tmp_path / "deep" / "er"), "--dry-run"])

    assert result.exit_code == 0, result.output
    assert tree_state(tmp_path) == before
    assert "Would create" in result.output
    assert "      model.py" in result.output
    assert "Dry run: nothing was written." in result.output


def test_prompts_for_options_not_given(runner: CliRunner, tmp_path: Path) -> None:
    # Answers in prompt order: description, strategy, num_nodes, precision, model,
    # max_epochs, batch_size, lr, seed, logger (gpus is given as a flag, so it is not asked).
    typed = "\n".join(["", "", "", "bf16-mixed", "mlp", "4", "", "", "", "csv"]) + "\n"

    result = runner.invoke(
        app, ["new", "asked", "-o", str(tmp_path), "--gpus", "0", "--input"], input=typed
    )

    assert result.exit_code == 0, result.output
    answers = _answers(tmp_path / "asked")
    assert (answers["precision"], answers["model"], answers["max_epochs"]) == (
        "bf16-mixed",
        "mlp",
        4,
    )
    assert (answers["logger"], answers["batch_size"], answers["gpus"]) == ("csv", 64, 0)
    assert "gpus" not in result.output.split("Created")[0]


def test_prompts_re_ask_wrong_answers_and_refuse_impossible_ones_at_once(
    runner: CliRunner, tmp_path: Path
) -> None:
    # The name is asked first (a keyword is refused), then every option in order:
    # description, gpus, strategy, num_nodes, precision, model, max_epochs, batch_size,
    # lr, seed, logger. 16-mixed without a GPU is refused at its own question.
    typed = ["class", "asked", "", "0", "", "", "16-mixed", "bf16-mixed", "resnet", "mlp",
             "abc", "4", "", "", "", "neptune", "csv"]  # fmt: skip

    result = runner.invoke(app, ["new", "-o", str(tmp_path), "--input"], input="\n".join(typed))

    assert result.exit_code == 0, result.output + result.stderr
    assert "Project name" in result.output and "'class' is a Python keyword" in result.stderr
    assert "Training precision (32-true, 16-mixed, bf16-mixed)" in result.output
    assert "--precision 16-mixed needs a GPU" in result.stderr
    assert "'resnet' is not one of cnn, mlp" in result.stderr
    assert "'neptune' is not one of tensorboard, csv, mlflow, wandb" in result.stderr
    answers = _answers(tmp_path / "asked")
    assert (answers["precision"], answers["model"], answers["max_epochs"]) == (
        "bf16-mixed",
        "mlp",
        4,
    )
    assert answers["logger"] == "csv"


def test_a_missing_name_without_a_terminal_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "-o", str(tmp_path), "--no-input"])

    assert result.exit_code == 2
    assert "give the project's NAME" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_shows_each_option_s_choices_and_default(runner: CliRunner) -> None:
    result = runner.invoke(app, ["new", "--help"])

    assert result.exit_code == 0
    assert "--precision [32-true|16-mixed|bf16-mixed]" in result.output
    assert "--model [cnn|mlp|gan]" in result.output
    assert "[default: 32-true]" in result.output and "[default: 64]" in result.output


def test_a_dry_run_says_what_it_would_do(runner: CliRunner, project: Path) -> None:
    update = runner.invoke(app, ["update", "--dry-run", "--project", str(project)])
    generate = runner.invoke(app, ["g", "config", "--gpus", "1", "--dry-run", "-p", str(project)])

    assert f"Would update in {project}:" in update.output
    assert f"Would regenerate config in {project}:" in generate.output
    assert "Would updated" not in update.output + generate.output


def test_no_input_never_prompts(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "quiet", "-o", str(tmp_path), "--no-input"], input="")

    assert result.exit_code == 0, result.output
    assert _answers(tmp_path / "quiet")["model"] == "cnn"


def test_creates_missing_output_folders(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "p", "-o", str(tmp_path / "a" / "b")])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "b" / "p" / "pyproject.toml").is_file()


def test_an_empty_existing_target_is_used(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()

    result = runner.invoke(app, ["new", "p", "-o", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "pyproject.toml").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["p"]  # no staging folder left behind


BAD_INPUT = [
    pytest.param(["new", "class"], "'class' is a Python keyword", "choose another name", id="keyword"),
    pytest.param(["new", "1proj"], "'1proj' starts with a digit", "starting with a letter", id="leading-digit"),
    pytest.param(["new", "my proj"], "'my proj' holds ' '", "use letters, digits", id="spaces"),
    pytest.param(["new", "../x"], "'../x' holds a path separator", "--output-dir", id="parent-path"),
    pytest.param(["new", "/abs/x"], "'/abs/x' holds a path separator", "--output-dir", id="absolute-path"),
    pytest.param(["new", ""], "the project name is empty", "use letters, digits", id="empty-name"),
    pytest.param(["new", "torch"], "would shadow the installed module 'torch'", "choose another name", id="shadows-torch"),
    pytest.param(["new", "p", "--precision", "fp8"], "--precision 'fp8' is not one of", "32-true, 16-mixed, bf16-mixed", id="unknown-precision"),
    pytest.param(["new", "p", "--gpus", "-1"], "--gpus -1 is negative", "pass 0 to train on the CPU", id="negative-gpus"),
    pytest.param(["new", "p", "--model", "resnet"], "--model 'resnet' is not one of", "cnn, mlp", id="unknown-model"),
    pytest.param(["new", "p", "--logger", "neptune"], "--logger 'neptune' is not one of", "tensorboard, csv, mlflow, wandb", id="unknown-logger"),
    pytest.param(["new", "p", "--batch-size", "0"], "--batch-size 0", "at least 1", id="zero-batch"),
    pytest.param(["new", "p", "--max-epochs", "0"], "--max-epochs 0", "at least 1", id="zero-epochs"),
    pytest.param(["new", "p", "--lr", "-0.1"], "--lr -0.1", "positive number", id="negative-lr"),
    pytest.param(["new", "p", "--precision", "16-mixed"], "--precision 16-mixed needs a GPU", "--gpus 1", id="fp16-on-cpu"),
    pytest.param(["new", "p", "--strategy", "fsdp"], "--strategy fsdp needs GPUs", "--strategy ddp", id="fsdp-on-cpu"),
    pytest.param(["new", "p", "--strategy", "deepspeed"], "--strategy 'deepspeed' is not one of", "auto, ddp, fsdp", id="unknown-strategy"),
    pytest.param(["new", "p", "--num-nodes", "0"], "--num-nodes 0", "at least 1", id="zero-nodes"),
    pytest.param(["new", "p", "--gpus", "2048"], "--gpus 2048 is out of range", "give 0 to 1024", id="too-many-gpus"),
    pytest.param(["new", "p", "--description", "two\nlines"], "--description 'two\\nlines' holds a line break", "give one line of text", id="two-line-description"),
    pytest.param(["new", "p", "--checkout", "v1"], "--checkout picks a commit of a --template repository", "not of plscaffold's own template", id="checkout-of-bundled"),
    pytest.param(["new", "p", "--template", "bundled:project", "--checkout", "v1"], "--checkout picks a commit of a --template repository", "not of plscaffold's own template", id="checkout-of-bundled-by-ref"),
    pytest.param(["new", "p", "--check", "--dry-run"], "--check smoke-trains a project of the bundled template", "leave out --template and --dry-run", id="check-of-dry-run"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "problem", "fix"), BAD_INPUT)
def test_bad_input_fails_cleanly(
    runner: CliRunner, tmp_path: Path, args: list[str], problem: str, fix: str
) -> None:
    before = tree_state(tmp_path)

    result = runner.invoke(app, [*args, "-o", str(tmp_path / "out")])

    assert result.exit_code == 2
    assert problem in result.stderr
    assert fix in result.stderr
    assert result.stderr.startswith("Error: ")
    assert tree_state(tmp_path) == before


def test_existing_non_empty_target_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine\n")
    before = tree_state(tmp_path)

    result = runner.invoke(app, ["new", "p", "-o", str(tmp_path)])

    assert result.exit_code == 2
    assert f"{tmp_path / 'p'}/ exists and is not empty" in result.stderr
    assert "choose another name or --output-dir" in result.stderr
    assert tree_state(tmp_path) == before


def test_output_dir_that_is_a_file_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    before = tree_state(tmp_path)

    result = runner.invoke(app, ["new", "p", "-o", str(tmp_path / "file")])

    assert result.exit_code == 2
    assert f"cannot write the project into {tmp_path / 'file'}" in result.stderr
    assert "--output-dir" in result.stderr
    assert tree_state(tmp_path) == before


def test_unwritable_output_folder_is_refused(runner: CliRunner, read_only_dir: Path) -> None:
    before = tree_state(read_only_dir.parent)

    result = runner.invoke(app, ["new", "p", "-o", str(read_only_dir / "sub")])

    assert result.exit_code == 2
    assert f"cannot write the project into {read_only_dir / 'sub'}" in result.stderr
    assert "choose a folder you can write to with --output-dir" in result.stderr
    assert tree_state(read_only_dir.parent) == before


def test_printed_names_show_control_characters_escaped_in_aligned_columns(
    runner: CliRunner, project: Path
) -> None:
    experiments = project / "configs" / "experiments"
    experiments.mkdir()
    (experiments / "a\x1b[2J\u202eb.yaml").write_text("trainer:\n  max_epochs: 2\n")
    (experiments / "plain.yaml").write_text("trainer:\n  max_epochs: 3\n")

    result = runner.invoke(app, ["experiment", "list", "--project", str(project)], color=True)

    assert result.exit_code == 0, result.output
    header, first, second = result.stdout.splitlines()
    assert first.startswith("a\\x1b[2J\\u202eb  default  ") and second.startswith("plain")
    assert len({line.index("parent" if line is header else "default") for line in
                (header, first, second)}) == 1  # fmt: skip
    assert "\x1b" not in result.output and "\u202e" not in result.output


def test_an_output_folder_nested_too_deeply_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a"] * 1500)

    result = runner.invoke(app, ["new", "p", "-o", str(deep), "--no-input"])

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "folders deep, more than the 100 plscaffold creates; choose a shallower " in (
        result.stderr
    )
    assert list(tmp_path.iterdir()) == []
