"""What the command line prints, and the one place plscaffold's errors become exit codes."""

from __future__ import annotations

import os
import re
import signal
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer

from plscaffold.errors import InterruptedAfterWrite, PlscaffoldError, PlscaffoldNotice, one_line

# Characters a terminal acts on instead of showing: C0 controls but the tab and the line
# break (what plscaffold's own output is laid out with), DEL, C1 controls (0x9b is CSI on
# its own), and the bidirectional overrides and isolates that reorder what a line shows.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Return ``text`` with each control character shown escaped, as ``\\x1b`` or ``\\u202e``.

    Names and messages plscaffold prints come from templates, project files and answers:
    printed raw, ``ESC ] 52`` would set the clipboard and ``ESC [`` recolour or rewrite the
    terminal. Line breaks and tabs stay, as the layout of the output. Applying it twice
    changes nothing more.
    """
    return _CONTROL.sub(lambda found: ascii(found.group())[1:-1], text)


def echo(text: str = "", err: bool = False) -> None:
    """Print a line to stdout, or to stderr with ``err``, through :func:`printable`.

    Every line the command line prints, its ``Error:`` lines included, passes here, so no
    text that came from a template or a project reaches the terminal raw. Click prints it as
    it is: no rich markup is read, so ``[red]`` in a file name stays those characters.
    """
    typer.echo(printable(text), err=err)


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print rows as left-aligned columns under a header."""
    header = [printable(cell) for cell in header]
    rows = [[printable(cell) for cell in row] for row in rows]  # measured as printed
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        echo("  ".join(cells).rstrip())


def interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM (or SIGHUP) into the same clean-up as Ctrl-C: every write path undoes
    itself."""
    raise KeyboardInterrupt(signum)


def stop_before_work(signum: int, frame: object) -> None:
    """End the process on SIGINT, SIGTERM or SIGHUP that comes before a command starts its
    work.

    Until :func:`user_errors` is entered nothing has been written, and an exception raised
    inside the argument parser would end in its traceback or its "Aborted!".
    """
    echo(f"Interrupted by {signal.Signals(signum).name}; nothing was written.", err=True)
    os._exit(128 + signum)


# A closed terminal (SIGHUP) stops a command as SIGTERM does, unless it was started to
# outlive one (nohup sets SIGHUP to be ignored): its default would end the process at
# once, leaving a staging folder or a half-written commit for the journal to repair.
_HANGUP = getattr(signal, "SIGHUP", None)  # None on Windows


def _stopping_signals() -> list[int]:
    hangup = (
        [_HANGUP] if _HANGUP is not None and signal.getsignal(_HANGUP) is not signal.SIG_IGN else []
    )
    return [signal.SIGINT, signal.SIGTERM, *hangup]


def watch_signals() -> None:
    """Stop at once on SIGINT, SIGTERM or SIGHUP until a command's work starts (see
    user_errors)."""
    for signum in _stopping_signals():
        signal.signal(signum, stop_before_work)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn plscaffold's errors and interrupts into a message on stderr and an exit code.

    Notices the API issues (a PlscaffoldNotice warning) are printed as notes. Once the
    work is done, SIGINT and SIGTERM get their default action back: an interrupt while
    the result is printed ends the process without a misleading message.
    """
    if signal.getsignal(signal.SIGTERM) is stop_before_work:
        # From here a signal unwinds the work, which undoes or finishes what it wrote.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, interrupt)
        if _HANGUP is not None and signal.getsignal(_HANGUP) is stop_before_work:
            signal.signal(_HANGUP, interrupt)
    try:
        with warnings.catch_warnings(record=True) as notices:
            warnings.simplefilter("always", PlscaffoldNotice)
            try:
                yield
            finally:
                for notice in notices:
                    if issubclass(notice.category, PlscaffoldNotice):
                        echo(f"Note: {notice.message}", err=True)
    except PlscaffoldError as err:
        echo(f"Error: {one_line(str(err))}", err=True)
        raise typer.Exit(err.exit_code) from err
    except KeyboardInterrupt as stopped:
        signum = stopped.args[0] if stopped.args else signal.SIGINT
        name = signal.Signals(signum).name
        if isinstance(stopped, InterruptedAfterWrite):
            echo(f"Interrupted by {name} after every change was written.", err=True)
        else:
            echo(f"Interrupted by {name}; nothing was written.", err=True)
        raise typer.Exit(128 + signum) from None
    if signal.getsignal(signal.SIGTERM) is interrupt:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if _HANGUP is not None and signal.getsignal(_HANGUP) is interrupt:
            signal.signal(_HANGUP, signal.SIG_DFL)
