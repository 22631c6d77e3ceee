"""Ask the project's own LightningCLI parser, in a child Python: resolved configs and key types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from plscaffold.errors import ProjectEnvironmentError
from plscaffold.project_code import project_python_env

_MARKER = "PLSCAFFOLD-PROBE "

# Resolve configs with the project's own parser (``fit ... --print_config``), no training.
_RESOLVE = r"""
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

# The defaults and the type of every key, as the parser of ``fit`` declares them and as the
# classes named by class_path take them. A type becomes a small JSON spec that plscaffold
# checks values against without importing torch; "any" marks what only the parser can judge.
_SCHEMA = r"""
import collections.abc, contextlib, importlib, inspect, io, json, os, pathlib, sys, types, typing
import yaml
from pytorch_lightning.cli import LightningArgumentParser
from {package}.cli import cli_main

parsers = []
parse_args = LightningArgumentParser.parse_args
def recording(self, *args, **kwargs):
    parsers.append(self)
    return parse_args(self, *args, **kwargs)
LightningArgumentParser.parse_args = recording
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        cli_main(["fit", "--print_config"])
    except SystemExit as exit_:
        if exit_.code:
            sys.stderr.write(err.getvalue())
            raise
LightningArgumentParser.parse_args = parse_args
config = yaml.safe_load(out.getvalue()) or {{}}

SCALARS = {{bool: "bool", int: "int", float: "float", str: "str", dict: "dict", list: "list",
            type(None): "null", pathlib.Path: "str", os.PathLike: "str"}}
SEQUENCES = (list, set, frozenset, collections.abc.Sequence, collections.abc.Iterable,
             collections.abc.MutableSequence)

def spec(hint):
    if hint is None:
        return "null"
    if isinstance(hint, type) and hint in SCALARS:
        return SCALARS[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        simple = all(a is None or isinstance(a, (bool, int, float, str)) for a in args)
        return {{"literal": list(args)}} if simple else "any"
    if origin in (typing.Union, getattr(types, "UnionType", typing.Union)):
        return {{"union": [spec(a) for a in args]}}
    if origin in SEQUENCES:
        return {{"list": spec(args[0]) if args else "any"}}
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return {{"list": spec(args[0])}}
    if origin is tuple:
        return {{"tuple": [spec(a) for a in args]}} if args else {{"list": "any"}}
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        return "dict"
    return "any"

types_ = {{}}
for parser in parsers:
    for action in parser._actions:
        hint = getattr(action, "_typehint", None)
        if hint is not None and action.dest:
            types_[action.dest] = spec(hint)

def signature_of(class_path):
    try:
        module, _, name = class_path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        return inspect.signature(cls).parameters, typing.get_type_hints(cls.__init__)
    except Exception:
        return {{}}, {{}}

def walk(node, prefix):
    if isinstance(node, dict) and isinstance(node.get("class_path"), str):
        types_[prefix + ".class_path"] = "str"
        parameters, hints = signature_of(node["class_path"])
        for key, value in (node.get("init_args") or {{}}).items():
            name = f"{{prefix}}.init_args.{{key}}"
            types_[name] = spec(hints[key]) if key in parameters and key in hints else "any"
            walk(value, name)
    elif isinstance(node, dict):
        for key, value in node.items():
            walk(value, f"{{prefix}}.{{key}}" if prefix else str(key))

walk(config, "")
print("PLSCAFFOLD-PROBE " + json.dumps({{"config": config, "types": types_}}, default=str))
"""


def _run(root_abspath: Path, package: str, script: str, argument: str) -> Any:
    """Run a probe script with the project's sources first on the path; return its JSON.

    Raises:
        ProjectEnvironmentError: the project's entry point cannot run in this Python.
    """
    result = subprocess.run(
        [sys.executable, "-c", script.format(package=package), argument],
        cwd=root_abspath,
        env=project_python_env(root_abspath),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(_MARKER)]
    if result.returncode != 0 or not lines:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProjectEnvironmentError(
            f"cannot run the project's entry point {package}.cli with {sys.executable} "
            f"({detail}); install the project and its dependencies into this Python "
            f"(pip install -e {root_abspath}) and run plscaffold from there"
        )
    return json.loads(lines[-1][len(_MARKER) :])


def resolve_configs(
    root_abspath: Path, package: str, arg_lists: list[list[str]]
) -> list[dict[str, Any]]:
    """Resolve configs with the project's own entry point (``fit ... --print_config``).

    Returns:
        Per argument list: ``code`` (0 when the parser accepts it), ``config`` (the
        resolved YAML) and ``error`` (the parser's message).

    Raises:
        ProjectEnvironmentError: the project's entry point cannot run in this Python.
    """
    results: list[dict[str, Any]] = _run(root_abspath, package, _RESOLVE, json.dumps(arg_lists))
    return results


def probe_schema(root_abspath: Path, package: str) -> dict[str, Any]:
    """Return the project's resolved default config and a type spec per flat key.

    Raises:
        ProjectEnvironmentError: the project's entry point cannot run in this Python.
    """
    found: dict[str, Any] = _run(root_abspath, package, _SCHEMA, "")
    return found


def resolved_mapping(result: dict[str, Any]) -> dict[str, Any]:
    """Return the config a :func:`resolve_configs` result printed, as a mapping.

    Raises:
        ProjectFileError: the printed config's aliases expand too far.
    """
    from plscaffold.yaml_reader import load_yaml

    loaded = load_yaml(str(result["config"]), "the config the project's entry point printed") or {}
    return loaded if isinstance(loaded, dict) else {}


def error_text(result: dict[str, Any]) -> str:
    """Return the parser's message of a rejected config, without usage and warnings."""
    lines = [
        line.strip()
        for line in str(result["error"]).splitlines()
        if line.strip() and "Warning" not in line and not line.startswith(("usage:", "tip:"))
    ]
    return " ".join(lines[-6:])


def config_args(paths: list[Path]) -> list[str]:
    """Return ``--config`` for each file, in order, as the project's ``--experiment`` does.

    An experiment's ``lineage`` is plscaffold's record, which the project's parser does not
    know: each file goes as its YAML text without it.
    """
    import yaml

    from plscaffold.experiments.configs import read_yaml

    args: list[str] = []
    for path in paths:
        settings = {key: value for key, value in read_yaml(path).items() if key != "lineage"}
        args += ["--config", yaml.safe_dump(settings, sort_keys=False)]
    return args
