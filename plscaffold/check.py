"""``plscaffold new --check``: prove a fresh project trains, in this Python, offline.

A child Python imports the project's package, builds its configuration (the defaults and
every experiment) with the project's own LightningCLI, and runs ``fit`` with
``fast_dev_run`` on the CPU over a few synthetic digits written in MNIST's file format
(so torchvision's real MNIST loading runs). With GPUs asked for, and one visible, one
more ``fast_dev_run`` step trains on it with the configured precision. Nothing is
written into the project: data and run folders live in a temporary folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from plscaffold.project_code import project_python_env

_MARKER = "PLSCAFFOLD-CHECK "
_TIMEOUT_SECONDS = 900

_PRELUDE = r"""
import contextlib, io, json, os, struct, sys, traceback
from pathlib import Path
from typing import Any
"""

_SCRIPT_BODY = r"""

package, data_dir, gpus = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
steps = []

def report(ok, **extra):
    print("PLSCAFFOLD-CHECK " + json.dumps({"ok": ok, "steps": steps, **extra}))
    sys.exit(0)

def write_digits(split, count):
    labels = bytes(index % 10 for index in range(count))
    images = os.urandom(count * 28 * 28)  # noise: enough to run every step once
    write_idx(data_dir / "MNIST" / "raw", split, images, labels)

try:
    __import__(package)
    from importlib import import_module
    cli_main = import_module(package + ".cli").cli_main
    configs = import_module(package + ".configs")
except ModuleNotFoundError as err:
    report(False, step="import", missing=err.name, error=str(err))
except Exception as err:
    report(False, step="import", error=f"{type(err).__name__}: {err}", trace=traceback.format_exc())
steps.append("import")

write_digits("train", 120)
write_digits("test", 40)
data = [f"--data.init_args.data_dir={data_dir}", "--data.init_args.download=false",
        "--data.init_args.num_workers=0",
        f"--trainer.default_root_dir={data_dir / 'runs'}", "--trainer.strategy=auto",
        "--trainer.num_nodes=1"]
cpu = ["--trainer.accelerator=cpu", "--trainer.devices=1", "--trainer.precision=32-true"]
experiments = sorted(p.stem for p in (configs.config_dir() / "experiments").glob("*.yaml"))
step = "configs"
try:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for name in [None, *experiments]:
            chosen = ["--experiment", name] if name else []
            cli_main([*chosen, *cpu, *data], run=False)
        steps.append(f"configs ({1 + len(experiments)})")
        step = "fast_dev_run on the CPU"
        cli_main(["fit", *cpu, *data, "--trainer.fast_dev_run=true"])
        steps.append("fast_dev_run on the CPU")
        if gpus:
            import torch
            if torch.cuda.is_available():
                step = "a training step on " + torch.cuda.get_device_name(0)
                cli_main(["fit", "--trainer.accelerator=gpu", "--trainer.devices=1", *data,
                          "--trainer.fast_dev_run=1"])
                steps.append(step)
            else:
                steps.append("no GPU visible: the GPU step was not run")
except BaseException as err:
    if isinstance(err, SystemExit) and not err.code:
        raise
    report(False, step=step, error=f"{type(err).__name__}: {err}", trace=traceback.format_exc())
report(True)
"""


def _script() -> str:
    """Return the check's script, with the MNIST writer the bundled template's tests use."""
    from plscaffold.templates import bundled_templates_abspath

    writer = bundled_templates_abspath() / "project" / "templates" / "mnist_idx.py"
    return _PRELUDE + writer.read_text(encoding="utf-8") + _SCRIPT_BODY


@dataclass(frozen=True)
class CheckResult:
    """How a project's check went.

    Attributes:
        passed: Whether every step passed.
        seconds: How long the check took.
        summary: One line: the steps that passed, or the step that failed and why.
        detail: The failing step's traceback and output, for a failure.
    """

    passed: bool
    seconds: float
    summary: str
    detail: str | None = None


def smoke_train_project(root_abspath: Path, package: str, gpus: int) -> CheckResult:
    """Smoke-train a generated project in this Python; see the module's docstring."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="plscaffold-check-") as tmp:
        try:
            result = subprocess.run(
                [sys.executable, "-c", _script(), package, tmp, str(gpus)],
                cwd=tmp,
                env=project_python_env(root_abspath),
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return CheckResult(
                False, time.perf_counter() - started, f"did not finish in {_TIMEOUT_SECONDS} s"
            )
    seconds = time.perf_counter() - started
    lines = [line for line in result.stdout.splitlines() if line.startswith(_MARKER)]
    if not lines:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return CheckResult(False, seconds, f"the check stopped: {tail}", result.stderr)
    found = json.loads(lines[-1][len(_MARKER) :])
    if found["ok"]:
        return CheckResult(True, seconds, ", ".join(found["steps"]))
    if found.get("missing"):
        summary = (
            f"not run: this Python ({sys.executable}) lacks {found['missing']!r}, which the "
            f"project needs; install the project with its dependencies "
            f"(pip install -e {root_abspath}) and check it again there: cd {root_abspath} && "
            "pytest"
        )
        return CheckResult(False, seconds, summary)
    summary = f"{found['step']} failed: {found['error']}"
    detail = "\n".join(part for part in (found.get("trace"), result.stderr[-4000:]) if part)
    return CheckResult(False, seconds, summary, detail)
