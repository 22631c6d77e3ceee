"""Experiment files: configs/experiments/NAME.yaml, their lineage, keys and built-in templates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from plscaffold.errors import ExperimentError, one_line
from plscaffold.names import NAME_PATTERN
from plscaffold.project_code import flatten as flatten
from plscaffold.templates import bundled_templates_abspath

EXPERIMENTS_RELPATH = "configs/experiments"
DEFAULT_CONFIG_RELPATH = "configs/default.yaml"
DEFAULT_PARENT = "default"
TEMPLATE_PREFIX = "template:"
# Keys the experiment machinery owns: its lineage, the logger name that gives its runs
# logs/NAME/version_N/, and what the project's runs.py sets to put a run in its folder.
OWN_KEYS = (
    "lineage",
    "experiment",
    "run",
    "trainer.logger.init_args.name",
    "trainer.logger.init_args.version",
    "trainer.default_root_dir",
    "checkpoint.dirpath",
)
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


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
    """Let ``model.optimizer.lr`` stand for ``model.init_args.optimizer.init_args.lr``.

    The model and data, and each argument of theirs that a key goes below (the network, the
    optimizer), take a class_path: their arguments lie under ``init_args``, which a key may
    leave out, as on LightningCLI's command line.
    """
    parts = key.split(".")
    if parts[0] not in ("model", "data"):
        return key
    normalized = parts[:1]
    for part in parts[1:]:
        if normalized[-1] != "init_args" and part not in ("class_path", "init_args"):
            normalized.append("init_args")
        normalized.append(part)
    return ".".join(normalized)


def owned_key(key: str) -> str | None:
    """Return the key of :data:`OWN_KEYS` that ``key`` is or lies under, else None."""
    return next((own for own in OWN_KEYS if key == own or key.startswith(own + ".")), None)


def yaml_reason(err: Exception) -> str:
    """Return why YAML could not be read, on one line: the problem and where, no caret."""
    problem = getattr(err, "problem", None) or getattr(err, "context", None)
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if problem and mark is not None:
        return f"{one_line(str(problem))} (line {mark.line + 1}, column {mark.column + 1})"
    return one_line(str(err))


def _value_loader() -> Any:
    """Return YAML's safe loader without aliases: ``&a [*a, *a]`` nested ten deep is a
    billion items once expanded, and a value on the command line needs none."""
    import yaml

    class ValueLoader(yaml.SafeLoader):  # type: ignore[misc]
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not accepted in a value",
                    self.peek_event().start_mark,
                )  # fmt: skip
            return super().compose_node(parent, index)

    return ValueLoader


def read_value(text: str, raw: str) -> Any:
    """Read one value as YAML: ``3`` an int, ``1e-3`` a float, ``[1, 2]`` a list, ``null``.

    Raises:
        ExperimentError: the value is not valid YAML.
    """
    import yaml

    try:
        value = yaml.load(raw, Loader=_value_loader()) if raw.strip() else None
    except (yaml.YAMLError, ValueError, RecursionError) as err:  # ValueError: a long integer
        shown = text if len(text) <= 80 else f"{text[:77]}..."
        reason = (
            "it nests too deeply; write it with fewer levels of [ and {"
            if isinstance(err, RecursionError)
            else yaml_reason(err)
        )
        raise ExperimentError(f"{shown!r}: the value is not valid YAML: {reason}") from err
    if isinstance(value, str) and _FLOAT.fullmatch(value):
        value = float(value)  # YAML 1.1 reads 1e-3 as a string; users mean a number
    return value


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key=value``; the value is read as YAML (see :func:`read_value`).

    Raises:
        ExperimentError: there is no ``=`` or no key, or the value is not YAML.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ExperimentError(
            f"--set {text!r} is not KEY=VALUE; write for example --set trainer.max_epochs=20"
        )
    return normalize_key(key.strip()), read_value(f"--set {text}", raw)


def changes_of(assignments: list[str]) -> dict[str, Any]:
    """Return ``--set`` assignments as ``{key: value}``, the last of a repeated key winning.

    Raises:
        ExperimentError: an assignment is not ``KEY=VALUE``, its value is not YAML, or it
            sets a key plscaffold owns (directly or inside a mapping).
    """
    changes = dict(parse_assignment(text) for text in assignments)
    for key, value in changes.items():
        refuse_owned_keys([key, *(flatten(value, key) if isinstance(value, dict) else [])])
    return changes


def expand_sections(changes: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """Spread a mapping given for a section (``model.net.init_args={a: 1}``) over its keys.

    A mapping given for a leaf that takes one (``trainer.max_time={hours: 1}``) stays whole.
    """
    expanded: dict[str, Any] = {}
    for key, value in changes.items():
        section = any(k.startswith(key + ".") for k in known)
        if isinstance(value, dict) and value and section:
            expanded.update({normalize_key(k): v for k, v in flatten(value, key).items()})
        else:
            expanded[key] = value
    return expanded


def refuse_owned_keys(keys: list[str]) -> None:
    """Refuse keys the experiment machinery writes itself.

    Raises:
        ExperimentError: a key is or lies under one of :data:`OWN_KEYS`.
    """
    for key in keys:
        own = owned_key(key)
        if own == "lineage":
            raise ExperimentError(
                f"--set {key}: lineage records where the experiment came from and is written "
                "by plscaffold; choose the parent with --from. Nothing was written."
            )
        if own is not None:
            raise ExperimentError(
                f"--set {key}: {own} is set by the experiment machinery (each run of an "
                "experiment lives in logs/NAME/version_N/ with its checkpoints); leave it out, "
                "or train outside experiments with --config FILE. Nothing was written."
            )


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


def read_yaml(path: Path) -> dict[str, Any]:
    """Return a YAML file's mapping, read within :mod:`plscaffold.yaml_reader`'s bounds.

    Raises:
        ExperimentError: the file cannot be read or does not hold a mapping.
        ProjectFileError: the file is a link, a pipe or device, too large, or its aliases
            expand too far.
    """
    import yaml

    from plscaffold.yaml_reader import read_yaml_file

    try:
        loaded = read_yaml_file(path) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ExperimentError(f"cannot read {path}: {yaml_reason(err)}") from err
    if not isinstance(loaded, dict):
        raise ExperimentError(f"{path} must hold a mapping of config keys")
    return loaded


def experiment_path(root_abspath: Path, name: str) -> Path:
    """Return the file of experiment ``name`` (which may not exist)."""
    return root_abspath / EXPERIMENTS_RELPATH / f"{name}.yaml"


def experiment_chain(root_abspath: Path, name: str) -> list[Path]:
    """Return an experiment's files, its farthest parent first, by the project's own rule.

    ``lineage.parent`` leads from each file to the next, up to ``default``, a ``template:``
    or no parent; a parent that is no file of the project's experiments, or one met twice,
    is an error. The project's ``configs.experiment_configs`` walks the same way.
    """
    chain: list[Path] = []
    while name != DEFAULT_PARENT and not name.startswith(TEMPLATE_PREFIX):
        path = experiment_path(root_abspath, name) if NAME_PATTERN.fullmatch(name) else None
        if path is None or not path.is_file():
            what = f"{chain[0].stem} names the parent" if chain else "there is no experiment"
            where = f"not in {EXPERIMENTS_RELPATH}"
            raise ExperimentError(f"{what} {name!r}, {where}; fix that lineage.parent")
        if path in chain:
            raise ExperimentError(f"experiment {name!r} is its own ancestor; fix lineage.parent")
        chain.insert(0, path)
        lineage = read_yaml(path).get("lineage") or {}
        if not isinstance(lineage, dict):
            raise ExperimentError(f"{path.stem}: lineage must be a mapping; fix lineage.parent")
        name = str(lineage.get("parent") or DEFAULT_PARENT)
    return chain


def experiment_names(root_abspath: Path) -> list[str]:
    """Return the project's experiments."""
    return sorted(p.stem for p in (root_abspath / EXPERIMENTS_RELPATH).glob("*.yaml"))


def lineage_of(root_abspath: Path, name: str) -> dict[str, Any]:
    """Return an experiment's ``lineage`` mapping (empty where it has none)."""
    lineage = read_yaml(experiment_path(root_abspath, name)).get("lineage")
    return lineage if isinstance(lineage, dict) else {}


def chain_keys(root_abspath: Path, name: str) -> dict[str, Any]:
    """Return the flat keys an experiment's files set, its own last, lineage left out."""
    merged: dict[str, Any] = {}
    for path in experiment_chain(root_abspath, name):
        merged.update(flatten({k: v for k, v in read_yaml(path).items() if k != "lineage"}))
    return merged
