"""Where the configs live, and the files ``--experiment NAME`` and ``--config NAME`` stand for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
# An experiment is named like a module: never a path, so a name only reads a file in there.
EXPERIMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
CONFLICT_MARKER = re.compile(r"^(<{7} |={7}\s*$|>{7} )", re.MULTILINE)


class ConfigError(ValueError):
    """A config file that a merge left conflict markers in; printed as one line."""


def read_config(path: Path) -> str:
    """Return a config file's text; raise ConfigError if a merge left conflict markers in it."""
    text = path.read_text(encoding="utf-8")
    if marker := CONFLICT_MARKER.search(text):
        line = text.count("\n", 0, marker.start()) + 1
        raise ConfigError(f"{path}:{line}: conflict markers from plscaffold; resolve them, rerun")
    return text


def config_file(name: str) -> str:
    """Return the file ``--config NAME`` means: NAME, else NAME[.yaml] in config_dir()."""
    relpath = name.removeprefix("configs/")
    for path in (Path(name), config_dir() / relpath, config_dir() / f"{relpath}.yaml"):
        if "\n" not in name and path.is_file():  # else a YAML string
            read_config(path)  # its conflict markers named here, not by the YAML parser
            return str(path)
    return name  # a YAML string, or a file jsonargparse reports missing


def config_dir() -> Path:
    """Return the folder of ``default.yaml``: a wheel's copy in the package, else the project's."""
    candidates = (PACKAGE_DIR / "configs", PACKAGE_DIR.parents[1] / "configs")
    for folder in candidates:
        if (folder / "default.yaml").is_file():
            return folder
    where = " or ".join(map(str, candidates))
    raise FileNotFoundError(f"no default.yaml in {where}; plscaffold generate config, reinstall")


def experiment_configs(name: str) -> list[Path]:
    """Return an experiment's files, farthest parent first, up to ``default`` or a template."""
    folder = config_dir() / "experiments"
    chain: list[Path] = []
    while name != "default" and not name.startswith("template:"):
        path = folder / f"{name}.yaml"
        if not EXPERIMENT_NAME.fullmatch(name) or not path.is_file():
            known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none yet"
            what = f"{chain[0]} names the parent {name!r}" if chain else f"no experiment {name!r}"
            fix = "fix that lineage.parent" if chain else f"plscaffold experiment new {name}"
            raise FileNotFoundError(f"{what} (experiments in {folder}: {known}); {fix}")
        if path in chain:
            raise FileNotFoundError(f"{chain[0]}: {name!r} is its own ancestor; fix lineage.parent")
        chain.insert(0, path)
        lineage = (yaml.safe_load(read_config(path)) or {}).get("lineage") or {}
        if not isinstance(lineage, dict):
            raise FileNotFoundError(f"{path}: lineage must be a mapping; fix lineage.parent")
        name = str(lineage.get("parent") or "default")
    if not chain:
        raise FileNotFoundError(f"--experiment {name!r} names none: the defaults apply without it")
    return chain


def with_experiment_configs(args: Sequence[str]) -> list[str]:
    """Resolve each ``--config NAME``; put an experiment's files where its flag stands.

    The flag itself stays, so the saved config records the run's experiment; ``lineage``
    (where plscaffold made a file from) is no setting and is left out.
    """
    expanded: list[str] = []
    rest = iter(args)
    for arg in rest:
        flag, equals, value = arg.partition("=")
        if flag not in ("--config", "--experiment"):
            expanded.append(arg)
            continue
        name = value if equals else next(rest, "")
        if flag == "--config":
            expanded += ["--config", config_file(name)]
            continue
        for path in experiment_configs(name):
            document = yaml.safe_load(read_config(path)) or {}
            document.pop("lineage", None)
            expanded += ["--config", yaml.safe_dump(document)]
        expanded += ["--experiment", name]
    return expanded
