"""A worker process for the user's code: started fresh, timed from bptui, ended for sure.

User code may loop forever (even inside ``try/except BaseException``), call
``os._exit``, crash the interpreter or print over the TUI.  Run in a
:class:`Worker`, it can do none of that to bptui: every wait for an answer
has a time limit measured in bptui's own process (so it works from any thread
and on any OS, no signals), a worker that overruns is terminated and then
killed, and the worker's terminal output goes nowhere.

Workers are forked from a fork server where there is one (Linux, macOS): a
clean single-threaded process started once, with numpy and the worker's module
already imported, so a worker costs milliseconds, not an interpreter start,
and forking never copies the TUI's threads.  Elsewhere (Windows) each worker
is spawned, a fresh interpreter.  As with any such start method, a script that
starts a worker must keep its top level behind ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import traceback
import types
import weakref
from collections.abc import Callable
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

_FORK_SERVER = "forkserver" in multiprocessing.get_all_start_methods()
_PROCESSES = multiprocessing.get_context("forkserver" if _FORK_SERVER else "spawn")


class Stuck(Exception):
    """The worker did not answer in time."""


class Gone(Exception):
    """The worker process ended; ``str()`` says how ("exited with status 0")."""


# ------------------------------------------------------------ in the worker
class Kept(io.TextIOBase):
    """A text stream that keeps only the first OUTPUT_CHARS characters written."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._room = OUTPUT_CHARS

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        kept = text[: self._room]
        self._parts.append(kept)
        self._room -= len(kept)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self._parts)


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
    """End a worker: ask it, then terminate it, then kill it."""
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


class Worker:
    """One worker process running ``target(conn, *args)``, and bptui's end of its Pipe.

    ``None`` sent to the worker means "stop"; :meth:`stop` sends it and, if the
    worker does not end, terminates and then kills it.
    """

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        if _FORK_SERVER:  # for the fork server, if it has not started yet
            _PROCESSES.set_forkserver_preload(["numpy", target.__module__])
        self.conn, child = _PROCESSES.Pipe()
        self.process = _PROCESSES.Process(
            target=target, args=(child, *args), name=name, daemon=True
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

    def abandon(self) -> None:
        """End a stuck worker at once: asking it to stop would only wait."""
        self.process.terminate()
        self.stop()
