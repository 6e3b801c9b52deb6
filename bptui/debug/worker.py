"""A worker process for the user's code: started fresh, timed from bptui, ended for sure.

User code may loop forever (even inside ``try/except BaseException``), call
``os._exit``, crash the interpreter or print over the TUI.  Run in a
:class:`Worker`, it can do none of that to bptui: every wait for an answer
has a time limit measured in bptui's own process (so it works from any thread
and on any OS, no signals), a worker that overruns is terminated and then
killed, and the worker's terminal output goes nowhere.

A worker's address space is limited (MEMORY_BYTES more than it starts with),
so code that allocates without end gets a MemoryError instead of taking the
machine's memory.  Where a worker overran or crashed, Python's faulthandler
has written its stack into a file only bptui reads, so the message can name
the line of the user's file it was on (:meth:`Worker.line_in_file`).

Workers are forked from a fork server where there is one (Linux, macOS): a
clean single-threaded process started once, with numpy and the worker's module
already imported, so a worker costs milliseconds, not an interpreter start,
and forking never copies the TUI's threads.  Elsewhere (Windows) each worker
is spawned, a fresh interpreter.  As with any such start method, a script that
starts a worker must keep its top level behind ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import faulthandler
import io
import multiprocessing
import os
import re
import signal
import tempfile
import time
import traceback
import types
import weakref
from collections.abc import Callable
from multiprocessing import reduction
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

#: How long a fresh worker may take to start Python and numpy (a busy machine).
START_SECONDS = 60.0
#: How long a worker asked to stop (or terminated) gets before the next, harder way.
STOP_SECONDS = 1.0
#: At most this many characters of what the user's code prints are kept.
OUTPUT_CHARS = 4096
#: How much more address space than it starts with a worker may use (2 GiB).
MEMORY_BYTES = 2 << 30
#: How long a stuck worker gets to write where it is before it is terminated.
DUMP_SECONDS = 0.3

_FORK_SERVER = "forkserver" in multiprocessing.get_all_start_methods()
_PROCESSES = multiprocessing.get_context("forkserver" if _FORK_SERVER else "spawn")


class Stuck(Exception):
    """The worker did not answer in time."""


class Gone(Exception):
    """The worker process ended; ``str()`` says how ("exited with status 0")."""


# ------------------------------------------------------------ in the worker
class Kept(io.TextIOBase):
    """A text stream that keeps only the first OUTPUT_CHARS characters written.

    What it read back ends with a line saying how much was left out, so a
    cut-off output is never mistaken for the whole.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._room = OUTPUT_CHARS
        self._dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        kept = text[: self._room]
        self._parts.append(kept)
        self._room -= len(kept)
        self._dropped += len(text) - len(kept)
        return len(text)

    def getvalue(self) -> str:
        kept = "".join(self._parts)
        if not self._dropped:
            return kept
        newline = "" if kept.endswith("\n") else "\n"
        return f"{kept}{newline}… {self._dropped:,} more characters not kept\n"


def line_in(path: Path, tb: types.TracebackType | None) -> int | None:
    """The last line of the user's file in a traceback, if any."""
    line = None
    for frame in traceback.extract_tb(tb):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def describe(exc: BaseException) -> str:
    """An exception in one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def detach() -> None:
    """Keep a worker off the terminal: Ctrl+C is bptui's, and prints must not draw on the TUI."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _limit_memory() -> None:
    """At most MEMORY_BYTES more address space: endless allocation is a MemoryError here."""
    try:
        import resource
    except ImportError:  # Windows
        return
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            start = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        start = 1 << 30
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = start + MEMORY_BYTES
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _watch_for_faults(fd: int | None) -> None:
    """Write the stack into ``fd`` on a crash, and on SIGUSR1 (bptui's "where are you?")."""
    if fd is None:
        return
    faulthandler.enable(file=fd, all_threads=True)
    if hasattr(faulthandler, "register") and hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=fd, all_threads=True)


def _bootstrap(
    conn: Connection, faults: int | None, target: Callable[..., None], *args: Any
) -> None:
    """A worker's first steps, before ``target``: its process group, memory limit, fault file.

    In a process group of its own, whatever the user's code starts (``os.fork``,
    ``subprocess``) is ended with the worker (:func:`_end`).
    """
    if hasattr(os, "setpgid"):
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
    _watch_for_faults(faults)
    _limit_memory()
    target(conn, *args)


class _PassedFd:
    """A file descriptor handed to the worker the way multiprocessing hands it the Pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(dup: Any) -> int:
    return dup.detach()


# ---------------------------------------------------------- in bptui itself
def how_it_ended(exitcode: int | None) -> str:
    """A dead worker's exit code in words."""
    if exitcode is None:
        return "closed its connection to bptui"
    if exitcode >= 0:
        return f"exited with status {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = str(-exitcode)
    return f"crashed (signal {name})"


def _end(conn: Connection, process: BaseProcess) -> None:
    """End a worker: ask it, then terminate it, then kill it, and what it started."""
    if process.is_alive():
        try:
            conn.send(None)
        except OSError:
            pass
        process.join(STOP_SECONDS)
    for end in (process.terminate, process.kill):
        if not process.is_alive():
            break
        end()
        process.join(STOP_SECONDS)
    conn.close()
    if process.pid is not None and hasattr(os, "killpg"):
        try:  # the worker's group: processes the user's code forked
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:  # none left (ESRCH), or not ours
            pass


#: A frame in faulthandler's dump: ``  File "/path/f.py", line 12 in d_b3``.
_FRAME = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+) in ')


def _fault_file() -> tuple[Any, _PassedFd | None]:
    """An anonymous file for the worker's stack dumps, and its descriptor for the worker."""
    if not hasattr(reduction, "DupFd"):  # Windows: no descriptors to pass
        return None, None
    file = tempfile.TemporaryFile()
    return file, _PassedFd(file.fileno())


class Worker:
    """One worker process running ``target(conn, *args)``, and bptui's end of its Pipe.

    ``None`` sent to the worker means "stop"; :meth:`stop` sends it and, if the
    worker does not end, terminates and then kills it.
    """

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        if _FORK_SERVER:  # for the fork server, if it has not started yet
            _PROCESSES.set_forkserver_preload(["numpy", target.__module__])
        self.conn, child = _PROCESSES.Pipe()
        self._faults, passed = _fault_file()
        self.process = _PROCESSES.Process(
            target=_bootstrap, args=(child, passed, target, *args), name=name, daemon=True
        )
        self.process.start()
        child.close()  # the worker's end lives in the worker: its death closes the Pipe
        # Ended when dropped or at exit, whatever the user's code did to SIGTERM.
        self.stop = weakref.finalize(self, _end, self.conn, self.process)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, message: object) -> None:
        self.conn.send(message)

    def receive(self, seconds: float) -> Any:
        """The worker's next message; Stuck after ``seconds``, Gone if it ended."""
        ready = wait([self.conn, self.process.sentinel], seconds)
        if self.conn in ready:  # a last message may come just before the end
            try:
                return self.conn.recv()
            except (EOFError, OSError):
                pass
        if not ready:
            raise Stuck
        self.process.join(STOP_SECONDS)
        raise Gone(how_it_ended(self.process.exitcode))

    def end(self, now: bool = False) -> None:
        """Stop the worker; ``now``: kill it first (one busy in the user's code would not
        read "stop", and asking would wait STOP_SECONDS)."""
        if now:
            self.process.kill()
        self.stop()

    def abandon(self) -> None:
        """End a stuck worker at once (asking it to stop would only wait), once it said where."""
        self._ask_where()
        self.process.terminate()
        self.stop()

    def _dump_size(self) -> int:
        return os.fstat(self._faults.fileno()).st_size if self._faults is not None else 0

    def _ask_where(self) -> None:
        """SIGUSR1: the worker's faulthandler writes its stack, even in a C loop."""
        if self._faults is None or not hasattr(signal, "SIGUSR1") or not self.alive:
            return
        try:
            os.kill(self.process.pid, signal.SIGUSR1)
        except OSError:
            return
        deadline = time.monotonic() + DUMP_SECONDS
        size = 0
        while time.monotonic() < deadline:  # until the dump has stopped growing
            time.sleep(0.01)
            now = self._dump_size()
            if now and now == size:
                return
            size = now

    def line_in_file(self, path: Path) -> int | None:
        """The line of ``path`` the worker was last seen on, from a crash's or a stuck dump."""
        if self._faults is None:
            return None
        self._faults.seek(0)
        dump = self._faults.read(1 << 16).decode("utf-8", "replace")
        for text in dump.splitlines():  # the most recent call first
            frame = _FRAME.match(text)
            if frame and Path(frame["file"]) == path:
                return int(frame["line"])
        return None
