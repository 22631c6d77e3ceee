"""Wall time of `plscaffold --help`, `plscaffold new` and `cookiecutter --no-input`, in one run.

Each command runs in a fresh process, as a user would run it; the figure is the median of
``--repeat`` runs, taken in interleaved rounds so that the machine's noise falls on all
three alike. Usage: ``python benchmarks/cli_speed.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TARGETS = {"help": 0.2, "new": 0.5}


def _script(name: str) -> list[str]:
    """Return the installed console script beside this interpreter, else ``python -m``."""
    path = BIN / name
    return [str(path)] if path.exists() else [sys.executable, "-m", name]


def _seconds(command: list[str], workdir: Path, env: dict[str, str]) -> float:
    for child in workdir.iterdir():
        shutil.rmtree(child)
    started = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _medians(
    commands: dict[str, list[str]], repeat: int, workdir: Path, env: dict[str, str]
) -> dict[str, float]:
    """Median wall time of each command, run in interleaved rounds to share the noise."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(_seconds(command, workdir, env))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    from plscaffold.templates import bundled_project_template

    template = str(bundled_project_template().root_abspath)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        # A private HOME keeps cookiecutter's replay files out of the real one.
        env = {**os.environ, "HOME": tmp}
        commands = {
            "help": [*_script("plscaffold"), "--help"],
            "new": [*_script("plscaffold"), "new", "bench", "--no-input"],
            "cookiecutter": [
                *_script("cookiecutter"),
                template,
                "--no-input",
                "project_name=bench",
            ],
        }
        figures = _medians(commands, args.repeat, workdir, env)
    print(f"median of {args.repeat} runs each, {os.cpu_count()} CPUs")
    print(f"plscaffold --help          {figures['help']:.3f} s  (target <= {TARGETS['help']} s)")
    print(f"plscaffold new             {figures['new']:.3f} s  (target <= {TARGETS['new']} s)")
    print(f"cookiecutter --no-input    {figures['cookiecutter']:.3f} s")
    ratio = figures["new"] / figures["cookiecutter"]
    print(f"new / cookiecutter         {ratio:.2f}x  (target <= 1.00x)")


if __name__ == "__main__":
    main()
