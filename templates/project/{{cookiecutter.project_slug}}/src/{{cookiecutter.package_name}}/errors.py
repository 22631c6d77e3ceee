"""Problems a user fixes with a command, a config or a file: reported without a traceback.

The entry point prints any ``UserError`` as one short message and exits with status 2;
every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Base of the errors whose message names the problem and the fix."""


class ConfigNotFoundError(UserError):
    """Raised when configs/default.yaml is neither in the package nor in the project."""


class ExperimentNotFoundError(UserError):
    """Raised when ``--experiment NAME`` names no file in configs/experiments/."""


class RunNotFoundError(UserError):
    """Raised when ``--ckpt_path last|best`` or ``--run`` finds no run to use."""


class CheckpointNotFoundError(UserError):
    """Raised when ``--ckpt_path`` names a file that does not exist."""


class RunExistsError(UserError):
    """Raised when ``fit --run NAME`` would start a new run in an existing run's folder."""


class DevicesUnavailableError(UserError):
    """Raised when the config asks for more GPUs than this machine has."""


class MissingDatasetError(UserError):
    """Raised when MNIST is not on disk and is not, or cannot be, downloaded."""


class CheckpointMismatchError(UserError):
    """Raised when a checkpoint holds the weights of another network than the model's."""


class UnloggedMonitorError(UserError):
    """Raised when ModelCheckpoint or EarlyStopping monitors a metric nobody logs."""
