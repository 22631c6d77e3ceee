"""Migrations a template declares: moved files, moved config keys, pinned answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plscaffold.cli import app
from plscaffold.errors import TemplateError
from plscaffold.migrations import Migration, _named_items, move_keys
from plscaffold.yaml_keys import drop_key, move_key
from tests.conftest import make_template, outcome_of, tree_state

ANSWERS = Path(".plscaffold") / "answers.json"

WIDE_V1 = "import torch\n\n\nclass Wide:\n    width = 64\n    depth = 2\n"
WIDE_V2 = "import torch\n\n\nclass Wide:\n    width = 64\n    depth = 2\n    dropout = 0.1\n"
CONFIG_V1 = """# The default run.
model:
  lr: 0.01
  hidden_dim: 128  # the hidden layer
trainer:
  max_epochs: 10
"""
CONFIG_V2 = """# The default run.
model:
  lr: 0.01
  net:
    hidden_dim: 128  # the hidden layer
trainer:
  max_epochs: 10
"""
EXPERIMENT = """# Experiment wider: only what differs from default.
model:
  hidden_dim: 512
trainer:
  max_epochs: 4
"""
MIGRATIONS = [
    {
        "version": "1.1.0",
        "moved_files": {
            "src/{{cookiecutter.pkg}}/models/*.py": "src/{{cookiecutter.pkg}}/networks/*.py"
        },
        "moved_keys": {"model.hidden_dim": "model.net.hidden_dim"},
        "pinned_answers": {"norm": "batch"},
    }
]


def _template(root: Path, version: str, **extra: object) -> Path:
    if version == "1.0.0":
        files = {
            "src/{{cookiecutter.pkg}}/models/wide.py": WIDE_V1,
            "configs/default.yaml": CONFIG_V1,
        }
        variables: dict[str, object] = {"project_name": "x", "pkg": "app"}
    else:
        files = {
            "src/{{cookiecutter.pkg}}/networks/wide.py": WIDE_V2,
            "configs/default.yaml": CONFIG_V2,
            "src/{{cookiecutter.pkg}}/norm.py": "NORM = '{{cookiecutter.norm}}'\n",
        }
        variables = {"project_name": "x", "pkg": "app", "norm": ["none", "batch"]}
        old = root / "{{cookiecutter.project_name}}" / "src" / "{{cookiecutter.pkg}}" / "models"
        for path in old.glob("*.py"):
            path.unlink()
    variables["_template_version"] = version
    variables.update(extra)
    return make_template(root, {k: v.encode() for k, v in files.items()}, variables)


def _in(runner: CliRunner, project: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args, "--project", str(project)])


@pytest.fixture
def lived_in(runner: CliRunner, tmp_path: Path) -> tuple[Path, Path]:
    """A project of template 1.0.0 with the user's edits, and its template now at 1.1.0."""
    template = _template(tmp_path / "t", "1.0.0")
    made = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path), "--no-git"]
    )
    assert made.exit_code == 0, made.output
    project = tmp_path / "proj"
    wide = project / "src" / "app" / "models" / "wide.py"
    wide.write_text(WIDE_V1.replace("width = 64", "width = 256  # mine"))
    config = project / "configs" / "default.yaml"
    config.write_text(CONFIG_V1.replace("hidden_dim: 128", "hidden_dim: 200"))
    (project / "configs" / "experiments").mkdir()
    (project / "configs" / "experiments" / "wider.yaml").write_text(EXPERIMENT)
    _template(tmp_path / "t", "1.1.0", _migrations=MIGRATIONS)
    return template, project


def test_update_carries_edits_to_moved_files_and_keys_and_pins_answers(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    _, project = lived_in

    planned = _in(runner, project, "update", "--dry-run", "--json")
    result = _in(runner, project, "update")

    assert planned.exit_code == 0, planned.output
    assert outcome_of(planned, "src/app/models/wide.py") == "moved"
    assert outcome_of(planned, "src/app/networks/wide.py") == "merged"
    assert outcome_of(planned, "configs/default.yaml") == "migrated"  # the move was all
    assert outcome_of(planned, "configs/experiments/wider.yaml") == "migrated"
    assert json.loads(planned.stdout)["moves"] == {
        "src/app/models/wide.py": "src/app/networks/wide.py"
    }
    assert result.exit_code == 0, result.output
    assert "  moved     src/app/models/wide.py -> src/app/networks/wide.py\n" in result.output
    assert (
        "configs/default.yaml: the template's migrations move or remove values you set: "
        "model.hidden_dim: 200 (moved to model.net.hidden_dim).\n"
    ) in result.output
    # The user's edit went with the file, and the template's change came in.
    wide = (project / "src" / "app" / "networks" / "wide.py").read_text()
    assert "width = 256  # mine\n" in wide and "dropout = 0.1\n" in wide
    assert not (project / "src" / "app" / "models").exists()
    assert not (project / ".plscaffold" / "pristine" / "src" / "app" / "models").exists()
    pristine = project / ".plscaffold" / "pristine" / "src" / "app" / "networks" / "wide.py"
    assert pristine.read_text() == WIDE_V2
    # The edited value followed its key, the comment too; the experiment's key moved.
    config = (project / "configs" / "default.yaml").read_text()
    assert config == CONFIG_V2.replace("hidden_dim: 128", "hidden_dim: 200")
    experiment = yaml.safe_load((project / "configs" / "experiments" / "wider.yaml").read_text())
    assert experiment == {"model": {"net": {"hidden_dim": 512}}, "trainer": {"max_epochs": 4}}
    assert (
        (project / "configs" / "experiments" / "wider.yaml")
        .read_text()
        .startswith("# Experiment wider: only what differs from default.\n")
    )
    # A default the new version changed stays as the project had it.
    assert (project / "src" / "app" / "norm.py").read_text() == "NORM = 'batch'\n"
    document = json.loads((project / ANSWERS).read_text())
    assert document["answers"]["norm"] == "batch" and document["template_version"] == "1.1.0"
    again = _in(runner, project, "update")
    assert again.exit_code == 0 and "nothing to change" in again.output


def test_an_untouched_moved_file_moves_and_a_deleted_one_stays_deleted(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = _template(tmp_path / "t", "1.0.0")
    for name in ("a", "b"):
        made = runner.invoke(
            app, ["new", name, "--template", str(template), "-o", str(tmp_path), "--no-git"]
        )
        assert made.exit_code == 0, made.output
    (tmp_path / "b" / "src" / "app" / "models" / "wide.py").unlink()
    _template(tmp_path / "t", "1.1.0", _migrations=MIGRATIONS)

    untouched = _in(runner, tmp_path / "a", "update")
    deleted = _in(runner, tmp_path / "b", "update", "--json")

    assert untouched.exit_code == 0, untouched.output
    assert (tmp_path / "a" / "src" / "app" / "networks" / "wide.py").read_text() == WIDE_V2
    assert not (tmp_path / "a" / "src" / "app" / "models" / "wide.py").exists()
    assert deleted.exit_code == 0, deleted.output
    assert outcome_of(deleted, "src/app/networks/wide.py") == "deleted"
    assert not (tmp_path / "b" / "src" / "app" / "networks" / "wide.py").exists()


def test_a_config_whose_key_cannot_move_is_named_and_left_as_it_was(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    _, project = lived_in
    flow = project / "configs" / "experiments" / "flow.yaml"
    flow.write_text("model: {hidden_dim: 64}\n")

    result = _in(runner, project, "update")

    assert result.exit_code == 0, result.output
    assert flow.read_text() == "model: {hidden_dim: 64}\n"
    assert (
        "configs/experiments/flow.yaml: the template changed keys (model.hidden_dim -> "
        "model.net.hidden_dim), but this file's text could not be changed safely"
    ) in result.output


def _unloadable(paths: list[str]) -> list[dict[str, object]]:
    return [{"version": "1.1.0", "unloadable_checkpoints": {"paths": paths, "reason": "x"}}]


@pytest.mark.parametrize(
    ("migrations", "message"),
    [
        (
            [{"version": "1.1.0", "moved_files": {"{{ ''.__class__ }}/a": "b"}}],
            "{{cookiecutter.NAME}} only",
        ),
        ([{"version": "1.1.0", "moved_files": {"a/*": "b"}}], "one '*' each, or none"),
        ([{"version": "later"}], "'later' is not a version"),
        ([{"version": "1.1.0", "renamed": {}}], "unknown field renamed"),
        ([{"version": "1.1.0", "moved_keys": {"a": "b c"}}], "are not dotted keys"),
        (
            _unloadable(["/".join(["**"] * 33) + "/*.ckpt"]),
            "is 34 names deep, more than the 32 a glob may be",
        ),
        (_unloadable([f"c/{i}.ckpt" for i in range(101)]), "names 101 globs, more than the 100"),
        ([{"version": "1.1.0", "from_layout": {}}], 'must be {"files": [paths], "keys"'),
        ([{"version": "1.1.0", "from_layout": {"keys": {"a.yaml": ["a b"]}}}], "not empty"),
        (
            [{"version": "1.1.0", "from_layout": {"files": ["../elsewhere.py"]}}],
            "'../elsewhere.py' is not a path inside the project",
        ),
        (
            [{"version": "1.1.0", "from_layout": {"files": ["{{ ''.__class__ }}/a.py"]}}],
            "is not a path inside the project",
        ),
    ],
)
def test_a_malformed_migration_is_refused_by_name_and_nothing_is_written(
    runner: CliRunner, lived_in: tuple[Path, Path], migrations: object, message: str
) -> None:
    template, project = lived_in
    _template(template, "1.1.0", _migrations=migrations)
    before = tree_state(project)

    result = _in(runner, project, "update")

    assert result.exit_code == TemplateError.exit_code, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert tree_state(project) == before


def _unversioned(project: Path) -> None:
    document = json.loads((project / ANSWERS).read_text())
    del document["template_version"]
    (project / ANSWERS).write_text(json.dumps(document))


@pytest.mark.parametrize("shown", [True, False])
def test_a_project_made_before_versions_gets_the_migrations_of_the_layout_it_shows(
    runner: CliRunner, lived_in: tuple[Path, Path], shown: bool
) -> None:
    """Its pristine configs/default.yaml holds model.hidden_dim, the 1.0.0 layout's key."""
    template, project = lived_in
    _unversioned(project)
    key = "model.hidden_dim" if shown else "model.width"
    layout = {"keys": {"configs/default.yaml": [key]}, "files": ["src/*/layers/*.py"]}
    _template(template, "1.1.0", _migrations=[{**MIGRATIONS[0], "from_layout": layout}])
    (template / "CHANGELOG.md").write_text("## 1.1.0\n\nmodels/ is networks/.\n\n## 1.0.0\n\nA.\n")

    result = _in(runner, project, "update", "--json")

    # Unmigrated, the user's edited line and the template's moved key conflict.
    assert result.exit_code == (0 if shown else 1), result.output
    document = json.loads(result.stdout)
    if shown:  # of the layout before 1.1.0: its migration, and the whole changelog
        assert document["template_version"] == {"from": None, "to": "1.1.0", "layout": None}
        assert [entry["version"] for entry in document["changelog"]] == ["1.1.0", "1.0.0"]
        assert outcome_of(result, "src/app/models/wide.py") == "moved"
        assert "hidden_dim: 512" in (project / "configs" / "experiments" / "wider.yaml").read_text()
    else:  # in 1.1.0's layout already: neither the migration nor its changelog
        assert document["template_version"] == {"from": None, "to": "1.1.0", "layout": "1.1.0"}
        assert document["changelog"] == []
        assert outcome_of(result, "src/app/models/wide.py") == "orphaned"  # not moved
        assert document["conflicts"] == ["configs/default.yaml"]
        experiment = yaml.safe_load(
            (project / "configs" / "experiments" / "wider.yaml").read_text()
        )
        assert experiment["model"] == {"hidden_dim": 512}
        assert json.loads((project / ANSWERS).read_text())["answers"]["norm"] == "none"


def test_each_value_of_the_users_a_migration_drops_is_named(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    """The experiments' values are the user's; a value as the pristine copy has it, or one
    the merge keeps (the new rendering has it), is not named."""
    template, project = lived_in
    config = project / "configs" / "default.yaml"
    config.write_text(CONFIG_V1.replace("max_epochs: 10", "max_epochs: 20"))
    (project / "configs" / "experiments" / "same.yaml").write_text("trainer:\n  max_epochs: 4\n")
    dropping = {**MIGRATIONS[0], "dropped_keys": ["trainer.max_epochs", "model.lr"]}
    _template(template, "1.1.0", _migrations=[dropping])
    rendered = template / "{{cookiecutter.project_name}}" / "configs" / "default.yaml"
    rendered.write_text(CONFIG_V2.replace("max_epochs: 10", "max_epochs: 20"))

    planned = _in(runner, project, "update", "--dry-run")
    result = _in(runner, project, "update", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["migrated_values"] == {
        "configs/experiments/same.yaml": [
            {"key": "trainer.max_epochs", "value": "4", "moved_to": None}
        ],
        "configs/experiments/wider.yaml": [
            {"key": "model.hidden_dim", "value": "512", "moved_to": "model.net.hidden_dim"},
            {"key": "trainer.max_epochs", "value": "4", "moved_to": None},
        ],
    }
    assert (
        "configs/experiments/same.yaml: the template's migrations move or remove values you "
        "set: trainer.max_epochs: 4 (removed). Set a removed one again where you still want it."
    ) in planned.output
    assert "max_epochs: 20" in config.read_text()


def test_a_moved_file_may_not_leave_the_project(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    template, project = lived_in
    escape = [{"version": "1.1.0", "moved_files": {"src/app/models/wide.py": "../wide.py"}}]
    _template(template, "1.1.0", _migrations=escape)
    before = tree_state(project)

    result = _in(runner, project, "update")

    assert result.exit_code == 2, result.output
    assert "would land outside the project folder" in result.stderr
    assert tree_state(project) == before
    assert not (project.parent / "wide.py").exists()


YAML = """# head
model:
  init_args:
    lr: 0.01
    hidden_dim: 256  # wider
    net:
      class_path: a.B
trainer:
  callbacks:
  - class_path: X
    init_args:
      k: 1
  max_epochs: 4
"""


def test_a_key_moves_under_an_existing_parent_with_its_comment() -> None:
    moved = move_key(YAML, "model.init_args.hidden_dim", "model.init_args.net.init_args.hidden_dim")

    assert moved == YAML.replace("    hidden_dim: 256  # wider\n", "").replace(
        "      class_path: a.B\n",
        "      class_path: a.B\n      init_args:\n        hidden_dim: 256  # wider\n",
    )


def test_a_block_with_a_list_moves_whole_and_an_emptied_parent_goes() -> None:
    moved = move_key(YAML, "trainer.callbacks", "callbacks")
    assert moved is not None
    assert yaml.safe_load(moved)["callbacks"] == [{"class_path": "X", "init_args": {"k": 1}}]
    assert yaml.safe_load(moved)["trainer"] == {"max_epochs": 4}

    only = move_key("a:\n  b:\n    c: 1\n", "a.b.c", "d.c")
    assert only == "d:\n  c: 1\n"


@pytest.mark.parametrize(
    ("text", "old", "new"),
    [
        ("model: {hidden_dim: 3}\n", "model.hidden_dim", "model.net.hidden_dim"),  # flow style
        ("a: 1\nb: 2\n", "a", "b"),  # a key already at the new place
        ("a: 1\nb: text\n", "a", "b.a"),  # a scalar where the parent should be
    ],
)
def test_a_move_the_text_cannot_take_is_refused(text: str, old: str, new: str) -> None:
    assert move_key(text, old, new) is None


def test_a_text_without_the_key_is_returned_as_it_is() -> None:
    assert move_key(YAML, "model.init_args.depth", "model.depth") == YAML


def test_a_migration_for_other_answers_leaves_the_project_alone(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    template, project = lived_in
    _template(template, "1.1.0", _migrations=[{**MIGRATIONS[0], "when": {"pkg": ["other"]}}])

    result = _in(runner, project, "update", "--json")

    assert outcome_of(result, "src/app/models/wide.py") == "orphaned"  # not moved
    assert outcome_of(result, "src/app/networks/wide.py") == "created"
    assert "hidden_dim: 512" in (project / "configs" / "experiments" / "wider.yaml").read_text()
    assert json.loads((project / ANSWERS).read_text())["answers"]["norm"] == "none"


FIRST_LAYOUT_MODEL = re.compile(r"^    net:\n(?:      .*\n)+", re.MULTILINE)


def _as_first_layout_config(project: Path) -> None:
    """Make configs/default.yaml (file and pristine copy) what the first layout rendered:
    the network's width and dropout set on the LightningModule."""
    for root in (project, project / ".plscaffold" / "pristine"):
        config = root / "configs" / "default.yaml"
        text, found = FIRST_LAYOUT_MODEL.subn(
            "    hidden_dim: 128\n    dropout: 0.25\n", config.read_text()
        )
        assert found == 1
        config.write_text(text)


def test_the_bundled_templates_migrations_move_an_old_projects_added_model_and_keys(
    runner: CliRunner, project: Path
) -> None:
    """A project as made before template versions: an added model in models/, and an
    experiment that sets the network's width on the LightningModule."""
    document = json.loads((project / ANSWERS).read_text())
    del document["template_version"]
    document["added_components"] = []
    (project / ANSWERS).write_text(json.dumps(document))
    _as_first_layout_config(project)
    old_model = "class Wide:\n    width = 64\n"
    for root, text in (
        (project / ".plscaffold" / "pristine", old_model),
        (project, old_model.replace("64", "512  # mine")),
    ):
        (root / "src" / "proj" / "models").mkdir(parents=True)
        (root / "src" / "proj" / "models" / "wide.py").write_text(text)
    (project / "configs" / "experiments").mkdir()
    experiment = project / "configs" / "experiments" / "wider.yaml"
    experiment.write_text("model:\n  init_args:\n    hidden_dim: 256\n    lr: 0.01\n")
    added = runner.invoke(app, ["add", "model", "wide", "--project", str(project), "--dry-run"])
    assert added.exit_code == 0, added.output  # networks/wide.py is what `add` renders now
    document["added_components"] = [{"kind": "model", "name": "wide"}]
    (project / ANSWERS).write_text(json.dumps(document))

    from plscaffold.api import project_status

    foreseen = project_status(project)
    result = _in(runner, project, "update", "--json")

    assert {"src/proj/models/wide.py", "src/proj/networks/wide.py"} <= set(foreseen.update_writes)
    assert "configs/experiments/wider.yaml" in foreseen.update_writes
    assert foreseen.update_conflicts == ("src/proj/networks/wide.py",)
    assert result.exit_code == 1, result.output  # the template rewrote the lines edited
    assert outcome_of(result, "src/proj/models/wide.py") == "moved"
    assert outcome_of(result, "src/proj/networks/wide.py") == "conflict"
    assert "width = 512  # mine" in (project / "src" / "proj" / "networks" / "wide.py").read_text()
    assert yaml.safe_load(experiment.read_text()) == {
        "model": {
            "init_args": {
                "net": {"init_args": {"hidden_dim": 256}},
                "optimizer": {"init_args": {"lr": 0.01}},  # 1.1.0's move
            }
        }
    }


# The optimizer and scheduler 1.1.0 gave the LightningModule, where 1.0.2 rendered the
# module's own lr and weight_decay (the migration moves them under the optimizer).
OPTIMIZER_1_1_0 = re.compile(
    r"^    # Any optimizer of torch\.optim.*?^    scheduler: null\n", re.M | re.S
)


def test_a_1_0_2_projects_experiment_that_sets_lr_still_parses_after_update(
    runner: CliRunner, project: Path
) -> None:
    document = json.loads((project / ANSWERS).read_text())
    document["template_version"] = "1.0.2"
    (project / ANSWERS).write_text(json.dumps(document))
    for root in (project, project / ".plscaffold" / "pristine"):
        config = root / "configs" / "default.yaml"
        text, found = OPTIMIZER_1_1_0.subn(
            "    lr: 0.001\n    weight_decay: 0.0001\n", config.read_text()
        )
        assert found == 1
        config.write_text(text)
    (project / "configs" / "experiments").mkdir()
    experiment = project / "configs" / "experiments" / "fast.yaml"
    experiment.write_text("model:\n  init_args:\n    lr: 0.01\n    weight_decay: 0.0\n")

    result = _in(runner, project, "update", "--json")

    assert result.exit_code == 0, result.output
    moved = {"optimizer": {"init_args": {"lr": 0.01, "weight_decay": 0.0}}}
    assert yaml.safe_load(experiment.read_text()) == {"model": {"init_args": moved}}
    printed = subprocess.run(
        [sys.executable, "-m", "proj", "fit", "--experiment", "fast", "--print_config"],
        cwd=project, env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    optimizer = yaml.safe_load(printed.stdout)["model"]["init_args"]["optimizer"]
    assert optimizer["class_path"] == "torch.optim.AdamW"
    assert (optimizer["init_args"]["lr"], optimizer["init_args"]["weight_decay"]) == (0.01, 0.0)


def test_checkpoints_a_migration_says_will_not_load_are_named_before_and_left_alone(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    template, project = lived_in
    checkpoint = project / "checkpoints" / "old" / "last.ckpt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    (project / "checkpoints" / "link.ckpt").symlink_to(checkpoint)
    reason = "They hold the old module's weights."
    migration = {
        **MIGRATIONS[0],
        "unloadable_checkpoints": {"paths": ["checkpoints/**/*.ckpt"], "reason": reason},
    }
    _template(template, "1.1.0", _migrations=[migration])

    planned = _in(runner, project, "update", "--dry-run")
    result = _in(runner, project, "update", "--json")

    assert planned.exit_code == 0, planned.output
    assert planned.output.startswith(
        "Checkpoints that will not load with the updated project (left as they are): "
        f"checkpoints/old/last.ckpt. {reason}\n"
    )
    assert json.loads(result.stdout)["unloadable_checkpoints"] == {
        "checkpoints/old/last.ckpt": reason
    }
    assert checkpoint.read_bytes() == b"weights"


def test_a_malformed_checkpoint_declaration_is_refused(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    template, project = lived_in
    bad = {**MIGRATIONS[0], "unloadable_checkpoints": {"paths": ["../*.ckpt"], "reason": "x"}}
    _template(template, "1.1.0", _migrations=[bad])

    result = _in(runner, project, "update")

    assert result.exit_code == 2, result.output
    assert "would land outside the project folder" in result.stderr


def test_a_dropped_key_leaves_every_config_and_an_emptied_parent_goes(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    template, project = lived_in
    experiment = project / "configs" / "experiments" / "wider.yaml"
    experiment.write_text(EXPERIMENT + "checkpoint:\n  dirpath: checkpoints/wider\n")
    _template(
        template, "1.1.0", _migrations=[{**MIGRATIONS[0], "dropped_keys": ["checkpoint.dirpath"]}]
    )

    result = _in(runner, project, "update", "--json")

    assert result.exit_code == 0, result.output
    assert yaml.safe_load(experiment.read_text()) == {
        "model": {"net": {"hidden_dim": 512}},
        "trainer": {"max_epochs": 4},
    }


def test_a_key_is_dropped_with_what_it_nests_and_nothing_else() -> None:
    assert drop_key(YAML, "trainer.callbacks") == YAML.replace(
        "  callbacks:\n  - class_path: X\n    init_args:\n      k: 1\n", ""
    )
    assert drop_key("a:\n  b: 1\nc: 2\n", "a.b") == "c: 2\n"
    assert drop_key(YAML, "model.nothing") == YAML
    assert drop_key("model: {hidden_dim: 3}\n", "model.hidden_dim") is None


def test_checkpoint_globs_list_each_folder_once_never_through_a_link_and_stop_at_a_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven ``**`` over a folder eight deep list each folder once (a glob per ``**``
    lists them again and again), and a folder linked from outside is not searched."""
    import os

    from plscaffold import migrations
    from plscaffold.migrations import Migration, unloadable_checkpoints

    root = tmp_path / "proj"
    root.joinpath(*["d"] * 8).mkdir(parents=True)
    expected = []
    for depth in range(9):
        (root.joinpath(*["d"] * depth) / "x.ckpt").write_bytes(b"weights")
        expected.append("/".join([*["d"] * depth, "x.ckpt"]))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.ckpt").write_bytes(b"not the project's")
    (root / "linked").symlink_to(outside)
    (root / ".git").mkdir()
    (root / ".git" / "b.ckpt").write_bytes(b"git's")
    listed: list[str] = []
    scandir = os.scandir

    def counted(path: str) -> object:
        listed.append(str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counted)
    globs = ("/".join(["**"] * 7) + "/*.ckpt", "*/*.ckpt")
    pending = [Migration("1.1.0", unloadable_checkpoints=(globs, "old weights"))]

    found = unloadable_checkpoints(pending, root)

    assert sorted(found) == sorted(expected)
    assert set(found.values()) == {"old weights"}
    assert len(listed) == len(set(listed)) == 9  # the project root and its eight folders
    monkeypatch.setattr(migrations, "MAX_CHECKPOINTS", 3)
    assert len(unloadable_checkpoints(pending, root)) == 3


def _sequence_bomb(levels: int) -> str:
    """Return YAML of nested lists naming the one before ten times: ten to the power
    ``levels`` values once its aliases are expanded."""
    lines = ["l0: &l0 [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"]
    lines += [
        f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 10)}]" for level in range(1, levels)
    ]
    return "\n".join(lines) + "\n"


def test_a_config_whose_aliases_expand_too_far_is_refused_before_keys_move(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    """Each key moved loads the config again, and compares what it expands to: five levels
    (a hundred thousand values) still finish, ten would not; both are refused by name."""
    _, project = lived_in
    bomb = project / "configs" / "experiments" / "bomb.yaml"
    bomb.write_text(_sequence_bomb(5) + "model:\n  hidden_dim: 3\n")
    before = tree_state(project)

    result = _in(runner, project, "update")

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert (
        "configs/experiments/bomb.yaml: its YAML aliases (*name) expand to more than 100000 "
        "values, so it was not read"
    ) in result.stderr
    assert tree_state(project) == before


def test_a_pinned_answer_the_answers_file_could_not_hold_is_refused_before_writing(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    """Written, a value 40 levels deep would make every later command refuse the answers
    file; it is refused as the template's migration instead, and the project stays usable."""
    template, project = lived_in
    deep: object = "relu"
    for _ in range(40):
        deep = [deep]
    migration = {**MIGRATIONS[0], "pinned_answers": {"layers": deep}}
    _template(template, "1.1.0", _migrations=[migration], layers="relu")
    before = tree_state(project)

    result = _in(runner, project, "update")

    assert result.exit_code == TemplateError.exit_code, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert (
        "1.1.0: pinned_answers 'layers': its values nest more than 30 levels deep, more "
        "than an answers file holds; pin a flatter value"
    ) in result.stderr
    assert tree_state(project) == before
    flat = {**migration, "pinned_answers": {"layers": [1]}}
    _template(template, "1.1.0", _migrations=[flat], layers="relu")
    fixed = _in(runner, project, "update")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads((project / ANSWERS).read_text())["answers"]["layers"] == [1]


def test_status_names_each_config_of_yours_a_migration_changes_and_any_yaml_case_counts(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    """An update rewrites the user's own experiment (no pristine copy): status lists it
    with the generated files, so the count it prints is the files it names."""
    _, project = lived_in
    shouting = project / "configs" / "experiments" / "LOUD.YAML"
    shouting.write_text(EXPERIMENT)

    status = _in(runner, project, "status")
    planned = _in(runner, project, "update", "--dry-run", "--json")

    assert status.exit_code == 0, status.output
    writes = [f["path"] for f in json.loads(planned.stdout)["files"] if f["writes"]]
    assert f"An update would change {len(writes)} file(s)" in status.output
    for relpath in writes:
        assert f"  {relpath}: " in status.output, relpath
    assert "  configs/experiments/wider.yaml: yours, the template's migrations change it\n" in (
        status.output
    )
    assert outcome_of(planned, "configs/experiments/LOUD.YAML") == "migrated"


def test_no_conflicts_on_a_dry_run_says_what_the_real_run_would_refuse(
    runner: CliRunner, lived_in: tuple[Path, Path]
) -> None:
    _, project = lived_in
    config = project / "configs" / "default.yaml"
    config.write_text(CONFIG_V1.replace("max_epochs: 10", "max_epochs: 11"))
    template = project.parent / "t"
    _template(template, "1.1.0", _migrations=MIGRATIONS)
    wide_v2 = template / "{{cookiecutter.project_name}}" / "src" / "{{cookiecutter.pkg}}"
    (wide_v2 / "networks" / "wide.py").write_text(WIDE_V2.replace("width = 64", "width = 65"))
    before = tree_state(project)

    planned = _in(runner, project, "update", "--no-conflicts", "--dry-run", "--json")

    # The plan, and the refusal a real run would meet, exit 2 as for uncommitted changes.
    assert planned.exit_code == 2, planned.output
    assert "Error: a real run would refuse: regenerating would conflict" in planned.stderr
    document = json.loads(planned.stdout)
    assert "would conflict in src/app/networks/wide.py" in document["refused"]
    assert "--dry-run to see the diff" not in document["refused"]
    assert tree_state(project) == before


CALLBACK_NAMES = {"EarlyStopping": "early_stopping", "LearningRateMonitor": "lr_monitor"}


def _named_items_migration() -> Migration:
    names = tuple(CALLBACK_NAMES.items())
    return Migration("1.1.0", named_items=(("trainer.callbacks", "callbacks", names),))


def test_a_listed_callback_moves_under_its_name_and_one_left_out_is_set_null() -> None:
    experiment = (
        "# Patience of my own.\ntrainer:\n  max_epochs: 4\n  callbacks:\n"
        "    - class_path: pytorch_lightning.callbacks.EarlyStopping\n"
        "      init_args:\n        patience: 10\n"
    )

    text, refused, told = move_keys(experiment.encode(), [_named_items_migration()])

    migrated = yaml.safe_load(text)
    assert migrated["trainer"] == {"max_epochs": 4}
    early_stopping = {
        "class_path": "pytorch_lightning.callbacks.EarlyStopping",
        "init_args": {"patience": 10},
    }
    assert migrated["callbacks"] == {"early_stopping": early_stopping, "lr_monitor": None}
    assert text.startswith(b"# Patience of my own.\n")  # the rest of the file as it was
    assert refused == [] and [(c.key, c.moved_to) for c in told] == [
        ("trainer.callbacks", "callbacks")
    ]
    empty = move_keys(b"trainer:\n  callbacks: []\n", [_named_items_migration()])[0]
    assert yaml.safe_load(empty) == {"callbacks": {"early_stopping": None, "lr_monitor": None}}


@pytest.mark.parametrize(
    "text",
    [
        "trainer:\n  callbacks:\n    - class_path: mine.Timer\n",  # a callback of the user's
        "trainer:\n  callbacks: []\ncallbacks:\n  lr_monitor: null\n",  # the mapping is there
        "trainer:\n  callbacks:\n    class_path: one.EarlyStopping\n",  # not a list
    ],
)
def test_a_list_that_cannot_become_named_is_left_as_it_was_and_named(text: str) -> None:
    migrated, refused, _ = move_keys(text.encode(), [_named_items_migration()])

    assert migrated == text.encode()
    assert refused == ["trainer.callbacks -> callbacks"]


def test_named_items_must_name_classes_and_a_mapping() -> None:
    with pytest.raises(TemplateError, match=r"named_items 'trainer\.callbacks'"):
        _named_items({"trainer.callbacks": {"to": "callbacks"}}, "named_items")
    with pytest.raises(TemplateError, match="names maps class names to plain names"):
        _named_items(
            {"trainer.callbacks": {"to": "callbacks", "names": {"a.B": "b"}}}, "named_items"
        )
