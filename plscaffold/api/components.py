"""A project's components: listing them, regenerating one, and adding new ones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from plscaffold.answers import AddedComponent
from plscaffold.api.sync import SyncResult, sync_files
from plscaffold.errors import ComponentExistsError, InvalidOptionError, TemplateSourceError
from plscaffold.names import check_component_name
from plscaffold.sources import (
    bundled_source,
    check_component_kind,
    pin_added_answers,
    project_source,
)
from plscaffold.state import open_project
from plscaffold.templates import component_kinds


def project_components(
    project_dir: Path = Path("."), *, trust: bool = False, fetch: bool = True
) -> dict[str, list[str]]:
    """Return the components of the project around ``project_dir`` and their files.

    They are those ``regenerate`` renders: of plscaffold's template, or of the project's
    own template (a folder as it is now, a repository at its newest version tag; ``trust``
    as for ``new --template``); empty where that template names none. Nothing is written,
    a recovery that a killed run left pending neither (shell completion calls this).

    Raises:
        TemplateSourceError: the template cannot be found or fetched, or it is a
            repository and not ``fetch`` (shell completion fetches nothing).
        UntrustedTemplateError: it has hooks or extensions and ``trust`` is false.
    """
    from plscaffold.fetch import is_remote

    with open_project(project_dir, read_only=True) as state:
        if not fetch and is_remote(state.document.template):
            raise TemplateSourceError(
                f"{state.root_abspath} was made from the repository {state.document.template}; "
                "its components are read by fetching it"
            )
        with project_source(state, trust=trust) as source:
            answers = source.changed_answers(state, {})
            components = source.render(answers, state.document.added).components
    return components or {}


def regenerate(
    component: str,
    project_dir: Path = Path("."),
    changes: dict[str, Any] | None = None,
    *,
    restore: bool = False,
    no_conflicts: bool = False,
    dry_run: bool = False,
    only: bool = False,
    allow_dirty: bool = False,
    trust: bool = False,
) -> SyncResult:
    """Re-render one component from the recorded answers, changed by ``changes``.

    The project's own template renders it: plscaffold's, or a user template (a folder as
    it is now, a repository at its recorded source) where that template names its
    components (``_components``); ``trust`` as for ``new --template``.

    Each file is replaced, kept, merged or left as the user deleted it (see
    :func:`plscaffold.merge.plan_file`); the new answers are recorded. Other components
    that the changed answers render differently are regenerated with it, so the project
    never contradicts itself, unless ``only``: then they are named in the result.

    Raises:
        UnknownComponentError: the project has no such component.
        InvalidOptionError: ``changes`` for a project of a user template.
        DirtyWorkTreeError: the project has uncommitted changes and not ``allow_dirty``.
        ConflictMarkersError: a file to regenerate holds conflict markers.
        ConflictError: with ``no_conflicts``, a file would conflict.
    """
    with open_project(project_dir) as state, project_source(state, trust=trust) as source:
        recorded = source.changed_answers(state, {})
        answers = source.changed_answers(state, changes or {})
        # An added model keeps its own learning rate when the project's changes.
        added = pin_added_answers(state.document.added, recorded)
        old = source.render(recorded, added)
        new = old if answers == recorded else source.render(answers, added)
        source.component_files(new, component, state.root_abspath)  # refuses an unknown component
        old_components, new_components = old.components or {}, new.components or {}

        def files_of(name: str) -> set[str]:
            return set(new_components.get(name, [])) | set(old_components.get(name, []))

        affected = tuple(
            name
            for name in new_components
            if name != component
            and any(new.files.get(p) != old.files.get(p) for p in files_of(name))
        )
        names = (component,) if only else (component, *affected)
        relpaths = set().union(*(files_of(name) for name in names))
        document = source.document(new.answers, added, state.document, migrated=False)
        result = sync_files(
            state, document, relpaths, new.files, restore=restore, no_conflicts=no_conflicts,
            dry_run=dry_run, allow_dirty=allow_dirty,
        )  # fmt: skip
        return replace(result, stale_components=affected if only else ())


MODEL_FAMILIES = {"network": "model", "gan": "gan"}
"""``add model --kind``: a network for the project's LightningModule, or a GAN of its own,
each mapped to the component kind it creates."""


def component_kind(kind: str, model_family: str | None) -> str:
    """Return the component kind ``add KIND --kind MODEL_FAMILY`` creates.

    Raises:
        InvalidOptionError: ``--kind`` is unknown, or given for another kind than model.
    """
    if model_family is None:
        return kind
    if kind != "model":
        raise InvalidOptionError(
            f"--kind {model_family} applies to `plscaffold add model` only; leave it out for {kind}"
        )
    if model_family not in MODEL_FAMILIES:
        raise InvalidOptionError(
            f"--kind {model_family!r} is not a kind of model; choose one of "
            f"{', '.join(MODEL_FAMILIES)}"
        )
    return MODEL_FAMILIES[model_family]


def addable_kinds() -> list[str]:
    """Return the kinds ``plscaffold add KIND`` takes; a GAN is ``model --kind gan``."""
    via_model = set(MODEL_FAMILIES.values()) - {"model"}
    return sorted(set(component_kinds()) - via_model)


def add_component(
    kind: str,
    name: str,
    project_dir: Path = Path("."),
    *,
    dry_run: bool = False,
    allow_dirty: bool = False,
) -> SyncResult:
    """Add a new component (a second model or GAN, a datamodule, a callback) to the project.

    As :func:`regenerate`, it refuses a git work tree with uncommitted changes unless
    ``allow_dirty``.

    Raises:
        DirtyWorkTreeError: the project has uncommitted changes and not ``allow_dirty``.
        InvalidOptionError: ``kind`` is not a bundled component kind.
        InvalidNameError: ``name`` cannot be a Python module.
        ComponentExistsError: the name is taken, or one of its files already exists.
    """
    check_component_kind(kind, component_kinds())
    check_component_name(name)
    with open_project(project_dir) as state:
        source = bundled_source(state)
        answers = source.changed_answers(state, {})
        added = pin_added_answers((*state.document.added, AddedComponent(kind, name)), answers)
        # Refuses a name already taken.
        new = source.render(answers, added)
        relpaths = set(source.component_files(new, name, state.root_abspath))
        clashes = [
            relpath
            for relpath in sorted(relpaths)
            if (current := state.read(relpath)) is not None
            and current.content != new.files[relpath].content
        ]
        if clashes:
            raise ComponentExistsError(
                f"{', '.join(clashes)} already exist{'s' if len(clashes) == 1 else ''}; "
                f"choose another name for the {kind}"
            )
        document = replace(state.document, added=added)
        return sync_files(
            state, document, relpaths, new.files, restore=False, no_conflicts=True,
            dry_run=dry_run, allow_dirty=allow_dirty,
        )  # fmt: skip
