"""One Optuna trial, trained in a child Python inside the project; its study runs in plscaffold.

``python -m plscaffold.experiments.trial RESULT STORAGE STUDY NUMBER PACKAGE EXPERIMENT
MONITOR``, run in the project's folder with its ``src/`` first on the path: it builds the
experiment with the project's own entry point, reports each validation to the trial (which
the parent's ``study.optimize`` keeps running) and writes ``{"score": ...}`` or
``{"pruned": ...}`` to RESULT. plscaffold's process never imports the project nor moves
its working folder.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any


def pruner(optuna: Any) -> Any:
    """Return the pruner of every study: the median rule, after each trial's first epoch."""
    return optuna.pruners.MedianPruner(n_warmup_steps=1)


def storage(optuna: Any, url: str) -> Any:
    """Return a study's storage; a writer waits up to a minute for another's lock."""
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})


def pruning_callback(trial: Any, monitor: str) -> Any:
    """Return a Lightning callback that reports ``monitor`` to the trial after each validation.

    optuna-integration's PyTorchLightningPruningCallback is built on the ``lightning``
    package; generated projects use ``pytorch_lightning``, whose Trainer takes only its
    own callbacks. This one does the same: report, then stop the trial if the pruner says so.
    """
    import optuna
    from pytorch_lightning import Callback

    class OptunaPruning(Callback):
        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking or monitor not in trainer.callback_metrics:
                return
            epoch = trainer.current_epoch
            value = float(trainer.callback_metrics[monitor])
            trial.report(value, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch} with {monitor}={value:.4f}")

    return OptunaPruning()


def main(argv: list[str]) -> int:
    """Train one trial's experiment; write its best monitored value (or its pruning)."""
    import optuna

    result, url, study_name, number, package, experiment, monitor = argv
    trials = storage(optuna, url)
    study = optuna.load_study(study_name=study_name, storage=trials, pruner=pruner(optuna))
    trial_id = trials.get_trial_id_from_study_id_trial_number(
        trials.get_study_id_from_name(study_name), int(number)
    )
    trial = optuna.trial.Trial(study, trial_id)
    cli = importlib.import_module(f"{package}.cli").cli_main(
        ["--experiment", experiment], run=False
    )
    cli.trainer.callbacks.append(pruning_callback(trial, monitor))
    try:
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    except optuna.TrialPruned as err:
        Path(result).write_text(json.dumps({"pruned": str(err)}))
        return 0
    score = cli.trainer.checkpoint_callback.best_model_score
    Path(result).write_text(json.dumps({"score": None if score is None else float(score)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
