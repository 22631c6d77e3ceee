"""The project's config schema: defaults and key types, built once by its parser, cached.

Building it imports torch and Lightning in a child Python (seconds); reading it takes
milliseconds. The cache lives in the project (``.plscaffold/cache/config-schema.json``)
and is keyed on everything that shapes the parser: the project's sources, its default
config and pyproject.toml, the Python that runs it and the versions of the libraries
that build the parser. Any change to them rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from plscaffold.answers import STATE_DIR_RELPATH
from plscaffold.experiments.configs import DEFAULT_CONFIG_RELPATH, flatten
from plscaffold.experiments.probe import probe_schema

SCHEMA_RELPATH = f"{STATE_DIR_RELPATH}/cache/config-schema.json"
# Raise when the file's layout or the probe's type specs change: old caches then rebuild.
SCHEMA_FORMAT = 2
_PARSER_LIBRARIES = ("jsonargparse", "pytorch-lightning", "lightning", "torch")
# A type spec is "int", "float", "bool", "str", "null", "list", "dict", "any" (only the
# parser can judge it), {"literal": [values]}, {"union": [specs]}, {"list": item spec} or
# {"tuple": [spec per item]}.
TypeSpec = Any


@dataclass(frozen=True)
class ConfigSchema:
    """The resolved default config, flat, and the type spec of each of its keys."""

    defaults: dict[str, Any]
    types: dict[str, TypeSpec]

    def judge(self, key: str, value: Any) -> bool | None:
        """Tell whether ``value`` fits ``key``: True, False, or None when only the parser can."""
        if key not in self.types:
            return None
        return judge(self.types[key], value)

    def describe(self, key: str) -> str:
        """Return the type of ``key`` in words, such as ``int or null``."""
        return describe(self.types.get(key, "any"))


def judge(spec: TypeSpec, value: Any) -> bool | None:
    """Check a value against a type spec: True fits, False does not, None unknown.

    A string for a number is left to the parser, which reads ``'5'`` as 5.
    """
    if spec == "any":
        return None
    if isinstance(spec, dict) and "union" in spec:
        verdicts = [judge(member, value) for member in spec["union"]]
        return True if True in verdicts else (None if None in verdicts else False)
    if isinstance(spec, dict) and "literal" in spec:
        return any(type(v) is type(value) and v == value for v in spec["literal"])
    if isinstance(spec, dict) and ("list" in spec or "tuple" in spec):
        if not isinstance(value, list):
            return False
        items = spec.get("tuple") or [spec.get("list")] * len(value)
        if len(items) != len(value):
            return False
        verdicts = [judge(item_spec, item) for item_spec, item in zip(items, value, strict=True)]
        return False if False in verdicts else (None if None in verdicts else True)
    if isinstance(value, str) and spec in ("int", "float", "bool"):
        return None if _reads_as(spec, value) else False
    fits: dict[str, Callable[[Any], bool]] = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "null": lambda v: v is None,
        "list": lambda v: isinstance(v, list),
        "dict": lambda v: isinstance(v, dict),
    }
    return fits[spec](value) if spec in fits else None


def _reads_as(spec: str, text: str) -> bool:
    """Tell whether the parser could read a string as a number or bool of this spec."""
    if spec == "bool":
        return text.strip().lower() in ("true", "false", "yes", "no", "on", "off")
    try:
        int(text) if spec == "int" else float(text)
    except ValueError:
        return False
    return True


def describe(spec: TypeSpec) -> str:
    """Return a type spec in words."""
    if isinstance(spec, dict) and "union" in spec:
        words = dict.fromkeys(describe(member) for member in spec["union"])
        return " or ".join(words)
    if isinstance(spec, dict) and "literal" in spec:
        return "one of " + ", ".join(repr(v) for v in spec["literal"])
    if isinstance(spec, dict) and "tuple" in spec:
        return f"a list of {len(spec['tuple'])}: " + ", ".join(map(describe, spec["tuple"]))
    if isinstance(spec, dict) and "list" in spec:
        return f"a list of {describe(spec['list'])}"
    return {"any": "an object", "null": "null"}.get(str(spec), str(spec))


def fingerprint(root_abspath: Path) -> str:
    """Return a digest of everything that shapes the project's parser."""
    digest = hashlib.sha256(f"{SCHEMA_FORMAT}\0{sys.executable}\0".encode())
    for library in _PARSER_LIBRARIES:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{library}={version}\0".encode())
    sources = sorted((root_abspath / "src").rglob("*.py"))
    for path in [*sources, root_abspath / DEFAULT_CONFIG_RELPATH, root_abspath / "pyproject.toml"]:
        digest.update(path.relative_to(root_abspath).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"-")
    return digest.hexdigest()


def _cached(path: Path, key: str) -> ConfigSchema | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != key:
        return None
    defaults, types = stored.get("defaults"), stored.get("types")
    if not isinstance(defaults, dict) or not isinstance(types, dict):
        return None
    return ConfigSchema(defaults, types)


def load_schema(
    root_abspath: Path, package: str, on_build: Callable[[str], None] | None = None
) -> ConfigSchema:
    """Return the project's config schema: from the cache, or built and cached now.

    Call with the project's lock held: the cache is written like any project file.

    Args:
        root_abspath: The project.
        package: Its package, whose ``cli`` builds the parser.
        on_build: Told a sentence before a rebuild starts (it takes seconds).

    Raises:
        ProjectEnvironmentError: the project's entry point cannot run in this Python.
    """
    from plscaffold.render import RenderedFile
    from plscaffold.state import write_state_files

    key = fingerprint(root_abspath)
    cached = _cached(root_abspath / SCHEMA_RELPATH, key)
    if cached is not None:
        return cached
    if on_build is not None:
        on_build(
            "Reading the project's config schema with its own parser (once after each change "
            "to its sources, configs or libraries; a few seconds)..."
        )
    probed = probe_schema(root_abspath, package)
    schema = ConfigSchema(flatten(probed["config"]), probed["types"])
    document = {"key": key, "defaults": schema.defaults, "types": schema.types}
    text = json.dumps(document, indent=1, sort_keys=True, default=str) + "\n"
    write_state_files(root_abspath, [(SCHEMA_RELPATH, RenderedFile(text.encode()))])
    return schema
