"""Rendering a template tree in memory: paths, contents, modes, binaries and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from plscaffold.context import build_context
from plscaffold.errors import TemplateError, UnsafePathError
from plscaffold.paths import check_relpath
from plscaffold.render import render_tree
from plscaffold.templates import load_template
from tests.conftest import make_template


def render(root: Path, **answers: object) -> dict[str, bytes]:
    template = load_template(root, "test")
    rendering = render_tree(template, build_context(template, answers))
    return {relpath: rendered.content for relpath, rendered in rendering.items()}


def test_paths_and_contents_are_rendered(tmp_path: Path) -> None:
    root = make_template(
        tmp_path / "t",
        {"{{cookiecutter.pkg}}/__init__.py": b'NAME = "{{ cookiecutter.project_name }}"\n'},
        {"project_name": "demo", "pkg": "{{ cookiecutter.project_name|upper }}"},
    )

    assert render(root) == {"DEMO/__init__.py": b'NAME = "demo"\n'}
    assert render(root, project_name="other") == {"OTHER/__init__.py": b'NAME = "other"\n'}


def test_a_file_whose_name_renders_empty_is_left_out(tmp_path: Path) -> None:
    root = make_template(
        tmp_path / "t",
        {"{% if cookiecutter.ci %}ci.yml{% endif %}": b"on: push\n", "keep.txt": b"k\n"},
        {"project_name": "demo", "ci": ""},
    )

    assert set(render(root)) == {"keep.txt"}
    assert set(render(root, ci="yes")) == {"ci.yml", "keep.txt"}


def test_binary_files_are_copied_verbatim_and_modes_kept(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00{{ cookiecutter.project_name }}\xff\xfe"
    root = make_template(
        tmp_path / "t", {"logo.png": png, "run.sh": b"#!/bin/sh\necho {{ cookiecutter.project_name }}\n"},
        {"project_name": "demo"},
    )  # fmt: skip
    (root / "{{cookiecutter.project_name}}" / "run.sh").chmod(0o755)
    template = load_template(root, "test")

    rendering = render_tree(template, build_context(template, {}))

    assert rendering["logo.png"].content == png
    assert rendering["run.sh"].content == b"#!/bin/sh\necho demo\n"
    assert rendering["run.sh"].mode == 0o755
    assert rendering["logo.png"].mode == 0o644


def test_windows_line_endings_survive(tmp_path: Path) -> None:
    root = make_template(
        tmp_path / "t",
        {"a.bat": b"echo {{ cookiecutter.project_name }}\r\nexit\r\n"},
        {"project_name": "x"},
    )

    assert render(root) == {"a.bat": b"echo x\r\nexit\r\n"}


def test_an_undefined_variable_names_the_file_and_line(tmp_path: Path) -> None:
    root = make_template(
        tmp_path / "t",
        {"src/a.py": b"ok = 1\nbad = {{ cookiecutter.nope }}\n"},
        {"project_name": "x"},
    )

    with pytest.raises(TemplateError, match=r"src/a.py, line 2: UndefinedError: .*'nope'"):
        render(root)


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    root = make_template(tmp_path / "t", {"a.txt": b"one\ntwo\n{% if %}\n"}, {"project_name": "x"})

    with pytest.raises(TemplateError, match=r"a.txt, line 3: TemplateSyntaxError"):
        render(root)


@pytest.mark.parametrize("name", ["../escape", "/etc/escape", "a/../../escape"])
def test_paths_that_leave_the_project_are_refused(tmp_path: Path, name: str) -> None:
    root = make_template(
        tmp_path / "t", {"{{cookiecutter.target}}": b"x\n"}, {"project_name": "x", "target": name}
    )

    with pytest.raises(UnsafePathError, match="outside the project folder"):
        render(root)


def test_check_relpath_keeps_safe_paths() -> None:
    assert check_relpath("src/pkg/__init__.py") == "src/pkg/__init__.py"


def test_a_template_without_a_project_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cookiecutter.json").write_text("{}")

    with pytest.raises(TemplateError, match="exactly one"):
        load_template(tmp_path, "test")
