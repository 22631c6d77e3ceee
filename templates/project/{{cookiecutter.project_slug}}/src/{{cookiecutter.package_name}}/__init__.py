"""{{ cookiecutter.__description_quoted }}"""

from {{ cookiecutter.package_name }}.datamodule import MNISTDataModule
from {{ cookiecutter.package_name }}.model import {{ cookiecutter.class_name }}LitModule
{%- if cookiecutter.model == "gan" %}
from {{ cookiecutter.package_name }}.networks import Discriminator, Generator

__all__ = ["Discriminator", "Generator", "MNISTDataModule", "{{ cookiecutter.class_name }}LitModule"]
{%- else %}
from {{ cookiecutter.package_name }}.networks import MLP, ConvNet

__all__ = ["MLP", "ConvNet", "MNISTDataModule", "{{ cookiecutter.class_name }}LitModule"]
{%- endif %}
__version__ = "0.1.0"
