"""The docs site: mkdocs builds it strictly, and its CLI reference is the program's own help."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plscaffold.cli.reference import reference_markdown

REPO = Path(__file__).resolve().parents[1]


def _help(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "plscaffold", *args, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    return done.stdout


def _commands(help_text: str) -> list[str]:
    """Return the command names a --help output lists under Commands."""
    listed = help_text.split("Commands:", 1)[1] if "Commands:" in help_text else ""
    return re.findall(r"^  (\S+)", listed, flags=re.MULTILINE)


def _section(page: str, path: str) -> str:
    return page.split(f"## `{path}`\n", 1)[1].split("\n## ", 1)[0]


def test_reference_has_a_section_for_every_command_help_lists() -> None:
    page = reference_markdown()
    top = _commands(_help())
    assert "new" in top and "experiment" in top
    paths = [f"plscaffold {name}" for name in top]
    paths += [f"plscaffold experiment {name}" for name in _commands(_help("experiment"))]
    assert "plscaffold experiment sweep" in paths
    for path in paths:
        assert f"## `{path}`" in page, path
    # The hidden alias `g` is not a command of its own in the reference.
    assert "## `plscaffold g`" not in page


def test_reference_shows_usage_options_defaults_and_choices_as_help_does() -> None:
    page = reference_markdown()
    new = _section(page, "plscaffold new")
    assert "plscaffold new [OPTIONS] [NAME]" in new
    assert "| `--model [cnn|mlp|gan]` |" not in new  # a table cell escapes the bars
    assert "| `--model [cnn\\|mlp\\|gan]` |" in new
    assert "[default: cnn]" in new
    compare = _section(page, "plscaffold experiment compare")
    for option in re.findall(r"^\s+(--[a-z-]+)", _help("experiment", "compare"), re.MULTILINE):
        assert f"{option}" in compare, option
    # Links from the top table reach the sections' anchors.
    assert "[`experiment`](#plscaffold-experiment)" in _section(page, "plscaffold")


def _mkdocs(config_dir: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=config_dir,
        capture_output=True,
        text=True,
    )


@pytest.mark.e2e
def test_site_builds_strictly_with_the_generated_reference(tmp_path: Path) -> None:
    done = _mkdocs(REPO, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "site" / "reference" / "index.html").read_text(encoding="utf-8")
    assert "plscaffold experiment sweep" in page
    assert (tmp_path / "site" / "cli" / "index.html").is_file()


@pytest.mark.parametrize(
    "breakage",
    [
        ("gan.md", "\n[a page](no-such-page.md)\n", "no-such-page.md"),
        ("gan.md", "\n[an anchor](cli.md#no-such-heading)\n", "#no-such-heading"),
        ("orphan.md", "# A page the navigation leaves out\n", "orphan.md"),
    ],
    ids=["missing-page", "missing-anchor", "page-not-in-nav"],
)
@pytest.mark.e2e
def test_a_broken_link_or_a_page_outside_the_navigation_fails_the_build(
    tmp_path: Path, breakage: tuple[str, str, str]
) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "docs", copy / "docs")
    shutil.copy(REPO / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "plscaffold" / "cli").mkdir(parents=True)
    shutil.copy(REPO / "plscaffold" / "cli" / "reference.py", copy / "plscaffold/cli/reference.py")
    assert _mkdocs(copy, tmp_path / "clean").returncode == 0
    name, text, named = breakage
    with (copy / "docs" / name).open("a", encoding="utf-8") as handle:
        handle.write(text)
    done = _mkdocs(copy, tmp_path / "site")
    assert done.returncode != 0
    assert named in done.stderr + done.stdout
