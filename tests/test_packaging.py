"""The wheel carries the templates, and the CLI starts without importing torch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_venv, tree_state

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


def _build_wheel(wheel_dir: Path) -> Path:
    """Build plscaffold's wheel from this checkout into ``wheel_dir``; return it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(wheel_dir), str(REPO_ROOT)],
        check=True,
    )  # fmt: skip
    (wheel,) = wheel_dir.glob("plscaffold-*.whl")
    return wheel


# Run in the wheel's environment before anything else: torch, and what plscaffold's
# generation must never need, cannot be imported there.
_NO_TORCH = """import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "torchvision", "pytorch_lightning", "lightning"}:
            raise ImportError(f"{name} is not installed in this environment")
sys.meta_path.insert(0, _NoTorch())
"""


@pytest.mark.e2e
def test_the_wheel_generates_what_the_checkout_does_in_a_fresh_venv_without_torch(
    tmp_path: Path,
) -> None:
    """Installed from its wheel, plscaffold writes the same project, byte for byte and mode
    for mode, as from this checkout: no byte-compiled template file, no file missing."""
    wheel = _build_wheel(tmp_path / "wheels")
    venv = tmp_path / "venv"
    python = make_venv(venv)  # typer, jinja2 and cookiecutter without a network
    # pip byte-compiles the wheel's .py files, the bundled template's included.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    site_packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    assert list((site_packages / "plscaffold" / "templates").rglob("*.pyc"))  # as pip leaves it
    (site_packages / "aa_no_torch.pth").write_text(f"import sys; exec({_NO_TORCH!r})\n")
    from_wheel, from_checkout = tmp_path / "wheel", tmp_path / "checkout"
    for folder in (from_wheel, from_checkout):
        folder.mkdir()

    made = subprocess.run(
        [str(venv / "bin" / "plscaffold"), "new", "zz", "--no-input", "--no-git"],
        cwd=from_wheel, capture_output=True, text=True, check=False,
    )  # fmt: skip
    torch_refused = subprocess.run(
        [str(python), "-c", "import torch"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    located = subprocess.run(
        [str(python), "-c", "import plscaffold.templates as t; print(t.bundled_templates_abspath())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "plscaffold", "new", "zz", "--no-input", "--no-git"],
        cwd=from_checkout, capture_output=True, check=True,
    )  # fmt: skip

    assert made.returncode == 0, made.stderr
    assert "is not installed in this environment" in torch_refused.stderr
    assert Path(located.stdout.strip()).is_relative_to(venv)
    wheel_tree = tree_state(from_wheel / "zz")
    assert not [relpath for relpath in wheel_tree if "__pycache__" in relpath]
    assert wheel_tree == tree_state(from_checkout / "zz")


def _changelog_sections() -> dict[str, str]:
    """The root CHANGELOG.md's sections by version: ``## [1.0.0] - 2026-12-04`` and its text."""
    text = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    parts = re.split(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?\s*$", text, flags=re.MULTILINE)
    sections = {}
    for version, date, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        assert version == "Unreleased" or date, f"release {version} has no date"
        sections[version] = body
    return sections


def test_the_installed_version_has_its_changelog_section_naming_the_template() -> None:
    from importlib.metadata import version

    import plscaffold
    from plscaffold.api import bundled_template_version

    sections = _changelog_sections()

    assert version("plscaffold") == plscaffold.__version__  # what pip installed
    assert next(iter(sections)) == "Unreleased"  # Keep a Changelog: newest first
    assert plscaffold.__version__ in sections, sorted(sections)
    template = bundled_template_version()
    assert f"Bundled project template: {template}\n" in sections[plscaffold.__version__]


def test_version_names_plscaffold_and_its_template() -> None:
    from typer.testing import CliRunner

    import plscaffold
    from plscaffold.api import bundled_template_version
    from plscaffold.cli import app

    result = CliRunner().invoke(app, ["--version"])

    template = bundled_template_version()
    assert result.exit_code == 0
    assert (
        result.stdout
        == f"plscaffold {plscaffold.__version__} (bundled project template {template})\n"
    )


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("pipx") is None, reason="needs pipx (the test extra has it)")
def test_pipx_installs_the_wheel_as_a_command_of_its_own(tmp_path: Path) -> None:
    """The README's `pipx install` of the wheel: its own environment, its dependencies from
    the package registry (as the declared floors' test takes them), no torch."""
    import plscaffold

    wheel = _build_wheel(tmp_path / "wheels")
    env = {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    subprocess.run(
        ["pipx", "install", str(wheel)], env=env, capture_output=True, check=True, timeout=600
    )
    command = tmp_path / "bin" / "plscaffold"
    work = tmp_path / "work"
    work.mkdir()

    shown = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
    made = subprocess.run(
        [command, "new", "piped", "--no-input"], cwd=work, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    torch = subprocess.run(
        [tmp_path / "pipx" / "venvs" / "plscaffold" / "bin" / "python", "-c", "import torch"],
        capture_output=True, check=False,
    )  # fmt: skip

    assert shown.stdout.startswith(
        f"plscaffold {plscaffold.__version__} (bundled project template "
    )
    assert made.returncode == 0, made.stderr
    assert (work / "piped" / "src" / "piped" / "model.py").is_file()
    assert not list((work / "piped").rglob("__pycache__"))
    assert torch.returncode != 0  # an environment of its own: plscaffold needs no torch
