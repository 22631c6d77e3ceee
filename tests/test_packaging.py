"""The wheel carries the templates, and the CLI starts without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_cli_imports_no_torch() -> None:
    code = (
        "import sys, plscaffold.cli, plscaffold.api; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'torch', 'torchvision', 'pytorch_lightning', 'lightning', 'cookiecutter'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.e2e
def test_wheel_installs_into_a_fresh_venv_and_generates(tmp_path: Path) -> None:
    wheel_dir = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(wheel_dir), str(REPO_ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = wheel_dir.glob("plscaffold-*.whl")
    venv = tmp_path / "venv"
    # System site-packages provide typer, jinja2 and cookiecutter without a network.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    workdir = tmp_path / "work"
    workdir.mkdir()

    result = subprocess.run(
        [str(venv / "bin" / "plscaffold"), "new", "from-wheel", "--no-input"],
        cwd=workdir, capture_output=True, text=True, check=False,
    )  # fmt: skip
    located = subprocess.run(
        [str(python), "-c", "import plscaffold.templates as t; print(t.bundled_templates_abspath())"],
        cwd=workdir, capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert (workdir / "from-wheel" / "src" / "from_wheel" / "model.py").is_file()
    templates_abspath = Path(located.stdout.strip())
    assert templates_abspath.is_relative_to(venv), templates_abspath
    assert (templates_abspath / "project" / "cookiecutter.json").is_file()
