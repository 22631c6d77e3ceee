"""``plscaffold generate``: per-file replace, keep, merge and conflict, on real files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from typer.testing import CliRunner

from plscaffold.cli import app
from tests.conftest import outcome_of, tree_state

MODEL = "src/proj/model.py"
CONFIG = "configs/default.yaml"


def _generate(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    """Run ``generate`` with ``--json``: each file's outcome is read from its plan."""
    return runner.invoke(app, ["generate", *args, "--json", "--project", str(project)])


def test_an_edit_is_kept_and_the_new_template_lines_come_in(
    runner: CliRunner, project: Path
) -> None:
    config = project / CONFIG
    text = config.read_text().replace("  patience: 5\n", "  patience: 8  # tuned\n")
    config.write_text(text + "# mine\n")

    result = _generate(runner, project, "config", "--model", "mlp")

    assert result.exit_code == 0, result.output
    assert outcome_of(result, CONFIG) == "merged"
    merged = config.read_text()
    assert "  patience: 8  # tuned\n" in merged
    assert merged.endswith("\n# mine\n")
    assert "class_path: proj.networks.MLP" in merged
    assert "networks.ConvNet" not in merged
    answers = json.loads((project / ".plscaffold" / "answers.json").read_text())["answers"]
    assert answers["model"] == "mlp"
    assert (project / ".plscaffold" / "pristine" / CONFIG).read_text().count("networks.MLP") == 1
    # The README names the network too: regenerated with the config, never left behind.
    assert outcome_of(result, "README.md") == "updated"
    assert "multilayer perceptron" in (project / "README.md").read_text()


def test_only_regenerates_one_component_and_names_the_others(
    runner: CliRunner, project: Path
) -> None:
    readme = (project / "README.md").read_bytes()

    result = runner.invoke(
        app, ["generate", "config", "--gpus", "2", "--only", "--project", str(project)]
    )

    assert result.exit_code == 0, result.output
    assert "README.md" not in result.output and (project / "README.md").read_bytes() == readme
    assert "render differently too: readme slurm" in result.output


def test_an_untouched_file_is_replaced_and_the_table_says_so(
    runner: CliRunner, project: Path
) -> None:
    result = runner.invoke(app, ["generate", "config", "--model", "mlp", "--project", str(project)])

    assert result.exit_code == 0, result.output
    assert f"Regenerated config in {project}:\n" in result.output
    assert re.search(r"^  updated +configs/default\.yaml$", result.output, re.MULTILINE)
    assert (project / CONFIG).read_bytes() == (
        project / ".plscaffold" / "pristine" / CONFIG
    ).read_bytes()


def _conflicting_edit(project: Path) -> str:
    """Edit the network's line of the config, which the template also changes for --model mlp."""
    config = project / CONFIG
    text = config.read_text().replace(
        "      class_path: proj.networks.ConvNet\n",
        "      class_path: proj.networks.convnet.ConvNet  # my own path\n",
    )
    text = text.replace("  patience: 5\n", "  patience: 8\n")
    config.write_text(text)
    return text


def test_a_conflict_writes_both_sides_and_exits_non_zero(runner: CliRunner, project: Path) -> None:
    _conflicting_edit(project)
    (project / "notes.md").write_text("my notes\n")

    result = _generate(runner, project, "config", "--model", "mlp")

    assert result.exit_code == 1
    assert outcome_of(result, CONFIG) == "conflict"
    assert f"Conflicts in 1 file(s): {CONFIG}" in result.stderr
    text = (project / CONFIG).read_text()
    assert "<<<<<<< yours\n" in text and "\n=======\n" in text and ">>>>>>> template\n" in text
    assert "class_path: proj.networks.convnet.ConvNet  # my own path" in text
    assert "class_path: proj.networks.MLP" in text.split(">>>>>>> template")[0]
    assert "  patience: 8\n" in text  # the clean parts merged around the conflict
    assert (project / "notes.md").read_text() == "my notes\n"


def test_a_file_with_conflict_markers_is_refused_by_name(runner: CliRunner, project: Path) -> None:
    _conflicting_edit(project)
    assert _generate(runner, project, "config", "--model", "mlp").exit_code == 1
    before = tree_state(project)

    result = _generate(runner, project, "config", "--model", "cnn")

    assert result.exit_code == 2
    assert f"{CONFIG} still holds conflict markers" in result.stderr
    assert "Nothing was written" in result.stderr
    assert tree_state(project) == before
    assert (project / CONFIG).read_text().count("<<<<<<<") == 1  # never nested


def test_no_conflicts_refuses_and_writes_nothing(runner: CliRunner, project: Path) -> None:
    _conflicting_edit(project)
    before = tree_state(project)

    result = _generate(runner, project, "config", "--model", "mlp", "--no-conflicts")

    assert result.exit_code == 2
    assert f"would conflict in {CONFIG}" in result.stderr
    assert tree_state(project) == before


def test_an_identical_rendering_is_not_rewritten(runner: CliRunner, project: Path) -> None:
    edited = project / "src" / "proj" / "datamodule.py"
    edited.write_text(edited.read_text() + "# mine\n")
    old = 1_000_000_000
    for path in [project / MODEL, edited, *(project / ".plscaffold").rglob("*")]:
        os.utime(path, ns=(old, old))
    before = tree_state(project)

    model = _generate(runner, project, "model")
    datamodule = _generate(runner, project, "datamodule")

    assert model.exit_code == 0 and datamodule.exit_code == 0
    assert outcome_of(model, "src/proj/model.py") == "identical"
    assert outcome_of(datamodule, "src/proj/datamodule.py") == "kept"
    assert tree_state(project) == before
    assert (project / MODEL).stat().st_mtime_ns == old
    assert edited.stat().st_mtime_ns == old
    assert (project / ".plscaffold" / "answers.json").stat().st_mtime_ns == old


def test_a_deleted_file_stays_deleted_unless_restored(runner: CliRunner, project: Path) -> None:
    (project / "tests" / "test_model.py").unlink()

    kept_deleted = _generate(runner, project, "tests")
    assert kept_deleted.exit_code == 0
    assert outcome_of(kept_deleted, "tests/test_model.py") == "deleted"
    assert not (project / "tests" / "test_model.py").exists()

    restored = _generate(runner, project, "tests", "--restore")
    assert restored.exit_code == 0
    assert outcome_of(restored, "tests/test_model.py") == "restored"
    pristine = project / ".plscaffold" / "pristine" / "tests" / "test_model.py"
    assert (project / "tests" / "test_model.py").read_bytes() == pristine.read_bytes()


def test_dry_run_prints_the_diff_and_writes_nothing(runner: CliRunner, project: Path) -> None:
    before = tree_state(project)

    result = runner.invoke(
        app,
        ["generate", "config", "--gpus", "2", "--precision", "bf16-mixed", "--dry-run",
         "--project", str(project)],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "--- a/configs/default.yaml\n+++ b/configs/default.yaml\n" in result.output
    assert "\n-  accelerator: cpu\n" in result.output
    assert "\n+  accelerator: gpu\n" in result.output
    assert "\n+  strategy: ddp\n" in result.output
    assert "Dry run: nothing was written." in result.output
    assert tree_state(project) == before


def test_json_prints_the_plan(runner: CliRunner, project: Path) -> None:
    result = _generate(runner, project, "config", "--gpus", "1", "--dry-run")

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["dry_run"] is True
    assert plan["conflicts"] == []
    entries = {entry["path"]: entry for entry in plan["files"]}
    entry = entries["configs/default.yaml"]
    assert (entry["outcome"], entry["writes"]) == ("updated", True)
    assert "+  accelerator: gpu" in entry["diff"]
    # What the answer changes elsewhere comes along: the SLURM script asks for the GPU.
    assert "+#SBATCH --gpus-per-node=1" in entries["scripts/slurm.sbatch"]["diff"]
    assert entries["README.md"]["outcome"] == "updated"


def test_config_options_are_recorded(runner: CliRunner, project: Path) -> None:
    result = _generate(runner, project, "config", "--gpus", "2", "--precision", "bf16-mixed")

    assert result.exit_code == 0, result.output
    config = (project / "configs" / "default.yaml").read_text()
    assert "accelerator: gpu\n  devices: 2\n  strategy: ddp\n" in config
    answers = json.loads((project / ".plscaffold" / "answers.json").read_text())["answers"]
    assert (answers["gpus"], answers["precision"]) == (2, "bf16-mixed")


def test_g_is_an_alias_and_unknown_components_are_named(runner: CliRunner, project: Path) -> None:
    ok = runner.invoke(app, ["g", "model", "--project", str(project)])
    bad = runner.invoke(app, ["g", "modle", "--project", str(project)])

    assert ok.exit_code == 0, ok.output
    assert bad.exit_code == 2
    assert "no component 'modle'" in bad.stderr and "model, datamodule, trainer" in bad.stderr


def test_bad_options_are_refused_before_anything_is_written(
    runner: CliRunner, project: Path
) -> None:
    before = tree_state(project)

    result = _generate(runner, project, "config", "--precision", "16-mixed")

    assert result.exit_code == 2
    assert "--precision 16-mixed needs a GPU" in result.stderr
    assert tree_state(project) == before


def test_run_inside_the_project_finds_it_by_walking_up(
    runner: CliRunner, project: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(project / "src" / "proj")

    result = runner.invoke(app, ["generate", "model"])

    assert result.exit_code == 0, result.output
    assert f"in {project}" in result.output


def test_outside_a_project_the_error_says_how_to_fix_it(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "model", "--project", str(tmp_path)])

    assert result.exit_code == 2
    assert "no plscaffold project at or above" in result.stderr
    assert "--project PATH" in result.stderr


def test_user_modes_and_user_files_survive(runner: CliRunner, project: Path) -> None:
    datamodule = project / "src" / "proj" / "datamodule.py"
    datamodule.chmod(0o755)
    blob = project / "assets" / "logo.png"
    blob.parent.mkdir()
    blob.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    latin = project / "notes-latin1.txt"
    latin.write_bytes("résumé\n".encode("latin-1"))

    result = _generate(runner, project, "datamodule", "--seed", "7")

    assert result.exit_code == 0, result.output
    assert outcome_of(result, "src/proj/datamodule.py") == "updated"
    assert datamodule.stat().st_mode & 0o777 == 0o755
    assert blob.read_bytes() == b"\x89PNG\r\n\x1a\n\x00\xff\xfe"
    assert latin.read_bytes() == "résumé\n".encode("latin-1")
    assert "seed: int = 7," in datamodule.read_text()


def test_a_non_utf8_edit_is_kept_as_a_binary_conflict(runner: CliRunner, project: Path) -> None:
    readme = project / "README.md"
    edited = readme.read_bytes().replace(b"# proj", "# proj, résumé".encode("latin-1"))
    readme.write_bytes(edited)

    result = _generate(runner, project, "readme", "--model", "mlp")

    assert result.exit_code == 1
    assert outcome_of(result, "README.md") == "conflict (binary)"
    assert readme.read_bytes() == edited
    assert "README.md is not UTF-8 text" in result.stderr and "no markers" in result.stderr
    assert ".plscaffold/pristine/README.md" in result.stderr
    assert "between <<<<<<< yours" not in result.stderr
    pristine = (project / ".plscaffold" / "pristine" / "README.md").read_text()
    assert "multilayer perceptron" in pristine
