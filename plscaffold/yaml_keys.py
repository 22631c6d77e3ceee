"""Move or drop a key of a block-style YAML config in its text, keeping every other line.

``model.init_args.hidden_dim`` moved to ``model.init_args.net.init_args.hidden_dim``: its
line (and the lines nested under it) are cut, re-indented and inserted under the new
parent, which is created where missing; a parent left empty goes. The result is checked
by loading both texts: it holds exactly the old values with the one key moved, or the
move is refused and the text left as it was.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from plscaffold.errors import ProjectFileError
from plscaffold.project_code import flatten
from plscaffold.yaml_reader import load_yaml

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_][A-Za-z0-9_.+-]*):(?:[ \t]|$)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_end(lines: list[str], key_index: int, end: int) -> int:
    """Return where the entry whose key is on ``key_index`` ends (its nested lines included).

    A list item at the key's own indent (``key:`` then ``- item``) is the key's too;
    trailing blank and comment lines belong to what follows.
    """
    key_indent = _indent(lines[key_index])
    last = key_index
    for index in range(key_index + 1, end):
        line = lines[index]
        if not _is_content(line):
            continue
        indent = _indent(line)
        item = line.strip() == "-" or line.lstrip(" ").startswith("- ")
        if indent < key_indent or (indent == key_indent and not item):
            break
        last = index
    return last + 1


def _find(lines: list[str], path: list[str]) -> tuple[int, int] | None:
    """Return the line range of the entry at ``path``, or None where there is none."""
    start, end = 0, len(lines)
    found: tuple[int, int] | None = None
    for part in path:
        child_indent = None
        found = None
        for index in range(start, end):
            match = _KEY_LINE.match(lines[index])
            if not match or not _is_content(lines[index]):
                continue
            indent = len(match["indent"])
            if child_indent is None:
                child_indent = indent
            if indent == child_indent and match["key"] == part:
                found = (index, _block_end(lines, index, end))
                break
        if found is None:
            return None
        start, end = found[0] + 1, found[1]
    return found


def _under(each: str, key: str) -> bool:
    """Whether the dotted key ``each`` is ``key`` or nested under it."""
    return each == key or each.startswith(key + ".")


def _moved(flat: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {
        (new + key[len(old) :] if _under(key, old) else key): value for key, value in flat.items()
    }


def _step(lines: list[str]) -> int:
    """The file's indentation step (2 unless it nests by another)."""
    indents = sorted({_indent(line) for line in lines if _is_content(line) and _indent(line)})
    return indents[0] if indents else 2


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _cut(lines: list[str], path: list[str]) -> list[str] | None:
    """Remove the entry at ``path`` from ``lines``, and the parents it leaves empty.

    Returns:
        The entry's lines, or None where the text has no such block entry.
    """
    entry = _find(lines, path)
    if entry is None:
        return None
    block = lines[entry[0] : entry[1]]
    del lines[entry[0] : entry[1]]
    for depth in range(len(path) - 1, 0, -1):
        parent = _find(lines, path[:depth])
        if parent is None or parent[1] - parent[0] > 1 or lines[parent[0]].split(":", 1)[1].strip():
            break
        del lines[parent[0]]
    return block


def _load_flat(text: str) -> dict[str, Any] | None:
    """Return a YAML text's keys flattened (``a.b``), or None if it does not load, or
    would not load within :mod:`plscaffold.yaml_reader`'s bounds (aliases expanding far)."""
    try:
        tree = load_yaml(text, "the config")
    except (yaml.YAMLError, ProjectFileError):
        return None
    return flatten(tree) if isinstance(tree, dict) else {}


def _holds(flat: dict[str, Any], key: str) -> bool:
    return any(_under(each, key) for each in flat)


def key_values(text: str, key: str) -> dict[str, Any]:
    """Return the entries of a YAML text at the dotted ``key`` or under it, flattened
    (``{"checkpoint.dirpath": "ckpts"}``); {} where it holds none, or does not load
    within :mod:`plscaffold.yaml_reader`'s bounds."""
    flat = _load_flat(text) or {}
    return {each: value for each, value in flat.items() if _under(each, key)}


def drop_key(text: str, key: str) -> str | None:
    """Return ``text`` without the key ``key`` (dotted) and what is nested under it.

    Returns:
        The new text; ``text`` itself where there is no such key; None where it cannot
        be removed in the text (flow style, or YAML that does not load).
    """
    flat = _load_flat(text)
    if flat is None:
        return None
    if not _holds(flat, key):
        return text
    lines = _lines(text)
    if _cut(lines, key.split(".")) is None:
        return None
    result = "".join(lines)
    kept = {each: value for each, value in flat.items() if not _under(each, key)}
    return result if _load_flat(result) == kept else None


def move_key(text: str, old: str, new: str) -> str | None:
    """Return ``text`` with the key ``old`` (dotted) moved to ``new``.

    Returns:
        The new text; ``text`` itself where there is no key ``old``; None where the move
        cannot be made in the text (flow style, a scalar where a parent should be, a key
        already at ``new``, or YAML that does not load).
    """
    flat = _load_flat(text)
    if flat is None:
        return None
    if not _holds(flat, old):
        return text
    if _holds(flat, new):
        return None
    lines = _lines(text)
    step = _step(lines)
    old_path, new_path = old.split("."), new.split(".")
    block = _cut(lines, old_path)
    if block is None:
        return None
    # The deepest part of the new path that exists, and where its children go.
    depth, insert_at, indent = 0, len(lines), 0
    for depth in range(len(new_path) - 1, 0, -1):
        parent = _find(lines, new_path[:depth])
        if parent is not None:
            if lines[parent[0]].split(":", 1)[1].split("#", 1)[0].strip():
                return None  # a scalar where a mapping should be
            insert_at, indent = parent[1], _indent(lines[parent[0]]) + step
            children = [line for line in lines[parent[0] + 1 : parent[1]] if _is_content(line)]
            if children:
                indent = _indent(children[0])
            break
    else:
        depth = 0
    created = [
        " " * (indent + step * offset) + part + ":\n"
        for offset, part in enumerate(new_path[depth:-1])
    ]
    leaf_indent = indent + step * len(created)
    shift = leaf_indent - _indent(block[0])
    first = block[0].lstrip(" ")
    moved = [" " * leaf_indent + new_path[-1] + first[len(old_path[-1]) :]]
    for line in block[1:]:
        if not line.strip():
            moved.append(line)
        elif shift >= 0:
            moved.append(" " * shift + line)
        else:
            moved.append(line[min(-shift, _indent(line)) :])
    lines[insert_at:insert_at] = [*created, *moved]
    result = "".join(lines)
    return result if _load_flat(result) == _moved(flat, old, new) else None
