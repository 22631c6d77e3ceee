"""Projects made from a local template folder: ``update`` and ``generate COMPONENT`` merge as for
the bundled template."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.cli.completion import complete_component
from plscaffold.fetch import newest_version
from tests.conftest import git, make_template, tree_state

APP = "".join(f"line {n}\n" for n in range(1, 11))
VARIABLES = {
    "project_name": "x",
    "description": "hello",
    "_components": {"code": ["app.py"], "docs": ["notes.txt"]},
}


def _template(
    root: Path, app_text: str = APP, notes: str = "{{cookiecutter.description}}\n"
) -> Path:
    return make_template(
        root, {"app.py": app_text.encode(), "notes.txt": notes.encode()}, VARIABLES
    )


def _in_project(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args, "--project", str(project)])


def _context(project: Path) -> typer.Context:
    """What shell completion is given for a command line naming ``--project PROJECT``."""
    return SimpleNamespace(params={"project": str(project)})  # type: ignore[return-value]


def _made(runner: CliRunner, tmp_path: Path, template: Path | str, *args: str) -> Path:
    made = runner.invoke(app, ["new", "proj", "--template", str(template), "-o", str(tmp_path / "out"),
                               "--description", "bonjour", "--no-git", *args])  # fmt: skip
    assert made.exit_code == 0, made.output + made.stderr
    return tmp_path / "out" / "proj"


def test_update_merges_the_templates_changes_with_the_users_edits(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = _template(tmp_path / "t")
    project = _made(runner, tmp_path, template)
    assert (project / "notes.txt").read_text() == "bonjour\n"  # the recorded answer
    app_py = project / "app.py"
    app_py.write_text(APP.replace("line 1\n", "line 1, edited by the user\n"))
    _template(tmp_path / "t", APP.replace("line 10\n", "line 10, changed upstream\n"),
              "{{cookiecutter.description}}, world\n")  # fmt: skip

    before = tree_state(project)
    planned = _in_project(runner, project, "update", "--dry-run", "--json")
    assert planned.exit_code == 0, planned.output + planned.stderr
    outcomes = {f["path"]: f["outcome"] for f in json.loads(planned.output)["files"]}
    assert outcomes == {"app.py": "merged", "notes.txt": "updated"}
    assert tree_state(project) == before  # a dry run writes nothing

    updated = _in_project(runner, project, "update")
    assert updated.exit_code == 0, updated.output + updated.stderr
    merged = app_py.read_text()
    assert "line 1, edited by the user\n" in merged and "line 10, changed upstream\n" in merged
    assert (project / "notes.txt").read_text() == "bonjour, world\n"
    again = _in_project(runner, project, "update", "--dry-run", "--json")
    assert {f["outcome"] for f in json.loads(again.output)["files"]} <= {"identical", "kept"}


def test_a_conflict_gets_markers_exits_1_and_blocks_the_next_update(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = _template(tmp_path / "t")
    project = _made(runner, tmp_path, template)
    (project / "app.py").write_text(APP.replace("line 5\n", "line 5, mine\n"))
    _template(tmp_path / "t", APP.replace("line 5\n", "line 5, theirs\n"))

    conflicted = _in_project(runner, project, "update")
    assert conflicted.exit_code == 1, conflicted.output
    text = (project / "app.py").read_text()
    assert "<<<<<<<" in text and "line 5, mine" in text and "line 5, theirs" in text

    before = tree_state(project)
    blocked = _in_project(runner, project, "update")
    assert blocked.exit_code == 2 and "still holds conflict markers" in blocked.stderr
    assert tree_state(project) == before


def test_generate_re_renders_one_component_the_template_names(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = _template(tmp_path / "t")
    project = _made(runner, tmp_path, template)
    (project / "notes.txt").unlink()
    _template(tmp_path / "t", APP + "line 11\n", "{{cookiecutter.description}}, world\n")

    generated = _in_project(runner, project, "generate", "code")
    assert generated.exit_code == 0, generated.output + generated.stderr
    assert (project / "app.py").read_text().endswith("line 11\n")
    assert not (project / "notes.txt").exists()  # another component: left as it is

    unknown = _in_project(runner, project, "generate", "model")
    assert unknown.exit_code == 2 and "choose one of code, docs" in unknown.stderr


def test_a_template_with_hooks_needs_trust_again_and_its_hooks_do_not_rerun(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = _template(tmp_path / "t")
    hooks = template / "hooks"
    hooks.mkdir()
    (hooks / "post_gen_project.py").write_text(
        "from pathlib import Path\n"
        "count = Path('hook-runs.txt')\n"
        "count.write_text(str(int(count.read_text()) + 1 if count.exists() else 1))\n"
    )
    project = _made(runner, tmp_path, template, "--trust")
    assert (project / "hook-runs.txt").read_text() == "1"
    _template(tmp_path / "t", APP + "line 11\n")

    before = tree_state(project)
    refused = _in_project(runner, project, "update")
    assert refused.exit_code == 2 and "pass --trust to allow it" in refused.stderr
    for command in (["status"], ["list"]):  # they render the template too
        untrusted = _in_project(runner, project, *command)
        assert untrusted.exit_code == 2 and "pass --trust to allow it" in untrusted.stderr
        assert _in_project(runner, project, *command, "--trust").exit_code == 0
    assert tree_state(project) == before
    trusted = _in_project(runner, project, "update", "--trust")
    assert trusted.exit_code == 0, trusted.output + trusted.stderr
    assert (project / "app.py").read_text().endswith("line 11\n")
    assert (project / "hook-runs.txt").read_text() == "1"


def test_an_older_plscaffold_does_not_update_a_newer_projects_template(
    runner: CliRunner, tmp_path: Path
) -> None:
    project = _made(runner, tmp_path, _template(tmp_path / "t"))
    answers = project / ".plscaffold" / "answers.json"
    document = json.loads(answers.read_text())
    document["plscaffold_version"] = "99.0.0"
    answers.write_text(json.dumps(document))

    refused = _in_project(runner, project, "update")
    assert refused.exit_code == 2 and "newer than this" in refused.stderr


def _release(repo: Path, app_text: str, tag: str | None) -> str:
    """Commit the template with this app.py (and a tag); return the commit."""
    _template(repo, app_text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"app {tag}")
    if tag:
        git(repo, "tag", tag)
    return git(repo, "rev-parse", "HEAD")


def test_a_git_template_records_its_commit_and_updates_to_its_newest_tag(
    runner: CliRunner, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    first = _release(repo, APP, "v1.0")
    second = _release(repo, APP + "line 11\n", "v1.10")  # newer than v1.9 by version order
    _release(repo, APP + "line 11\nline 12\n", "v1.9")
    _release(repo, APP + "unreleased\n", None)
    source = f"git+file://{repo}"

    project = _made(runner, tmp_path, source, "--checkout", "v1.0")
    answers = json.loads((project / ".plscaffold" / "answers.json").read_text())
    assert answers["template"] == source and answers["template_commit"] == first
    (project / "app.py").write_text(APP.replace("line 1\n", "line 1, mine\n"))

    updated = _in_project(runner, project, "update")
    assert updated.exit_code == 0, updated.output + updated.stderr
    assert (project / "app.py").read_text() == APP.replace(
        "line 1\n", "line 1, mine\n"
    ) + "line 11\n"
    answers = json.loads((project / ".plscaffold" / "answers.json").read_text())
    assert answers["template_commit"] == second  # v1.10, not the untagged commit

    before = tree_state(project)
    back = _in_project(runner, project, "update", "--checkout", "v1.0")
    assert (
        back.exit_code == 2
        and "is older than the commit this project was rendered from" in back.stderr
    )
    assert tree_state(project) == before
    forced = _in_project(runner, project, "update", "--checkout", "v1.0", "--force")
    assert forced.exit_code == 0, forced.output + forced.stderr
    assert not (project / "app.py").read_text().endswith("line 11\n")

    on_main = _in_project(runner, project, "update", "--checkout", "main")
    assert on_main.exit_code == 0, on_main.output + on_main.stderr
    assert (project / "app.py").read_text().endswith("unreleased\n")


def test_checkout_values_are_never_options_and_need_a_repository(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = _template(tmp_path / "t")
    as_option = runner.invoke(app, ["new", "proj", "--template", str(folder), "--checkout=--upload-pack=touch /tmp/x",
                                    "-o", str(tmp_path / "out")])  # fmt: skip
    assert as_option.exit_code == 2 and "starts with '-'" in as_option.stderr
    on_folder = runner.invoke(app, ["new", "proj", "--template", str(folder), "--checkout", "v1",
                                    "-o", str(tmp_path / "out")])  # fmt: skip
    assert on_folder.exit_code == 2 and "is a folder, rendered as it is" in on_folder.stderr
    alone = runner.invoke(app, ["new", "proj", "--checkout", "v1", "-o", str(tmp_path / "out")])
    assert (
        alone.exit_code == 2
        and "--checkout picks a commit of a --template repository" in alone.stderr
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("tags", "newest"),
    [
        (["v1.0.0rc1", "v1.0.0"], "v1.0.0"),  # a final release after its pre-release
        (["v1.0.0", "v1.0.0rc1"], "v1.0.0"),
        (["1.9", "1.10", "1.10b2"], "1.10"),
        (["v2.0.0rc1", "v1.5"], "v1.5"),  # pre-releases count only without a final one
        (["v2.0.0a1", "v2.0.0rc1"], "v2.0.0rc1"),
        (["nightly", "v0.3", "release-candidate"], "v0.3"),  # no version: left out
        (["nightly"], None),
    ],
)
def test_the_newest_tag_is_chosen_as_pip_orders_versions(
    tags: list[str], newest: str | None
) -> None:
    assert newest_version(tags) == newest


def test_status_and_list_work_on_a_project_of_a_template_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = _template(tmp_path / "t")
    project = _made(runner, tmp_path, template)

    listed = _in_project(runner, project, "list")
    assert listed.exit_code == 0, listed.output + listed.stderr
    assert listed.output == "code:\n  app.py\ndocs:\n  notes.txt\n"
    assert complete_component(_context(project), "") == ["code", "docs"]
    current = _in_project(runner, project, "status", "--check")
    assert current.exit_code == 0, current.output + current.stderr
    where = f"in {template.resolve()}"
    assert current.output == (
        f"Current: template unversioned here, unversioned {where}; an update would change "
        "nothing.\n"
    )

    (project / "app.py").write_text(APP.replace("line 1\n", "line 1, mine\n"))
    _template(tmp_path / "t", APP.replace("line 10\n", "line 10, theirs\n"))
    status = _in_project(runner, project, "status")
    assert status.exit_code == 0, status.output + status.stderr
    assert f"Template: unversioned here, unversioned {where}.\n" in status.output
    assert "An update would change 1 file(s); no conflicts expected.\n" in status.output
    assert "  app.py: modified, update changes it\n" in status.output
    behind = _in_project(runner, project, "status", "--check")
    assert behind.exit_code == 1
    assert behind.output == "Not current: an update would change 1 file(s).\n"

    assert _in_project(runner, project, "update").exit_code == 0
    assert _in_project(runner, project, "status", "--check").exit_code == 0


def test_status_check_compares_a_git_template_project_with_the_newest_tag(
    runner: CliRunner, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    first = _release(repo, APP, "v1.0")
    source = f"git+file://{repo}"
    project = _made(runner, tmp_path, source)
    assert _in_project(runner, project, "status", "--check").exit_code == 0
    second = _release(repo, APP + "line 11\n", "v1.1")

    behind = _in_project(runner, project, "status", "--check")
    assert behind.exit_code == 1
    assert behind.output == (
        f"Not current: template unversioned (commit {first[:12]}) here, unversioned "
        f"(commit {second[:12]}) in {source}; an update would change 1 file(s).\n"
    )
    listed = _in_project(runner, project, "list")
    assert listed.exit_code == 0 and "code:\n  app.py\n" in listed.output
    assert complete_component(_context(project), "") == []  # a TAB fetches nothing


def test_an_edited_file_the_template_did_not_change_is_kept_whether_config_or_readme(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = "seed: 1\nx: 0\ny: 0\nlr: 0.1\n"

    def version(number: str, migrations: list[dict[str, object]]) -> None:
        variables = {"project_name": "x", "description": "hello", "_template_version": number,
                     "_migrations": migrations}  # fmt: skip
        make_template(tmp_path / "t", {"configs/default.yaml": config.encode(),
                                       "README.md": b"# readme\n"}, variables)  # fmt: skip

    version("1.0.0", [])
    project = _made(runner, tmp_path, tmp_path / "t")
    (project / "configs" / "default.yaml").write_text(config.replace("lr: 0.1", "lr: 0.5"))
    (project / "README.md").write_text("# readme\nmine\n")
    # 1.1.0 drops `seed` from configs, yet renders it as before: the merge puts it back,
    # and each file the user edited stays as it is.
    version("1.1.0", [{"version": "1.1.0", "dropped_keys": ["seed"]}])
    before = tree_state(project)

    planned = _in_project(runner, project, "update", "--dry-run", "--json")

    assert planned.exit_code == 0, planned.output + planned.stderr
    outcomes = {f["path"]: f["outcome"] for f in json.loads(planned.output)["files"]}
    assert outcomes == {"configs/default.yaml": "kept", "README.md": "kept"}
    assert tree_state(project) == before
