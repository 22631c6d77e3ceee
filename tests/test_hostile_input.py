"""Every command answers any input with an exit code and a message: never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.api import new_project, project_options
from plscaffold.cli import app
from plscaffold.errors import PlscaffoldError
from plscaffold.names import check_experiment_name
from tests.conftest import tree_state

HOSTILE = [
    "", " ", "-", "--", "-x", ".", "..", "../escape", "/etc/passwd", "a/b", "a\\b",
    "a" * 300, "\x00", "nul\x00byte", "{{ 7*7 }}", "{% include '/etc/passwd' %}",
    "${HOME}", "$(touch PWNED)", "; touch PWNED", "\n", "é", "😀", "CON", "1e400", "-1",
    "0", "99999999999999999999999", "nan", "inf", "true", "null", "[1, 2]", "{a: 1}",
    "model", "default", "lineage.parent=../../x", "trainer.max_epochs=" + "9" * 5000,
    "key=", "=value", "key",
]  # fmt: skip

OUT, PROJECT = "{out}", "{project}"
# Each command with one slot, {}, that every hostile value fills in turn.
COMMANDS = [
    ["new", "{}", "-o", OUT, "--no-input"],
    ["new", "p", "-o", "{}", "--no-input"],
    ["new", "p", "-o", OUT, "--no-input", "--description", "{}"],
    ["new", "p", "-o", OUT, "--no-input", "--gpus", "{}"],
    ["new", "p", "-o", OUT, "--no-input", "--lr", "{}"],
    ["new", "p", "-o", OUT, "--no-input", "--max-epochs", "{}"],
    ["new", "p", "-o", OUT, "--no-input", "--precision", "{}"],
    ["new", "p", "-o", OUT, "--no-input", "--model", "{}"],
    ["new", "p", "-o", OUT, "--no-input", "--template", "{}"],
    ["generate", "{}", "--project", PROJECT],
    ["generate", "config", "--project", PROJECT, "--gpus", "{}"],
    ["generate", "readme", "--project", PROJECT, "--description", "{}"],
    ["add", "{}", "x", "--project", PROJECT],
    ["add", "callback", "{}", "--project", PROJECT],
    ["status", "--project", "{}"],
    ["list", "--project", "{}"],
    ["experiment", "compare", "{}", "other", "--project", PROJECT],
]


def _fails_before_the_projects_parser(value: str) -> bool:
    """Whether ``experiment new VALUE`` is refused before it runs the project's own CLI."""
    try:
        check_experiment_name(value)
    except PlscaffoldError:
        return True
    return value == "default"


def _cases() -> Iterator[list[str]]:
    for command in COMMANDS:
        for value in HOSTILE:
            yield [value if part == "{}" else part for part in command]
    for value in filter(_fails_before_the_projects_parser, HOSTILE):
        yield ["experiment", "new", value, "--project", PROJECT]
    for value in HOSTILE:  # refused when parsed, or when lineage is set: before the parser
        if "=" not in value or value.startswith(("lineage", "trainer.max_epochs")):
            yield ["experiment", "new", "ok", "--set", value, "--project", PROJECT]


def test_no_input_ends_in_a_traceback_or_writes_outside_its_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = tmp_path / "sandbox"
    project = new_project(project_options("proj"), output_dir=sandbox).project_abspath
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n")
    before = tree_state(outside)
    # One level down, so that a relative path such as ../escape still lands in the sandbox.
    (sandbox / "cwd").mkdir()
    monkeypatch.chdir(sandbox / "cwd")
    failures = []

    for args in _cases():
        args = [part.format(out=sandbox / "out", project=project) if part in (OUT, PROJECT)
                else part for part in args]  # fmt: skip
        result = runner.invoke(app, args)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        if crashed or result.exit_code not in (0, 1, 2) or "Traceback" in result.output:
            failures.append((args, result.exit_code, repr(result.exception)))

    assert not failures, failures[:5]
    assert tree_state(outside) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "sandbox"]
    assert not list(tmp_path.rglob("PWNED"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda answers: answers.pop("project_name"), "records no project_name"),
        (lambda answers: answers.update(max_epochs=1e400), "--max-epochs inf is not a valid int"),
        (lambda answers: answers.update(lr="1e400"), "--lr inf must be a positive number"),
    ],
    ids=["no-project-name", "infinite-epochs", "infinite-lr"],
)
def test_a_damaged_answers_file_is_one_line(
    runner: CliRunner, project: Path, change: object, message: str
) -> None:
    import json

    path = project / ".plscaffold" / "answers.json"
    document = json.loads(path.read_text())
    change(document["answers"])  # type: ignore[operator]
    path.write_text(json.dumps(document))
    before = tree_state(project)

    for command in (["status"], ["list"], ["generate", "model"], ["update", "--allow-dirty"]):
        result = runner.invoke(app, [*command, "--project", str(project)])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert tree_state(project) == before


def test_a_jinja_error_in_a_cookiecutter_json_value_is_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    from tests.conftest import make_template

    template = make_template(tmp_path / "t", {"a.txt": b"{{ cookiecutter.v }}\n"},
                             {"project_name": "x", "v": "{{ oops"})  # fmt: skip

    result = runner.invoke(app, ["new", "p", "--template", str(template), "-o", str(tmp_path)])

    assert result.exit_code == 1
    assert "cannot render variable 'v': TemplateSyntaxError" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


LAUGHS = (
    "[&a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"
    + "".join(f", &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10))
    + "]"
)


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (["experiment", "new", "x", "--set", "model.lr=[1"], "expected ',' or ']'"),
        (["experiment", "sweep", "s", "--grid", "model.lr={1"], "expected ',' or '}'"),
        (["experiment", "sweep", "s", "--optuna", "2", "--range", "model.lr={:1"], "expected"),
        (
            ["experiment", "new", "x", "--set", f"model.lr={LAUGHS}"],
            "aliases (*name) are not accepted",
        ),
        (
            ["experiment", "sweep", "s", "--grid", "model.lr=&x 1,*x"],
            "aliases (*name) are not accepted",
        ),
        (["experiment", "new", "x", "--set", "a=" + "[" * 5000], "it nests too deeply"),
        (["experiment", "sweep", "s", "--grid", "a=" + "[" * 5000], "it nests too deeply"),
        (
            ["experiment", "sweep", "s", "--optuna", "2", "--range", "a=" + "[" * 5000 + ":1"],
            "it nests too deeply",
        ),
    ],
    ids=[
        *("set", "grid", "range", "billion-laughs", "alias-in-grid"),
        *("deep-set", "deep-grid", "deep-range"),
    ],
)
def test_a_yaml_error_in_a_value_is_one_line(
    runner: CliRunner, project: Path, command: list[str], reason: str
) -> None:
    before = tree_state(project)

    result = runner.invoke(app, [*command, "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "the value is not valid YAML" in result.stderr and reason in result.stderr
    assert "^" not in result.stderr
    assert tree_state(project) == before


def _mapping_bomb(levels: int) -> str:
    """Return YAML whose last mapping names the one before it ten times, ``levels`` deep:
    ten to the power ``levels`` keys once its aliases are expanded."""
    keys = [f"k{i}" for i in range(10)]
    lines = ["m0: &m0 {" + ", ".join(f"{key}: 0" for key in keys) + "}"]
    lines += [
        f"m{level}: &m{level} {{" + ", ".join(f"{key}: *m{level - 1}" for key in keys) + "}"
        for level in range(1, levels)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", ["list", "compare"])
def test_an_alias_bomb_in_a_projects_yaml_is_refused_by_name(
    runner: CliRunner, project: Path, command: str
) -> None:
    """Five levels (a hundred thousand keys) are few enough for the unbounded reading to
    finish, and take in; ten would take gigabytes. Either is refused before it expands."""
    import yaml

    experiments = project / "configs" / "experiments"
    experiments.mkdir(parents=True, exist_ok=True)
    bomb = _mapping_bomb(5)
    if command == "list":
        (experiments / "bomb.yaml").write_text(bomb)
        args = ["experiment", "list"]
    else:
        lineage = {"lineage": {"parent": "default"}}
        (experiments / "small.yaml").write_text(yaml.safe_dump(lineage))
        run = project / "logs" / "small" / "version_0"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(bomb)
        (run / "metrics.csv").write_text("epoch,step,val_acc\n0,9,0.5\n")
        args = ["experiment", "compare", "small", "--json"]
    before = tree_state(project)

    result = runner.invoke(app, [*args, "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "YAML aliases (*name) expand to more than 100000 values" in result.stderr
    assert ("bomb.yaml" if command == "list" else "config.yaml") in result.stderr
    assert tree_state(project) == before


def test_an_experiment_file_that_is_a_link_is_refused_not_followed(
    runner: CliRunner, project: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("lineage: {parent: default}\n")
    experiments = project / "configs" / "experiments"
    experiments.mkdir(parents=True, exist_ok=True)
    (experiments / "linked.yaml").symlink_to(elsewhere)

    result = runner.invoke(app, ["experiment", "list", "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert "linked.yaml is a symbolic link" in result.stderr
    assert "replace the link with the file itself" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "link", "large", "bomb", "cycle", "deep"])
def test_the_project_yaml_reader_refuses_what_it_cannot_read_in_bounds(
    tmp_path: Path, kind: str
) -> None:
    """A pipe would hang the reading and ``/dev/zero`` fill memory: neither is read; ten
    levels of aliases (ten billion keys) are refused by a walk of the text's own nodes."""
    import os

    from plscaffold.errors import ProjectFileError
    from plscaffold.yaml_reader import MAX_YAML_BYTES, read_yaml_file

    path = tmp_path / "x.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "link":
        (tmp_path / "real.yaml").write_text("a: 1\n")
        path.symlink_to(tmp_path / "real.yaml")
    elif kind == "large":
        path.write_text("a: " + "x" * MAX_YAML_BYTES + "\n")
    elif kind == "bomb":
        path.write_text(_mapping_bomb(10))
    elif kind == "cycle":
        path.write_text("a: &a [1, *a]\n")
    else:
        path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    reasons = {
        "fifo": "is not a regular file",
        "dev-zero": "is a symbolic link",
        "link": "is a symbolic link",
        "large": "is larger than the 1 MiB a YAML file plscaffold reads may be",
        "bomb": "YAML aliases (*name) expand to more than 100000 values",
        "cycle": "refers to a value it lies in",
        "deep": "nests its YAML too deeply",
    }

    with pytest.raises(ProjectFileError, match=reasons[kind].replace("(*name)", r"\(\*name\)")):
        read_yaml_file(path, "x.yaml")


def test_the_project_yaml_reader_keeps_the_aliases_a_config_may_share(tmp_path: Path) -> None:
    from plscaffold.yaml_reader import read_yaml_file

    path = tmp_path / "x.yaml"
    path.write_text("base: &base {lr: 0.1, k: [1, 2]}\nother:\n  <<: *base\n  k: [3]\n")

    assert read_yaml_file(path) == {
        "base": {"lr": 0.1, "k": [1, 2]},
        "other": {"lr": 0.1, "k": [3]},
    }


@pytest.mark.parametrize("text", ["x: a\tb\n", 'x: "\\uD800"\n', "x: é\n"])
@pytest.mark.parametrize("padding", [0, 400])
def test_the_project_yaml_reader_reads_a_text_as_yaml_safe_load_does(
    tmp_path: Path, text: str, padding: int
) -> None:
    # Short texts and texts of many nesting characters go to different parsers.
    import yaml

    from plscaffold.errors import ProjectFileError
    from plscaffold.yaml_reader import read_yaml_file

    text += "".join(f"k{n}: [{n}]\n" for n in range(padding))
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        expected = yaml.safe_load(path.read_text(encoding="utf-8", errors="surrogatepass"))
    except yaml.YAMLError:
        with pytest.raises((ProjectFileError, yaml.YAMLError)):
            read_yaml_file(path)
    else:
        assert read_yaml_file(path) == expected
