"""Callbacks of the project; ``plscaffold add callback NAME`` adds a module here."""

from {{ cookiecutter.package_name }}.callbacks.deferred_requeue import DeferredRequeue
from {{ cookiecutter.package_name }}.callbacks.monitored_metrics import MonitoredMetricsCheck
from {{ cookiecutter.package_name }}.callbacks.prediction_writer import PredictionWriter

__all__ = ["DeferredRequeue", "MonitoredMetricsCheck", "PredictionWriter"]
