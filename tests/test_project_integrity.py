"""A project's recorded state is checked like the flags, and status and dry runs tell the truth."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import tree_state

ANSWERS = Path(".plscaffold/answers.json")
COMMANDS = [
    ["status"],
    ["list"],
    ["generate", "config"],
    ["add", "callback", "extra"],
    ["update"],
]


def _edit_answers(project: Path, change: dict[str, object]) -> None:
    path = project / ANSWERS
    document = json.loads(path.read_text())
    for key, value in change.items():
        if key in document:
            document[key] = value
        else:
            document["answers"][key] = value
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_answers_file_nested_too_deeply_is_one_line(
    runner: CliRunner, project: Path, command: list[str]
) -> None:
    (project / ANSWERS).write_text('{"answers": ' + "[" * 100_000 + "]" * 100_000 + "}")
    before = tree_state(project)

    result = runner.invoke(app, [*command, "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "answers.json nests its values too deeply" in result.stderr
    assert tree_state(project) == before


def test_a_version_no_release_has_is_refused(runner: CliRunner, project: Path) -> None:
    _edit_answers(project, {"plscaffold_version": "1" * 5000})

    result = runner.invoke(app, ["update", "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "answers.json is not a readable answers file" in result.stderr
    assert "is not a version" in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gpus": int("9" * 4000)}, "--gpus"),
        ({"gpus": 2048}, "--gpus 2048 is out of range; give 0 to 1024"),
        ({"batch_size": 1.5}, "--batch-size 1.5 is not a valid int"),
        ({"batch_size": True}, "--batch-size True is not a valid int"),
        ({"max_epochs": "ten"}, "--max-epochs 'ten' is not a valid int"),
        ({"seed": 2**40}, "--seed 1099511627776 is out of range"),
        ({"lr": "fast"}, "--lr 'fast' is not a valid float"),
        ({"lr": 10**400}, "--lr 1000000000"),
        ({"description": ["a", "list"]}, "--description ['a', 'list'] is not a valid str"),
    ],
    ids=[
        "huge-gpus",
        "too-many-gpus",
        "float-batch",
        "bool-batch",
        "text-epochs",
        "seed",
        "lr",
        "huge-lr",
        "list",
    ],
)
@pytest.mark.parametrize(
    "command", [["status"], ["generate", "config"]], ids=["status", "generate"]
)
def test_answers_read_back_are_checked_as_flags_are(
    runner: CliRunner, project: Path, change: dict[str, object], message: str, command: list[str]
) -> None:
    _edit_answers(project, change)
    before = tree_state(project)

    result = runner.invoke(app, [*command, "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert "answers.json records an answer no flag would take" in result.stderr
    assert message in result.stderr
    assert len(result.stderr) < 400 and result.stderr.count("\n") == 1
    assert tree_state(project) == before


@pytest.mark.parametrize("value", ["2048", "1.5", "99999999999999999999999"])
def test_the_same_values_as_flags_are_refused_too(
    runner: CliRunner, tmp_path: Path, value: str
) -> None:
    flag = "--gpus" if value != "1.5" else "--batch-size"
    result = runner.invoke(app, ["new", "p", "-o", str(tmp_path), "--no-input", flag, value])

    assert result.exit_code == 2, result.output
    assert not (tmp_path / "p").exists()


@pytest.fixture
def installed(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project importable as ``pip install -e .`` makes it: its src/ on the path."""
    monkeypatch.syspath_prepend(str(project / "src"))
    import importlib

    importlib.invalidate_caches()
    return project


@pytest.mark.parametrize("command", [["status"], ["list"], ["generate", "readme"], ["update"]])
def test_an_installed_project_is_served_from_a_subfolder(
    runner: CliRunner, installed: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(installed / "tests")

    result = runner.invoke(app, command)

    assert result.exit_code == 0, result.output
    assert "shadow" not in result.output


def test_a_second_clone_of_an_installed_project_is_served(
    runner: CliRunner, installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = shutil.copytree(installed, installed.parent / "clone" / "proj")
    monkeypatch.chdir(clone)

    for command in (["status"], ["generate", "readme"], ["update"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)


def test_a_new_project_may_still_not_shadow_an_installed_one(
    runner: CliRunner, installed: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["new", "proj", "-o", str(tmp_path / "elsewhere"), "--no-input"])

    assert result.exit_code == 2, result.output
    assert "would shadow the installed module 'proj'" in result.stderr


def _resolve_keeping_yours(path: Path) -> None:
    text = path.read_text()
    path.write_text(
        re.sub(r"<<<<<<< yours\n(.*?)=======\n.*?>>>>>>> template\n", r"\1", text, flags=re.S)
    )


def test_status_names_an_answer_the_files_contradict(runner: CliRunner, project: Path) -> None:
    from plscaffold.api import project_status

    config = project / "configs" / "default.yaml"
    config.write_text(config.read_text().replace("max_epochs: 10", "max_epochs: 5"))
    conflicted = runner.invoke(
        app, ["generate", "config", "--max-epochs", "20", "--project", str(project)]
    )
    assert conflicted.exit_code == 1, conflicted.output
    _resolve_keeping_yours(config)

    found = project_status(project)
    result = runner.invoke(app, ["status", "--project", str(project)])

    assert [(a.name, a.value, a.relpath, a.component) for a in found.contradicted] == [
        ("max_epochs", 20, "configs/default.yaml", "config")
    ]
    assert (
        "answer max_epochs: .plscaffold/answers.json records 20, but configs/default.yaml no "
        "longer says so; record the value you chose with "
        "`plscaffold generate config --max-epochs VALUE`"
    ) in result.stdout

    recorded = runner.invoke(
        app, ["generate", "config", "--max-epochs", "5", "--project", str(project)]
    )
    assert recorded.exit_code == 0, recorded.output
    assert project_status(project).contradicted == []


def test_an_edit_that_keeps_the_answer_contradicts_nothing(project: Path) -> None:
    from plscaffold.api import project_status

    config = project / "configs" / "default.yaml"
    config.write_text(config.read_text() + "# a note of mine\n")

    found = project_status(project)

    assert [item.relpath for item in found.files] == ["configs/default.yaml"]
    assert found.contradicted == []


def _commit_all(project: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "generated"], cwd=project, check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize(
    "command",
    [["generate", "config", "--model", "mlp"], ["add", "callback", "extra"], ["update"]],
    ids=["generate", "add", "update"],
)
def test_a_dry_run_on_a_dirty_tree_says_the_real_run_would_refuse(
    runner: CliRunner, project: Path, command: list[str]
) -> None:
    _commit_all(project)
    (project / "README.md").write_text("mine\n")
    before = tree_state(project)

    dry = runner.invoke(app, [*command, "--dry-run", "--project", str(project)])
    real = runner.invoke(app, [*command, "--project", str(project)])
    allowed = runner.invoke(
        app, [*command, "--dry-run", "--allow-dirty", "--project", str(project)]
    )

    assert real.exit_code == 2 and "uncommitted changes" in real.stderr
    assert dry.exit_code == 2, dry.output
    assert "Error: a real run would refuse:" in dry.stderr and "README.md" in dry.stderr
    assert "--allow-dirty" in dry.stderr
    assert allowed.exit_code == 0, allowed.output
    assert tree_state(project) == before


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_add_refuses_a_dirty_tree_unless_allowed(runner: CliRunner, project: Path) -> None:
    _commit_all(project)
    (project / "README.md").write_text("mine\n")

    refused = runner.invoke(app, ["add", "callback", "extra", "--project", str(project)])
    added = runner.invoke(
        app, ["add", "callback", "extra", "--allow-dirty", "--project", str(project)]
    )

    assert refused.exit_code == 2 and "uncommitted changes" in refused.stderr
    assert added.exit_code == 0, added.output
    assert (project / "configs" / "callbacks" / "extra.yaml").is_file()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_json_plan_of_a_dry_run_names_the_refusal(runner: CliRunner, project: Path) -> None:
    _commit_all(project)
    (project / "README.md").write_text("mine\n")

    result = runner.invoke(app, ["update", "--dry-run", "--json", "--project", str(project)])

    assert result.exit_code == 2
    assert "uncommitted changes" in json.loads(result.stdout)["refused"]


@pytest.mark.parametrize(("name", "example"), [("my proj", "my-proj"), ("data set!", "data-set")])
def test_a_bad_name_is_answered_with_itself_made_valid(
    runner: CliRunner, tmp_path: Path, name: str, example: str
) -> None:
    result = runner.invoke(app, ["new", name, "-o", str(tmp_path), "--no-input"])

    assert result.exit_code == 2
    assert f"(for example: {example})" in result.stderr


def test_next_steps_comments_line_up_after_a_long_name(runner: CliRunner, tmp_path: Path) -> None:
    name = "a-rather-long-project-name-for-digits"
    result = runner.invoke(app, ["new", name, "-o", str(tmp_path), "--no-input"])

    assert result.exit_code == 0, result.output
    steps = result.stdout.split("Next steps:\n", 1)[1].splitlines()
    columns = {line.index("#") for line in steps if "#" in line}
    assert len(columns) == 1 and len([line for line in steps if "#" in line]) == 3
    assert f"  {name.replace('-', '_')} test --ckpt_path best" in result.stdout


def test_the_cli_module_runs_without_a_traceback_on_bad_answers(project: Path) -> None:
    _edit_answers(project, {"batch_size": 1.5})

    result = subprocess.run(
        [sys.executable, "-m", "plscaffold", "status", "--project", str(project)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
