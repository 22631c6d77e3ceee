"""``plscaffold add KIND NAME``: new components with their config and test, wired to the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import outcome_of, tree_state


def _add(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["add", *args, "--json", "--project", str(project)])


@pytest.mark.parametrize(
    ("kind", "name", "files"),
    [
        ("model", "wide-cnn", ["src/proj/networks/wide_cnn.py", "configs/model/wide_cnn.yaml", "tests/test_model_wide_cnn.py"]),
        ("datamodule", "my-images", ["src/proj/data/my_images.py", "configs/data/my_images.yaml", "tests/test_data_my_images.py"]),
        ("callback", "timer", ["src/proj/callbacks/timer.py", "configs/callbacks/timer.yaml", "tests/test_callback_timer.py"]),
    ],
)  # fmt: skip
def test_add_writes_the_component_its_config_and_test(
    runner: CliRunner, project: Path, kind: str, name: str, files: list[str]
) -> None:
    result = _add(runner, project, kind, name)

    assert result.exit_code == 0, result.output
    for relpath in files:
        assert outcome_of(result, relpath) == "created"
        assert (project / relpath).is_file()
        assert (project / ".plscaffold" / "pristine" / relpath).is_file()
    document = json.loads((project / ".plscaffold" / "answers.json").read_text())
    assert document["added_components"] == [{"kind": kind, "name": name}]
    listed = runner.invoke(app, ["list", "--project", str(project)])
    assert f"{name}:\n  " in listed.output


@pytest.mark.e2e
def test_the_added_model_trains_selected_from_the_command_line(
    runner: CliRunner, project: Path
) -> None:
    assert _add(runner, project, "model", "wide-cnn").exit_code == 0
    data = project / "data"
    subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, 'tests'); from pathlib import Path; "
         "import torch; from conftest import synthetic_digits, write_idx; g = torch.Generator().manual_seed(0); "
         "[write_idx(Path('data/MNIST/raw'), s, *(t.numpy() for t in synthetic_digits(64, g))) for s in ('train', 'test')]"],
        cwd=project, check=True, env={**os.environ, "PYTHONPATH": str(project / "src")},
    )  # fmt: skip

    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    args = [sys.executable, "-m", "proj", "fit", "--model.net=proj.networks.wide_cnn.WideCnn",
            f"--data.data_dir={data}", "--data.num_workers=0", "--trainer.fast_dev_run=true"]  # fmt: skip

    trained = subprocess.run(args, cwd=project, capture_output=True, text=True, env=env)
    config = subprocess.run(
        [*args, "--print_config"], cwd=project, capture_output=True, text=True, env=env
    )

    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "`Trainer.fit` stopped: `max_steps=1` reached." in trained.stderr
    assert "class_path: proj.networks.wide_cnn.WideCnn" in config.stdout
    assert "num_blocks: 2" in config.stdout


def test_adding_a_second_datamodule_shares_the_package(runner: CliRunner, project: Path) -> None:
    assert _add(runner, project, "datamodule", "first").exit_code == 0

    result = _add(runner, project, "datamodule", "second")

    assert result.exit_code == 0, result.output
    assert outcome_of(result, "src/proj/data/__init__.py") == "identical"
    assert (project / "src" / "proj" / "data" / "first.py").is_file()
    assert (project / "src" / "proj" / "data" / "second.py").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model", "class"], "'class' is a Python keyword"),
        (["model", "9net"], "starts with a digit"),
        (["model", "../evil"], "path separator"),
        (["model", "model"], "already has a component named 'model'"),
        (["model", "Model"], "already has a component named 'model', which is 'Model' once"),
        (
            ["optimizer", "adam"],
            "unknown component kind 'optimizer'; choose one of callback, datamodule, gan, model",
        ),
        (
            ["datamodule", "pairs", "--kind", "gan"],
            "--kind gan applies to `plscaffold add model` only; leave it out for datamodule",
        ),
        (["model", "vae", "--kind", "vae"], "--kind 'vae' is not a kind of model; choose one"),
    ],
)
def test_bad_adds_are_refused_and_write_nothing(
    runner: CliRunner, project: Path, args: list[str], message: str
) -> None:
    before = tree_state(project)

    result = _add(runner, project, *args)

    assert result.exit_code == 2
    assert message in result.stderr
    assert tree_state(project) == before


def test_a_name_already_added_or_a_file_in_the_way_is_refused(
    runner: CliRunner, project: Path
) -> None:
    assert _add(runner, project, "callback", "timer").exit_code == 0
    again = _add(runner, project, "model", "timer")
    assert again.exit_code == 2
    assert "already has a component named 'timer'" in again.stderr

    mine = project / "src" / "proj" / "networks" / "resnet.py"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("# my own resnet\n")
    before = tree_state(project)

    clash = _add(runner, project, "model", "resnet")

    assert clash.exit_code == 2
    assert "src/proj/networks/resnet.py already exists" in clash.stderr
    assert tree_state(project) == before


GAN_FILES = [
    "src/proj/models/__init__.py",
    "src/proj/models/sketcher.py",
    "src/proj/networks/discriminator.py",
    "src/proj/networks/generator.py",
    "configs/gan/sketcher.yaml",
    "tests/test_gan_sketcher.py",
]


def test_add_model_kind_gan_writes_a_lightning_module_of_its_own(
    runner: CliRunner, project: Path
) -> None:
    result = _add(runner, project, "model", "sketcher", "--kind", "gan")

    assert result.exit_code == 0, result.output
    for relpath in GAN_FILES:
        assert outcome_of(result, relpath) == "created"
    module = (project / "src/proj/models/sketcher.py").read_text()
    assert "class SketcherGAN(LightningModule):" in module
    assert "self.automatic_optimization = False" in module
    config = (project / "configs/gan/sketcher.yaml").read_text()
    assert "class_path: proj.models.sketcher.SketcherGAN" in config
    assert "strategy:" not in config  # one process: no DDP setting
    # The classifier's callbacks (early stopping on val_acc) would stop the GAN's run.
    named = yaml.safe_load(config)["callbacks"]
    assert named == {"early_stopping": None, "lr_monitor": None, "prediction_writer": None}
    assert (
        "from proj.models.sketcher import SketcherGAN"
        in (project / "tests/test_gan_sketcher.py").read_text()
    )
    document = json.loads((project / ".plscaffold" / "answers.json").read_text())
    # The project's learning rate, as it was: later answers are the project's model's.
    assert document["added_components"] == [
        {"kind": "gan", "name": "sketcher", "answers": {"lr": 0.001}}
    ]

    # A second GAN shares the networks; its own module, config and test are new.
    second = _add(runner, project, "model", "painter", "--kind", "gan")

    assert second.exit_code == 0, second.output
    assert outcome_of(second, "src/proj/networks/generator.py") == "identical"
    assert outcome_of(second, "configs/gan/painter.yaml") == "created"


def test_an_added_gan_in_a_ddp_project_asks_ddp_for_unused_parameters(
    runner: CliRunner, tmp_path: Path
) -> None:
    new = runner.invoke(app, ["new", "multi", "-o", str(tmp_path), "--no-input", "--gpus", "2"])
    assert new.exit_code == 0, new.output
    project = tmp_path / "multi"

    assert _add(runner, project, "model", "sketcher", "--kind", "gan").exit_code == 0

    config = (project / "configs/gan/sketcher.yaml").read_text()
    assert "trainer:\n" in config and "strategy: ddp_find_unused_parameters_true" in config


def test_update_re_renders_added_components(runner: CliRunner, project: Path) -> None:
    assert _add(runner, project, "model", "wide").exit_code == 0
    model = project / "src" / "proj" / "networks" / "wide.py"
    model.write_text(model.read_text() + "# mine\n")

    result = runner.invoke(app, ["update", "--json", "--project", str(project)])

    assert result.exit_code == 0, result.output
    assert outcome_of(result, "src/proj/networks/wide.py") == "kept"


def test_names_equal_once_normalised_are_one_component(runner: CliRunner, project: Path) -> None:
    assert _add(runner, project, "model", "wide-cnn").exit_code == 0
    before = tree_state(project)

    for name in ("wide_cnn", "Wide-Cnn"):
        clash = _add(runner, project, "datamodule", name)
        assert clash.exit_code == 2
        assert f"'wide-cnn', which is '{name}' once '-' is '_'" in clash.stderr
    assert tree_state(project) == before


def test_an_answer_for_the_projects_model_never_edits_an_added_models_config(
    runner: CliRunner, project: Path
) -> None:
    assert _add(runner, project, "model", "sketcher", "--kind", "gan").exit_code == 0
    config = project / "configs/gan/sketcher.yaml"
    before = config.read_text()

    changed = runner.invoke(app, ["generate", "model", "--lr", "0.01", "--json", "--project",
                                  str(project)])  # fmt: skip
    updated = runner.invoke(app, ["update", "--json", "--project", str(project)])

    assert changed.exit_code == 0, changed.output
    assert json.loads((project / ".plscaffold/answers.json").read_text())["answers"]["lr"] == 0.01
    assert updated.exit_code == 0, updated.output
    assert config.read_text() == before
    assert "    lr: 0.001\n" in before


def test_a_gan_added_before_it_pinned_its_answers_keeps_what_it_was_rendered_with(
    runner: CliRunner, tmp_path: Path
) -> None:
    """An answers file of an older plscaffold records no answers of an added component."""
    made = runner.invoke(app, ["new", "proj", "-o", str(tmp_path), "--no-input", "--lr", "0.02"])
    assert made.exit_code == 0, made.output
    project = tmp_path / "proj"
    assert _add(runner, project, "model", "sketcher", "--kind", "gan").exit_code == 0
    answers = project / ".plscaffold" / "answers.json"
    document = json.loads(answers.read_text())
    document["added_components"] = [{"kind": "gan", "name": "sketcher"}]
    answers.write_text(json.dumps(document))

    changed = runner.invoke(app, ["generate", "model", "--lr", "0.01", "--allow-dirty",
                                  "--project", str(project)])  # fmt: skip

    assert changed.exit_code == 0, changed.output
    assert "    lr: 0.02\n" in (project / "configs/gan/sketcher.yaml").read_text()
    recorded = json.loads(answers.read_text())["added_components"]
    assert recorded == [{"kind": "gan", "name": "sketcher", "answers": {"lr": 0.02}}]


@pytest.mark.parametrize("logger", ["tensorboard", "csv", "mlflow", "wandb"])
@pytest.mark.parametrize(("kind", "config"), [("gan", "configs/gan/sketcher.yaml"),
                                              ("network", "configs/model/sketcher.yaml")])  # fmt: skip
def test_an_added_models_config_names_a_run_folder_of_its_own(
    runner: CliRunner, tmp_path: Path, logger: str, kind: str, config: str
) -> None:
    made = runner.invoke(app, ["new", "proj", "-o", str(tmp_path), "--no-input", "--logger",
                               logger])  # fmt: skip
    assert made.exit_code == 0, made.output
    project = tmp_path / "proj"
    assert _add(runner, project, "model", "sketcher", "--kind", kind).exit_code == 0

    loggers = yaml.safe_load((project / config).read_text())["trainer"]["logger"]
    default = yaml.safe_load((project / "configs/default.yaml").read_text())["trainer"]["logger"]

    if isinstance(default, dict):  # one logger: only its name is set, its class stays
        assert loggers == {"init_args": {"name": "sketcher"}}
    else:  # a list is replaced whole: the project's, the first (the run folder's) renamed
        assert loggers[0]["init_args"]["name"] == "sketcher"
        assert [each["class_path"] for each in loggers] == [e["class_path"] for e in default]
        rest = [e for e in default if e is not default[0]]
        assert loggers[1:] == rest and loggers[0]["init_args"] == {
            **default[0]["init_args"],
            "name": "sketcher",
        }


@pytest.mark.e2e
def test_the_classifiers_best_checkpoint_is_never_an_added_gans(
    runner: CliRunner, project: Path
) -> None:
    assert _add(runner, project, "model", "sketcher", "--kind", "gan").exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, 'tests'); from pathlib import Path; "
         "import torch; from conftest import synthetic_digits, write_idx; g = torch.Generator().manual_seed(0); "
         "[write_idx(Path('data/MNIST/raw'), s, *(t.numpy() for t in synthetic_digits(64, g))) for s in ('train', 'test')]"],
        cwd=project, check=True, env=env,
    )  # fmt: skip
    tiny = ["--data.num_workers=0", "--data.download=false", "--trainer.accelerator=cpu",
            "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
            "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false"]  # fmt: skip
    command = [sys.executable, "-m", "proj"]

    fit = subprocess.run([*command, "fit", "--config", "configs/gan/sketcher.yaml", *tiny],
                         cwd=project, capture_output=True, text=True, env=env)  # fmt: skip
    tested = subprocess.run([*command, "test", "--ckpt_path", "best", *tiny],
                            cwd=project, capture_output=True, text=True, env=env)  # fmt: skip

    assert fit.returncode == 0, fit.stderr[-3000:]
    assert list((project / "logs" / "sketcher").glob("version_0/checkpoints/*.ckpt"))
    assert not (project / "logs" / "proj").exists()
    # The classifier has no run yet: none found, rather than the GAN's run tested.
    assert tested.returncode == 2, tested.stderr[-3000:]
    assert "test_d_acc" not in tested.stdout + tested.stderr
    assert "logs/proj" in tested.stderr
