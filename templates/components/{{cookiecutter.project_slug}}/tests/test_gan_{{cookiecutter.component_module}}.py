{% set gan_class = cookiecutter.component_class ~ "GAN" -%}
{% set gan_module = cookiecutter.package_name ~ ".models." ~ cookiecutter.component_module -%}
{% set gan_config = "gan/" ~ cookiecutter.component_module ~ ".yaml" -%}
{% include "gan/test_model.py" %}

@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """The folder this GAN's config keeps a test's runs in: its own, beside the project's."""
    return tmp_path / "logs" / "{{ cookiecutter.component_module }}"
