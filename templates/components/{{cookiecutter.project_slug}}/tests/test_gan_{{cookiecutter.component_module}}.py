{% set gan_class = cookiecutter.component_class ~ "GAN" -%}
{% set gan_module = cookiecutter.package_name ~ ".models." ~ cookiecutter.component_module -%}
{% set gan_config = "gan/" ~ cookiecutter.component_module ~ ".yaml" -%}
{% include "gan/test_model.py" %}