"""What can go wrong: the errors (the CLI turns each into one message and its exit code),
the notice plscaffold warns with, and the helpers that keep a message to one readable line."""

from __future__ import annotations

import re


class PlscaffoldError(Exception):
    """Base of every error plscaffold raises on purpose."""

    exit_code = 1


class UserError(PlscaffoldError):
    """Raised for input the user can fix; its message names the problem and the fix."""

    exit_code = 2


class InvalidNameError(UserError):
    """Raised when a project name cannot become a directory and a Python package."""


class InvalidOptionError(UserError):
    """Raised when an option of a project or a command is unknown, of the wrong type, out of
    its range, not one of its choices, or given with options it cannot go with."""


class TargetExistsError(UserError):
    """Raised when the target folder exists and is not empty."""


class OutputNotWritableError(UserError):
    """Raised when the output folder cannot be created or written to."""


class UnsafePathError(UserError):
    """Raised when a rendered path would land outside the target folder."""


class TemplateError(PlscaffoldError):
    """Raised when a template cannot be read or rendered; names the file and line."""


class AnswersFileError(UserError):
    """Raised when an answers file cannot be read, or holds what plscaffold never writes."""


class ProjectBusyError(UserError):
    """Raised when another plscaffold command is changing the same project."""


class ProjectNotFoundError(UserError):
    """Raised when no generated project is found at or above the given folder."""


class UnknownComponentError(UserError):
    """Raised when a component name is not one of the project's components."""


class ConflictMarkersError(UserError):
    """Raised when a file to regenerate still holds conflict markers from an earlier run."""


class ConflictError(UserError):
    """Raised with ``--no-conflicts`` when a regeneration would conflict; nothing is written."""


class DirtyWorkTreeError(UserError):
    """Raised when ``generate``, ``add`` or ``update`` would write into a git work tree with
    uncommitted changes, and ``--allow-dirty`` was not given."""


class DowngradeError(UserError):
    """Raised when ``update`` would render a project with an older plscaffold than wrote it."""


class ForeignTemplateError(UserError):
    """Raised when generate, add, list, status or update meet a project of another template."""


class ComponentExistsError(UserError):
    """Raised when ``add`` would create a component or file that already exists."""


class ExperimentError(UserError):
    """Raised for an experiment name, parent or setting the project cannot take."""


class ProjectFileError(UserError):
    """Raised when a project's YAML file is one plscaffold will not read: a link, a pipe or
    device, too large, not UTF-8, nested too deeply, or with aliases that expand too far."""


class ProjectEnvironmentError(UserError):
    """Raised when the project's own entry point cannot run in this Python."""


class PlotUnavailableError(ProjectEnvironmentError):
    """Raised when ``experiment compare`` cannot draw its plot: matplotlib is not installed."""


class SweepRunError(PlscaffoldError):
    """Raised when points of a sweep run locally with ``--run`` exit with an error."""


class UntrustedTemplateError(UserError):
    """Raised when a template has hooks or Jinja extensions and ``--trust`` was not given."""


class TemplateSourceError(UserError):
    """Raised when a template path or URL cannot be read or cloned."""


class PlscaffoldNotice(UserWarning):
    """Issued for something the user should know that is not an error.

    Such as: the commit of a run killed half way was finished when the project was next
    opened. The CLI prints each as a note on stderr.
    """


class InterruptedAfterWrite(KeyboardInterrupt):
    """Raised when SIGINT or SIGTERM arrived while changes were being committed.

    The commit (renames and removals) is never cut short: the signal is held until it is
    complete, then raised as this, so the message can say every change was written.
    """


def shown(value: str) -> str:
    """Return a user's value as a message shows it: as typed, or quoted where it holds a
    line break or another character that printing would hide."""
    return value if value.isprintable() else repr(value)


def one_line(text: str) -> str:
    """Return ``text`` on one line: each run of white space that holds a line break is a space."""
    return re.sub(r"\s*[\r\n]\s*", " ", text).strip()


def failure(at: str, err: BaseException) -> str:
    """Return a one-line message for an error raised while rendering at ``at``."""
    if isinstance(err, RecursionError):
        reason = "it nests or includes itself too deeply"
    elif isinstance(err, MemoryError):
        reason = "it needs more memory than rendering a template may take"
    else:
        error_type = type(err).__name__
        if error_type[:1].islower():
            error_type = f"{type(err).__module__}.{error_type}"  # re.error, not a bare "error"
        reason = f"{error_type}: {one_line(str(err)) or 'no reason given'}"
    return f"{at}: {reason}"
