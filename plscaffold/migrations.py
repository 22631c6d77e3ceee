"""Migrations a template declares for its versions, which ``update`` applies to the project.

A template lists them in ``cookiecutter.json`` under ``_migrations``, one per version that
needs one (a private variable: plain cookiecutter ignores it)::

    "_migrations": [
      {
        "version": "1.1.0",
        "moved_files": {"src/{{cookiecutter.package_name}}/models/*.py":
                        "src/{{cookiecutter.package_name}}/networks/*.py"},
        "moved_keys": {"model.init_args.hidden_dim": "model.init_args.net.init_args.hidden_dim"},
        "pinned_answers": {"batch_norm": true},
        "when": {"model": ["cnn", "mlp"]}
      }
    ]

An update from version A to version B applies, in version order, those with
A < version <= B. A project made before template versions records no A: its pristine
copies tell which layout it has (see ``from_layout`` and :func:`layout_version`), and
it gets the migrations, and the changelog entries, from that layout on.

- ``moved_files``: a file the project has at the old path (a generated one: it has a
  pristine copy) moves with its pristine copy to the new path before the merge, so the
  user's edits follow it; ``*`` stands for any name inside one folder, and
  ``{{cookiecutter.NAME}}`` for the project's value of NAME (substituted as text, never
  rendered).
- ``moved_keys``: dotted keys of the YAML files under ``configs/`` (generated configs,
  experiments and the user's own) move to their new place, in the user's file and its
  pristine copy alike, so an edited value follows its key. A config is read within
  :mod:`plscaffold.yaml_reader`'s bounds (its size, what its aliases expand to).
- ``dropped_keys``: dotted keys removed from the same YAML files (a setting the new
  version's code makes itself), so that its default applies.
- ``named_items``: ``{list_key: {"to": key, "names": {ClassName: name}}}``, a list of
  class_path entries that became a mapping of named entries (``trainer.callbacks`` to
  ``callbacks``, where ``null`` drops one). In the same YAML files, a list at
  ``list_key`` whose every entry's class (the last part of its class_path) is one of
  ``names`` goes; each entry moves under ``to`` by its name, and each name the list
  leaves out is set to null there, so the config still means exactly the callbacks it
  listed. A list with entries of other classes too is left as it is and named, for the
  user to move by hand.

  A value of the user's that a key takes along or away (in a config of their own, or one
  that differs from the generated config's pristine copy) is never changed silently:
  ``update`` names the file, the key and the value (see :func:`move_keys`).
- ``pinned_answers``: recorded with this value where the project records none, so that a
  default the template changed does not change an existing project's architecture or
  training. A value is checked as an answer when the migrations are read: one the
  answers file could not read back (nested too deeply) is refused before anything is
  written.
- ``when``: the migration applies only to projects whose recorded answers are among
  these values (a value, or a list of them), as a layout that only some answers render.
- ``unloadable_checkpoints``: ``{"paths": [globs], "reason": text}``, checkpoints of the
  project (found by the globs) that the new version's code cannot load, and why:
  ``update`` names them (``--dry-run`` and ``status`` before anything is written); they
  are never changed. The globs are matched in one walk of the project, bounded in depth
  and in what it names (see :func:`unloadable_checkpoints`).
- ``from_layout``: ``{"files": [paths], "keys": {path: [dotted keys]}}``, the layout the
  migration brings a project from, as a project made before template versions shows it
  in its pristine copies: a pristine file at one of ``files`` (``*`` and each
  ``{{cookiecutter.NAME}}`` stand for any one name), or one of the keys in a pristine
  YAML file at ``path``. Such a project that shows none of it gets neither this migration
  nor an earlier one; one without the field makes no such claim.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.version import Version

from plscaffold.answers import check_answer, check_version
from plscaffold.errors import TemplateError, UnsafePathError
from plscaffold.paths import check_relpath, reserved_folder
from plscaffold.templates import Template, read_variables
from plscaffold.versions import between

MIGRATIONS_KEY = "_migrations"
CONFIGS_RELPATH = "configs"
_PLACEHOLDER = re.compile(r"\{\{\s*cookiecutter\.([A-Za-z_]\w*)\s*\}\}")
_FIELDS = {
    "version",
    "moved_files",
    "moved_keys",
    "dropped_keys",
    "pinned_answers",
    "when",
    "unloadable_checkpoints",
    "from_layout",
    "named_items",
}
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_+-]*(\.[A-Za-z0-9_][A-Za-z0-9_+-]*)*")


@dataclass(frozen=True)
class Layout:
    """How a project made before template versions shows the layout a migration is for.

    Attributes:
        files: Pristine paths, any of which marks the layout (``*`` and each
            ``{{cookiecutter.NAME}}`` match one name).
        keys: Pristine YAML paths (matched as ``files`` are), each with dotted keys, any of
            which in such a file marks it.
    """

    files: tuple[str, ...] = ()
    keys: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def shown_by(
        self, pristine_relpaths: Iterable[str], read_pristine: Callable[[str], bytes | None]
    ) -> bool:
        """Whether a project with these pristine copies has this layout.

        A pristine YAML file that is not UTF-8, does not load or is beyond
        :mod:`plscaffold.yaml_reader`'s bounds shows no key.
        """
        from plscaffold.yaml_keys import key_values

        relpaths = sorted(pristine_relpaths)
        files = [_layout_path(pattern) for pattern in self.files]
        if any(pattern.fullmatch(relpath) for pattern in files for relpath in relpaths):
            return True
        for path, keys in self.keys:
            pattern = _layout_path(path)
            for relpath in (each for each in relpaths if pattern.fullmatch(each)):
                content = read_pristine(relpath)
                try:
                    text = content.decode("utf-8") if content is not None else ""
                except UnicodeDecodeError:
                    continue
                if any(key_values(text, key) for key in keys):
                    return True
        return False


def _layout_path(pattern: str) -> re.Pattern[str]:
    """Return a ``from_layout`` path as a pattern: ``*`` and placeholders match one name."""
    parts = re.split(r"(\*|\{\{\s*cookiecutter\.[A-Za-z_]\w*\s*\}\})", pattern)
    return re.compile(
        "".join("[^/]+" if index % 2 else re.escape(part) for index, part in enumerate(parts))
    )


@dataclass(frozen=True)
class Migration:
    """What one template version moved, and the defaults it pins for existing projects."""

    version: str
    moved_files: tuple[tuple[str, str], ...] = ()
    moved_keys: tuple[tuple[str, str], ...] = ()
    pinned_answers: dict[str, Any] = field(default_factory=dict)
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    unloadable_checkpoints: tuple[tuple[str, ...], str] | None = None
    dropped_keys: tuple[str, ...] = ()
    from_layout: Layout | None = None
    named_items: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()

    @property
    def changes_configs(self) -> bool:
        """Whether it moves or drops keys of the YAML configs."""
        return bool(self.moved_keys or self.dropped_keys or self.named_items)

    def applies_to(self, answers: Mapping[str, Any]) -> bool:
        """Whether a project with these recorded answers is one this migration is for."""
        return all(
            name in answers and str(answers[name]) in {str(v) for v in values}
            for name, values in self.when.items()
        )


def _pairs(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise TemplateError(f"{where} must map old to new, as text")
    return tuple(value.items())


def read_migrations(template: Template) -> list[Migration]:
    """Return the template's migrations in version order; [] where it declares none.

    Raises:
        TemplateError: ``_migrations`` is not a list of migrations as documented above.
    """
    raw = read_variables(template).get(MIGRATIONS_KEY)
    if raw is None:
        return []
    where = f"{template.context_file_abspath}: {MIGRATIONS_KEY}"
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise TemplateError(f"{where} must be a list of objects, one per version")
    migrations = []
    for item in raw:
        unknown = sorted(set(item) - _FIELDS)
        if unknown:
            raise TemplateError(
                f"{where}: unknown field {', '.join(unknown)}; a migration has "
                f"{', '.join(sorted(_FIELDS))}"
            )
        try:
            version = check_version(item.get("version"), f"{where}: version")
        except ValueError as err:
            raise TemplateError(str(err)) from err
        at = f"{where} {version}"
        files = _pairs(item.get("moved_files", {}), f"{at}: moved_files")
        keys = _pairs(item.get("moved_keys", {}), f"{at}: moved_keys")
        for old, new in keys:
            if not (_KEY.fullmatch(old) and _KEY.fullmatch(new)):
                raise TemplateError(f"{at}: moved_keys {old!r}: {new!r} are not dotted keys")
        dropped = item.get("dropped_keys", [])
        if not isinstance(dropped, list) or not all(
            isinstance(key, str) and _KEY.fullmatch(key) for key in dropped
        ):
            raise TemplateError(f"{at}: dropped_keys must be a list of dotted keys")
        for old, new in files:
            if old.count("*") != new.count("*") or old.count("*") > 1:
                raise TemplateError(
                    f"{at}: moved_files {old!r}: {new!r} must have one '*' each, or none"
                )
            for pattern in (old, new):
                if re.sub(_PLACEHOLDER, "", pattern).count("{") or "{%" in pattern:
                    raise TemplateError(
                        f"{at}: moved_files {pattern!r}: a path names the project's values "
                        "with {{cookiecutter.NAME}} only"
                    )
        pinned = item.get("pinned_answers", {})
        if not isinstance(pinned, dict):
            raise TemplateError(f"{at}: pinned_answers must map answers to values")
        for name, value in pinned.items():
            try:
                check_answer(value)  # it is written to the answers file as it is
            except ValueError as err:
                raise TemplateError(
                    f"{at}: pinned_answers {name[:40]!r}: {err}, more than an answers file "
                    "holds; pin a flatter value"
                ) from err
        when = item.get("when", {})
        if not isinstance(when, dict):
            raise TemplateError(f"{at}: when must map answers to a value or a list of them")
        conditions = {
            name: tuple(value) if isinstance(value, list) else (value,)
            for name, value in when.items()
        }
        migrations.append(
            Migration(
                version, files, keys, dict(pinned), conditions,
                _checkpoints(item.get("unloadable_checkpoints"), f"{at}: unloadable_checkpoints"),
                tuple(dropped),
                _layout(item.get("from_layout"), f"{at}: from_layout"),
                _named_items(item.get("named_items", {}), f"{at}: named_items"),
            )
        )  # fmt: skip
    return sorted(migrations, key=lambda m: Version(m.version))


def _named_items(raw: Any, where: str) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
    """Return ``named_items`` as (list key, mapping key, (class name, name) pairs)."""
    if not isinstance(raw, dict):
        raise TemplateError(f"{where} must map a list's dotted key to its mapping")
    found = []
    for key, spec in raw.items():
        if not (
            _KEY.fullmatch(key)
            and isinstance(spec, dict)
            and set(spec) == {"to", "names"}
            and isinstance(spec["to"], str)
            and _KEY.fullmatch(spec["to"])
        ):
            raise TemplateError(
                f'{where} {key!r}: give a dotted key, and {{"to": KEY, "names": {{...}}}}'
            )
        names = _pairs(spec["names"], f"{where} {key!r}: names")
        if not all(_KEY.fullmatch(each) and "." not in each for pair in names for each in pair):
            raise TemplateError(f"{where} {key!r}: names maps class names to plain names")
        found.append((key, spec["to"], names))
    return tuple(found)


def _layout(raw: Any, where: str) -> Layout | None:
    if raw is None:
        return None
    shape = f'{where} must be {{"files": [paths], "keys": {{path: [dotted keys]}}}}, not empty'
    if not isinstance(raw, dict) or set(raw) - {"files", "keys"}:
        raise TemplateError(shape)
    files, keys = raw.get("files", []), raw.get("keys", {})
    if not (
        isinstance(files, list)
        and all(isinstance(path, str) and path for path in files)
        and isinstance(keys, dict)
        and all(
            isinstance(path, str)
            and path
            and isinstance(names, list)
            and names
            and all(isinstance(key, str) and _KEY.fullmatch(key) for key in names)
            for path, names in keys.items()
        )
        and (files or keys)
    ):
        raise TemplateError(shape)
    for path in [*files, *keys]:
        try:
            if len(path) > MAX_LAYOUT_PATH or re.sub(_PLACEHOLDER, "", path).count("{"):
                raise UnsafePathError(path)
            check_relpath(re.sub(_PLACEHOLDER, "x", path))
        except UnsafePathError as err:
            raise TemplateError(
                f"{where}: {path[:60]!r} is not a path inside the project (names, * and "
                "{{cookiecutter.NAME}} only)"
            ) from err
    if len(files) + sum(len(names) for names in keys.values()) > MAX_LAYOUT_MARKERS:
        raise TemplateError(f"{where} names more than {MAX_LAYOUT_MARKERS} files and keys")
    return Layout(tuple(files), tuple((path, tuple(names)) for path, names in keys.items()))


MAX_LAYOUT_PATH = 1_000
"""Characters a ``from_layout`` path may have."""
MAX_LAYOUT_MARKERS = 100
"""Files and keys one ``from_layout`` may name: a layout needs one or two."""


def _checkpoints(raw: Any, where: str) -> tuple[tuple[str, ...], str] | None:
    if raw is None:
        return None
    paths, reason = (raw.get("paths"), raw.get("reason")) if isinstance(raw, dict) else (0, 0)
    if not (
        isinstance(paths, list)
        and paths
        and all(isinstance(p, str) and p for p in paths)
        and isinstance(reason, str)
        and reason
    ):
        raise TemplateError(f'{where} must be {{"paths": [globs], "reason": text}}')
    if len(paths) > MAX_CHECKPOINT_GLOBS:
        raise TemplateError(
            f"{where} names {len(paths)} globs, more than the {MAX_CHECKPOINT_GLOBS} it may; "
            "match the checkpoints with fewer, using ** and *"
        )
    for pattern in paths:
        depth = len(PurePosixPath(check_relpath(pattern)).parts)
        if depth > MAX_CHECKPOINT_DEPTH:
            raise TemplateError(
                f"{where}: {pattern[:60]!r} is {depth} names deep, more than the "
                f"{MAX_CHECKPOINT_DEPTH} a glob may be; shorten it (** matches any folders)"
            )
    return tuple(paths), reason


MAX_CHECKPOINT_GLOBS = 100
"""Globs one ``unloadable_checkpoints`` may name: a template needs one or two."""
MAX_CHECKPOINT_DEPTH = 32
"""Names a glob may have, and folders below the project root that are searched."""
MAX_CHECKPOINTS = 1_000
"""Checkpoints named at most: the search stops at as many."""


def unloadable_checkpoints(migrations: Iterable[Migration], root_abspath: Path) -> dict[str, str]:
    """Return the project's checkpoints a pending migration says will not load, and why.

    One walk of the project matches every glob (``**`` any folders, ``*`` any name inside
    one), so many ``**`` cost no more than one; it enters only folders a glob can still
    match, down to :data:`MAX_CHECKPOINT_DEPTH`, and stops at :data:`MAX_CHECKPOINTS`.
    Links (files and folders), ``.git/`` and ``.plscaffold/`` are left out. A checkpoint
    matched by several globs gets the reason of the first, in migration order.
    """
    globs: list[tuple[tuple[str, ...], str]] = []
    for migration in migrations:
        if migration.unloadable_checkpoints is not None:
            patterns, reason = migration.unloadable_checkpoints
            globs += [(PurePosixPath(pattern).parts, reason) for pattern in patterns]
    if not globs:
        return {}
    found: dict[tuple[str, ...], int] = {}  # a checkpoint's names -> its first glob
    start = [_glob_states(parts, {0}) for parts, _ in globs]
    folders: list[tuple[Path, tuple[str, ...], list[frozenset[int]]]] = [(root_abspath, (), start)]
    while folders and len(found) < MAX_CHECKPOINTS:
        folder_abspath, names, states = folders.pop()
        try:
            with os.scandir(folder_abspath) as entries:
                listed = sorted(entries, key=lambda entry: entry.name)
        except OSError:
            continue  # unreadable, or gone meanwhile: nothing in it to name
        for entry in listed:
            if entry.is_symlink() or reserved_folder(entry.name) is not None:
                continue
            if entry.is_dir(follow_symlinks=False):
                inner = [
                    _glob_states(parts, _descend(parts, at, entry.name))
                    for (parts, _), at in zip(globs, states, strict=True)
                ]
                if len(names) < MAX_CHECKPOINT_DEPTH and any(inner):
                    folders.append((Path(entry.path), (*names, entry.name), inner))
            elif entry.is_file(follow_symlinks=False):
                matched = next(
                    (
                        index
                        for index, ((parts, _), at) in enumerate(zip(globs, states, strict=True))
                        if _names_file(parts, at, entry.name)
                    ),
                    None,
                )
                if matched is not None and len(found) < MAX_CHECKPOINTS:
                    found[(*names, entry.name)] = matched
    ordered = sorted(found.items(), key=lambda item: (item[1], item[0]))
    return {"/".join(names): globs[index][1] for names, index in ordered}


def _glob_states(parts: tuple[str, ...], at: set[int]) -> frozenset[int]:
    """Return ``at`` (how many of a glob's names the folders so far used up) with the
    positions past each ``**``, which may match no folder at all."""
    states = set(at)
    for position in sorted(at):
        while position < len(parts) and parts[position] == "**":
            position += 1
            states.add(position)
    return frozenset(states)


def _descend(parts: tuple[str, ...], at: frozenset[int], name: str) -> set[int]:
    """Return where a glob stands inside folder ``name``: a ``**`` takes it and stays, any
    other name but the last (which matches the file) takes it if it matches."""
    return {
        position if parts[position] == "**" else position + 1
        for position in at
        if position < len(parts) - 1
        and (parts[position] == "**" or fnmatch.fnmatchcase(name, parts[position]))
    }


def _names_file(parts: tuple[str, ...], at: frozenset[int], name: str) -> bool:
    """Whether a glob standing at ``at`` in a folder matches its file ``name``."""
    last = len(parts) - 1
    return last in at and parts[last] != "**" and fnmatch.fnmatchcase(name, parts[last])


def pending_migrations(
    migrations: Iterable[Migration],
    recorded: str | None,
    installed: str | None,
    answers: Mapping[str, Any],
) -> list[Migration]:
    """Return the migrations an update from ``recorded`` to ``installed`` applies to a
    project with these recorded ``answers``, in order."""
    return [
        m for m in migrations if between(m.version, recorded, installed) and m.applies_to(answers)
    ]


def layout_version(
    migrations: Iterable[Migration],
    installed: str | None,
    pristine_relpaths: Iterable[str],
    read_pristine: Callable[[str], bytes | None],
) -> str | None:
    """Return the version a project made before template versions stands at, by its layout.

    The migrations up to ``installed`` that say which layout they bring a project from
    (``from_layout``) are checked in version order: the first whose layout the project's
    pristine copies show is the first it needs, and the project stands at the version
    before it (None before the first); a project that shows none of them stands at the
    newest one's version. None also where no migration has a ``from_layout``: every
    migration and changelog entry applies to such a project.
    """
    relpaths = list(pristine_relpaths)
    standing = None
    for migration in sorted(migrations, key=lambda m: Version(m.version)):
        if migration.from_layout is None or not between(migration.version, None, installed):
            continue
        if migration.from_layout.shown_by(relpaths, read_pristine):
            return standing
        standing = migration.version
    return standing


def pin_answers(answers: dict[str, Any], migrations: Iterable[Migration]) -> dict[str, Any]:
    """Return ``answers`` with each pinned answer the project does not record yet."""
    pinned = dict(answers)
    for migration in migrations:
        for name, value in migration.pinned_answers.items():
            pinned.setdefault(name, value)
    return pinned


def _concrete(pattern: str, values: Mapping[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda match: str(values.get(match[1], match[0])), pattern)


def moved_files(
    migrations: Iterable[Migration],
    values: Mapping[str, Any],
    generated: Iterable[str],
    rendered: Iterable[str],
) -> dict[str, str]:
    """Return each generated file a migration moves, mapped to its new path.

    A file moves only where the new rendering has the new path and no longer the old one.

    Args:
        migrations: The pending migrations, in order.
        values: The project's ``cookiecutter`` values, for ``{{cookiecutter.NAME}}``.
        generated: The project's files that have a pristine copy.
        rendered: The files of the new rendering.

    Raises:
        UnsafePathError: a moved path would leave the project.
    """
    rendered = set(rendered)
    current = {relpath: relpath for relpath in generated}  # where each file is by now
    for migration in migrations:
        for old, new in migration.moved_files:
            old_path, new_path = _concrete(old, values), _concrete(new, values)
            for origin, relpath in list(current.items()):
                name = _matched_name(old_path, relpath)
                if name is not None:
                    current[origin] = check_relpath(new_path.replace("*", name))
    return {
        origin: target
        for origin, target in current.items()
        if origin != target and target in rendered and origin not in rendered
    }


def _matched_name(pattern: str, relpath: str) -> str | None:
    """Return what ``*`` of ``pattern`` stands for in ``relpath`` ('' without a ``*``), or
    None if ``relpath`` does not match; ``*`` is a non-empty name inside one folder."""
    prefix, star, suffix = pattern.partition("*")
    if not star:
        return "" if relpath == pattern else None
    if not (relpath.startswith(prefix) and relpath.endswith(suffix)):
        return None
    name = relpath[len(prefix) : len(relpath) - len(suffix)]
    return name if name and "/" not in name else None


def is_config(relpath: str) -> bool:
    """Whether ``moved_keys`` applies to a file: YAML under ``configs/``."""
    return relpath.startswith(CONFIGS_RELPATH + "/") and relpath.lower().endswith((".yaml", ".yml"))


@dataclass(frozen=True)
class ChangedValue:
    """A value of the user's that a migration moved to another key, or removed.

    Attributes:
        key: The dotted key it was at.
        value: The value, as one short line of flow YAML.
        moved_to: The key it is at now; None where it was removed.
    """

    key: str
    value: str
    moved_to: str | None

    def __str__(self) -> str:
        done = f"moved to {self.moved_to}" if self.moved_to is not None else "removed"
        return f"{self.key}: {self.value} ({done})"


MAX_SHOWN_VALUE = 80
"""Characters of a value that ``update`` shows when a migration moves or drops it."""


def move_keys(
    content: bytes,
    migrations: Iterable[Migration],
    where: str = "a config",
    *,
    base: bytes | None = None,
) -> tuple[bytes, list[str], list[ChangedValue]]:
    """Return a config with every pending key moved or dropped, the changes it could not
    make (``old -> new``, ``key (removed)``), and those that took a value of the user's.

    A value is the user's where ``base``, the config's pristine copy (None for a config of
    the user's own), holds another one at that key, or none: each such move or drop is
    a :class:`ChangedValue`, for ``update`` to say. A file that is not UTF-8 or not block
    YAML is returned as it is, with the keys it holds that could not move named, for the
    user to move by hand.

    Raises:
        ProjectFileError: the config is larger than a YAML file plscaffold reads, or its
            aliases expand too far (see :mod:`plscaffold.yaml_reader`): each move loads it
            again, so it is refused, named by ``where``, before the first.
    """
    import yaml

    from plscaffold.yaml_keys import drop_key, key_values, move_key
    from plscaffold.yaml_reader import load_yaml

    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return content, [], []
    with contextlib.suppress(yaml.YAMLError):  # not YAML: each move below is refused, named
        load_yaml(text, where)
    theirs: str | None = None
    if base is not None:
        with contextlib.suppress(UnicodeDecodeError):
            theirs = base.decode("utf-8")
    refused: list[str] = []
    told: list[ChangedValue] = []

    def users(key: str) -> dict[str, Any] | None:
        """The values at ``key`` where they are the user's, else None."""
        mine = key_values(text, key)
        if not mine:
            return None
        return mine if theirs is None or key_values(theirs, key) != mine else None

    def apply(key: str, change: Callable[[str], str | None], moved_to: str | None) -> None:
        """Make one change in the config and its pristine copy; note a refusal or a value."""
        nonlocal text, theirs
        values, changed = users(key), change(text)
        if changed is None:
            refused.append(f"{key} -> {moved_to}" if moved_to else f"{key} (removed)")
            return
        if values is not None and changed != text:
            told.append(ChangedValue(key, _shown(values, key), moved_to))
        text = changed
        if theirs is not None:
            theirs = change(theirs) or theirs

    for migration in migrations:
        for old, new in migration.moved_keys:
            apply(old, partial(move_key, old=old, new=new), new)
        for key in migration.dropped_keys:
            apply(key, partial(drop_key, key=key), None)
        for old, new, names in migration.named_items:
            apply(old, partial(_name_items, old=old, new=new, names=dict(names)), new)
    return text.encode("utf-8"), refused, told


def _name_items(text: str, old: str, new: str, names: dict[str, str]) -> str | None:
    """Return ``text`` with the list at ``old`` made the mapping at ``new`` (see
    ``named_items``); ``text`` where it has no such list; None where it cannot be done."""
    import yaml

    from plscaffold.yaml_keys import drop_key, key_values
    from plscaffold.yaml_reader import load_yaml

    if not key_values(text, old):
        return text
    tree: Any = load_yaml(text, "the config")
    for part in old.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    if not isinstance(tree, list) or key_values(text, new) or "." in new:
        return None

    def class_name(entry: Any) -> str | None:
        path = entry.get("class_path") if isinstance(entry, dict) else entry
        return str(path).rsplit(".", 1)[-1] if isinstance(path, str) else None

    if not all(class_name(entry) in names for entry in tree):
        return None
    named: dict[str, Any] = dict.fromkeys(names.values())
    for entry in tree:
        named[names[str(class_name(entry))]] = entry
    dropped = drop_key(text, old)
    if dropped is None:
        return None
    block = str(yaml.safe_dump({new: named}, sort_keys=False, default_flow_style=False))
    return dropped + ("" if not dropped or dropped.endswith("\n") else "\n") + block


def _shown(values: Mapping[str, Any], key: str) -> str:
    """Return the value at ``key`` (``values``: it and what is under it, flattened) as one
    short line of flow YAML."""
    import yaml

    value: Any = (
        values[key]
        if list(values) == [key]
        else {each[len(key) + 1 :]: leaf for each, leaf in values.items()}
    )
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True)
    text = " ".join(text.strip().removesuffix("...").split())
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 3] + "..."
