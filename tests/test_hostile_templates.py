"""An untrusted template renders within a time and memory budget; every failure is one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plscaffold.bounds import SECONDS_VARIABLE
from plscaffold.cli import app
from tests.conftest import make_template, new_from_template, tree_state

LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"

# Each renders in a file named a.txt and must end in one line naming that file.
FAILING = {
    "nested-loops": (LOOPS, "took more than 2 s of CPU"),
    "random-string": ("{{ random_ascii_string(10**9) }}", "took more than 2 s of CPU"),
    "huge-string": ("{{ 'a' * 10**10 }}", "more memory than rendering a template may take"),
    "huge-list": ("{{ [1]*10**9 }}", "more memory than rendering a template may take"),
    "jsonify-cycler": ("{{ cycler|jsonify }}", "TypeError"),
    "bad-slugify-pattern": ("{{ 'x'|slugify(regex_pattern='(') }}", "re.error"),
    "huge-range": ("{{ range(10**9) }}", "OverflowError"),
    "includes-itself": ("{% include 'a.txt' %}", "nests or includes itself too deeply"),
    "nested-parentheses": ("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}", "too deeply"),
    "nested-for-blocks": ("{% for i in [1] %}" * 300 + "{% endfor %}" * 300, "too deeply"),
}


@pytest.fixture(autouse=True)
def _short_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECONDS_VARIABLE, "2")


@pytest.mark.parametrize("case", sorted(FAILING))
def test_a_hostile_template_ends_in_one_line_naming_its_file(
    runner: CliRunner, tmp_path: Path, case: str
) -> None:
    content, reason = FAILING[case]
    template = make_template(tmp_path / "t", {"a.txt": content.encode()}, {"project_name": "x"})
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, template, out)

    assert result.exit_code in (1, 2), result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "a.txt" in lines[0] and reason in lines[0]
    assert list(out.iterdir()) == []


def test_a_variable_default_is_bounded_too(runner: CliRunner, tmp_path: Path) -> None:
    variables = {"project_name": "x", "greeting": "{{ 'a' * 10**10 }}"}
    template = make_template(tmp_path / "t", {"a.txt": b"{{ cookiecutter.greeting }}"}, variables)

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 1, result.output
    assert "variable 'greeting'" in result.stderr and "more memory" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_rendered_text_has_a_cap(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("plscaffold.render.MAX_RENDERED_BYTES", 1 << 20)
    files = {f"f{i}.txt": b"{{ 'a' * 400000 }}" for i in range(4)}
    template = make_template(tmp_path / "t", files, {"project_name": "x"})

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 1, result.output
    assert "f2.txt: the template renders more than 1 MiB of files" in result.stderr
    assert not (tmp_path / "proj").exists()


def test_rendered_variables_have_a_cap(runner: CliRunner, tmp_path: Path) -> None:
    """Answers are recorded in the project's answers file, which every command reads."""
    variables = {
        "project_name": "x",
        "big": "{{ 'a' * 700000 }}",
        "twice": "{{ cookiecutter.big }}",
    }
    template = make_template(tmp_path / "t", {"a.txt": b"a\n"}, variables)

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 1, result.output
    assert "its variables render to more than 1 MiB ('big': 700002 bytes)" in result.stderr
    assert not (tmp_path / "proj").exists()
    trusted = new_from_template(runner, template, tmp_path, "--trust")
    assert trusted.exit_code == 0, trusted.output


def test_a_trusted_template_renders_in_this_process(runner: CliRunner, tmp_path: Path) -> None:
    """With --trust nothing is bounded: a template that is slow only for the sandbox renders."""
    files = {"a.txt": b"{{ 'ab' * 3 }}\n"}
    template = make_template(tmp_path / "t", files, {"project_name": "x"})

    result = new_from_template(runner, template, tmp_path, "--trust")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "proj" / "a.txt").read_text() == "ababab\n"


def test_a_bad_budget_setting_is_named(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECONDS_VARIABLE, "soon")
    template = make_template(tmp_path / "t", {"a.txt": b"x"}, {"project_name": "x"})

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 1, result.output
    assert f"{SECONDS_VARIABLE}='soon' is not a number of seconds" in result.stderr


def test_a_fifo_in_a_template_is_refused_not_read(runner: CliRunner, tmp_path: Path) -> None:
    import os

    template = make_template(tmp_path / "t", {"a.txt": b"x"}, {"project_name": "x"})
    os.mkfifo(template / "{{cookiecutter.project_name}}" / "pipe")

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 2, result.output
    assert "pipe is not a regular file" in result.stderr


@pytest.mark.parametrize("source", ["folder", "git"])
def test_cookiecutter_json_linked_outside_the_template_is_refused(
    runner: CliRunner, tmp_path: Path, source: str
) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"project_name": "x", "token": "s3cret"}))
    template = make_template(tmp_path / "t", {"a.txt": b"{{ cookiecutter.token }}"}, {})
    (template / "cookiecutter.json").unlink()
    (template / "cookiecutter.json").symlink_to(secret)
    where = str(template)
    if source == "git":
        if shutil.which("git") is None:
            pytest.skip("needs git")
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run(["git", "init", "-q"], cwd=template, check=True)
        subprocess.run([*git, "add", "-A"], cwd=template, check=True)
        subprocess.run([*git, "commit", "-qm", "t"], cwd=template, check=True)
        where = f"git+file://{template}"

    result = new_from_template(runner, where, tmp_path)

    assert result.exit_code == 2, result.output
    assert "cookiecutter.json is a symbolic link" in result.stderr
    assert "outside the template" in result.stderr
    assert not (tmp_path / "proj").exists()


def test_a_zip_whose_first_entry_climbs_out_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    elsewhere = make_template(
        tmp_path / "elsewhere", {"a.txt": b"not in the zip\n"}, {"project_name": "x"}
    )
    archive = tmp_path / "evil.zip"
    climb = "../" * 12 + str(elsewhere).lstrip("/") + "/"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(climb, "")
        zipped.writestr("t/cookiecutter.json", '{"project_name": "x"}')
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, archive, out)

    assert result.exit_code == 2, result.output
    assert "outside the folder it was fetched into" in result.stderr
    assert list(out.iterdir()) == []


def test_a_zip_that_unpacks_to_too_much_is_refused_before_unpacking(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("plscaffold.fetch.MAX_UNPACKED_BYTES", 1 << 20)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("t/", "")
        zipped.writestr("t/cookiecutter.json", '{"project_name": "x"}')
        zipped.writestr("t/{{cookiecutter.project_name}}/a.txt", "a\n")
        zipped.writestr("t/junk.bin", b"\0" * (2 << 20))  # 2 MiB in 2 KiB
    unpacked: list[object] = []
    monkeypatch.setattr(zipfile.ZipFile, "extractall", lambda *args: unpacked.append(args))
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, archive, out, "--dry-run")

    assert result.exit_code == 2, result.output
    assert "unpacks to 2 MiB in 4 entries, more than the 1 MiB" in result.stderr
    assert unpacked == [] and list(out.iterdir()) == []


def test_a_failed_clone_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = new_from_template(runner, "git+file:///nonexistent", tmp_path)

    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert "does not appear to be a git repository" in result.stderr
    assert "Traceback" not in result.output


def test_a_line_break_in_a_template_path_is_shown_quoted(runner: CliRunner, tmp_path: Path) -> None:
    result = new_from_template(runner, "a\nb", tmp_path)

    assert result.exit_code == 2, result.output
    assert result.stderr == "Error: template folder 'a\\nb' does not exist\n"


def test_a_cookiecutter_json_nested_too_deeply_is_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = make_template(tmp_path / "t", {"a.txt": b"x"}, {})
    deep = '{"project_name": "x", "d": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (template / "cookiecutter.json").write_text(deep)

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 1, result.output
    assert result.stderr.endswith("cookiecutter.json: its values nest too deeply\n")
    assert result.stderr.count("\n") == 1


def test_a_cookiecutter_json_over_its_cap_is_refused_before_it_is_parsed(
    runner: CliRunner, tmp_path: Path
) -> None:
    """``cookiecutter.json`` is read in plscaffold's own process, unbounded: 400 MB took
    1.2 GB there. A file over the cap is refused by its size, unread."""
    from plscaffold.templates import MAX_METADATA_BYTES

    padding = "a" * MAX_METADATA_BYTES
    template = make_template(tmp_path / "t", {"a.txt": b"x"}, {"project_name": "x", "p": padding})

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert (
        "cookiecutter.json is larger than the 1 MiB a template's cookiecutter.json may be"
    ) in result.stderr
    assert not (tmp_path / "proj").exists()


def test_copied_files_count_toward_the_rendering_cap(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file and links to it, copied without rendering, are each a file of the project."""
    monkeypatch.setattr("plscaffold.render.MAX_RENDERED_BYTES", 1 << 20)
    variables = {"project_name": "x", "_copy_without_render": ["data"]}
    template = make_template(tmp_path / "t", {"data/big.bin": b"\0" * 300_000}, variables)
    data = template / "{{cookiecutter.project_name}}" / "data"
    for index in range(5):
        (data / f"link{index}.bin").symlink_to("big.bin")

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "link2.bin: the template renders more than 1 MiB of files" in result.stderr
    assert not (tmp_path / "proj").exists()


def test_a_rendering_that_cannot_be_sent_back_says_why() -> None:
    """The child's rendering is pickled to the parent; a MemoryError there has no text of
    its own, so the message gives the reason itself."""
    from plscaffold.bounds import run_bounded
    from plscaffold.errors import TemplateError

    class Unsendable:
        def __reduce__(self) -> str:
            raise MemoryError

    with pytest.raises(TemplateError) as raised:
        run_bounded(lambda report: Unsendable(), "t")

    assert str(raised.value) == (
        "t: the rendering could not be sent back: it needs more memory than rendering a "
        "template may take (too many or too large files?); fix the template, or pass "
        "--trust to render it in this process"
    )


def test_a_nul_byte_in_a_rendered_path_is_named(runner: CliRunner, tmp_path: Path) -> None:
    files = {"{{ cookiecutter.n }}.txt": b"x"}
    template = make_template(tmp_path / "t", files, {"project_name": "x", "n": "a\x00b"})

    result = new_from_template(runner, template, tmp_path)

    assert result.exit_code == 2, result.output
    assert "rendered path 'a\\x00b.txt' holds a NUL byte" in result.stderr
    assert not (tmp_path / "proj").exists()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_signal_while_a_template_renders_stops_the_child_too(tmp_path: Path) -> None:
    import os
    import signal
    import sys
    import time

    template = make_template(tmp_path / "t", {"a.txt": LOOPS.encode()}, {"project_name": "x"})
    command = [sys.executable, "-m", "plscaffold", "new", "p", "--template", str(template)]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, SECONDS_VARIABLE: "600"},
    )  # fmt: skip
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    own = "".join(f"{part}\0" for part in command).encode()

    def renderer() -> int | None:
        """The forked child: the same command line as its parent (not a helper program)."""
        for pid in children.read_text().split():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == own:
                    return int(pid)
            except OSError:
                continue
        return None

    deadline = time.monotonic() + 120
    while (child := renderer()) is None:  # its ready signal: the child exists
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 143, stderr
    assert "Interrupted by SIGTERM; nothing was written." in stderr.decode()
    assert not Path(f"/proc/{child}").exists()  # killed and reaped before the parent left
    assert not (tmp_path / "p").exists()


OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # sets the terminal's clipboard to "pwned"
RED = "\x1b[31m"  # a colour; click strips it only where colour is off


def test_a_control_character_rendered_into_a_file_name_is_printed_escaped(
    runner: CliRunner, tmp_path: Path
) -> None:
    files = {"{{ cookiecutter.n }}.txt": b"x"}
    template = make_template(tmp_path / "t", files, {"project_name": "x", "n": f"a{OSC52}b"})

    result = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path)], color=True
    )

    assert result.exit_code == 0, result.output
    assert "\n  a\\x1b]52;c;cHduZWQ=\\x07b.txt\n" in result.stdout
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert (tmp_path / "proj" / f"a{OSC52}b.txt").read_bytes() == b"x"  # the file is as named


def test_a_control_character_in_a_template_file_name_is_escaped_in_the_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    files = {f"{RED}a{OSC52}.txt": b"{{ cookiecutter.missing }}"}
    template = make_template(tmp_path / "t", files, {"project_name": "x"})

    result = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path)], color=True
    )

    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "/\\x1b[31ma\\x1b]52;c;cHduZWQ=\\x07.txt, line 1: UndefinedError" in result.stderr
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert not (tmp_path / "proj").exists()


def test_a_migrations_reason_with_control_characters_is_printed_escaped(
    runner: CliRunner, tmp_path: Path
) -> None:
    variables: dict[str, object] = {"project_name": "x", "_template_version": "1.0.0"}
    template = make_template(tmp_path / "t", {"a.txt": b"a\n"}, variables)
    made = runner.invoke(
        app, ["new", "proj", "--template", str(template), "-o", str(tmp_path), "--no-git"]
    )
    assert made.exit_code == 0, made.output
    project = tmp_path / "proj"
    (project / "checkpoints").mkdir()
    (project / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    reason = f"{RED}Old weights.{OSC52}"
    unloadable = {"paths": ["checkpoints/*.ckpt"], "reason": reason}
    variables.update(
        _template_version="1.1.0",
        _migrations=[{"version": "1.1.0", "unloadable_checkpoints": unloadable}],
    )
    make_template(template, {"a.txt": b"a\n"}, variables)

    for command in (["update", "--dry-run"], ["update"]):
        result = runner.invoke(app, [*command, "--project", str(project)], color=True)

        assert result.exit_code == 0, result.output
        assert "checkpoints/last.ckpt. \\x1b[31mOld weights.\\x1b]52;c;cHduZWQ=\\x07\n" in (
            result.stdout
        )
        assert "\x1b" not in result.output and "\x07" not in result.output


def test_a_rendered_name_longer_than_a_file_system_takes_is_refused_by_name(
    runner: CliRunner, tmp_path: Path
) -> None:
    variables: dict[str, object] = {"project_name": "x", "_template_version": "1.0.0"}
    template = make_template(tmp_path / "t", {"a.txt": b"a\n"}, variables)
    assert new_from_template(runner, template, tmp_path).exit_code == 0
    project = tmp_path / "proj"
    before = tree_state(project)
    variables.update(_template_version="1.1.0", n="a" * 300)
    make_template(template, {"{{ cookiecutter.n }}.txt": b"b\n"}, variables)
    (tmp_path / "again").mkdir()

    for result in (
        runner.invoke(app, ["update", "--dry-run", "--project", str(project)]),
        runner.invoke(app, ["update", "--project", str(project)]),
        new_from_template(runner, template, tmp_path / "again"),
    ):
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1, result.stderr
        assert "holds a name of 304 bytes, longer than the 255 a file system takes" in (
            result.stderr
        )
    assert tree_state(project) == before
    assert list((tmp_path / "again").iterdir()) == []


def test_a_rendered_path_nested_too_deeply_is_refused_by_name(
    runner: CliRunner, tmp_path: Path
) -> None:
    files = {"{{ cookiecutter.d }}x.txt": b"x"}
    template = make_template(tmp_path / "t", files, {"project_name": "x", "d": "a/" * 1500})
    out = tmp_path / "out"
    out.mkdir()

    result = new_from_template(runner, template, out)

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "nests 1500 folders deep, more than the 100 plscaffold writes" in result.stderr
    assert list(out.iterdir()) == []
