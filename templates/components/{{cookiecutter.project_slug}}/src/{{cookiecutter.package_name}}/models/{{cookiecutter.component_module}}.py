{% set gan_class = cookiecutter.component_class ~ "GAN" -%}
{% include "gan/model.py" %}