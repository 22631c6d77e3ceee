"""How the experiment commands grow with the number of experiments, against `plscaffold list`.

For each size (10, 100 and 1,000 experiments: one grid sweep of N/10 x 10 points), a
generated project gets that sweep (its config schema built first, as a user's first
`experiment new` does); then each command runs in a fresh process, as a user would run
it: `plscaffold list`, `experiment sweep` of another grid of the same size with `--slurm`
(its files removed after each round), `experiment list` and `experiment compare SWEEP`
of the unrun points. The figure is the median of ``--repeat`` runs, taken in interleaved
rounds so that the machine's noise falls on all alike, and each ratio is against
`plscaffold list` on the same project. Needs the generated project's dependencies (torch,
Lightning) in this Python, as `experiment new` does. Usage:
``python benchmarks/experiments_scale.py [--repeat 3] [--sizes 10,100,1000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
# Ratios against `plscaffold list` that the commands keep at 1,000 experiments.
TARGETS = {"sweep --slurm": 8.0, "experiment list": 3.0, "experiment compare": 3.0}


def _script(name: str) -> list[str]:
    """Return the installed console script beside this interpreter, else ``python -m``."""
    path = BIN / name
    return [str(path)] if path.exists() else [sys.executable, "-m", name]


def _grid(size: int) -> list[str]:
    """Return ``--grid`` options for ``size`` points: ``size / 10`` rates by 10 batch sizes."""
    rates = ",".join(f"{(i + 1) * 1e-4:.4g}" for i in range(max(size // 10, 1)))
    batches = ",".join(str(8 * (i + 1)) for i in range(10 if size >= 10 else size))
    return ["--grid", f"model.optimizer.lr={rates}", "--grid", f"data.batch_size={batches}"]


def _seconds(command: list[str], project: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _remove_sweep(project: Path, name: str) -> None:
    for path in (project / "configs" / "experiments").glob(f"{name}-*.yaml"):
        path.unlink()
    (project / "scripts" / f"sweep-{name}.sbatch").unlink(missing_ok=True)


def measure(size: int, repeat: int, root: Path, env: dict[str, str]) -> dict[str, float]:
    """Return the median seconds of each command in a project with ``size`` experiments."""
    plscaffold = _script("plscaffold")
    name = f"p{size}"
    subprocess.run([*plscaffold, "new", name, "--no-input", "-o", str(root)], env=env,
                   check=True, capture_output=True)  # fmt: skip
    project = root / name
    # The sweep compared and listed; its first points build the config schema.
    subprocess.run([*plscaffold, "experiment", "sweep", "s", *_grid(size)], cwd=project,
                   env=env, check=True, capture_output=True)  # fmt: skip
    commands = {
        "list": [*plscaffold, "list"],
        "sweep --slurm": [*plscaffold, "experiment", "sweep", "t", *_grid(size), "--slurm"],
        "experiment list": [*plscaffold, "experiment", "list"],
        "experiment compare": [*plscaffold, "experiment", "compare", "s"],
    }
    times: dict[str, list[float]] = {command: [] for command in commands}
    for _ in range(repeat):
        for command, argv in commands.items():
            times[command].append(_seconds(argv, project, env))
            if command == "sweep --slurm":
                _remove_sweep(project, "t")
    return {command: statistics.median(values) for command, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        # A private HOME keeps cookiecutter's replay files out of the real one.
        env = {**os.environ, "HOME": tmp}
        figures = {size: measure(size, args.repeat, Path(tmp), env) for size in sizes}
    print(f"median of {args.repeat} runs each, {os.cpu_count()} CPUs; ratios against list")
    header = f"{'experiments':>11}  {'list':>7}"
    for command in TARGETS:
        header += f"  {command:>18} {'ratio':>6}"
    print(header)
    for size, seconds in figures.items():
        row = f"{size:>11,}  {seconds['list']:>6.2f}s"
        for command in TARGETS:
            ratio = seconds[command] / seconds["list"]
            row += f"  {seconds[command]:>17.2f}s {ratio:>5.2f}x"
        print(row)
    print("targets at 1,000: " + ", ".join(f"{c} <= {t:.0f}x" for c, t in TARGETS.items()))


if __name__ == "__main__":
    main()
