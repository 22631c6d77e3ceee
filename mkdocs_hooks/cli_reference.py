"""The CLI reference of the docs site, written from the Typer app itself.

Every command's usage line, description and options come from the same Click objects
that print ``--help``, so the reference cannot drift from the program. mkdocs loads this
file as a hook (``hooks:`` in mkdocs.yml): :func:`on_files` adds the page
``reference.md`` to the site at build time; nothing is written into docs/. It builds the
docs only, so it lives outside the plscaffold package and its wheel.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import typer

REFERENCE_PAGE = "reference.md"

_INTRO = """\
# CLI reference

Every command, its usage line and its options, as `--help` prints them: this page is
generated from plscaffold's own command-line parser when the site is built. What the
commands do, and why, is in [Using the CLI](cli.md).
"""


def walk(command: Any, context: Any) -> Iterator[tuple[Any, Any]]:
    """Yield every visible command under ``command`` (itself first) with its context."""
    yield command, context
    for name, sub in _subcommands(command, context):
        yield from walk(sub, typer.Context(sub, info_name=name, parent=context))


def _subcommands(command: Any, context: Any) -> list[tuple[str, Any]]:
    """Return a group's visible commands in the order ``--help`` lists them; [] for a command."""
    if not hasattr(command, "list_commands"):
        return []
    found = ((name, command.get_command(context, name)) for name in command.list_commands(context))
    return [(name, sub) for name, sub in found if sub is not None and not sub.hidden]


def reference_markdown() -> str:
    """Return the reference page: one section per command, in the order ``--help`` lists."""
    from plscaffold.cli import app

    root = typer.main.get_command(app)
    sections = [_INTRO]
    with typer.Context(root, info_name="plscaffold") as context:
        for command, ctx in walk(root, context):
            sections.append(_section(command, ctx))
    return "\n".join(sections)


def _section(command: Any, ctx: Any) -> str:
    path = ctx.command_path
    usage = " ".join([path, *command.collect_usage_pieces(ctx)])
    lines = [f"## `{path}`", "", "```text", usage, "```", ""]
    if command.help:
        lines += [inspect.cleandoc(command.help), ""]
    rows = [record for param in command.get_params(ctx) if (record := _help_record(param, ctx))]
    if rows:
        lines += ["| argument or option | description |", "| --- | --- |"]
        lines += [f"| {_cell(f'`{names}`')} | {_cell(text)} |" for names, text in rows]
        lines.append("")
    subcommands = _subcommands(command, ctx)
    if subcommands:
        lines += ["| command | summary |", "| --- | --- |"]
        lines += [
            f"| [`{name}`](#{_anchor(f'{path} {name}')}) | {_cell(sub.get_short_help_str(100))} |"
            for name, sub in subcommands
        ]
        lines.append("")
    return "\n".join(lines)


def _help_record(param: Any, ctx: Any) -> tuple[str, str] | None:
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names, text = record
    return names, " ".join(text.split())


def _cell(text: str) -> str:
    """Return ``text`` for a table cell: each bar outside a code span escaped.

    Python-Markdown's tables never split a row at a bar inside backticks, and keep a
    backslash there as typed, so only the bars between code spans are escaped.
    """
    parts = text.split("`")  # odd parts lie inside code spans
    return "`".join(part if i % 2 else part.replace("|", "\\|") for i, part in enumerate(parts))


def _anchor(heading: str) -> str:
    """Return the id Python-Markdown's toc gives a heading (letters, digits, '-', '_')."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return "-".join(kept.split())


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: add the generated reference page to the site's files."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, REFERENCE_PAGE, content=reference_markdown()))
    return files
