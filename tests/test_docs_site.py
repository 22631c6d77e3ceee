"""The docs site: mkdocs builds it strictly, and its CLI reference is the program's own help."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mkdocs_hooks.cli_reference import _cell, reference_markdown

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
    # A bar inside a code span stays as typed: Python-Markdown splits no cell there, and
    # would show a backslash put before it.
    assert "| `--model [cnn|mlp|gan]` |" in new
    assert "[default: cnn]" in new
    compare = _section(page, "plscaffold experiment compare")
    for option in re.findall(r"^\s+(--[a-z-]+)", _help("experiment", "compare"), re.MULTILINE):
        assert f"{option}" in compare, option
    # Links from the top table reach the sections' anchors.
    assert "[`experiment`](#plscaffold-experiment)" in _section(page, "plscaffold")


def test_a_table_cell_escapes_the_bars_outside_its_code_spans_only() -> None:
    assert _cell("`a|b` or c|d") == "`a|b` or c\\|d"
    assert _cell("`--model [cnn|mlp]`") == "`--model [cnn|mlp]`"


def test_the_readme_names_every_dependency_plscaffold_installs() -> None:
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    listed = pyproject.split("\ndependencies = [", 1)[1].split("\n]", 1)[0]
    names = re.findall(r'^\s*"([A-Za-z0-9_.-]+)', listed, flags=re.MULTILINE)
    assert len(names) >= 5
    said = (REPO / "README.md").read_text(encoding="utf-8").split("plscaffold itself needs only")[1]
    sentence = said.split(":", 1)[0].lower()
    assert [name for name in names if name.lower() not in sentence] == []


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
    # No page shows a backslash before a bar in its code (a table cell's escape, kept).
    for built in (tmp_path / "site").glob("*/index.html"):
        codes = re.findall(r"<code>(.*?)</code>", built.read_text(encoding="utf-8"), re.DOTALL)
        assert not [code for code in codes if "\\|" in code], built


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
    shutil.copytree(REPO / "mkdocs_hooks", copy / "mkdocs_hooks")
    assert _mkdocs(copy, tmp_path / "clean").returncode == 0
    name, text, named = breakage
    with (copy / "docs" / name).open("a", encoding="utf-8") as handle:
        handle.write(text)
    done = _mkdocs(copy, tmp_path / "site")
    assert done.returncode != 0
    assert named in done.stderr + done.stdout
