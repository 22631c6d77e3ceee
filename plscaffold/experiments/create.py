"""Create experiments: check every key and value, then write only what differs from the parent.

Keys and values are checked against the project's cached config schema (no torch
import). What only the project's parser can judge (a value of an object type, a changed
``class_path`` and the keys below it) is checked by that parser before anything is written.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plscaffold.errors import ExperimentError
from plscaffold.experiments.configs import (
    DEFAULT_PARENT,
    EXPERIMENTS_RELPATH,
    TEMPLATE_PREFIX,
    builtin_experiments,
    chain_keys,
    expand_sections,
    experiment_chain,
    experiment_names,
    experiment_path,
    flatten,
    refuse_owned_keys,
    unflatten,
)
from plscaffold.experiments.probe import config_args, error_text, resolve_configs, resolved_mapping
from plscaffold.experiments.schema import ConfigSchema, load_schema
from plscaffold.git import git_output
from plscaffold.names import check_experiment_name
from plscaffold.writer import Change

if TYPE_CHECKING:
    from plscaffold.state import ProjectState

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Parent:
    """Where a new experiment starts: its lineage name, its files and a template's keys."""

    lineage_name: str
    files: list[Path]
    template_keys: dict[str, Any]


@dataclass(frozen=True)
class PlannedExperiment:
    """An experiment checked and ready to write: its name, file content and document."""

    name: str
    relpath: str
    text: str
    document: dict[str, Any]


def check_new_name(root_abspath: Path, name: str) -> None:
    """Refuse a name that is not a plain name, stands for the defaults, or exists.

    Raises:
        InvalidNameError: the name is not a plain name.
        ExperimentError: it is ``default`` or an existing experiment.
    """
    check_experiment_name(name)
    if name == DEFAULT_PARENT:
        raise ExperimentError(
            f"{name!r} stands for configs/default.yaml; give the experiment another name"
        )
    target = experiment_path(root_abspath, name)
    if target.exists():
        raise ExperimentError(f"experiment {name!r} exists ({target}); choose another name")


def find_parent(root_abspath: Path, parent: str) -> Parent:
    """Return the parent ``default``, an experiment of the project, or a built-in template.

    Raises:
        ExperimentError: ``parent`` is none of those.
    """
    if parent == DEFAULT_PARENT:
        return Parent(DEFAULT_PARENT, [], {})
    if parent in experiment_names(root_abspath):
        return Parent(parent, experiment_chain(root_abspath, parent), {})
    name = parent.removeprefix(TEMPLATE_PREFIX)
    builtins = builtin_experiments()
    if name in builtins:
        return Parent(TEMPLATE_PREFIX + name, [], flatten(builtins[name][1]))
    choices = [DEFAULT_PARENT, *experiment_names(root_abspath), *builtins]
    raise ExperimentError(f"no parent {parent!r}; choose one of {', '.join(choices)}")


def config_on_parent(
    root_abspath: Path, package: str, parent: Parent, changes: dict[str, Any]
) -> dict[str, Any]:
    """Return the flat config ``changes`` make on ``parent``, as its files set it (no parser)."""
    merged = {**load_schema(root_abspath, package).defaults}
    merged.update(chain_keys(root_abspath, parent.lineage_name))
    merged.update(parent.template_keys)
    merged.update(changes)
    return merged


def _nested_leaf(key: str, known: dict[str, Any]) -> bool:
    """Tell a key below one that takes a nested value (``trainer.logger: null``)."""
    return any(key.startswith(prefix + ".") for prefix in known if known[prefix] in (None, {}))


def _check_keys(keys: list[str], known: dict[str, Any]) -> None:
    """Refuse keys the resolved config does not have, naming the nearest valid ones."""
    for key in keys:
        if key in known or key.endswith("+") or _nested_leaf(key, known):
            continue
        near = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
        if not near:
            section = key.split(".")[0] + "."
            near = [k for k in known if k.startswith(section)][:5]
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ExperimentError(f"unknown config key {key!r}{hint} Nothing was written.")


def _changed_classes(
    schema: ConfigSchema, inherited: dict[str, Any], wanted: dict[str, Any]
) -> list[str]:
    """Return the sections whose class differs from the defaults' (``model.init_args.net.``).

    The keys below such a section belong to another class than the schema describes.
    """
    return [
        key.removesuffix("class_path")
        for key, value in {**inherited, **wanted}.items()
        if key.endswith("class_path") and schema.defaults.get(key) != value
    ]


def _judged_by_schema(schema: ConfigSchema, wanted: dict[str, Any], skip: list[str]) -> bool:
    """Check values against the schema; return False where only the parser can judge one.

    Keys below a section in ``skip`` are left to the parser.

    Raises:
        ExperimentError: a value does not fit its key's type.
    """
    complete = True
    for key, value in wanted.items():
        skipped = any(key.startswith(section) for section in skip)
        verdict = None if skipped else schema.judge(key, value)
        if verdict is False:
            raise ExperimentError(
                f"{key}={value!r} does not fit: {key} takes {schema.describe(key)}. "
                "Nothing was written."
            )
        complete = complete and verdict is True
    return complete


def _lineage(root_abspath: Path, parent: Parent, description: str | None) -> dict[str, Any]:
    return {
        "parent": parent.lineage_name,
        "description": description or "",
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "git_commit": (git_output(root_abspath, "rev-parse", "HEAD") or "").strip() or None,
    }


@dataclass(frozen=True)
class PlanBase:
    """What experiments planned on one parent share: found once for all points of a sweep.

    Attributes:
        parent: From :func:`find_parent`.
        schema: The project's config schema.
        inherited: The keys the parent's files set, flat.
        known: The schema's defaults with ``inherited`` on them.
        lineage: The lineage every such experiment records (parent, description, when,
            the project's commit).
    """

    parent: Parent
    schema: ConfigSchema
    inherited: dict[str, Any]
    known: dict[str, Any]
    lineage: dict[str, Any]


def plan_base(
    root_abspath: Path,
    package: str,
    parent: Parent,
    description: str | None = None,
    on_progress: Progress | None = None,
) -> PlanBase:
    """Return what experiments planned on ``parent`` share; see :class:`PlanBase`.

    Raises:
        ProjectEnvironmentError: the project's entry point cannot run here.
    """
    schema = load_schema(root_abspath, package, on_progress)
    # A template's keys are the new file's own; an experiment parent's are inherited.
    inherited = chain_keys(root_abspath, parent.lineage_name)
    known = {**schema.defaults, **inherited}
    return PlanBase(parent, schema, inherited, known, _lineage(root_abspath, parent, description))


def plan_experiment(
    root_abspath: Path,
    package: str,
    name: str,
    parent: Parent,
    changes: dict[str, Any],
    description: str | None = None,
    lineage_extra: dict[str, Any] | None = None,
    on_progress: Progress | None = None,
    *,
    base: PlanBase | None = None,
) -> PlannedExperiment:
    """Check an experiment against the project's config and return the file to write.

    Args:
        root_abspath: The project.
        package: Its package.
        name: The new experiment's name (checked by :func:`check_new_name` first).
        parent: From :func:`find_parent`.
        changes: Flat keys and values (``data.init_args.batch_size: 32``) set on the parent.
        description: What the experiment tries.
        lineage_extra: More lineage keys (a sweep's name and point).
        on_progress: Told a sentence before work that takes seconds.
        base: :func:`plan_base` of ``parent`` and ``description``, shared by many
            experiments; found here where None.

    Raises:
        ExperimentError: a key is unknown, owned by plscaffold or of the wrong type; the
            parent does not load.
        ProjectEnvironmentError: the project's entry point cannot run here.
    """
    if base is None:
        base = plan_base(root_abspath, package, parent, description, on_progress)
    schema, inherited, known = base.schema, base.inherited, base.known
    wanted = {**parent.template_keys, **expand_sections(changes, known)}
    refuse_owned_keys(list(wanted))
    changed_classes = _changed_classes(schema, inherited, wanted)
    if not changed_classes:
        _check_keys(list(wanted), known)
    complete = _judged_by_schema(schema, wanted, changed_classes) and not changed_classes
    lineage = {**base.lineage, **(lineage_extra or {})}
    planned = _planned(name, parent, lineage, wanted, known)
    if complete:
        return planned
    if on_progress is not None:
        on_progress("Checking the experiment with the project's own parser...")
    resolved_parent = _check_with_parser(root_abspath, package, parent, planned, wanted)
    return _planned(name, parent, lineage, wanted, resolved_parent)


def _planned(
    name: str,
    parent: Parent,
    lineage: dict[str, Any],
    wanted: dict[str, Any],
    known: dict[str, Any],
) -> PlannedExperiment:
    """Return the experiment's file: the wanted values that differ from the parent's."""
    import yaml

    changed = {key: value for key, value in wanted.items() if known.get(key, object()) != value}
    logger = known.get("trainer.logger.class_path")
    own: dict[str, Any] = {"trainer.logger.init_args.name": name} if logger else {}
    document = {"lineage": lineage, **unflatten({**changed, **own})}
    header = f"# Experiment {name}: only what differs from {parent.lineage_name}.\n"
    text = header + yaml.dump(document, Dumper=_dumper(yaml, document), sort_keys=False)
    return PlannedExperiment(name, f"{EXPERIMENTS_RELPATH}/{name}.yaml", text, document)


def _dumper(yaml: Any, document: Any) -> Any:
    """Return libyaml's safe dumper where it writes what Python's writes, else Python's.

    Both write a document alike when its strings are short printable ASCII: they differ
    only in where they wrap long strings and how they escape other characters. A sweep
    writes a file per point, and libyaml writes one in a tenth of the time.
    """
    fast = getattr(yaml, "CSafeDumper", None)
    pending = [document]
    while pending and fast is not None:
        node = pending.pop()
        if isinstance(node, dict):
            pending += [*node.keys(), *node.values()]
        elif isinstance(node, list):
            pending += node
        elif isinstance(node, str) and not (
            len(node) <= 60 and node.isascii() and node.isprintable()
        ):
            fast = None
    return fast or yaml.SafeDumper


def _check_with_parser(
    root_abspath: Path,
    package: str,
    parent: Parent,
    planned: PlannedExperiment,
    wanted: dict[str, Any],
) -> dict[str, Any]:
    """Have the project's parser load the parent, then the new file on it, in one run.

    Each wanted key is also loaded alone, to name the ones the parser rejects.

    Returns:
        The parent's resolved config, flat.

    Raises:
        ExperimentError: the parent does not load, a key is unknown to it, or the parser
            rejects the new file.
    """
    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / f"{planned.name}.yaml"
        candidate.write_text(planned.text, encoding="utf-8")
        checks = [
            config_args(parent.files),
            [*config_args(parent.files), *config_args([candidate])],
        ]
        for index, (key, value) in enumerate(wanted.items()):
            path = Path(tmp) / f"key-{index}.yaml"
            path.write_text(yaml.safe_dump(unflatten({key: value})), encoding="utf-8")
            checks.append([*config_args(parent.files), *config_args([path])])
        parent_result, result, *alone = resolve_configs(root_abspath, package, checks)
    if parent_result["code"] != 0:
        raise ExperimentError(
            f"the parent {parent.lineage_name!r} does not load: {error_text(parent_result)}"
        )
    known = flatten(resolved_mapping(parent_result))
    _check_keys(list(wanted), known)
    if result["code"] != 0:
        culprits = [
            f"{key}={value!r}"
            for (key, value), outcome in zip(wanted.items(), alone, strict=True)
            if outcome["code"] != 0
        ]
        raise ExperimentError(
            f"the project's entry point rejects {', '.join(culprits) or 'the experiment'}: "
            f"{error_text(result)} Nothing was written."
        )
    return known


def write_experiments(
    state: ProjectState, planned: list[PlannedExperiment], extra: Sequence[Change] = ()
) -> None:
    """Write checked experiments and any ``extra`` files with them, all or none."""
    from plscaffold.render import RenderedFile

    changes: list[Change] = [(p.relpath, RenderedFile(p.text.encode())) for p in planned]
    state.write([*changes, *extra])


def new_experiment(
    state: ProjectState,
    name: str,
    parent: str = DEFAULT_PARENT,
    changes: dict[str, Any] | None = None,
    description: str | None = None,
    on_progress: Progress | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write ``configs/experiments/NAME.yaml`` holding only what differs from ``parent``.

    Returns:
        The file written and the document it holds.

    Raises:
        ExperimentError: the name exists, the parent is unknown, a key is unknown or owned
            by plscaffold, or a value has the wrong type; nothing is written.
        ProjectEnvironmentError: the project's entry point cannot run here.
    """
    root_abspath = state.root_abspath
    check_new_name(root_abspath, name)
    found = find_parent(root_abspath, parent)
    planned = plan_experiment(
        root_abspath, state.package_name, name, found, changes or {}, description, None,
        on_progress,
    )  # fmt: skip
    write_experiments(state, [planned])
    return root_abspath / planned.relpath, planned.document
