"""One boundary that no template, migration or journal crosses: a template cannot write
plscaffold's state or git's, a journal is replayed only as plscaffold writes it, a move never
overwrites, and a folder that becomes a file is planned, not half made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import git, make_template, new_from_template, tree_state

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

JOURNAL = Path(".plscaffold") / "journal.json"
STAGED = ".{}.0123456789ab.plscaffold-tmp"  # the name plscaffold stages a file's content under


def _in(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args, "--project", str(project)])


def _gitdir_files(marker: Path) -> dict[str, bytes]:
    """A folder that is a git repository, once renamed ``.git``, whose config runs ``touch``."""
    config = f"[core]\n\trepositoryformatversion = 0\n\tfsmonitor = touch {marker}\n"
    return {
        "gitdir/HEAD": b"ref: refs/heads/main\n",
        "gitdir/config": config.encode(),
        "gitdir/objects/.keep": b"",
        "gitdir/refs/heads/.keep": b"",
    }


@pytest.mark.parametrize("trust", [(), ("--trust",)], ids=["untrusted", "trusted"])
def test_a_template_that_ships_a_journal_is_refused_by_name(
    runner: CliRunner, tmp_path: Path, trust: tuple[str, ...]
) -> None:
    marker = tmp_path / "PWNED"
    journal = {"phase": "commit", "steps": [["gitdir", ".git"], [None, "notes.txt"]]}
    files = {
        ".plscaffold/journal.json": json.dumps(journal).encode(),
        "README.md": b"# {{ cookiecutter.project_name }}\n",
        **_gitdir_files(marker),
    }
    template = make_template(tmp_path / "t", files, {"project_name": "x"})
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, template, out, *trust)

    assert result.exit_code == 2, result.output
    assert "'.plscaffold/journal.json', inside .plscaffold/" in result.stderr
    assert result.stderr.count("\n") == 1
    assert list(out.iterdir()) == []
    assert not marker.exists()


@pytest.mark.parametrize(
    ("files", "variables", "named"),
    [
        ({".PLScaffold/answers.json": b"{}"}, {}, ".PLScaffold/answers.json"),
        ({"sub/.plscaffold/answers.json": b"{}"}, {}, "sub/.plscaffold/answers.json"),
        ({"{{ cookiecutter.where }}/pristine/README.md": b"x"}, {"where": ".plscaffold"},
         ".plscaffold/pristine/README.md"),
        ({".plscaffold": b"a file in the folder's place"}, {}, "'.plscaffold'"),
    ],
    ids=["upper-case", "deeper", "from-a-variable", "a-file"],
)  # fmt: skip
def test_every_spelling_of_the_state_folder_is_refused(
    runner: CliRunner,
    tmp_path: Path,
    files: dict[str, bytes],
    variables: dict[str, object],
    named: str,
) -> None:
    template = make_template(
        tmp_path / "t", {"ok.txt": b"ok\n", **files}, {"project_name": "x", **variables}
    )

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 2, result.output
    assert named in result.stderr and "plscaffold keeps its own record" in result.stderr
    assert not (tmp_path / "proj").exists()


@pytest.mark.parametrize(
    "name",
    [".git.", ".git ", ".g\u200cit", ".gi\ufefft", "GIT~1", ".git::$INDEX_ALLOCATION",
     ".plscaffold.", ".pl\u017fcaffold", "PLSCAF~1"],
)  # fmt: skip
def test_a_name_another_file_system_reads_as_reserved_is_refused(name: str) -> None:
    """On NTFS (trailing dots and spaces, streams, 8.3 names) or HFS+ (ignored code points,
    Unicode case folding) these are ``.git`` and ``.plscaffold``; a clone there would see one."""
    from plscaffold.errors import UnsafePathError
    from plscaffold.paths import check_rendered_relpath, project_path

    with pytest.raises(UnsafePathError, match="inside"):
        check_rendered_relpath(f"{name}/config", "t")
    with pytest.raises(UnsafePathError, match="belongs to"):
        project_path(Path("/nowhere"), f"src/{name}/config")


@pytest.mark.parametrize("name", [".github", ".gitignore", "git", ".g\u0131t", "plscaffold", "a:b"])
def test_names_that_only_look_reserved_are_written(name: str) -> None:
    from plscaffold.paths import check_rendered_relpath

    assert check_rendered_relpath(f"{name}/x", "t") == f"{name}/x"


@pytest.mark.parametrize("folder", [".git", ".plscaffold", ".Git"])
def test_a_project_folder_may_not_be_a_reserved_name(
    runner: CliRunner, tmp_path: Path, folder: str
) -> None:
    """A template whose folder renders ``.git`` would make the output folder a repository."""
    marker = tmp_path / "PWNED"
    root = tmp_path / "t"
    (root / "{{cookiecutter.folder}}").mkdir(parents=True)
    (root / "cookiecutter.json").write_text(json.dumps({"project_name": "x", "folder": folder}))
    for relpath, content in _gitdir_files(marker).items():
        path = root / "{{cookiecutter.folder}}" / relpath.removeprefix("gitdir/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, root, out)

    assert result.exit_code == 2, result.output
    assert "path '{{cookiecutter.folder}}'" in result.stderr and f"{folder!r}" in result.stderr
    assert list(out.iterdir()) == []


def _versioned(root: Path, version: str, files: dict[str, bytes], **extra: object) -> Path:
    """Write template ``root`` at ``version`` with exactly ``files`` (older ones removed)."""
    folder = root / "{{cookiecutter.project_name}}"
    if folder.exists():
        shutil.rmtree(folder)
    variables: dict[str, object] = {"project_name": "x", "_template_version": version, **extra}
    return make_template(root, files, variables)


@needs_git
def test_an_update_cannot_plant_a_journal_that_rewrites_git_config(
    runner: CliRunner, tmp_path: Path
) -> None:
    """The update route of the same attack: v1.1.0 renders a journal naming ``.git/config``."""
    marker = tmp_path / "PWNED"
    template = _versioned(tmp_path / "t", "1.0.0", {"x/y": b"y\n", "README.md": b"# x\n"})
    made = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path), "--no-git"]
    )
    assert made.exit_code == 0, made.output
    project = tmp_path / "proj"
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "made")
    evil = f'[filter "x"]\n\tclean = touch {marker}\n\tsmudge = touch {marker}\n'
    journal = {"phase": "commit", "steps": [["evil.cfg", ".git/config"]]}
    _versioned(template, "1.1.0", {
        "x": b"now a file\n", "README.md": b"# x\n", "evil.cfg": evil.encode(),
        ".gitattributes": b"* filter=x\n", ".plscaffold/journal.json": json.dumps(journal).encode(),
    })  # fmt: skip
    config_before = (project / ".git" / "config").read_bytes()
    before = tree_state(project)

    for _ in range(2):  # the first refusal leaves nothing that a second run would replay
        result = _in(runner, project, "update")
        assert result.exit_code == 2, result.output
        assert "'.plscaffold/journal.json', inside .plscaffold/" in result.stderr

    assert tree_state(project) == before
    assert (project / ".git" / "config").read_bytes() == config_before
    assert git(project, "status", "--porcelain") == ""
    assert not marker.exists()


@pytest.fixture
def small_project(runner: CliRunner, tmp_path: Path) -> Path:
    """A project of a small user template at 1.0.0: ``a.txt``, ``notes.txt`` and ``x/y``."""
    files = {"a.txt": b"a\n", "notes.txt": b"notes\n", "x/y": b"y\n"}
    template = _versioned(tmp_path / "t", "1.0.0", files)
    made = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path), "--no-git"]
    )
    assert made.exit_code == 0, made.output
    return tmp_path / "proj"


def _plant_journal(project: Path, phase: str, steps: list[list[str | None]]) -> None:
    (project / JOURNAL).write_text(json.dumps({"phase": phase, "steps": steps}))


@needs_git
@pytest.mark.parametrize(
    ("phase", "steps", "why"),
    [
        ("commit", [["evil.cfg", ".git/config"]], "not one plscaffold staged"),
        ("commit", [[f".{STAGED.format('config')}", ".git/config"]], "not one plscaffold staged"),
        ("commit", [[".git/" + STAGED.format("config"), ".git/config"]], "lies in .git/"),
        ("commit", [[None, "mine.txt"]], "no pristine copy"),
        ("commit", [[None, "mine.txt"], [None, ".plscaffold/pristine/mine.txt"]], "no pristine copy"),
        ("commit", [[".plscaffold/" + STAGED.format("journal.json"), ".plscaffold/./journal.json"]],
         "where plscaffold keeps no record"),
        ("commit", [[".plscaffold/" + STAGED.format("evil.txt"), ".plscaffold/evil.txt"]],
         "where plscaffold keeps no record"),
        ("commit", [[None, ".plscaffold/answers.json"]], "no pristine copy"),
        ("commit", [[STAGED.format("journal.json"), ".plscaffold/journal.json"]], "where plscaffold keeps no record"),
        ("staging", [["../" + STAGED.format("x"), "../x"]], "outside the project"),
        ("commit", [["a", "b", "c"]], "is not [staged file, target]"),
        ("sideways", [], "no phase"),
    ],
)  # fmt: skip
def test_a_journal_plscaffold_did_not_write_is_refused_and_nothing_is_replayed(
    runner: CliRunner,
    small_project: Path,
    phase: str,
    steps: list[list[str | None]],
    why: str,
) -> None:
    """A journal committed to a repository, or edited, is data: every step is checked."""
    project = small_project
    git(project, "init", "-q")
    (project / "evil.cfg").write_text("[core]\n\tfsmonitor = touch PWNED\n")
    (project / "mine.txt").write_text("the user's own\n")
    (project / STAGED.format("config")).write_text("[core]\n\tfsmonitor = touch PWNED\n")
    _plant_journal(project, phase, steps)
    before = tree_state(project)
    config_before = (project / ".git" / "config").read_bytes()

    for _ in range(2):
        result = _in(runner, project, "update", "--dry-run")
        assert result.exit_code == 2, result.output
        assert "is not a journal plscaffold wrote" in result.stderr and why in result.stderr
        assert "nothing of it was replayed" in result.stderr
        assert result.stderr.count("\n") == 1

    assert tree_state(project) == before
    assert (project / ".git" / "config").read_bytes() == config_before


def test_a_journal_step_that_cannot_be_finished_is_undone_once(
    runner: CliRunner, small_project: Path
) -> None:
    """A folder stands where the killed commit's file goes: the next command says so once and
    removes the staged file; later commands run as usual."""
    project = small_project
    (project / "x" / "mine.txt").write_text("mine\n")
    staged = project / STAGED.format("x")
    staged.write_text("x as a file\n")
    _plant_journal(project, "commit", [[staged.name, "x"]])

    first = _in(runner, project, "update", "--dry-run")
    second = _in(runner, project, "update", "--dry-run")

    assert first.exit_code == 0, first.output
    assert "could not finish the changes an interrupted run had begun" in first.stderr
    assert not staged.exists() and not (project / JOURNAL).exists()
    assert (project / "x" / "mine.txt").read_text() == "mine\n"
    assert second.exit_code == 0, second.output
    assert "interrupted" not in second.stderr


def test_a_partial_journal_that_is_a_folder_is_one_line(
    runner: CliRunner, small_project: Path
) -> None:
    (small_project / ".plscaffold" / "journal.json.partial").mkdir()

    result = _in(runner, small_project, "update", "--dry-run")

    assert result.exit_code == 2, result.output
    assert "journal.json.partial is a folder" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_journal_plscaffold_wrote_is_still_finished(
    runner: CliRunner, small_project: Path
) -> None:
    """The checks let plscaffold's own journal through: a commit killed after its first
    rename (of a file, then its pristine copy) is finished by the next command."""
    project = small_project
    pristine = project / ".plscaffold" / "pristine" / "notes.txt"
    for path, text in ((project, "new notes\n"), (pristine.parent, "new notes\n")):
        (path / STAGED.format("notes.txt")).write_text(text)
    _plant_journal(project, "commit", [
        [STAGED.format("notes.txt"), "notes.txt"],
        [f".plscaffold/pristine/{STAGED.format('notes.txt')}", ".plscaffold/pristine/notes.txt"],
        [None, "a.txt"], [None, ".plscaffold/pristine/a.txt"],
    ])  # fmt: skip

    result = _in(runner, project, "update", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "finished the changes an interrupted run had begun to make" in result.stderr
    assert (project / "notes.txt").read_text() == "new notes\n"
    assert pristine.read_text() == "new notes\n"
    assert not (project / "a.txt").exists() and not (project / JOURNAL).exists()


def test_a_moved_file_never_overwrites_a_file_that_is_there(
    runner: CliRunner, small_project: Path, tmp_path: Path
) -> None:
    project = small_project
    (project / "a.txt").write_text("a, edited\n")
    (project / "notes.txt").write_text("my own notes\n")
    migrations = [{"version": "1.1.0", "moved_files": {"a.txt": "notes.txt"}}]
    _versioned(tmp_path / "t", "1.1.0", {"notes.txt": b"a\n", "x/y": b"y\n"},
               _migrations=migrations)  # fmt: skip
    before = tree_state(project)

    result = _in(runner, project, "update")

    assert result.exit_code == 2, result.output
    assert "move a.txt to notes.txt, which exists already" in result.stderr
    assert result.stderr.count("\n") == 1
    assert tree_state(project) == before


def test_two_moves_onto_one_file_are_refused(
    runner: CliRunner, small_project: Path, tmp_path: Path
) -> None:
    project = small_project
    (project / "a.txt").write_text("a, edited\n")
    migrations = [{"version": "1.1.0", "moved_files": {"a.txt": "c.txt", "notes.txt": "c.txt"}}]
    _versioned(tmp_path / "t", "1.1.0", {"c.txt": b"c\n", "x/y": b"y\n"}, _migrations=migrations)
    before = tree_state(project)

    result = _in(runner, project, "update")

    assert result.exit_code == 2, result.output
    assert "move both a.txt and notes.txt to c.txt" in result.stderr
    assert tree_state(project) == before


def test_a_folder_that_becomes_a_file_is_updated_in_one_commit(
    runner: CliRunner, small_project: Path, tmp_path: Path
) -> None:
    project = small_project
    _versioned(tmp_path / "t", "1.1.0", {"a.txt": b"a\n", "notes.txt": b"notes\n", "x": b"x\n"})

    result = _in(runner, project, "update")
    again = _in(runner, project, "update", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    assert (project / "x").read_text() == "x\n"
    assert (project / ".plscaffold" / "pristine" / "x").read_text() == "x\n"
    assert not (project / JOURNAL).exists()
    assert again.exit_code == 0, again.output
    assert {f["outcome"] for f in json.loads(again.stdout)["files"]} == {"identical"}


@pytest.mark.parametrize("mine", ["mine.txt", "empty-folder", "link-to-a-folder"])
def test_a_folder_that_becomes_a_file_keeps_the_users_files_there(
    runner: CliRunner, small_project: Path, tmp_path: Path, mine: str
) -> None:
    project = small_project
    if mine == "mine.txt":
        (project / "x" / mine).write_text("mine\n")
    elif mine == "empty-folder":
        (project / "x" / mine).mkdir()
    else:
        (tmp_path / "elsewhere").mkdir()
        (project / "x" / mine).symlink_to(tmp_path / "elsewhere")
    _versioned(tmp_path / "t", "1.1.0", {"a.txt": b"a\n", "notes.txt": b"notes\n", "x": b"x\n"})
    before = tree_state(project)

    result = _in(runner, project, "update")
    after = _in(runner, project, "update", "--dry-run")

    assert result.exit_code == 2, result.output
    assert "x/ is a folder, where this change writes a file" in result.stderr
    assert f"x/{mine}" in result.stderr and "Nothing was written" in result.stderr
    assert tree_state(project) == before
    assert after.exit_code == 0, after.output  # nothing half made, no journal left


def test_an_answer_the_answers_file_could_not_read_back_is_refused_before_writing(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A default nested 40 deep would be written, then refuse every later command."""
    deep: object = "x"
    for _ in range(40):
        deep = {"k": deep}
    template = make_template(tmp_path / "t", {"a.txt": b"a\n"}, {"project_name": "x", "deep": deep})
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, template, out)

    assert result.exit_code == 1, result.output
    assert "the answer deep is not one the answers file could read back" in result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["experiment", "compare", "default"],
        ["experiment", "new", "e3"],
        ["experiment", "sweep", "sw", "--grid", "trainer.max_epochs=1,2", "--slurm"],
    ],
    ids=["compare", "new", "sweep"],
)
def test_a_project_name_in_the_answers_file_is_checked_before_it_is_used_as_code(
    runner: CliRunner, project: Path, tmp_path: Path, command: list[str]
) -> None:
    """The package name is imported by the probe script and written into SLURM scripts: an
    edited (or cloned) answers file cannot smuggle code in through it."""
    marker = tmp_path / "PWNED"
    answers_abspath = project / ".plscaffold" / "answers.json"
    answers = json.loads(answers_abspath.read_text())
    answers["answers"]["project_name"] = (
        f'proj.cli import cli_main;import os;os.system("touch {marker}");from proj'
    )
    answers_abspath.write_text(json.dumps(answers))
    before = tree_state(project)

    result = _in(runner, project, *command)

    assert result.exit_code == 2, result.output
    assert "answers.json" in result.stderr and "restore it from version control" in result.stderr
    assert tree_state(project) == before
    assert not marker.exists()


def test_a_run_log_with_another_name_elsewhere_is_not_appended_to(tmp_path: Path) -> None:
    from plscaffold.errors import UnsafePathError
    from plscaffold.writer import open_project_log

    project = tmp_path / "proj"
    (project / "logs").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's file\n")
    (project / "logs" / "run.out").hardlink_to(victim)

    with pytest.raises(UnsafePathError, match="hard link"):
        open_project_log(project, "logs/run.out")

    assert victim.read_text() == "the user's file\n"


@pytest.mark.parametrize("inside", [".git", ".GIT/x", "sub/.git", ".plscaffold/pristine"])
def test_a_project_is_never_made_inside_a_reserved_folder(
    runner: CliRunner, tmp_path: Path, inside: str
) -> None:
    """``-o repo/.git`` would put a template's executable file where git runs hooks."""
    template = make_template(tmp_path / "t", {"pre-commit": b"#!/bin/sh\n"}, {"project_name": "x"})
    out = tmp_path / "repo" / inside
    out.mkdir(parents=True)

    result = new_from_template(runner, template, out)

    assert result.exit_code == 2, result.output
    assert "folder, which belongs to" in result.stderr and "--output-dir" in result.stderr
    assert list(out.iterdir()) == []
