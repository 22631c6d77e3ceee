"""``plscaffold new --check``: a fresh project smoke-trains here, offline, or says why not."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.api import new_project, project_options
from plscaffold.check import CheckResult, smoke_train_project
from plscaffold.cli import app
from tests.conftest import tree_state


@pytest.mark.e2e
@pytest.mark.parametrize("model", ["cnn", "gan"])
def test_new_check_trains_the_fresh_project_and_leaves_it_as_written(
    runner: CliRunner, tmp_path: Path, model: str
) -> None:
    checked = runner.invoke(app, ["new", "proj", "--no-input", "--gpus", "1", "--model", model,
                                  "--check", "-o", str(tmp_path / "checked"),
                                  "--no-git"])  # fmt: skip
    assert checked.exit_code == 0, checked.output + checked.stderr
    (line,) = [line for line in checked.output.splitlines() if line.startswith("Check ")]
    assert line.startswith("Check passed in ")
    assert (
        line.endswith(
            ": import, configs (1), fast_dev_run on the CPU, no GPU visible: the GPU step was not run"
        )
        or "a training step on" in line
    )
    plain = runner.invoke(
        app,
        [
            "new",
            "proj",
            "--no-input",
            "--gpus",
            "1",
            "--model",
            model,
            "-o",
            str(tmp_path / "plain"),
            "--no-git",  # a commit's objects differ with its time: compared without them
        ],
    )
    assert plain.exit_code == 0
    # The check wrote nothing into the project: no data, no logs, no run.
    assert (
        tree_state(tmp_path / "checked" / "proj").keys()
        == tree_state(tmp_path / "plain" / "proj").keys()
    )


@pytest.mark.e2e
def test_a_failing_step_is_named_with_its_error(tmp_path: Path) -> None:
    project = new_project(project_options("proj"), output_dir=tmp_path).project_abspath
    model = project / "src" / "proj" / "model.py"
    source = model.read_text()
    marker = '        loss = self._shared_step(batch, "train")\n'
    assert marker in source
    model.write_text(
        source.replace(marker, marker + '        raise RuntimeError("boom in training_step")\n')
    )

    result = smoke_train_project(project, "proj", gpus=0)

    assert not result.passed
    assert result.summary == "fast_dev_run on the CPU failed: RuntimeError: boom in training_step"
    assert result.detail is not None and "training_step" in result.detail


def test_without_torch_the_check_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = new_project(project_options("proj"), output_dir=tmp_path).project_abspath
    # A Python without torch: its import fails as a missing module's does.
    hidden = tmp_path / "no-torch" / "torch"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(hidden.parent))

    result = smoke_train_project(project, "proj", gpus=0)

    assert not result.passed
    assert "lacks 'torch', which the project needs" in result.summary
    assert f"pip install -e {project}" in result.summary


def test_a_failed_check_exits_1_and_keeps_the_project(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plscaffold.api

    def failing(options: object, project_abspath: Path) -> CheckResult:
        return CheckResult(False, 1.5, "fast_dev_run on the CPU failed: RuntimeError: x", "trace")

    monkeypatch.setattr(plscaffold.api, "check_new_project", failing)
    result = runner.invoke(app, ["new", "proj", "--no-input", "--check", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "Check FAILED in 1.5 s: fast_dev_run on the CPU failed: RuntimeError: x" in result.output
    assert f"The project is in place at {tmp_path / 'proj'}" in result.stderr
    assert (tmp_path / "proj" / "pyproject.toml").is_file()


@pytest.mark.parametrize("other", [["--dry-run"], ["--template", "gh:someone/template"]])
def test_check_is_refused_with_a_dry_run_or_another_template(
    runner: CliRunner, tmp_path: Path, other: list[str]
) -> None:
    result = runner.invoke(
        app, ["new", "proj", "--no-input", "--check", *other, "-o", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--check smoke-trains a project of the bundled template" in result.stderr
    assert list(tmp_path.iterdir()) == []
