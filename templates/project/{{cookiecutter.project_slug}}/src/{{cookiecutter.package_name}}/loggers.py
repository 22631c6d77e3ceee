"""Lightning's loggers, each keeping a run in its own folder, ``<save_dir>/<name>/<version>/``.

- :class:`CSVLogger`: Lightning's, keeping a resumed run's rows.
- :class:`MLFlowLogger` and :class:`WandbLogger`: Lightning's, for trackers that keep
  their records elsewhere (an MLflow store, W&B's files), with the run folder the other
  loggers have, so that the config, checkpoints, ``--ckpt_path last|best`` and ``--run``
  work the same with every logger. A continued run continues its MLflow or W&B run: the
  folder records which (``mlflow.json``, ``wandb.json``).
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import string
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pytorch_lightning.loggers import CSVLogger as LightningCSVLogger
from pytorch_lightning.loggers import MLFlowLogger as LightningMLFlowLogger
from pytorch_lightning.loggers import WandbLogger as LightningWandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment
from pytorch_lightning.utilities.rank_zero import rank_zero_only
from typing_extensions import override

# MLflow's local store: a SQLite database in mlruns/ (MLflow 3 refuses new file stores),
# with the runs' artifacts beside it in mlruns/.
DEFAULT_MLFLOW_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
# Read once, as Lightning does: MLflow sets this variable itself when a logger starts.
ENVIRONMENT_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI")


class ContinuingExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer that appends to an existing metrics.csv instead of deleting it."""

    @override
    def _check_log_dir_exists(self) -> None:
        # Lightning's writer deletes the metrics.csv of a folder in use. A resumed run
        # (--ckpt_path last) writes into its own folder on purpose: keep its rows and
        # header, and let new rows follow them.
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])


class CSVLogger(LightningCSVLogger):
    """Lightning's CSVLogger: ``<save_dir>/<name>/<version>/metrics.csv`` and hparams.yaml.

    When a run continues in its folder, ``metrics.csv`` keeps the rows of its earlier
    steps, as TensorBoard's event files do.
    """

    @property
    @override
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = ContinuingExperimentWriter(log_dir=self.log_dir)
        return self._experiment


class RunFolder:
    """The folder of one run, for loggers whose own records live elsewhere.

    ``save_dir``, ``name`` and ``version`` are what Lightning's ModelCheckpoint builds its
    folder from (``<save_dir>/<name>/<version>/checkpoints``); a new run takes the next
    ``version_N``, as TensorBoard's and CSV's loggers do.
    """

    RECORD = ""  # the file in the run folder that names the tracker's run

    def _init_run_folder(self, save_dir: str, name: str, version: int | str | None) -> None:
        self._folder_root = Path(save_dir)
        self._folder_name = name
        self._folder_version = f"version_{version}" if isinstance(version, int) else version

    @property
    def save_dir(self) -> str:
        return str(self._folder_root)

    @property
    def name(self) -> str:
        return self._folder_name

    @property
    def version(self) -> str:
        if self._folder_version is None:
            self._folder_version = next_version(self._folder_root / self._folder_name)
        return self._folder_version

    @property
    def log_dir(self) -> str:
        """The run's folder: its config, checkpoints and this logger's record."""
        return str(self._folder_root / self._folder_name / self.version)

    def _read_record(self) -> dict[str, Any]:
        path = Path(self.log_dir) / self.RECORD
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def _write_record(self, record: dict[str, Any]) -> None:
        path = Path(self.log_dir) / self.RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)


def next_version(root: Path) -> str:
    """Return ``version_N`` for the next run in ``root``, one past the highest there."""
    numbers = [
        int(number)
        for folder in (root.iterdir() if root.is_dir() else [])
        if folder.is_dir() and (number := folder.name.removeprefix("version_")).isdigit()
    ]
    return f"version_{max(numbers, default=-1) + 1}"


def flat_params(params: Mapping[str, Any] | Namespace, parent: str = "") -> dict[str, Any]:
    """Return nested hyperparameters on one level (``net/init_args/width``), as Lightning logs."""
    flat: dict[str, Any] = {}
    items = vars(params) if isinstance(params, Namespace) else params
    for key, value in items.items():
        name = f"{parent}/{key}" if parent else str(key)
        if isinstance(value, (Mapping, Namespace)):
            flat.update(flat_params(value, name))
        else:
            flat[name] = value
    return flat


def local_store(tracking_uri: str) -> str:
    """Return an MLflow tracking URI with a local store's path made absolute.

    MLflow keeps one store per URI for the life of the process: a relative path would
    keep meaning the folder it was first used from.
    """
    for scheme in ("sqlite:///", "file:"):
        if tracking_uri.startswith(scheme):
            return f"{scheme}{Path(tracking_uri.removeprefix(scheme)).absolute()}"
    return tracking_uri


def new_wandb_id() -> str:
    """Return a new W&B run id: eight random lower-case letters and digits, as W&B makes."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


class MLFlowLogger(RunFolder, LightningMLFlowLogger):
    """Lightning's MLFlowLogger: metrics and hyperparameters to MLflow, files to the run folder.

    The MLflow experiment is ``name`` and the MLflow run is named after the run folder
    (``version_0``); the config the run trained with is logged as its artifact too. A
    continued run, or ``test`` of it, logs into the same MLflow run and keeps the
    parameters it started with: MLflow never changes a logged parameter, so only new ones
    are added (each command's config is in the run folder, and among the artifacts).

    Args:
        save_dir: Where run folders go: ``<save_dir>/<name>/<version>/``.
        name: The MLflow experiment, and the run folders' parent.
        version: A run folder to continue (``version_3`` or 3); ``None`` starts the next.
        tracking_uri: MLflow's store: a local SQLite file in mlruns/ unless this or
            ``MLFLOW_TRACKING_URI`` names another (``http://host:5000``, ``sqlite:///...``).
        tags: Tags of the MLflow run.
        log_model: Log checkpoints as MLflow artifacts (``True``: at the end; ``"all"``).
        prefix: Put before every metric's name.
        artifact_location: Where a new experiment keeps artifacts; MLflow's default if None.
    """

    RECORD = "mlflow.json"

    def __init__(
        self,
        save_dir: str = "logs",
        name: str = "default",
        version: int | str | None = None,
        tracking_uri: str | None = None,
        tags: dict[str, Any] | None = None,
        log_model: Literal[True, False, "all"] = False,
        prefix: str = "",
        artifact_location: str | None = None,
    ) -> None:
        tracking_uri = local_store(
            tracking_uri or ENVIRONMENT_TRACKING_URI or DEFAULT_MLFLOW_TRACKING_URI
        )
        super().__init__(
            experiment_name=name,
            tracking_uri=tracking_uri,
            tags=tags,
            log_model=log_model,
            prefix=prefix,
            artifact_location=artifact_location,
        )
        self._init_run_folder(save_dir, name, version)
        self._continues = False

    @property
    @override
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._initialized:
            return super().experiment
        record = self._read_record()
        # The folder's MLflow run continues, if it is in this store; else a new one starts.
        self._continues = record.get("tracking_uri") == self._tracking_uri
        if self._continues:
            self._run_id = record["run_id"]
        else:
            self._run_name = self.version
        client = super().experiment
        current = {
            "tracking_uri": self._tracking_uri,
            "experiment_id": self._experiment_id,
            "run_id": self._run_id,
        }
        if record != current:
            self._write_record(current)
        return client

    @override
    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace) -> None:
        params = flat_params(params)
        client = self.experiment  # starts or continues the run: _continues is known then
        if self._continues:  # keep what the run logged first
            logged = client.get_run(self.run_id).data.params
            params = {key: value for key, value in params.items() if key not in logged}
        super().log_hyperparams(params)

    def log_config(self, path: Path) -> None:
        """Log the run's config file as an artifact of the MLflow run."""
        self.experiment.log_artifact(self.run_id, str(path))


class WandbLogger(RunFolder, LightningWandbLogger):
    """Lightning's WandbLogger, offline by default: it never needs a network to start.

    W&B's files go into the run folder (``<run>/wandb/offline-run-*``); ``wandb sync`` on
    that folder uploads them later. The W&B run is named after the run folder and gets an
    id of its own (recorded in ``wandb.json``), which a continued run reuses.

    Args:
        save_dir: Where run folders go: ``<save_dir>/<name>/<version>/``.
        name: The run folders' parent, and the W&B project unless ``project`` is given.
        version: A run folder to continue (``version_3`` or 3); ``None`` starts the next.
        offline: Keep everything on disk (the default); ``False`` streams to W&B.
        project: The W&B project; ``name`` if None.
        entity: The W&B team or user; W&B's default if None.
        group: Group the run with others in W&B (a sweep, say).
        tags: Tags of the W&B run.
        log_model: Upload checkpoints as W&B artifacts (online only).
        prefix: Put before every metric's name.
    """

    RECORD = "wandb.json"

    def __init__(
        self,
        save_dir: str = "logs",
        name: str = "default",
        version: int | str | None = None,
        offline: bool = True,
        project: str | None = None,
        entity: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        log_model: Literal[True, False, "all"] = False,
        prefix: str = "",
    ) -> None:
        super().__init__(
            save_dir=save_dir,
            offline=offline,
            project=project or name,
            entity=entity,
            group=group,
            tags=tags,
            log_model=log_model,
            prefix=prefix,
        )
        self._init_run_folder(save_dir, name, version)

    @property
    @override
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._experiment is None:
            record = self._read_record()
            run_id = record.get("id") or new_wandb_id()
            # wandb.init(dir=...) makes <dir>/wandb/ in a folder that must exist. W&B's
            # service process outlives the run and resolves relative paths against its own
            # working folder: give it an absolute one.
            folder = Path(self.log_dir).absolute()
            folder.mkdir(parents=True, exist_ok=True)
            self._wandb_init.update(name=self.version, id=run_id, dir=str(folder))
            if not record:
                self._write_record({"id": run_id, "project": self._project})
        return super().experiment

    @override
    def finalize(self, status: str) -> None:
        super().finalize(status)
        # End the W&B run: another fit in this process must not log into it.
        if self._experiment is not None:
            self._experiment.finish(exit_code=0 if status == "success" else 1)
            self._experiment = None

    def log_config(self, path: Path) -> None:
        """Keep the run's config file with the W&B run's files."""
        self.experiment.save(str(path), base_path=str(path.parent), policy="now")
