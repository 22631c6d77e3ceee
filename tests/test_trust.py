"""No template and no answer runs code without --trust; any text lands intact in any file."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.api import new_project, project_options
from plscaffold.cli import app
from tests.conftest import make_template, new_from_template, tree_state

# Outside Jinja's sandbox this runs a shell command, creating PWNED in the working folder.
PAYLOAD = "{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}"


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the payload would create: in ``tmp_path``, the test's working folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "PWNED"


@pytest.mark.parametrize("where", ["content", "file name", "json value"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["write", "dry-run"])
def test_an_untrusted_template_cannot_run_code(
    runner: CliRunner, tmp_path: Path, marker: Path, where: str, dry_run: bool
) -> None:
    files = {"ok.txt": b"fine\n", "evil.txt": b"line one\n" + PAYLOAD.encode() + b"\n"}
    variables: dict[str, object] = {"project_name": "x"}
    if where == "file name":
        files = {"ok.txt": b"fine\n", PAYLOAD + ".txt": b"x\n"}
    elif where == "json value":
        files = {"ok.txt": b"{{ cookiecutter.greeting }}\n"}
        variables["greeting"] = PAYLOAD
    template = make_template(tmp_path / "t", files, variables)
    before = tree_state(tmp_path / "t")

    result = new_from_template(
        runner, template, tmp_path / "out", *(["--dry-run"] if dry_run else [])
    )

    assert result.exit_code == 2, result.output
    assert not marker.exists()
    assert "Jinja's sandbox forbids" in result.stderr and "--trust" in result.stderr
    if where == "content":
        assert "evil.txt, line 2" in result.stderr
    elif where == "file name":
        assert "touch PWNED" in result.stderr
    else:
        assert "variable 'greeting'" in result.stderr
    assert not (tmp_path / "out").exists()
    assert tree_state(tmp_path / "t") == before


def test_a_git_repository_template_is_sandboxed_too(
    runner: CliRunner, tmp_path: Path, marker: Path
) -> None:
    repo = make_template(tmp_path / "repo", {"a.txt": PAYLOAD.encode()}, {"project_name": "x"})
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "t"]):
        subprocess.run(["git", *command], cwd=repo, check=True)

    result = new_from_template(runner, f"git+file://{repo}", tmp_path / "out")

    assert result.exit_code == 2, result.output
    assert not marker.exists() and "--trust" in result.stderr


def test_with_trust_the_template_renders_unsandboxed(
    runner: CliRunner, tmp_path: Path, marker: Path
) -> None:
    template = make_template(tmp_path / "t", {"a.txt": PAYLOAD.encode()}, {"project_name": "x"})

    result = new_from_template(runner, template, tmp_path / "out", "--trust")

    assert result.exit_code == 0, result.output + result.stderr
    assert marker.exists()  # cookiecutter's full behaviour: the author is trusted


def test_answers_are_data_never_templates(runner: CliRunner, tmp_path: Path, marker: Path) -> None:
    result = runner.invoke(app, ["new", "proj", "-o", str(tmp_path), "--description", PAYLOAD])

    assert result.exit_code == 0, result.output + result.stderr
    assert not marker.exists()
    package = tmp_path / "proj" / "src" / "proj" / "__init__.py"
    assert ast.get_docstring(ast.parse(package.read_text())) == PAYLOAD


def test_a_tampered_answers_file_runs_nothing(
    runner: CliRunner, tmp_path: Path, marker: Path
) -> None:
    project = new_project(project_options("proj"), output_dir=tmp_path).project_abspath
    answers_path = project / ".plscaffold" / "answers.json"
    document = json.loads(answers_path.read_text())
    document["answers"]["description"] = PAYLOAD
    answers_path.write_text(json.dumps(document))
    deep = project / "src" / "proj" / "deep"  # the project is found by walking up from here
    deep.mkdir()

    for command in (["status"], ["list"], ["generate", "readme", "--dry-run"]):
        result = runner.invoke(app, [*command, "--project", str(deep)])
        assert result.exit_code == 0, result.output + result.stderr
    assert not marker.exists()

    document["added_components"] = [{"kind": "model", "name": PAYLOAD}]
    answers_path.write_text(json.dumps(document))
    before = tree_state(project)
    for command in (["status"], ["list"], ["update", "--allow-dirty"], ["generate", "model"]):
        result = runner.invoke(app, [*command, "--project", str(project)])
        assert result.exit_code == 2, result.output
        assert "an added component is not valid" in result.stderr
    assert not marker.exists()
    assert tree_state(project) == before


HOSTILE = 'Quotes """ \' " and \\ backslashes, {{ x }} {% if %} #1 *bold* _it_ `code` <b>|</b> 😀'


def _markdown_text(line: str) -> str:
    """Undo CommonMark's backslash escapes of ASCII punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", line)


def test_any_printable_description_round_trips_through_every_file(tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    project = new_project(
        project_options("proj", description=HOSTILE), output_dir=tmp_path
    ).project_abspath

    init = (project / "src" / "proj" / "__init__.py").read_text()
    assert ast.get_docstring(ast.parse(init)) == HOSTILE
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["description"] == HOSTILE
    readme = (project / "README.md").read_text().splitlines()
    assert _markdown_text(readme[2]) == HOSTILE
    assert "\\*bold\\*" in readme[2]  # shown as typed, not as emphasis


@pytest.mark.parametrize("text", ["two\nlines", "tab\there", "bell\a"])
def test_a_description_that_is_not_one_line_of_text_is_refused(
    runner: CliRunner, tmp_path: Path, text: str
) -> None:
    result = runner.invoke(app, ["new", "proj", "-o", str(tmp_path), "--description", text])

    assert result.exit_code == 2
    assert "give one line of text" in result.stderr
    assert not (tmp_path / "proj").exists()
