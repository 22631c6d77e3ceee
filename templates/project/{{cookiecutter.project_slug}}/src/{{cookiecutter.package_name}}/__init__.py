"""{{ cookiecutter.__description_quoted }}"""

from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule
from {{ cookiecutter.package_name }}.networks import MLP, ConvNet

__all__ = ["MLP", "ConvNet", "MNISTDataModule", "{{ cookiecutter.class_name }}LitModule"]
__version__ = "0.1.0"
