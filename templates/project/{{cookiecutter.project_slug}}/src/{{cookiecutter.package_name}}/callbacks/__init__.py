"""Callbacks of the project; ``plscaffold add callback NAME`` adds a module here."""

from {{ cookiecutter.package_name }}.callbacks.epoch_progress import EpochProgress
from {{ cookiecutter.package_name }}.callbacks.prediction_writer import PredictionWriter

__all__ = ["EpochProgress", "PredictionWriter"]
