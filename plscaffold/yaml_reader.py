"""Read the YAML a project holds (configs, experiments, a run's saved config) within bounds.

A project's files are data a template, a clone or a run wrote, so reading one may not take
the machine: only a regular file is read (a link to ``/dev/zero`` or a pipe is refused,
not read), up to :data:`MAX_YAML_BYTES`; and aliases are bounded by what they expand to.
An 898-byte file of ten nested anchors (``&a [*a, *a, ...]``) loads cheaply as shared
objects but is a billion values to whatever walks it (flattening keys, comparing trees,
dumping it again). Aliases stay legal within :data:`MAX_YAML_VALUES` values in all, since
a saved config may share a value.
"""

from __future__ import annotations

import copy
import errno
import os
import stat
from collections import OrderedDict
from pathlib import Path
from typing import Any

from plscaffold.errors import ProjectFileError

MAX_YAML_BYTES = 1 << 20
"""The largest YAML file plscaffold reads: a project's configs are a few KiB each."""
MAX_YAML_VALUES = 100_000
"""Values a YAML document may hold once its aliases are expanded; a config holds hundreds."""
# What was loaded, by text, so that reading one file again costs a copy, not a parse: a
# command over 1,000 experiments walks each one's lineage and reads the default config
# for each. Only texts that loaded are kept: the latest 2,048 of up to 8 KiB each.
_MEMO_ENTRIES = 2048
_MEMO_TEXT_BYTES = 1 << 13
_LOADED: OrderedDict[str, Any] = OrderedDict()
# Nesting both parsers take: Python's stops near 500 levels (its recursion limit).
_FAST_NESTING = 300


def load_yaml(text: str, where: str) -> Any:
    """Return YAML text loaded as ``yaml.safe_load`` would, once it is known to stay small.

    Args:
        text: The YAML.
        where: What the text is (a file's path), for the messages.

    Raises:
        ProjectFileError: the text is larger than :data:`MAX_YAML_BYTES`, nests too deeply,
            or holds an alias that refers to a value it lies in, or aliases that expand to
            more than :data:`MAX_YAML_VALUES` values.
        yaml.YAMLError: the text is not valid YAML.
    """
    import yaml

    if len(text) > MAX_YAML_BYTES:
        raise ProjectFileError(_too_large(where))
    if text in _LOADED:  # one parse per text: a command reads the same config many times
        _LOADED.move_to_end(text)
        return copy.deepcopy(_LOADED[text])
    loaded = _load_checked(yaml, text, where)
    if len(text) <= _MEMO_TEXT_BYTES:
        _LOADED[text] = copy.deepcopy(loaded)
        if len(_LOADED) > _MEMO_ENTRIES:
            _LOADED.popitem(last=False)
    return loaded


def _load_checked(yaml: Any, text: str, where: str) -> Any:
    """Parse the text, check what its aliases expand to, then build it; see :func:`load_yaml`.

    libyaml parses where it is installed and the text cannot nest deeper than
    :data:`_FAST_NESTING` levels (each takes one of ``[{-?:``; libyaml composes recursively
    in C, so a deeper text goes to the Python parser, which stops at Python's recursion
    limit). Text libyaml refuses is parsed again in Python, for the same message.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    # libyaml reads some texts Python's parser refuses (a tab in a plain scalar, a lone
    # surrogate): it reads only ASCII without tabs, which both read alike.
    plain = text.isascii() and "\t" not in text
    if fast is not None and plain and sum(map(text.count, "[{-?:")) <= _FAST_NESTING:
        try:
            return _construct(fast(text), where)
        except yaml.YAMLError:
            pass
    return _construct(yaml.SafeLoader(text), where)


def _construct(loader: Any, where: str) -> Any:
    """Return the loader's document once its aliases are known to stay small."""
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, where)
        return loader.construct_document(node)
    except RecursionError as err:
        raise ProjectFileError(
            f"{where} nests its YAML too deeply to be read; write it with fewer levels"
        ) from err
    finally:
        loader.dispose()


def read_yaml_file(path: Path, where: str | None = None) -> Any:
    """Return the YAML of a regular file, read and loaded within the bounds above.

    Args:
        path: The file; a symbolic link is refused, not followed.
        where: How messages name the file; ``path`` where None.

    Raises:
        ProjectFileError: the file is a link, a pipe or a device, is larger than
            :data:`MAX_YAML_BYTES`, is not UTF-8, or fails :func:`load_yaml`'s bounds.
        OSError: the file cannot be opened (it does not exist, say).
        yaml.YAMLError: it is not valid YAML.
    """
    where = where or str(path)
    data = _read_regular(path, where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProjectFileError(
            f"{where} is not UTF-8 text (byte {err.start}); save it as UTF-8"
        ) from err
    return load_yaml(text, where)


def _read_regular(path: Path, where: str) -> bytes:
    """Return a regular file's bytes, refusing links, pipes, devices and large files.

    A pipe is opened without blocking and a device is never read: a link to ``/dev/zero``
    would fill memory, a pipe no one writes would hang.
    """
    if path.is_symlink():
        raise ProjectFileError(_linked(where))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP and path.is_symlink():  # made a link meanwhile
            raise ProjectFileError(_linked(where)) from err
        raise
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ProjectFileError(
                f"{where} is not a regular file (a pipe or device?), so it was not read; "
                "replace it with a YAML file, or remove it"
            )
        data = handle.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ProjectFileError(_too_large(where))
    return data


def _linked(where: str) -> str:
    return (
        f"{where} is a symbolic link, which plscaffold does not follow in a project; "
        "replace the link with the file itself"
    )


def _too_large(where: str) -> str:
    return (
        f"{where} is larger than the {MAX_YAML_BYTES >> 20} MiB a YAML file plscaffold reads "
        "may be; shorten it, or move what it holds out of the project's configs"
    )


def _check_expansion(root: Any, where: str) -> None:
    """Refuse a composed document whose aliases refer to themselves or expand too far.

    Each node is sized once, however many aliases name it, so the check costs what the
    text holds, not what it expands to; it walks without recursing.

    Raises:
        ProjectFileError: as :func:`load_yaml` says.
    """
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # the nodes the walk is inside of: a path from the root
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            size = 1 + sum(sizes[id(child)] for child in children(node))
            if size > MAX_YAML_VALUES:
                raise ProjectFileError(
                    f"{where}: its YAML aliases (*name) expand to more than {MAX_YAML_VALUES} "
                    "values, so it was not read; write the values out, or share fewer of them"
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ProjectFileError(
                f"{where}: a YAML alias (*name) refers to a value it lies in, which never "
                "ends once expanded; write that value without the alias"
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children(node))
