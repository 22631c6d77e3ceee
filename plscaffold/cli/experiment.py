"""``plscaffold experiment``: new, templates, list and compare."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plscaffold.cli.output import echo, print_table, user_errors
from plscaffold.cli.params import ProjectOption

app = typer.Typer(
    help="Experiments: config files under configs/experiments/ that hold only what they change.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("new")
def experiment_new(
    name: Annotated[str, typer.Argument(help="Experiment name; its runs go to logs/NAME/.")],
    parent: Annotated[
        str,
        typer.Option("--from", help="Parent: default, another experiment, or a built-in template."),
    ] = "default",
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE to change, such as trainer.max_epochs=20."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What this experiment tries.")] = None,
    project: ProjectOption = ".",
) -> None:
    """Write configs/experiments/NAME.yaml, checked by the project's own entry point."""
    from plscaffold.api import new_experiment

    with user_errors():
        created = new_experiment(name, Path(project), parent, assignments or [], description)
    echo(f"Created {created.path} (parent: {created.parent}).")
    for key, value in created.keys.items():
        echo(f"  {key}: {value}")
    echo(f"Run it with: {created.command}")


@app.command("templates")
def experiment_templates() -> None:
    """List the built-in experiment templates (use them with --from NAME)."""
    from plscaffold.api import experiment_templates as templates

    with user_errors():
        for name, (description, keys) in templates().items():
            echo(f"{name}: {description}")
            for key, value in keys.items():
                echo(f"    {key}: {value}")


@app.command("list")
def experiment_list(project: ProjectOption = ".") -> None:
    """Table of experiments: parent, changed keys, best monitored metric, last checkpoint."""
    from plscaffold.api import list_experiments

    with user_errors():
        experiments = list_experiments(Path(project))
    if not experiments:
        echo("No experiments yet; create one with `plscaffold experiment new NAME`.")
        return
    header = ("name", "parent", "changed keys", "best", "epoch", "last checkpoint")
    rows = [
        (
            e.name,
            e.parent,
            ", ".join(e.changed_keys) or "-",
            f"{e.monitor}={e.best_value:.4f}" if e.best_value is not None else "-",
            str(e.best_epoch) if e.best_epoch is not None else "-",
            e.last_checkpoint_relpath or "-",
        )
        for e in experiments
    ]
    print_table(header, rows)


@app.command("compare")
def experiment_compare(
    names: Annotated[list[str], typer.Argument(help="Two or more experiment names.")],
    project: ProjectOption = ".",
) -> None:
    """Show config differences side by side and plot validation curves to a PNG."""
    from plscaffold.api import compare_experiments

    with user_errors():
        rows, png = compare_experiments(names, Path(project))
    header = ("key", *names)
    table = [(key, *(str(v) for v in values)) for key, values in rows]
    print_table(header, table)
    if not table:
        echo("(the resolved configs are identical)")
    echo(f"Validation curves: {png}")
