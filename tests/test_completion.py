"""Shell completion (bash, zsh) of commands and of a project's names, and readable --help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app

COMMANDS = ["new", "generate", "update", "add", "list", "status", "experiment"]


def _plscaffold(env: dict[str, str], cwd: Path, *args: str) -> str:
    """Run the console entry point as the shell does, with the completion variables."""
    # The console script: completion is keyed on the program's name.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "plscaffold"), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def _complete_bash(words: str, cwd: Path) -> list[str]:
    env = {
        "_PLSCAFFOLD_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    return _plscaffold(env, cwd).split()


@pytest.mark.parametrize(
    ("shell", "marker"), [("bash", "complete -o default -F"), ("zsh", "#compdef plscaffold")]
)
def test_the_completion_script_is_shown_for_bash_and_zsh(
    tmp_path: Path, shell: str, marker: str
) -> None:
    # Typer's switch for naming the shell instead of detecting it from the parent process.
    env = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}

    script = _plscaffold(env, tmp_path, "--show-completion", shell)

    assert marker in script
    assert f"_PLSCAFFOLD_COMPLETE=complete_{shell}" in script


def test_bash_and_zsh_completion_list_the_commands(tmp_path: Path) -> None:
    assert _complete_bash("plscaffold ", tmp_path) == COMMANDS

    zsh = _plscaffold(
        {"_PLSCAFFOLD_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "plscaffold "}, tmp_path
    )
    for command in COMMANDS:
        assert f'"{command}":' in zsh
    assert '"new":"Create a new, tested Lightning project."' in zsh


def test_names_of_the_project_complete(runner: CliRunner, schema_project: Path) -> None:
    made = runner.invoke(
        app,
        [
            "experiment",
            "new",
            "small",
            "--set",
            "data.batch_size=32",
            "--project",
            str(schema_project),
        ],
    )
    assert made.exit_code == 0, made.output + made.stderr

    assert _complete_bash("plscaffold generate ", schema_project) == [
        "model", "datamodule", "trainer", "config", "tests", "readme", "packaging", "slurm", "ci"
    ]  # fmt: skip
    assert _complete_bash("plscaffold generate con", schema_project) == ["config"]
    assert _complete_bash("plscaffold experiment compare s", schema_project) == ["small"]
    parents = _complete_bash("plscaffold experiment new big --from ", schema_project)
    assert parents == ["default", "small", "debug", "full", "lr-find", "overfit-batch"]
    assert _complete_bash("plscaffold add ", schema_project) == ["callback", "datamodule", "model"]
    # Outside a project there is nothing to complete, and no error.
    assert _complete_bash("plscaffold generate ", schema_project.parent) == []


def test_compare_completes_a_sweep_by_its_name_and_its_points_once_asked(
    runner: CliRunner, schema_project: Path
) -> None:
    for command in (
        ["experiment", "new", "small", "--set", "data.batch_size=32"],
        ["experiment", "sweep", "lr", "--grid", "model.optimizer.lr=1e-3,1e-2"],
    ):
        made = runner.invoke(app, [*command, "--project", str(schema_project)])
        assert made.exit_code == 0, made.output

    assert _complete_bash("plscaffold experiment compare ", schema_project) == ["lr", "small"]
    assert _complete_bash("plscaffold experiment compare lr-", schema_project) == ["lr-0", "lr-1"]
    assert _complete_bash("plscaffold experiment compare lr ", schema_project) == ["small"]
    # Parents are experiments: a sweep's points are offered there, its name is not.
    parents = _complete_bash("plscaffold experiment new big --from l", schema_project)
    assert parents == ["lr-0", "lr-1", "lr-find"]


def test_a_template_folder_completes_as_a_path(tmp_path: Path) -> None:
    # --template takes a folder or a URL: no names of plscaffold's own, so each shell
    # completes it as a path (zsh is told `_files`; bash's script falls back to `-o default`).
    zsh = _plscaffold(
        {
            "_PLSCAFFOLD_COMPLETE": "complete_zsh",
            "_TYPER_COMPLETE_ARGS": "plscaffold new proj --template ",
        },
        tmp_path,
    )
    assert zsh.split() == ["_files"]
    assert _complete_bash("plscaffold new proj --template ", tmp_path) == []
    # ... while an option with choices still completes them.
    assert _complete_bash("plscaffold new proj --model ", tmp_path) == ["cnn", "mlp", "gan"]


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (["generate"], "generate [OPTIONS] {COMPONENT}"),
        (["add"], "add [OPTIONS] {KIND} {NAME}"),
        (["experiment", "compare"], "compare [OPTIONS] {NAME...}"),
        (["new"], "new [OPTIONS] [NAME]"),
    ],
)
def test_usage_lines_name_the_arguments_as_the_docs_do(
    runner: CliRunner, command: list[str], usage: str
) -> None:
    result = runner.invoke(app, [*command, "--help"])

    assert result.exit_code == 0
    assert usage in result.output.splitlines()[0]


def test_help_shows_completion_and_whole_summaries(runner: CliRunner) -> None:
    top = runner.invoke(app, ["--help"], terminal_width=80)
    experiment = runner.invoke(app, ["experiment", "--help"], terminal_width=80)

    assert "--install-completion" in top.output and "--show-completion" in top.output
    for result in (top, experiment):
        assert result.exit_code == 0
        commands = result.output.split("Commands:")[1].strip().splitlines()
        assert commands and not [line for line in commands if line.rstrip().endswith("...")]


def test_a_name_with_a_control_character_is_never_offered(project: Path) -> None:
    """The shell prints completions raw: an experiment file named with an escape sequence
    would drive the terminal."""
    from types import SimpleNamespace

    from plscaffold.cli.completion import complete_parent

    experiments = project / "configs" / "experiments"
    experiments.mkdir(parents=True, exist_ok=True)
    for name in ("plain", "red\x1b[31m", "clip\x1b]52;c;aGk=\x07"):
        (experiments / f"{name}.yaml").write_text("lineage:\n  parent: default\n")
    ctx = SimpleNamespace(params={"project": str(project)})

    offered = complete_parent(ctx, "")  # type: ignore[arg-type]

    assert "plain" in offered
    assert not [name for name in offered if "\x1b" in name]
