"""Where the configs live, and the files ``--experiment NAME`` stands for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
# An experiment is named like a module: never a path, so a name only reads a file in there.
EXPERIMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def config_dir() -> Path:
    """Return the folder of ``default.yaml``: a wheel's copy in the package, else the project's."""
    candidates = (PACKAGE_DIR / "configs", PACKAGE_DIR.parents[1] / "configs")
    for folder in candidates:
        if (folder / "default.yaml").is_file():
            return folder
    raise FileNotFoundError(
        f"no default.yaml in {' or '.join(str(folder) for folder in candidates)}; restore "
        "configs/default.yaml in the project (plscaffold generate config), then reinstall it"
    )


def experiment_configs(name: str) -> list[Path]:
    """Return the files of an experiment, its farthest parent first.

    Each file holds what differs from its parent (``lineage.parent``), up to ``default``
    or a built-in ``template:...``, whose keys the first file already holds.
    """
    folder = config_dir() / "experiments"
    chain: list[Path] = []
    while name != "default" and not name.startswith("template:"):
        path = folder / f"{name}.yaml"
        if not EXPERIMENT_NAME.fullmatch(name) or not path.is_file():
            if chain:
                raise FileNotFoundError(
                    f"{chain[0]} names the parent {name!r}, which is not in {folder}; "
                    "restore it or change lineage.parent"
                )
            known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none yet"
            raise FileNotFoundError(
                f"no experiment {name!r} in {folder} (known: {known}); create it with "
                f"`plscaffold experiment new {name}`"
            )
        if path in chain:
            raise FileNotFoundError(
                f"experiment {name!r} is its own ancestor; fix lineage.parent in {chain[0]}"
            )
        chain.insert(0, path)
        lineage = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("lineage") or {}
        name = str(lineage.get("parent") or "default")
    if not chain:
        raise FileNotFoundError(
            f"--experiment {name!r} names no experiment: the defaults apply without it"
        )
    return chain


def with_experiment_configs(args: Sequence[str]) -> list[str]:
    """Put ``--config`` for each file of an experiment before its ``--experiment NAME``.

    The files take effect where the flag stands, as ``--config`` does; the flag itself
    stays, so the saved config records which experiment a run belongs to. A file's
    ``lineage`` (where plscaffold made it from) is not a setting: it is left out.
    """
    expanded: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--experiment" or arg.startswith("--experiment="):
            name = arg.partition("=")[2] if "=" in arg else next(rest, "")
            for path in experiment_configs(name):
                document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                document.pop("lineage", None)
                expanded += ["--config", yaml.safe_dump(document)]
            expanded += ["--experiment", name]
        else:
            expanded.append(arg)
    return expanded
