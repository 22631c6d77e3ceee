"""Wall time of plscaffold's commands against each other, in one run.

`plscaffold --help`, `plscaffold new` (bundled, and the same template as a user's folder,
rendered in a bounded child process) and `cookiecutter --no-input`; then, inside a
generated project (whose config schema is built once first, as a user's first
`experiment new` does), `plscaffold experiment new` against `plscaffold list` and
`plscaffold new`. Each command runs in a fresh process, as a user would run it; the figure
is the median of ``--repeat`` runs, taken in interleaved rounds so that the machine's
noise falls on all alike. Last, how soon hostile templates are stopped by the bounds
on untrusted rendering. Needs the generated project's dependencies (torch, Lightning)
in this Python, as `experiment new` does. Usage:
``python benchmarks/cli_speed.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TARGETS = {"help": 0.2, "new": 0.5, "experiment new / list": 3.0}


def _script(name: str) -> list[str]:
    """Return the installed console script beside this interpreter, else ``python -m``."""
    path = BIN / name
    return [str(path)] if path.exists() else [sys.executable, "-m", name]


def _seconds(command: list[str], workdir: Path, env: dict[str, str], fresh: bool) -> float:
    if fresh:
        for child in workdir.iterdir():
            shutil.rmtree(child)
    started = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _medians(
    commands: dict[str, tuple[list[str], Path, bool]], repeat: int, env: dict[str, str]
) -> dict[str, float]:
    """Median wall time of each command, run in interleaved rounds to share the noise.

    Each command is ``(argv, working folder, whether to empty the folder first)``; an
    argv item ``{round}`` becomes the round's number, so that each run makes a new name.
    """
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeat):
        for name, (command, workdir, fresh) in commands.items():
            argv = [part.replace("{round}", str(round_)) for part in command]
            times[name].append(_seconds(argv, workdir, env, fresh))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from plscaffold.templates import bundled_project_template

    template = str(bundled_project_template().root_abspath)
    plscaffold = _script("plscaffold")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        # A private HOME keeps cookiecutter's replay files out of the real one.
        env = {**os.environ, "HOME": tmp}
        subprocess.run(
            [*plscaffold, "new", "bench", "--no-input"],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
        )
        project = Path(tmp) / "bench"
        # The first `experiment new` builds the config schema (seconds, once per change).
        subprocess.run(
            [*plscaffold, "experiment", "new", "warm"],
            cwd=project,
            env=env,
            check=True,
            capture_output=True,
        )
        # The same template as a user's folder: rendered in a bounded child process.
        user_template = Path(tmp) / "user-template"
        shutil.copytree(template, user_template)
        commands = {
            "help": ([*plscaffold, "--help"], workdir, True),
            "new": ([*plscaffold, "new", "bench", "--no-input"], workdir, True),
            "new --template": (
                [*plscaffold, "new", "bench", "--template", str(user_template)],
                workdir,
                True,
            ),
            "cookiecutter": (
                [*_script("cookiecutter"), template, "--no-input", "project_name=bench"],
                workdir,
                True,
            ),
            "list": ([*plscaffold, "list"], project, False),
            "experiment new": (
                [
                    *plscaffold,
                    "experiment",
                    "new",
                    "e{round}",
                    "--set",
                    "model.optimizer.lr=1e-2",
                    "--set",
                    "data.batch_size=32",
                ],
                project,
                False,
            ),
        }
        figures = _medians(commands, args.repeat, env)
    print(f"median of {args.repeat} runs each, {os.cpu_count()} CPUs")
    print(f"plscaffold --help          {figures['help']:.3f} s  (target <= {TARGETS['help']} s)")
    print(f"plscaffold new             {figures['new']:.3f} s  (target <= {TARGETS['new']} s)")
    print(f"cookiecutter --no-input    {figures['cookiecutter']:.3f} s")
    ratio = figures["new"] / figures["cookiecutter"]
    print(f"new / cookiecutter         {ratio:.2f}x  (target <= 1.00x)")
    print(f"new --template (bounded)   {figures['new --template']:.3f} s")
    bounded = figures["new --template"] / figures["cookiecutter"]
    print(f"new --template / cookiecutter {bounded:.2f}x")
    print(f"plscaffold list            {figures['list']:.3f} s")
    print(f"plscaffold experiment new  {figures['experiment new']:.3f} s")
    target = TARGETS["experiment new / list"]
    print(
        f"experiment new / list      {figures['experiment new'] / figures['list']:.2f}x  "
        f"(target <= {target:.2f}x)"
    )
    print(f"experiment new / new       {figures['experiment new'] / figures['new']:.2f}x")
    _bounds(plscaffold)


# Untrusted templates that would run for hours or take all memory: how soon each is
# stopped by the default bounds, and by which.
HOSTILE = {
    "empty loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    ),
    "loops of 'x'": (
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
    ),
    "'a' * 10**10": "{{ 'a' * 10**10 }}",
}


def _bounds(plscaffold: list[str]) -> None:
    import json

    from plscaffold.bounds import DEFAULT_SECONDS, MEMORY_BYTES

    print(f"bounds: {DEFAULT_SECONDS} s of CPU, {MEMORY_BYTES >> 30} GiB beyond the process")
    for name, content in HOSTILE.items():
        with tempfile.TemporaryDirectory() as tmp:
            template = Path(tmp) / "t"
            (template / "{{cookiecutter.project_name}}").mkdir(parents=True)
            (template / "cookiecutter.json").write_text(json.dumps({"project_name": "x"}))
            (template / "{{cookiecutter.project_name}}" / "a.txt").write_text(content)
            started = time.perf_counter()
            result = subprocess.run(
                [*plscaffold, "new", "p", "--template", str(template), "-o", tmp],
                capture_output=True,
                text=True,
                check=False,
            )
            seconds = time.perf_counter() - started
            lines = result.stderr.splitlines()
            reason = re.sub(r".*a\.txt(, line \d+)?: ", "", lines[-1])[:60] if lines else ""
            print(
                f"  {name:<14} stopped in {seconds:.1f} s, exit {result.returncode}, "
                f"{len(lines)} line: {reason}"
            )


if __name__ == "__main__":
    main()
