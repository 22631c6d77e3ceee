"""``plscaffold update``, ``status`` and ``list`` on real projects."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from plscaffold import __version__
from plscaffold.cli import app
from tests.conftest import git, outcome_of, tree_state

MAIN = "src/proj/__main__.py"


def _as_if_generated_by_an_older_template(project: Path, relpath: str, old: str) -> None:
    """Make ``relpath`` and its pristine copy what an older template rendered."""
    for path in (project / relpath, project / ".plscaffold" / "pristine" / relpath):
        mode = path.stat().st_mode
        path.write_text(old)
        path.chmod(mode)


def _update(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    """Run ``update --json``: each file's outcome is read from its plan."""
    return runner.invoke(app, ["update", "--json", "--project", str(project), *args])


def test_update_brings_in_template_changes_and_keeps_edits(
    runner: CliRunner, project: Path
) -> None:
    new_main = (project / MAIN).read_text()
    _as_if_generated_by_an_older_template(project, MAIN, '"""Old entry."""\n\nOLD = 1\n')
    readme = project / "README.md"
    old_readme = readme.read_text().replace("## Install", "## Installation")
    _as_if_generated_by_an_older_template(project, "README.md", old_readme)
    readme.write_text(old_readme + "\n## Results\n\nMine.\n")
    answers_path = project / ".plscaffold" / "answers.json"
    document = json.loads(answers_path.read_text())
    answers_path.write_text(json.dumps({**document, "plscaffold_version": "0.0.1"}))

    result = _update(runner, project)

    assert result.exit_code == 0, result.output
    assert outcome_of(result, MAIN) == "updated"
    assert outcome_of(result, "README.md") == "merged"
    assert outcome_of(result, "src/proj/model.py") == "identical"
    assert (project / MAIN).read_text() == new_main
    merged = readme.read_text()
    assert "## Install and test\n" in merged and merged.endswith("\n## Results\n\nMine.\n")
    assert json.loads(answers_path.read_text())["plscaffold_version"] == __version__


def test_update_keeps_executable_bits_and_user_files(runner: CliRunner, project: Path) -> None:
    _as_if_generated_by_an_older_template(project, MAIN, "OLD = 1\n")
    (project / MAIN).chmod(0o755)
    slurm = "scripts/slurm.sbatch"
    _as_if_generated_by_an_older_template(project, slurm, "#!/bin/bash\necho old\n")
    blob = project / "data" / "weights.bin"
    blob.parent.mkdir()
    blob.write_bytes(bytes(range(256)))
    latin = project / "notes.txt"
    latin.write_bytes("Grüße\n".encode("latin-1"))

    result = _update(runner, project)

    assert result.exit_code == 0, result.output
    assert outcome_of(result, MAIN) == "updated"
    assert (project / MAIN).stat().st_mode & 0o777 == 0o755
    assert outcome_of(result, slurm) == "updated"
    assert (project / slurm).stat().st_mode & 0o777 == 0o755  # the template's executable bit
    assert "srun proj fit" in (project / slurm).read_text()
    assert blob.read_bytes() == bytes(range(256))
    assert latin.read_bytes() == "Grüße\n".encode("latin-1")


def test_files_the_template_dropped_are_removed_unless_edited(
    runner: CliRunner, project: Path
) -> None:
    for name, text in (("old_a.py", "A = 1\n"), ("old_b.py", "B = 1\n")):
        (project / name).write_text(text)
        (project / ".plscaffold" / "pristine" / name).write_text(text)
    (project / "old_b.py").write_text("B = 2  # mine\n")

    result = _update(runner, project)

    assert result.exit_code == 0, result.output
    assert outcome_of(result, "old_a.py") == "removed"
    assert outcome_of(result, "old_b.py") == "orphaned"
    assert not (project / "old_a.py").exists()
    assert (project / "old_b.py").read_text() == "B = 2  # mine\n"
    assert not (project / ".plscaffold" / "pristine" / "old_a.py").exists()


def test_a_dirty_git_tree_is_refused_unless_allowed(runner: CliRunner, project: Path) -> None:
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    (project / "src" / "proj" / "model.py").write_text("# work in progress\n")
    before = tree_state(project)

    refused = _update(runner, project)

    assert refused.exit_code == 2
    assert "has uncommitted changes (src/proj/model.py)" in refused.stderr
    assert "--allow-dirty" in refused.stderr
    assert tree_state(project) == before

    allowed = _update(runner, project, "--allow-dirty")
    assert allowed.exit_code == 0, allowed.output
    assert outcome_of(allowed, "src/proj/model.py") == "kept"


def test_a_clean_git_tree_updates(runner: CliRunner, project: Path) -> None:
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")

    result = _update(runner, project)

    assert result.exit_code == 0, result.output


def test_update_dry_run_writes_nothing(runner: CliRunner, project: Path) -> None:
    _as_if_generated_by_an_older_template(project, MAIN, "OLD = 1\n")
    before = tree_state(project)

    result = runner.invoke(app, ["update", "--dry-run", "--project", str(project)])

    assert result.exit_code == 0, result.output
    assert f"--- a/{MAIN}\n+++ b/{MAIN}\n" in result.output
    assert "\n-OLD = 1\n" in result.output
    assert tree_state(project) == before


def test_status_lists_modified_deleted_and_outdated_files(runner: CliRunner, project: Path) -> None:
    from plscaffold.api import project_status

    clean = runner.invoke(app, ["status", "--project", str(project)])
    assert clean.exit_code == 0
    assert "Every generated file is as plscaffold rendered it" in clean.output
    assert project_status(project).files == []

    (project / "src" / "proj" / "model.py").write_text("# mine\n")
    (project / "tests" / "test_model.py").unlink()
    _as_if_generated_by_an_older_template(project, MAIN, "OLD = 1\n")

    found = {status.relpath: status for status in project_status(project).files}
    printed = runner.invoke(app, ["status", "--project", str(project)])

    assert sorted(found) == sorted(["src/proj/model.py", "tests/test_model.py", MAIN])
    model, deleted, main = found["src/proj/model.py"], found["tests/test_model.py"], found[MAIN]
    assert (model.modified, model.deleted, model.update_changes) == (True, False, False)
    assert (deleted.modified, deleted.deleted, deleted.update_changes) == (False, True, False)
    assert (main.modified, main.deleted, main.update_changes) == (False, False, True)
    assert printed.exit_code == 0
    assert "  src/proj/model.py: modified\n" in printed.output  # the line a user reads


def test_list_shows_components_and_their_files(runner: CliRunner, project: Path) -> None:
    from plscaffold.api import project_components

    components = project_components(project)
    printed = runner.invoke(app, ["list", "--project", str(project)])

    assert components["model"][0] == "src/proj/model.py"
    assert components["trainer"][:2] == ["src/proj/cli.py", "src/proj/__main__.py"]
    assert components["config"][0] == "configs/default.yaml"
    assert {"datamodule", "tests", "readme", "packaging"} <= set(components)
    assert printed.exit_code == 0
    assert "model:\n  src/proj/model.py\n" in printed.output  # the listing a user reads


def test_every_generated_file_belongs_to_exactly_one_component(project: Path) -> None:
    from plscaffold.api import project_components

    components = project_components(project)
    owned = [relpath for relpaths in components.values() for relpath in relpaths]
    generated = sorted(
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and ".plscaffold" not in p.parts
    )

    assert sorted(owned) == generated


def test_generate_refuses_a_dirty_project_but_not_a_dirty_repository(
    runner: CliRunner, tmp_path: Path
) -> None:
    from plscaffold.api import new_project, project_options

    repo = tmp_path / "monorepo"
    project = new_project(project_options("proj"), output_dir=repo).project_abspath
    (repo / "other-service").mkdir()
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "generated")
    (repo / "other-service" / "notes.txt").write_text("work in progress\n")

    unrelated = runner.invoke(app, ["generate", "config", "--gpus", "1", "--project", str(project)])
    assert unrelated.exit_code == 0, unrelated.output + unrelated.stderr

    (project / "notes.md").write_text("mine\n")
    before = tree_state(project)
    dirty = runner.invoke(app, ["generate", "config", "--gpus", "2", "--project", str(project)])
    assert dirty.exit_code == 2
    assert "uncommitted changes" in dirty.stderr and "--allow-dirty" in dirty.stderr
    assert tree_state(project) == before
    allowed = runner.invoke(
        app, ["generate", "config", "--gpus", "2", "--allow-dirty", "--project", str(project)]
    )
    assert allowed.exit_code == 0, allowed.output + allowed.stderr


def test_an_update_by_an_older_plscaffold_is_refused_unless_forced(
    runner: CliRunner, project: Path
) -> None:
    answers_path = project / ".plscaffold" / "answers.json"
    document = json.loads(answers_path.read_text())
    document["plscaffold_version"] = "99.0.0"
    answers_path.write_text(json.dumps(document))
    before = tree_state(project)

    refused = _update(runner, project)
    forced = _update(runner, project, "--force")

    assert refused.exit_code == 2
    assert "written by plscaffold 99.0.0, newer than this" in refused.stderr
    assert "--force" in refused.stderr
    assert forced.exit_code == 0, forced.output + forced.stderr
    assert tree_state(project) != before


def test_status_says_a_conflict_resolved_against_the_answers_differs(
    runner: CliRunner, project: Path
) -> None:
    config = project / "configs" / "default.yaml"
    original = config.read_text()
    config.write_text(original.replace("networks.ConvNet\n", "networks.convnet.ConvNet\n"))
    conflict = runner.invoke(
        app, ["generate", "config", "--model", "mlp", "--project", str(project)]
    )
    assert conflict.exit_code == 1
    config.write_text(original)  # resolved by keeping the ConvNet the answers no longer name

    status = runner.invoke(app, ["status", "--project", str(project)])

    assert "configs/default.yaml: modified" in status.output


def _check(runner: CliRunner, project: Path):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["status", "--check", "--project", str(project)])


def test_status_check_exits_0_when_current_and_1_with_the_reason_in_one_line(
    runner: CliRunner, project: Path
) -> None:
    from plscaffold.api import project_status

    installed = project_status(project).installed_version
    current = _check(runner, project)
    assert current.exit_code == 0, current.output + current.stderr
    assert current.output == (
        f"Current: template {installed} here, {installed} installed; an update would change "
        "nothing.\n"
    )
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\nMine.\n")  # the user's edit alone: still current
    assert _check(runner, project).exit_code == 0

    # The template changed the line the user changed: an update would conflict there.
    text = readme.read_text()
    _as_if_generated_by_an_older_template(
        project, "README.md", text.replace("## Install and test", "## Installing")
    )
    readme.write_text(text.replace("## Install and test", "## Install (mine)"))
    before = tree_state(project)
    behind = _check(runner, project)
    assert behind.exit_code == 1, behind.output + behind.stderr
    assert behind.output == (
        "Not current: an update would change 1 file(s); conflicts expected in README.md.\n"
    )
    planned = runner.invoke(app, ["update", "--dry-run", "--project", str(project)])
    assert planned.exit_code == 0, planned.output + planned.stderr  # a dry run still exits 0
    assert "Conflicts expected in README.md: a real run exits 1" in planned.output
    assert tree_state(project) == before

    answers_path = project / ".plscaffold" / "answers.json"
    document = json.loads(answers_path.read_text())
    answers_path.write_text(json.dumps({**document, "template_version": "0.0.1"}))
    older = _check(runner, project)
    assert older.exit_code == 1 and len(older.output.splitlines()) == 1
    assert older.output.startswith(f"Not current: template 0.0.1 here, {installed} installed; ")

    readme.write_text("<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> template\n")
    refused = _check(runner, project)
    assert refused.exit_code == 1 and len(refused.output.splitlines()) == 1
    assert "an update would refuse: README.md still holds conflict markers" in refused.output
