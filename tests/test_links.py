"""No write leaves the project: symbolic links on the way are refused by name, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import make_template, tree_state


def _link_to_a_copy(project: Path, relpath: str, outside: Path) -> Path:
    """Replace ``relpath`` in the project by a link to a copy of it outside the project."""
    original = project / relpath
    copy = outside / original.name
    if original.is_dir():
        shutil.copytree(original, copy)
        shutil.rmtree(original)
    else:
        shutil.copy2(original, copy)
        original.unlink()
    original.symlink_to(copy)
    return copy


@pytest.mark.parametrize(
    ("relpath", "command"),
    [
        (".plscaffold", ["generate", "config", "--gpus", "1"]),
        (".plscaffold/pristine", ["generate", "config", "--gpus", "1"]),
        ("src/proj", ["generate", "model", "--lr", "0.01"]),
        ("configs/default.yaml", ["generate", "config", "--gpus", "1"]),
        ("configs", ["update", "--allow-dirty"]),
        ("src/proj/networks", ["add", "model", "wide"]),
        ("README.md", ["generate", "readme", "--model", "mlp", "--dry-run"]),
    ],
)
def test_a_link_inside_the_project_is_refused_by_name(
    runner: CliRunner, project: Path, tmp_path: Path, relpath: str, command: list[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _link_to_a_copy(project, relpath, outside)
    before, outside_before = tree_state(project), tree_state(outside)

    result = runner.invoke(app, [*command, "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert f"{project / relpath} is a symbolic link" in result.stderr
    assert tree_state(project) == before
    assert tree_state(outside) == outside_before


def test_a_template_whose_project_folder_is_a_link_is_refused(
    runner: CliRunner, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "id_rsa").write_text("private key\n")
    template = tmp_path / "t"
    template.mkdir()
    (template / "cookiecutter.json").write_text('{"project_name": "x"}')
    (template / "{{cookiecutter.project_name}}").symlink_to(elsewhere)

    result = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path / "out")]
    )

    assert result.exit_code == 2
    assert "is a symbolic link" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_include_that_reaches_outside_the_template_is_refused(
    runner: CliRunner, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    template = make_template(
        tmp_path / "t",
        {"a.txt": b"{% include 'leak.txt' %}", "b.txt": b"{% include 'part.txt' %}"},
        {"project_name": "x"},
    )
    (template / "templates").mkdir()
    (template / "templates" / "part.txt").write_text("shared part\n")
    (template / "templates" / "leak.txt").symlink_to(secret)

    refused = runner.invoke(
        app, ["new", "p", "--template", str(template), "-o", str(tmp_path / "o")]
    )
    (template / "templates" / "leak.txt").unlink()
    (template / "{{cookiecutter.project_name}}" / "a.txt").unlink()
    allowed = runner.invoke(
        app, ["new", "p", "--template", str(template), "-o", str(tmp_path / "o")]
    )

    assert refused.exit_code == 2
    assert "reads" in refused.stderr and "outside the template" in refused.stderr
    assert allowed.exit_code == 0, allowed.output + allowed.stderr
    assert (tmp_path / "o" / "p" / "b.txt").read_text() == "shared part\n"


@pytest.mark.parametrize(
    ("relpath", "command"),
    [
        ("configs/experiments", ["experiment", "new", "small", "--set", "model.optimizer.lr=0.01"]),
        (".plscaffold/cache", ["experiment", "new", "small", "--set", "model.optimizer.lr=0.01"]),
        ("scripts", ["experiment", "sweep", "lr", "--slurm"]),
    ],
)
def test_experiment_writes_refuse_a_link_by_name(
    runner: CliRunner, schema_project: Path, tmp_path: Path, relpath: str, command: list[str]
) -> None:
    made = runner.invoke(app, ["experiment", "sweep", "lr", "--grid", "model.optimizer.lr=0.1,0.2",
                               "--project", str(schema_project)])  # fmt: skip
    assert made.exit_code == 0, made.output + made.stderr
    cache = schema_project / ".plscaffold" / "cache" / "config-schema.json"
    if relpath == ".plscaffold/cache":  # an outdated cache: the schema must be written again
        cache.write_text("{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    _link_to_a_copy(schema_project, relpath, outside)
    before, outside_before = tree_state(schema_project), tree_state(outside)

    result = runner.invoke(app, [*command, "--project", str(schema_project)])

    assert result.exit_code == 2, result.output
    assert f"{schema_project / relpath} is a symbolic link" in result.stderr
    assert tree_state(schema_project) == before
    assert tree_state(outside) == outside_before
