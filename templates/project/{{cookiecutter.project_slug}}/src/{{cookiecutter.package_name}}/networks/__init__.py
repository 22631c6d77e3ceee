"""Networks the LightningModule trains, one module each; the config picks one by class_path."""

from {{ cookiecutter.package_name }}.networks.convnet import ConvNet
from {{ cookiecutter.package_name }}.networks.mlp import MLP

__all__ = ["MLP", "ConvNet"]
