"""plscaffold's operations as functions: no prompts, no printing; errors are raised.

By family: :mod:`~plscaffold.api.creation` (new projects), :mod:`~plscaffold.api.components`
(list, regenerate, add), :mod:`~plscaffold.api.update` (update and status) and
:mod:`~plscaffold.api.experiments`; :mod:`~plscaffold.api.sync` merges a new rendering into
the project's files for all of them.
"""

from plscaffold.answers import PRISTINE_DIR_RELPATH, STATE_DIR_RELPATH
from plscaffold.api.components import (
    MODEL_FAMILIES,
    add_component,
    addable_kinds,
    component_kind,
    project_components,
    regenerate,
)
from plscaffold.api.creation import (
    NewProjectResult,
    bundled_template_version,
    check_new_project,
    check_new_request,
    check_project_options,
    generation_options,
    new_project,
    new_project_from_template,
    project_defaults,
    project_options,
    render_project,
)
from plscaffold.api.experiments import (
    ComparedExperiments,
    CreatedExperiment,
    CreatedSweep,
    compare_experiments,
    experiment_names,
    experiment_templates,
    list_experiments,
    new_experiment,
    new_sweep,
    run_optuna_study,
    run_sweep,
    sweep_names,
    sweep_slurm_script,
)
from plscaffold.api.sync import SyncResult
from plscaffold.api.update import (
    ContradictedAnswer,
    FileStatus,
    ProjectStatus,
    project_status,
    update,
)
from plscaffold.merge import Outcome, RemovedDefinition
from plscaffold.options import ProjectOptions

__all__ = [
    "MODEL_FAMILIES",
    "PRISTINE_DIR_RELPATH",
    "STATE_DIR_RELPATH",
    "ComparedExperiments",
    "ContradictedAnswer",
    "CreatedExperiment",
    "CreatedSweep",
    "FileStatus",
    "NewProjectResult",
    "Outcome",
    "ProjectOptions",
    "ProjectStatus",
    "RemovedDefinition",
    "SyncResult",
    "add_component",
    "addable_kinds",
    "bundled_template_version",
    "check_new_project",
    "check_new_request",
    "check_project_options",
    "compare_experiments",
    "component_kind",
    "experiment_names",
    "experiment_templates",
    "generation_options",
    "list_experiments",
    "new_experiment",
    "new_project",
    "new_project_from_template",
    "new_sweep",
    "project_components",
    "project_defaults",
    "project_options",
    "project_status",
    "regenerate",
    "render_project",
    "run_optuna_study",
    "run_sweep",
    "sweep_names",
    "sweep_slurm_script",
    "update",
]
