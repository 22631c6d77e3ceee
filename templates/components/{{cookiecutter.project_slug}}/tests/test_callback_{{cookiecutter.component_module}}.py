"""The added callback: added from its config, it logs its metrics during training."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.callbacks.{{ cookiecutter.component_module }} import (
    {{ cookiecutter.component_class }}Callback,
)
from {{ cookiecutter.package_name }}.cli import cli_main
from {{ cookiecutter.package_name }}.configs import config_dir

Callback = {{ cookiecutter.component_class }}Callback
CONFIG = config_dir() / "callbacks" / "{{ cookiecutter.component_module }}.yaml"


def test_config_adds_it_and_it_logs(cpu_args: list[str]) -> None:
    args = ["fit", "--config", str(CONFIG), *cpu_args, "--trainer.fast_dev_run=true"]

    cli = cli_main(args)

    callbacks = [cb for cb in cli.trainer.callbacks if isinstance(cb, Callback)]
    assert len(callbacks) == 1
    prefix = callbacks[0].prefix
    assert cli.trainer.callback_metrics[f"{prefix}/samples_per_second"] > 0
    assert cli.trainer.callback_metrics[f"{prefix}/epoch_seconds"] > 0
