"""Networks the LightningModule trains, one module each; the config picks one by class_path."""
{% if cookiecutter.model == "gan" %}
from {{ cookiecutter.package_name }}.networks.discriminator import Discriminator
from {{ cookiecutter.package_name }}.networks.generator import Generator

__all__ = ["Discriminator", "Generator"]
{%- else %}
from {{ cookiecutter.package_name }}.networks.convnet import ConvNet
from {{ cookiecutter.package_name }}.networks.mlp import MLP

__all__ = ["MLP", "ConvNet"]
{%- endif %}
