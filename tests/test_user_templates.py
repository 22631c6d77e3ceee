"""``plscaffold new --template``: any cookiecutter template, safely."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import make_template, new_from_template, tree_state

HOOK = b"""from pathlib import Path
Path("made-by-{{ cookiecutter.stage }}.txt").write_text("{{ cookiecutter.project_name }}")
"""


def test_a_folder_template_keeps_binaries_modes_and_line_endings(
    runner: CliRunner, tmp_path: Path
) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00{{ not jinja }}\xff"
    template = make_template(
        tmp_path / "t",
        {"logo.png": png, "run.sh": b"#!/bin/sh\necho {{ cookiecutter.project_name }}\n",
         "win.bat": b"echo {{ cookiecutter.greeting }}\r\n"},
        {"project_name": "x", "greeting": "hi"},
    )  # fmt: skip
    (template / "{{cookiecutter.project_name}}" / "run.sh").chmod(0o755)

    result = new_from_template(runner, template, tmp_path / "out")

    assert result.exit_code == 0, result.output + result.stderr
    project = tmp_path / "out" / "proj"
    assert (project / "logo.png").read_bytes() == png
    assert (project / "run.sh").read_bytes() == b"#!/bin/sh\necho proj\n"
    assert (project / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (project / "win.bat").read_bytes() == b"echo hi\r\n"
    document = json.loads((project / ".plscaffold" / "answers.json").read_text())
    assert document["template"] == str(template.resolve())
    assert document["answers"] == {"project_name": "proj", "greeting": "hi"}


def test_options_must_be_variables_of_the_template(runner: CliRunner, tmp_path: Path) -> None:
    template = make_template(tmp_path / "t", {"a.txt": b"a\n"}, {"project_name": "x"})

    result = new_from_template(runner, template, tmp_path / "out", "--gpus", "2")

    assert result.exit_code == 2
    assert "has no variable gpus; its variables: project_name" in result.stderr


def test_paths_rendering_outside_the_project_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    for target in ("../evil.txt", str(tmp_path / "evil.txt")):
        template = make_template(
            tmp_path / f"t{len(target)}", {"ok.txt": b"ok\n", "{{cookiecutter.where}}": b"x\n"},
            {"project_name": "x", "where": target},
        )  # fmt: skip
        before = tree_state(tmp_path)

        result = new_from_template(runner, template, tmp_path / "out")

        assert result.exit_code == 2
        assert "would land outside the project folder" in result.stderr
        assert tree_state(tmp_path) == before


def test_symlinks_out_of_the_template_are_refused_and_inner_ones_followed(
    runner: CliRunner, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    inner = make_template(tmp_path / "inner", {"real.txt": b"real\n"}, {"project_name": "x"})
    (inner / "{{cookiecutter.project_name}}" / "alias.txt").symlink_to("real.txt")
    outer = make_template(tmp_path / "outer", {"ok.txt": b"ok\n"}, {"project_name": "x"})
    (outer / "{{cookiecutter.project_name}}" / "leak.txt").symlink_to(secret)
    before = tree_state(tmp_path / "out") if (tmp_path / "out").exists() else {}

    refused = new_from_template(runner, outer, tmp_path / "out")
    followed = new_from_template(runner, inner, tmp_path / "out2")

    assert refused.exit_code == 2
    assert f"leak.txt is a symbolic link to {secret}, outside the template" in refused.stderr
    assert not (tmp_path / "out").exists() or tree_state(tmp_path / "out") == before
    assert followed.exit_code == 0, followed.stderr
    alias = tmp_path / "out2" / "proj" / "alias.txt"
    assert alias.read_text() == "real\n" and not alias.is_symlink()


def _hooked_template(root: Path) -> Path:
    template = make_template(root, {"a.txt": b"a\n"}, {"project_name": "x", "stage": "pre"})
    (template / "hooks").mkdir()
    (template / "hooks" / "post_gen_project.py").write_bytes(
        HOOK.replace(b"{{ cookiecutter.stage }}", b"post")
    )
    (template / "hooks" / "pre_gen_project.py").write_bytes(HOOK)
    return template


def test_hooks_run_only_with_trust(runner: CliRunner, tmp_path: Path) -> None:
    template = _hooked_template(tmp_path / "t")

    refused = new_from_template(runner, template, tmp_path / "out")
    trusted = new_from_template(runner, template, tmp_path / "out", "--trust")

    assert refused.exit_code == 2
    assert (
        "runs code on this machine (hooks/post_gen_project.py, hooks/pre_gen_project.py)"
        in refused.stderr
    )
    assert "pass --trust" in refused.stderr
    assert trusted.exit_code == 0, trusted.stderr
    project = tmp_path / "out" / "proj"
    assert (project / "made-by-pre.txt").read_text() == "proj"
    assert (project / "made-by-post.txt").read_text() == "proj"


def test_a_failing_hook_leaves_nothing(runner: CliRunner, tmp_path: Path) -> None:
    template = make_template(tmp_path / "t", {"a.txt": b"a\n"}, {"project_name": "x"})
    (template / "hooks").mkdir()
    (template / "hooks" / "post_gen_project.py").write_text("raise SystemExit(3)\n")
    (tmp_path / "out").mkdir()

    result = new_from_template(runner, template, tmp_path / "out", "--trust")

    assert result.exit_code == 1
    assert "hook post_gen_project failed" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_jinja_extensions_need_trust(runner: CliRunner, tmp_path: Path) -> None:
    template = make_template(
        tmp_path / "t", {"a.txt": b"a\n"}, {"project_name": "x", "_extensions": ["jinja2.ext.do"]}
    )

    refused = new_from_template(runner, template, tmp_path / "out")
    trusted = new_from_template(runner, template, tmp_path / "out", "--trust")

    assert refused.exit_code == 2 and "Jinja extension jinja2.ext.do" in refused.stderr
    assert trusted.exit_code == 0, trusted.stderr


EXTENSION = """from jinja2.ext import Extension


class Greet(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.filters["greet"] = lambda value: "{greeting} " + value
"""


def test_a_trusted_templates_extension_is_its_own_and_the_import_path_is_left_alone(
    runner: CliRunner, tmp_path: Path
) -> None:
    # Two templates each ship a module local_ext.py of their own, as cookiecutter allows.
    path_before = list(sys.path)
    for greeting in ("hello", "bonjour"):
        template = make_template(tmp_path / greeting, {"a.txt": b"{{ cookiecutter.project_name | greet }}\n"},
                                 {"project_name": "x", "_extensions": ["local_ext.Greet"]})  # fmt: skip
        (template / "local_ext.py").write_text(EXTENSION.replace("{greeting}", greeting))

        result = new_from_template(runner, template, tmp_path / f"out-{greeting}", "--trust")

        assert result.exit_code == 0, result.output + result.stderr
        assert (tmp_path / f"out-{greeting}" / "proj" / "a.txt").read_text() == f"{greeting} proj\n"
    assert sys.path == path_before
    assert "local_ext" not in sys.modules


def _package_template(root: Path, package: str, greeting: str) -> Path:
    """A template whose extension is a package, as cookiecutter documents it."""
    template = make_template(root, {"a.txt": b"{{ cookiecutter.project_name | greet }}\n"},
                             {"project_name": "x", "_extensions": [f"{package}.Greet"]})  # fmt: skip
    (template / package).mkdir()
    (template / package / "__init__.py").write_text("from .main import Greet\n")
    (template / package / "main.py").write_text(EXTENSION.replace("{greeting}", greeting))
    return template


def test_extension_packages_of_one_name_stay_each_templates_own(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first render imports what any render of a package extension needs.
    warm = _package_template(tmp_path / "warm", "warm_extensions", "hi")
    assert new_from_template(runner, warm, tmp_path / "out-warm", "--trust").exit_code == 0
    # A module of the same name imported before is neither used nor lost.
    already = type(sys)("local_extensions")
    monkeypatch.setitem(sys.modules, "local_extensions", already)
    path_before, modules_before = list(sys.path), dict(sys.modules)
    for greeting in ("hello", "bonjour"):
        template = _package_template(tmp_path / greeting, "local_extensions", greeting)
        out = tmp_path / f"out-{greeting}"

        refused = new_from_template(runner, template, out)
        result = new_from_template(runner, template, out, "--trust")

        assert refused.exit_code == 2, refused.output + refused.stderr
        assert "Jinja extension local_extensions.Greet" in refused.stderr
        assert result.exit_code == 0, result.output + result.stderr
        assert (out / "proj" / "a.txt").read_text() == f"{greeting} proj\n"
        assert sys.path == path_before
        assert sys.modules == modules_before and sys.modules["local_extensions"] is already


def test_a_git_url_is_cloned_and_option_like_values_never_reach_git(
    runner: CliRunner, tmp_path: Path
) -> None:
    repo = make_template(
        tmp_path / "repo",
        {"README.md": b"# {{ cookiecutter.project_name }}\n"},
        {"project_name": "x"},
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "template"]):
        subprocess.run([*git, *args], cwd=repo, check=True)

    cloned = new_from_template(runner, f"git+file://{repo}", tmp_path / "out")
    sneaky = new_from_template(
        runner, f"--upload-pack=touch {tmp_path / 'pwned'}", tmp_path / "out2"
    )

    assert cloned.exit_code == 0, cloned.stderr
    assert (tmp_path / "out" / "proj" / "README.md").read_text() == "# proj\n"
    assert sneaky.exit_code == 2 and "starts with '-'" in sneaky.stderr
    assert not (tmp_path / "pwned").exists()


def test_a_template_error_names_the_file_and_line_and_leaves_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = make_template(
        tmp_path / "t",
        {"src/a.py": b"x = 1\ny = {{ cookiecutter.missing }}\n"},
        {"project_name": "x"},
    )
    (tmp_path / "out").mkdir()

    result = new_from_template(runner, template, tmp_path / "out")

    assert result.exit_code == 1
    assert "{{cookiecutter.project_name}}/src/a.py, line 2: UndefinedError" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_a_full_disk_gives_a_clear_error_and_no_partial_file(
    runner: CliRunner, tiny_disk: Path
) -> None:
    before = tree_state(tiny_disk)

    result = runner.invoke(app, ["new", "proj", "-o", str(tiny_disk)])

    assert result.exit_code == 2
    assert f"cannot write the project into {tiny_disk}: No space left on device" in result.stderr
    assert tree_state(tiny_disk) == before
    assert os.listdir(tiny_disk) == []


def test_a_zip_template_leaves_no_temporary_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    import tempfile

    template = make_template(tmp_path / "t" / "tpl", {"a.txt": b"{{ cookiecutter.project_name }}\n"},
                             {"project_name": "x"})  # fmt: skip
    archive = shutil.make_archive(str(tmp_path / "tpl"), "zip", tmp_path / "t")
    temporary = tmp_path / "tmpdir"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    # Each temporary folder is made where the process's setting says, never by changing it.
    seen = []
    mkdtemp = tempfile.mkdtemp

    def spy(*args: object, **kwargs: object) -> str:
        seen.append(tempfile.tempdir)
        return mkdtemp(*args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(tempfile, "mkdtemp", spy)

    result = new_from_template(runner, archive, tmp_path / "out")

    assert result.exit_code == 0, result.output + result.stderr
    assert (tmp_path / "out" / "proj" / "a.txt").read_text() == "proj\n"
    assert list(temporary.iterdir()) == []
    assert seen and set(seen) == {str(temporary)}
    assert template.is_dir()


def test_a_failing_clone_is_one_line_with_a_reason(runner: CliRunner, tmp_path: Path) -> None:
    for source in ("git+file:///nonexistent/repo", "git+ssh://nobody@127.0.0.1:1/none.git"):
        result = new_from_template(runner, source, tmp_path / "out")

        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        message = result.stderr.strip()
        assert (
            message.startswith(f"Error: cannot fetch template {source}: ") and "\n" not in message
        )
        assert not message.endswith(f"{source}: ")
    assert not (tmp_path / "out").exists()


def test_a_project_of_another_template_says_what_works_on_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = make_template(tmp_path / "t", {"a.txt": b"a\n"}, {"project_name": "x"})
    assert new_from_template(runner, template, tmp_path / "out").exit_code == 0
    project = tmp_path / "out" / "proj"

    generated = runner.invoke(app, ["generate", "config", "--project", str(project)])
    assert generated.exit_code == 2, generated.output
    assert (
        "names no components (a _components mapping in its cookiecutter.json)" in generated.stderr
    )
    added = runner.invoke(app, ["add", "model", "wide", "--project", str(project)])
    assert added.exit_code == 2, added.output
    assert f"was made from the template {template.resolve()}" in added.stderr
    assert "`update`, `generate COMPONENT`, `status` and `list` work on both" in added.stderr
    for command in (["status"], ["list"]):
        result = runner.invoke(app, [*command, "--project", str(project)])

        assert result.exit_code == 0, (command, result.output, result.stderr)
    assert "names no components" in result.output
    options = runner.invoke(app, ["generate", "config", "--gpus", "1", "--project", str(project)])
    assert options.exit_code == 2
    assert "generation options belong to plscaffold's own template" in options.stderr
    updated = runner.invoke(app, ["update", "--allow-dirty", "--project", str(project)])
    assert updated.exit_code == 0, updated.output + updated.stderr
