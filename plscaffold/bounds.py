"""Run an untrusted template's rendering in a child process bounded in time and memory.

Jinja's sandbox stops a template from reaching Python, not from looping for hours or
asking for gigabytes (``{{ 'a' * 10**10 }}``). A forked child renders instead, under
``RLIMIT_CPU`` and ``RLIMIT_AS``; it reports each file as it starts it, so a limit that
strikes names the file, and sends the rendering back whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from plscaffold.errors import PlscaffoldError, TemplateError, failure, one_line

T = TypeVar("T")
Report = Callable[[str], None]
"""Called with where the rendering is (a template file) as each part starts."""

SECONDS_VARIABLE = "PLSCAFFOLD_RENDER_SECONDS"
DEFAULT_SECONDS = 20
"""CPU seconds an untrusted template may take to render (the bundled one takes 0.1)."""
MEMORY_BYTES = 2 << 30
"""Memory the rendering may take beyond what the process held when it started."""
_HEADER = struct.Struct("!Q")
_PR_SET_PDEATHSIG = 1


class _OutOfTime(BaseException):
    """Raised in the child when its CPU budget is spent (a BaseException: never swallowed)."""


def cpu_seconds() -> int:
    """Return the CPU budget of one rendering: ``PLSCAFFOLD_RENDER_SECONDS`` or the default.

    Raises:
        TemplateError: the variable is not a whole number of seconds from 1 up.
    """
    text = os.environ.get(SECONDS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_SECONDS
    if not text.isdigit() or not 1 <= int(text) <= 86_400:
        raise TemplateError(
            f"{SECONDS_VARIABLE}={text[:20]!r} is not a number of seconds from 1 to 86400; "
            f"set it to one, or unset it for the default of {DEFAULT_SECONDS}"
        )
    return int(text)


def run_bounded(work: Callable[[Report], T], what: str) -> T:
    """Return ``work(report)`` computed in a child process with a CPU and memory budget.

    Where the platform cannot fork (Windows), ``work`` runs in this process, unbounded.

    Args:
        work: The rendering; it calls ``report(where)`` as it starts each file.
        what: What is rendered (the template), named where no file was reported yet.

    Raises:
        PlscaffoldError: what ``work`` raised; any other exception becomes a TemplateError.
        TemplateError: the budget was spent; the message names the last file reported.
    """
    seconds = cpu_seconds()
    if not hasattr(os, "fork"):
        return work(lambda where: None)
    read_fd, write_fd = os.pipe()
    # Ctrl-C, SIGTERM or SIGHUP between the fork and the parent's try below would leave the child
    # running: they wait until each side is ready for them.
    stopping = {
        signal.SIGINT,
        signal.SIGTERM,
        *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []),
    }
    held = signal.pthread_sigmask(signal.SIG_BLOCK, stopping)
    parent_pid = os.getpid()
    try:
        pid = os.fork()
    except OSError as err:  # out of processes or memory: nothing was started
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(read_fd)
        os.close(write_fd)
        raise TemplateError(f"{what}: cannot start the process that renders it: {err}") from err
    if pid == 0:  # pragma: no cover - the child; coverage cannot follow os._exit
        os.close(read_fd)
        _die_with_parent(parent_pid)
        _child(work, write_fd, seconds, held, what)
    os.close(write_fd)
    received: bytes | None = None
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        received = _receive(pid, read_fd, seconds)
    finally:
        os.close(read_fd)
        if received is None:  # interrupted: the child goes too
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, wait_status = os.waitpid(pid, 0)
    result: T = _outcome(received, wait_status, seconds, what)
    return result


def _die_with_parent(parent_pid: int) -> None:  # pragma: no cover - runs in the child
    """Have the kernel kill this child the moment its parent dies (Linux only).

    A parent killed with SIGKILL (``kill -9``, the out-of-memory killer) cannot stop its
    child, and the orphan would render on, holding the project's lock, until its CPU budget
    ran out. Elsewhere that budget is the bound.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        asked = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except Exception:  # no ctypes or C library to ask (the child must not raise here)
        return
    if asked and os.getppid() != parent_pid:  # the parent died before the request
        os._exit(1)


def _child(
    work: Callable[[Report], Any], write_fd: int, seconds: int, held: set[Any], what: str
) -> None:
    """Run ``work`` under the limits, send each report and the outcome, and exit."""
    status = 1
    where: list[str] = []
    try:
        with os.fdopen(write_fd, "wb") as channel:

            def send(message: tuple[str, Any]) -> None:
                data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
                # Two writes: joining them would copy a large rendering once more.
                channel.write(_HEADER.pack(len(data)))
                channel.write(data)
                channel.flush()

            def report(at: str) -> None:
                where[:] = [at]
                send(("at", at))

            _limit(seconds)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            try:
                message: tuple[str, Any] = ("ok", work(report))
            except PlscaffoldError as err:
                message = ("error", err)
            except _OutOfTime:
                message = ("error", _out_of_time(where[0] if where else None, seconds))
            except Exception as err:
                message = ("error", TemplateError(failure(where[0] if where else "", err)))
            try:
                send(message)
            except Exception as err:  # MemoryError, or what pickling a value can raise
                send(("error", TemplateError(_unsent(what, err))))
            status = 0
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _unsent(what: str, err: BaseException) -> str:
    """Return why the child could not send its outcome, as one line naming the reason."""
    if isinstance(err, MemoryError):
        reason = (
            "it needs more memory than rendering a template may take (too many or too "
            "large files?); fix the template, or pass --trust to render it in this process"
        )
    else:
        reason = f"{type(err).__name__}: {one_line(str(err)) or 'no reason given'}"
    return f"{what}: the rendering could not be sent back: {reason}"


def _limit(seconds: int) -> None:
    """Set this process's CPU and memory limits, and turn SIGXCPU into ``_OutOfTime``."""
    import resource

    def out_of_time(signum: int, frame: object) -> None:
        raise _OutOfTime

    # Ctrl-C, SIGTERM and SIGHUP reach the parent, which stops this child itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGXCPU, out_of_time)
    # The soft limit lets Python raise; the hard one kills a loop inside C code.
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 2))
    mapped = _address_space_bytes()
    if mapped is not None:
        limit = mapped + MEMORY_BYTES
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _address_space_bytes() -> int | None:
    """Return the virtual memory this process maps, or None where /proc cannot tell."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _out_of_time(where: str | None, seconds: int) -> TemplateError:
    at = where or "the template"
    return TemplateError(
        f"{at}: rendering took more than {seconds} s of CPU, so it was stopped (a loop too "
        f"long for a template?); fix the template, or raise {SECONDS_VARIABLE} if it is "
        "really that big"
    )


def _receive(pid: int, read_fd: int, seconds: int) -> bytes:
    """Read all the child sends; kill it if it outlives its budget (it never sleeps)."""
    received = bytearray()
    # A backstop: the CPU limit ends the child first unless it sleeps or blocks.
    deadline = time.monotonic() + 3 * seconds + 10
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([read_fd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            break
        received += chunk
    return bytes(received)


def _outcome(received: bytes, wait_status: int, seconds: int, what: str) -> Any:
    """Return the rendering the child sent, or raise the error it sent or met."""
    messages = _messages(received)
    where = next((m[1] for m in reversed(messages) if m[0] == "at"), None)
    outcome = next((m for m in messages if m[0] in ("ok", "error")), None)
    if outcome is None:
        if os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) in (
            signal.SIGKILL,
            signal.SIGXCPU,
        ):
            raise _out_of_time(where or what, seconds)
        raise TemplateError(
            f"{where or what}: rendering stopped without a result (exit status {wait_status}); "
            "fix the template, or pass --trust to render it in this process"
        )
    if outcome[0] == "error":
        error = outcome[1]
        if isinstance(error, PlscaffoldError):
            raise error
        raise TemplateError(f"{where or what}: rendering failed: {error!r}")
    return outcome[1]


def _messages(data: bytes) -> list[tuple[str, Any]]:
    """Split what the child sent into its messages; a cut-off last one is dropped."""
    messages = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        (size,) = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        if start + size > len(data):
            break
        messages.append(pickle.loads(data[start : start + size]))
        offset = start + size
    return messages
