"""Experiments of a generated project: configs/experiments/NAME.yaml, each holding only what
differs from its parent, validated by the project's own LightningCLI parser."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plscaffold.errors import ExperimentError, ProjectEnvironmentError
from plscaffold.git import git_output
from plscaffold.names import NAME_PATTERN, validate_component_name
from plscaffold.templates import bundled_templates_abspath

EXPERIMENTS_RELPATH = "configs/experiments"
DEFAULT_CONFIG_RELPATH = "configs/default.yaml"
DEFAULT_PARENT = "default"
TEMPLATE_PREFIX = "template:"
# Keys every experiment sets for itself: its runs go to logs/NAME/version_N/.
OWN_KEYS = ("lineage", "trainer.logger.init_args.name")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_CHECKPOINT_NAME = re.compile(r"epoch=(?P<epoch>\d+)-(?P<metric>[\w/]+)=(?P<value>-?[\d.]+)\.ckpt$")

# Runs in the project's Python: resolve configs with the project's own parser, no training.
_PROBE = r"""
import contextlib, io, json, sys
from {package}.cli import cli_main
results = []
for args in json.loads(sys.argv[1]):
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli_main(["fit", *args, "--print_config"])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    results.append({{"code": code, "config": out.getvalue(), "error": err.getvalue()}})
print("PLSCAFFOLD-PROBE " + json.dumps(results))
"""


@dataclass(frozen=True)
class Experiment:
    """One experiment file and what is known about its runs."""

    name: str
    parent: str
    description: str
    changed_keys: list[str]
    monitor: str
    best_value: float | None
    best_epoch: int | None
    last_checkpoint_relpath: str | None


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Return a nested mapping as ``{"a.b.c": leaf}``; lists and empty mappings are leaves."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Return ``{"a.b": 1}`` as ``{"a": {"b": 1}}``."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def normalize_key(key: str) -> str:
    """Let ``model.lr`` stand for ``model.init_args.lr`` (the model and data take a class_path)."""
    parts = key.split(".")
    if (
        len(parts) > 1
        and parts[0] in ("model", "data")
        and parts[1] not in ("class_path", "init_args")
    ):
        parts.insert(1, "init_args")
    return ".".join(parts)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key=value``; the value is read as YAML (``3`` is an int, ``true`` a bool).

    Raises:
        ExperimentError: there is no ``=`` or no key.
    """
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ExperimentError(
            f"--set {text!r} is not KEY=VALUE; write for example --set trainer.max_epochs=20"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError) as err:  # ValueError: an integer too long to read
        raise ExperimentError(f"--set {text!r}: the value is not valid YAML: {err}") from err
    if isinstance(value, str) and _FLOAT.fullmatch(value):
        value = float(value)  # YAML 1.1 reads 1e-3 as a string; users mean a number
    return normalize_key(key.strip()), value


def builtin_experiments() -> dict[str, tuple[str, dict[str, Any]]]:
    """Return the experiment templates shipped with plscaffold: name -> (description, keys)."""
    import yaml

    folder = bundled_templates_abspath() / "experiments"
    templates = {}
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        description = text.splitlines()[0].lstrip("# ").strip() if text.startswith("#") else ""
        templates[path.stem] = (description, yaml.safe_load(text) or {})
    return templates


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ExperimentError(f"cannot read {path}: {err}") from err
    if not isinstance(loaded, dict):
        raise ExperimentError(f"{path} must hold a mapping of config keys")
    return loaded


def experiment_chain(root_abspath: Path, name: str) -> list[Path]:
    """Return an experiment's files, its farthest parent first (as the project's CLI does)."""
    chain: list[Path] = []
    folder = root_abspath / EXPERIMENTS_RELPATH
    while NAME_PATTERN.fullmatch(name) and (folder / f"{name}.yaml").is_file():
        path = folder / f"{name}.yaml"
        if path in chain:
            raise ExperimentError(f"experiment {name!r} is its own ancestor")
        chain.insert(0, path)
        name = str((_read_yaml(path).get("lineage") or {}).get("parent") or "")
    return chain


def experiment_names(root_abspath: Path) -> list[str]:
    """Return the project's experiments."""
    return sorted(p.stem for p in (root_abspath / EXPERIMENTS_RELPATH).glob("*.yaml"))


def run_probe(root_abspath: Path, package: str, arg_lists: list[list[str]]) -> list[dict[str, Any]]:
    """Resolve configs with the project's own entry point (``fit ... --print_config``).

    Raises:
        ProjectEnvironmentError: the project's entry point cannot run in this Python.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(root_abspath / "src"), env.get("PYTHONPATH", "")) if p
    )
    probe = _PROBE.format(package=package)
    result = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(arg_lists)],
        cwd=root_abspath,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    marker = "PLSCAFFOLD-PROBE "
    lines = [line for line in result.stdout.splitlines() if line.startswith(marker)]
    if result.returncode != 0 or not lines:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProjectEnvironmentError(
            f"cannot run the project's entry point {package}.cli with {sys.executable} "
            f"({detail}); install the project and its dependencies into this Python "
            f"(pip install -e {root_abspath}) and run plscaffold from there"
        )
    results: list[dict[str, Any]] = json.loads(lines[-1][len(marker) :])
    return results


def _resolved(result: dict[str, Any]) -> dict[str, Any]:
    import yaml

    loaded = yaml.safe_load(result["config"]) or {}
    return loaded if isinstance(loaded, dict) else {}


def _error_text(result: dict[str, Any]) -> str:
    lines = [
        line.strip()
        for line in str(result["error"]).splitlines()
        if line.strip() and "Warning" not in line and not line.startswith(("usage:", "tip:"))
    ]
    return " ".join(lines[-6:])


def _config_args(paths: list[Path]) -> list[str]:
    return [arg for path in paths for arg in ("--config", str(path))]


def _parent_sources(root_abspath: Path, parent: str) -> tuple[str, list[Path], dict[str, Any]]:
    """Return the lineage name of ``parent``, its config files and a template's own keys."""
    if parent == DEFAULT_PARENT:
        return DEFAULT_PARENT, [], {}
    if parent in experiment_names(root_abspath):
        return parent, experiment_chain(root_abspath, parent), {}
    name = parent.removeprefix(TEMPLATE_PREFIX)
    builtins = builtin_experiments()
    if name in builtins:
        return TEMPLATE_PREFIX + name, [], flatten(builtins[name][1])
    choices = [DEFAULT_PARENT, *experiment_names(root_abspath), *builtins]
    raise ExperimentError(f"no parent {parent!r}; choose one of {', '.join(choices)}")


def _refuse_lineage(keys: list[str]) -> None:
    """Refuse ``lineage``: plscaffold's own record of where an experiment came from.

    Raises:
        ExperimentError: a key is ``lineage`` or below it.
    """
    for key in keys:
        if key == "lineage" or key.startswith("lineage."):
            raise ExperimentError(
                f"--set {key}: lineage records where the experiment came from and is written "
                "by plscaffold; choose the parent with --from. Nothing was written."
            )


def _check_keys(keys: list[str], known: dict[str, Any]) -> None:
    """Refuse keys the resolved config does not have, naming the nearest valid ones."""
    for key in keys:
        if key in known or key.endswith("+"):
            continue
        if any(key.startswith(prefix + ".") for prefix in known if known[prefix] in (None, {})):
            continue  # below a key that takes a nested value, such as trainer.logger: null
        near = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
        if not near:
            section = key.split(".")[0] + "."
            near = [k for k in known if k.startswith(section)][:5]
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ExperimentError(f"unknown config key {key!r}{hint} Nothing was written.")


def new_experiment(
    root_abspath: Path,
    package: str,
    name: str,
    parent: str = DEFAULT_PARENT,
    assignments: list[str] | None = None,
    description: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write ``configs/experiments/NAME.yaml`` holding only what differs from ``parent``.

    Every key and value is checked by the project's own LightningCLI parser first.

    Returns:
        The file written and the keys it holds.

    Raises:
        ExperimentError: the name exists, the parent is unknown, a key is unknown or a
            value has the wrong type; nothing is written.
        ProjectEnvironmentError: the project's entry point cannot run here.
    """
    import yaml

    from plscaffold.answers import JOURNAL_RELPATH
    from plscaffold.render import RenderedFile
    from plscaffold.writer import apply_changes

    validate_component_name(name)
    if name == DEFAULT_PARENT:
        raise ExperimentError(
            f"{name!r} stands for configs/default.yaml; give the experiment another name"
        )
    target = root_abspath / EXPERIMENTS_RELPATH / f"{name}.yaml"
    if target.exists():
        raise ExperimentError(f"experiment {name!r} exists ({target}); choose another name")
    lineage_parent, parent_files, template_keys = _parent_sources(root_abspath, parent)
    wanted = {**template_keys, **dict(parse_assignment(text) for text in assignments or [])}
    _refuse_lineage(list(wanted))

    (parent_result,) = run_probe(root_abspath, package, [_config_args(parent_files)])
    if parent_result["code"] != 0:
        raise ExperimentError(f"the parent {parent!r} does not load: {_error_text(parent_result)}")
    known = flatten(_resolved(parent_result))
    _check_keys(list(wanted), known)
    changed = {key: value for key, value in wanted.items() if known.get(key, object()) != value}
    logger = known.get("trainer.logger.class_path")
    own: dict[str, Any] = {"trainer.logger.init_args.name": name} if logger else {}
    lineage = {
        "parent": lineage_parent,
        "description": description or "",
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "git_commit": (git_output(root_abspath, "rev-parse", "HEAD") or "").strip() or None,
    }
    document = {"lineage": lineage, **unflatten({**changed, **own})}
    text = f"# Experiment {name}: only what differs from {lineage_parent}.\n" + yaml.safe_dump(
        document, sort_keys=False
    )

    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / f"{name}.yaml"
        candidate.write_text(text, encoding="utf-8")
        checks = [[*_config_args(parent_files), "--config", str(candidate)]]
        (result,) = run_probe(root_abspath, package, checks)
        if result["code"] != 0:
            culprits = _culprits(root_abspath, package, parent_files, changed, Path(tmp))
            raise ExperimentError(
                f"the project's entry point rejects {', '.join(culprits) or 'the experiment'}: "
                f"{_error_text(result)} Nothing was written."
            )
    relpath = target.relative_to(root_abspath).as_posix()
    apply_changes(root_abspath, [(relpath, RenderedFile(text.encode()))], JOURNAL_RELPATH)
    return target, document


def _culprits(
    root_abspath: Path, package: str, parent_files: list[Path], changed: dict[str, Any], tmp: Path
) -> list[str]:
    """Return the keys the parser rejects one by one, to name them in the error."""
    import yaml

    checks, keys = [], []
    for index, (key, value) in enumerate(changed.items()):
        path = tmp / f"key-{index}.yaml"
        path.write_text(yaml.safe_dump(unflatten({key: value})), encoding="utf-8")
        checks.append([*_config_args(parent_files), "--config", str(path)])
        keys.append(f"{key}={value!r}")
    results = run_probe(root_abspath, package, checks) if checks else []
    return [key for key, result in zip(keys, results, strict=True) if result["code"] != 0]


def _merged_files(root_abspath: Path, name: str) -> dict[str, Any]:
    """Merge the default config and an experiment's chain as flat keys, as plain YAML."""
    merged = flatten(_read_yaml(root_abspath / DEFAULT_CONFIG_RELPATH))
    for path in experiment_chain(root_abspath, name):
        merged.update(flatten(_read_yaml(path)))
    return merged


def _best_checkpoint(folder: Path, monitor: str, mode: str) -> tuple[float | None, int | None]:
    """Read the best monitored value and its epoch from ModelCheckpoint's file names."""
    scores = []
    for path in folder.glob("*.ckpt"):
        match = _CHECKPOINT_NAME.search(path.name)
        if match and match["metric"] == monitor:
            scores.append((float(match["value"]), int(match["epoch"])))
    if not scores:
        return None, None
    return max(scores) if mode == "max" else min(scores)


def list_experiments(root_abspath: Path) -> list[Experiment]:
    """Return every experiment with its parent, changed keys, best metric and last checkpoint.

    The metric and checkpoint are those of the experiment's latest run.
    """
    experiments = []
    for name in experiment_names(root_abspath):
        path = root_abspath / EXPERIMENTS_RELPATH / f"{name}.yaml"
        own = _read_yaml(path)
        lineage = own.get("lineage") or {}
        changed = [k for k in flatten(own) if not k.startswith("lineage") and k not in OWN_KEYS]
        merged = _merged_files(root_abspath, name)
        monitor = str(merged.get("checkpoint.monitor") or "val_acc")
        run = _latest_run_dir(root_abspath, merged)
        mode = str(merged.get("checkpoint.mode", "max"))
        value, epoch = _best_checkpoint(run / "checkpoints", monitor, mode) if run else (None, None)
        last = run / "checkpoints" / "last.ckpt" if run else None
        experiments.append(
            Experiment(
                name,
                str(lineage.get("parent") or DEFAULT_PARENT),
                str(lineage.get("description") or ""),
                changed,
                monitor,
                value,
                epoch,
                last.relative_to(root_abspath).as_posix() if last and last.is_file() else None,
            )
        )
    return experiments


def _latest_run_dir(root_abspath: Path, merged: dict[str, Any]) -> Path | None:
    """Return the run of a logger that saved a checkpoint last, as the project's runs.py does."""
    save_dir = root_abspath / str(merged.get("trainer.logger.init_args.save_dir") or "logs")
    runs_abspath = save_dir / str(merged.get("trainer.logger.init_args.name") or "")
    runs = [p for p in runs_abspath.iterdir() if p.is_dir()] if runs_abspath.is_dir() else []

    def last_saved(run: Path) -> tuple[int, int]:
        saved = [p.stat().st_mtime_ns for p in run.glob("checkpoints/*.ckpt")]
        return max(saved, default=0), run.stat().st_mtime_ns

    return max(runs, key=last_saved, default=None)


def read_validation_curve(run_dir: Path, metric: str) -> list[tuple[int, float]]:
    """Return ``(epoch, value)`` pairs of a metric from a CSV or TensorBoard log folder."""
    import csv

    csv_path = run_dir / "metrics.csv"
    if csv_path.is_file():
        with csv_path.open(newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if row.get(metric)]
        return [(int(float(row["epoch"])), float(row[metric])) for row in rows]
    if not any(run_dir.glob("events.out.tfevents.*")):
        return []
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags().get("scalars", [])
    if metric not in tags:
        return []
    epochs = {e.step: int(e.value) for e in events.Scalars("epoch")} if "epoch" in tags else {}
    return [(epochs.get(e.step, index), e.value) for index, e in enumerate(events.Scalars(metric))]


def compare_experiments(
    root_abspath: Path, package: str, names: list[str]
) -> tuple[list[tuple[str, list[Any]]], Path]:
    """Compare experiments: their resolved config differences and a PNG of validation curves.

    Returns:
        Rows of ``(key, [value per experiment])`` for keys that differ, and the PNG written
        beside the logs.

    Raises:
        ExperimentError: fewer than two names, an unknown one, or no validation metrics.
    """
    if len(names) < 2:
        raise ExperimentError("compare needs at least two experiments, such as: compare a b")
    known = experiment_names(root_abspath)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ExperimentError(f"no experiment {', '.join(unknown)}; known: {', '.join(known)}")
    results = run_probe(
        root_abspath, package, [_config_args(experiment_chain(root_abspath, n)) for n in names]
    )
    flats = []
    for name, result in zip(names, results, strict=True):
        if result["code"] != 0:
            raise ExperimentError(f"experiment {name!r} does not load: {_error_text(result)}")
        flats.append(flatten(_resolved(result)))
    ignored = ("lineage", *OWN_KEYS)
    keys = sorted({key for flat in flats for key in flat if not key.startswith(ignored)})
    rows = [(key, [flat.get(key) for flat in flats]) for key in keys]
    rows = [(key, values) for key, values in rows if any(v != values[0] for v in values)]
    png = _plot_curves(root_abspath, names, flats)
    return rows, png


def _plot_curves(root_abspath: Path, names: list[str], flats: list[dict[str, Any]]) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as err:
        raise ProjectEnvironmentError(
            "compare draws its plot with matplotlib: pip install matplotlib"
        ) from err
    monitor = str(flats[0].get("checkpoint.monitor") or "val_acc")
    metrics = [monitor] + (["val_loss"] if monitor != "val_loss" else [])
    figure, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4), squeeze=False)
    plotted = []
    for name, flat in zip(names, flats, strict=True):
        run_dir = _latest_run_dir(root_abspath, flat)
        for axis, metric in zip(axes[0], metrics, strict=True):
            curve = read_validation_curve(run_dir, metric) if run_dir else []
            if curve:
                epochs, values = zip(*curve, strict=True)
                axis.plot(epochs, values, marker="o", label=name)
                plotted.append(name)
    if not plotted:
        plt.close(figure)
        raise ExperimentError(
            f"no validation metrics logged yet for {', '.join(names)}; train them first with "
            "`fit --experiment NAME`"
        )
    for axis, metric in zip(axes[0], metrics, strict=True):
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(" vs ".join(names))
    figure.tight_layout()
    save_dir = root_abspath / str(flats[0].get("trainer.logger.init_args.save_dir") or "logs")
    save_dir.mkdir(parents=True, exist_ok=True)
    png = save_dir / f"compare-{'-vs-'.join(names)}.png"
    figure.savefig(png, dpi=100)
    plt.close(figure)
    return png
