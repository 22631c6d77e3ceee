"""Template versions and changelogs, and what ``status`` and ``update`` tell a user."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.errors import TemplateError
from plscaffold.templates import bundled_project_template
from plscaffold.versions import read_changelog, template_version
from tests.conftest import make_template, outcome_of, tree_state

ANSWERS = Path(".plscaffold") / "answers.json"
CLI = "src/proj/cli.py"


def _in(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args, "--project", str(project)])


def _unversioned(project: Path) -> None:
    """Make the answers file one written before template versions."""
    document = json.loads((project / ANSWERS).read_text())
    del document["template_version"]
    (project / ANSWERS).write_text(json.dumps(document))


def _as_if_rendered_older(project: Path, relpath: str, text: str) -> None:
    for path in (project / relpath, project / ".plscaffold" / "pristine" / relpath):
        path.write_text(text)


def test_a_new_project_records_the_bundled_templates_version(project: Path) -> None:
    version = template_version(bundled_project_template())
    assert version is not None
    assert json.loads((project / ANSWERS).read_text())["template_version"] == version


def test_update_from_before_versions_prints_the_changelog_and_records_the_version(
    runner: CliRunner, project: Path
) -> None:
    _unversioned(project)
    _as_if_rendered_older(project, CLI, "OLD = 1\n")
    version = template_version(bundled_project_template())
    newest = read_changelog(bundled_project_template())[0]

    as_json = _in(runner, project, "update", "--dry-run", "--json")
    printed = _in(runner, project, "update")

    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    # Its pristine copies show no layout older than 1.0.0's (that of a new project).
    assert document["template_version"] == {"from": None, "to": version, "layout": "1.0.0"}
    assert document["changelog"][0] == {"version": newest.version, "text": newest.text}
    assert "1.0.0" not in [entry["version"] for entry in document["changelog"]]
    assert printed.exit_code == 0, printed.output
    assert (
        f"Template (made before template versions, in 1.0.0's layout) -> {version}"
        in printed.output
    )
    assert f"\n## {newest.version}\n\n{newest.text}\n" in printed.output
    assert json.loads((project / ANSWERS).read_text())["template_version"] == version


def test_update_with_nothing_to_do_prints_one_line(runner: CliRunner, project: Path) -> None:
    result = _in(runner, project, "update")

    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert "nothing to change" in result.output


def test_status_compares_versions_and_foresees_writes_and_conflicts(
    runner: CliRunner, project: Path
) -> None:
    from plscaffold.api import project_status

    _unversioned(project)
    _as_if_rendered_older(project, CLI, "OLD = 1\n")  # an update replaces it
    readme = project / "README.md"
    text = readme.read_text()
    first = text.splitlines()[0]
    _as_if_rendered_older(project, "README.md", text.replace(first, "# old title", 1))
    readme.write_text(text.replace(first, "# my title", 1))  # both changed the same line

    status = project_status(project)
    printed = _in(runner, project, "status")

    assert status.template_version is None
    assert status.installed_version == template_version(bundled_project_template())
    assert sorted(status.update_writes) == ["README.md", CLI]
    assert status.update_conflicts == ("README.md",)
    assert printed.exit_code == 0, printed.output
    assert (
        f"Template: from before template versions here, {status.installed_version} installed.\n"
        "An update would change 2 file(s); conflicts expected in README.md.\n"
    ) in printed.output


def test_a_file_deleted_by_the_user_reads_as_kept_deleted(runner: CliRunner, project: Path) -> None:
    (project / "tests" / "test_model.py").unlink()

    result = _in(runner, project, "generate", "tests")

    assert result.exit_code == 0, result.output
    assert "  kept deleted (by you)  tests/test_model.py\n" in result.output


def _versioned_template(root: Path, version: str, files: dict[str, str], changelog: str) -> Path:
    variables = {"project_name": "x", "_template_version": version}
    make_template(root, {name: text.encode() for name, text in files.items()}, variables)
    (root / "CHANGELOG.md").write_text(changelog)
    return root


CHANGELOG = """# Changes

## 1.2.0

Not released yet.

## 1.1.0

Foo moved to b.py.\x1b[2J

## 1.0.0

First.
"""
A_V1 = "import os\n\n\nclass Foo:\n    size = 1\n\n\nclass Bar:\n    pass\n"
A_V2 = "import os\n\n\nclass Bar:\n    pass\n"
B_V2 = "class Foo:\n    size = 1\n"


def test_a_user_templates_changelog_moved_code_and_orphans_are_told(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = tmp_path / "t"
    _versioned_template(template, "1.0.0", {"a.py": A_V1, "old.txt": "old\n"}, CHANGELOG)
    made = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path), "--no-git"]
    )
    assert made.exit_code == 0, made.output
    project = tmp_path / "proj"
    assert json.loads((project / ANSWERS).read_text())["template_version"] == "1.0.0"
    mine = "size = 2  # mine\n\n    def mine(self) -> int:\n        return 2"
    (project / "a.py").write_text(A_V1.replace("size = 1", mine))
    (project / "old.txt").write_text("old, edited\n")
    (template / "{{cookiecutter.project_name}}" / "old.txt").unlink()
    _versioned_template(template, "1.1.0", {"a.py": A_V2, "b.py": B_V2}, CHANGELOG)

    as_json = _in(runner, project, "update", "--dry-run", "--json")
    result = _in(runner, project, "update")

    assert as_json.exit_code == 0, as_json.output
    assert outcome_of(as_json, "a.py") == "conflict"
    assert outcome_of(as_json, "old.txt") == "orphaned"
    assert [e["version"] for e in json.loads(as_json.stdout)["changelog"]] == ["1.1.0"]
    assert result.exit_code == 1, result.output
    assert "Template 1.0.0 -> 1.1.0; what changed, from its changelog:" in result.output
    assert "\n## 1.1.0\n\nFoo moved to b.py.[2J\n" in result.output  # its escape removed
    assert "\x1b" not in result.output
    assert "1.2.0" not in result.output and "## 1.0.0" not in result.output
    assert "  orphaned (kept, untracked)  old.txt\n" in result.output
    assert "Orphaned: the template no longer has old.txt." in result.output
    assert (
        "In a.py the template removed lines you had edited (a conflict with an empty template "
        "side): class Foo is now in b.py."
    ) in result.stderr
    assert "mine" not in result.stderr  # the user's own function went nowhere
    assert (project / "old.txt").read_text() == "old, edited\n"
    assert json.loads((project / ANSWERS).read_text())["template_version"] == "1.1.0"


@pytest.mark.parametrize(
    ("version", "changelog", "message"),
    [
        ("soon", "", "_template_version 'soon' is not a version"),
        ("1.1.0", "## 1.1.0\n\nok\n\n## next\n\nlater\n", "'next' is not a version"),
    ],
)
def test_a_template_with_a_bad_version_or_changelog_is_refused_by_name(
    runner: CliRunner, tmp_path: Path, version: str, changelog: str, message: str
) -> None:
    template = _versioned_template(tmp_path / "t", "1.0.0", {"a.py": "a\n"}, "")
    made = runner.invoke(app, ["new", "proj", "--template", str(template), "-o", str(tmp_path)])
    assert made.exit_code == 0, made.output
    _versioned_template(tmp_path / "t", version, {"a.py": "b\n"}, changelog)
    project = tmp_path / "proj"
    before = tree_state(project)

    result = _in(runner, project, "update")

    assert result.exit_code == TemplateError.exit_code, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert tree_state(project) == before


def test_an_answers_file_with_a_bad_template_version_is_refused(
    runner: CliRunner, project: Path
) -> None:
    document = json.loads((project / ANSWERS).read_text())
    (project / ANSWERS).write_text(json.dumps({**document, "template_version": "x" * 100}))

    result = _in(runner, project, "status")

    assert result.exit_code == 2
    assert "is not a readable answers file (template_version 'xxxxxxxxx" in result.stderr


def test_status_says_an_update_would_refuse_a_file_with_conflict_markers(
    runner: CliRunner, project: Path
) -> None:
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "<<<<<<< yours\nmine\n=======\n>>>>>>> template\n")

    printed = _in(runner, project, "status")

    assert printed.exit_code == 0, printed.output
    assert "An update would refuse: README.md still holds conflict markers" in printed.output
    assert "  README.md: modified, conflict markers\n" in printed.output


HISTORY = Path(__file__).parent / "fixtures" / "history"
SCRATCH = "/scratch/ckpts"


def _old_project(tmp_path: Path, name: str) -> Path:
    """Extract a project an earlier plscaffold made and a user lived in (see test_history)."""
    import tarfile

    with tarfile.open(HISTORY / f"{name}.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    return tmp_path / "proj"


def _set_checkpoint_dirpath(project: Path, old: str) -> None:
    """Set ``checkpoint.dirpath`` as a user does: in the defaults and in an experiment."""
    default = project / "configs" / "default.yaml"
    text = default.read_text()
    assert f"  dirpath: {old}\n" in text
    default.write_text(text.replace(f"  dirpath: {old}\n", f"  dirpath: {SCRATCH}\n", 1))
    experiment = project / "configs" / "experiments" / "wider.yaml"
    text = experiment.read_text()
    if "checkpoint:" not in text:
        experiment.write_text(text + f"checkpoint:\n  dirpath: {SCRATCH}/wider\n")


def _dirpath(project: Path, relpath: str) -> object:
    import yaml

    return yaml.safe_load((project / relpath).read_text()).get("checkpoint", {}).get("dirpath")


def test_a_lean_project_made_before_versions_keeps_its_checkpoint_dirpath(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Made at cf73c69 (the lean layout, before template versions): the migration for the
    first layout is not its own, so nothing it set is dropped and its changelog starts after
    1.0.0, whose rendering its own is."""
    from plscaffold.api import project_status

    project = _old_project(tmp_path, "lean")
    _set_checkpoint_dirpath(project, "null")
    version = template_version(bundled_project_template())
    after_1_0_0 = [e.version for e in read_changelog(bundled_project_template())][:-1]

    foreseen = project_status(project)
    planned = _in(runner, project, "update", "--dry-run", "--json")
    result = _in(runner, project, "update")

    # 1.1.0 changed lines of default.yaml it left alone (the optimizer, the callbacks).
    assert "configs/default.yaml" in foreseen.update_writes
    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.stdout)
    assert document["template_version"] == {"from": None, "to": version, "layout": "1.0.0"}
    assert [entry["version"] for entry in document["changelog"]] == after_1_0_0
    assert "migrated_values" not in document and "moves" not in document
    assert document["unloadable_checkpoints"] == {}
    assert outcome_of(planned, "configs/default.yaml") == "merged"
    # Conflicts where 1.1.0 rewrote what the user edited: the optimizer, and its tests.
    assert set(document["conflicts"]) == {"src/proj/model.py", "tests/test_model.py"}
    assert result.exit_code == 1, result.output
    assert f"Template (made before template versions, in 1.0.0's layout) -> {version}" in (
        result.output
    )
    assert "\n## 1.0.0\n" not in result.output and "models/" not in result.output
    assert _dirpath(project, "configs/default.yaml") == SCRATCH
    assert _dirpath(project, "configs/experiments/wider.yaml") == f"{SCRATCH}/wider"
    assert json.loads((project / ANSWERS).read_text())["template_version"] == version


def test_a_first_layout_project_gets_its_migration_and_is_told_each_value_it_drops(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Made at 1d00543 (the first layout): 1.0.0's migration is its own. The dirpath the
    user set in the defaults goes, as the migration says, and so do the experiment's; the
    output names each file, key and old value."""
    project = _old_project(tmp_path, "first-layout")
    _set_checkpoint_dirpath(project, "checkpoints")

    planned = _in(runner, project, "update", "--dry-run")
    result = _in(runner, project, "update", "--json")

    assert planned.exit_code == 0, planned.output
    assert (
        f"configs/default.yaml: the template's migrations move or remove values you set: "
        f"checkpoint.dirpath: {SCRATCH} (removed). Set a removed one again where you still "
        "want it.\n"
    ) in planned.output
    assert (
        "configs/experiments/wider.yaml: the template's migrations move or remove values you "
        "set: model.init_args.hidden_dim: 16 (moved to model.init_args.net.init_args.hidden_dim);"
        " checkpoint.dirpath: checkpoints/wider (removed)."
    ) in planned.output
    assert "Template (made before template versions) -> " in planned.output
    assert "\n## 1.0.0\n" in planned.output
    assert result.exit_code == 1, result.output  # conflicts, as test_history resolves them
    document = json.loads(result.stdout)
    assert document["template_version"]["layout"] is None
    assert document["moves"]["src/proj/models/wide.py"] == "src/proj/networks/wide.py"
    assert document["migrated_values"] == {
        "configs/default.yaml": [{"key": "checkpoint.dirpath", "value": SCRATCH, "moved_to": None}],
        "configs/experiments/wider.yaml": [
            {
                "key": "model.init_args.hidden_dim",
                "value": "16",
                "moved_to": "model.init_args.net.init_args.hidden_dim",
            },
            {"key": "checkpoint.dirpath", "value": "checkpoints/wider", "moved_to": None},
        ],
    }
    assert _dirpath(project, "configs/default.yaml") is None
    assert _dirpath(project, "configs/experiments/wider.yaml") is None
