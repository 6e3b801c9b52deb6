"""Running the user's file where a stuck function can be abandoned.

The file is imported and called in a :class:`bptui.debug.worker.Worker`, one
per loaded file, that bptui talks to over a Pipe: each batch of calls is one
message out and one answer back per call, each within CALL_SECONDS.  A worker
that overruns is killed and a fresh one started for later calls; the function
that overran (or ended the worker) is not called again.  The worker gets
copies of the values and rebuilds the read-only ctx itself, so nothing the
user's code does reaches bptui.
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys
import threading
import types
import warnings
from collections.abc import Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from bptui.debug.usergrads.context import GradContext, context_from
from bptui.debug.usergrads.layers import layer_functions
from bptui.debug.worker import (
    START_SECONDS,
    Gone,
    Kept,
    Stuck,
    Worker,
    describe,
    detach,
    line_in,
)
from bptui.errors import UserCodeError

#: How long one call of a user's function may take before it is given up on.
CALL_SECONDS = 2.0
#: How long importing the user's file (running its top level) may take.
IMPORT_SECONDS = 5.0


@dataclass(frozen=True)
class Found:
    """One ``d_…`` name the imported file defines, as the worker sees it."""

    attr: str
    type_name: str
    is_callable: bool
    signature: str | None  # None when inspect cannot tell
    takes_one_argument: bool


@dataclass(frozen=True)
class Outcome:
    """One call: the user's number (an array from a d_W/d_b function), or why there is none."""

    value: float | np.ndarray | None
    error: str | None
    output: str = ""


# ------------------------------------------------------------ in the worker
class _NotANumber(Exception):
    """The user's function returned something that is not one finite number."""


def _exit_status(code: object) -> int:
    """The status ``sys.exit(code)`` would end a process with."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _as_number(value: Any, what: str) -> float:
    """The user's return value as a float, or _NotANumber with a one-line reason."""
    if isinstance(value, (list, tuple, np.ndarray)):
        try:
            array = np.asarray(value)
            if np.iscomplexobj(array):  # float64 would drop the imaginary part silently
                raise _NotANumber(f"{what} returned complex values, not a real number")
            array = array.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            raise _NotANumber(f"{what} returned {type(value).__name__}, not a number") from None
        if array.size != 1:
            raise _NotANumber(
                f"{what} returned {array.size} values, not one number "
                "(sum the per-point terms over the data points)"
            )
        value = float(array.reshape(()))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _NotANumber(f"{what} returned {type(value).__name__} {value!r:.40}, not a number")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range, e.g. 10**400
        raise _NotANumber(f"{what} returned an integer too large for a float") from None
    if not math.isfinite(number):
        raise _NotANumber(f"{what} returned {number}, not a finite number")
    return number


def _as_array(value: Any, what: str) -> np.ndarray:
    """A d_W/d_b function's return value as float64 (its shape is judged in bptui)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        array = np.asarray(None)
    if np.iscomplexobj(array):  # float64 would drop the imaginary part silently
        raise _NotANumber(f"{what} returned complex values, not real numbers")
    if array.dtype.kind not in "iuf":  # bool, text, objects such as 10**400 or None
        raise _NotANumber(f"{what} returned {type(value).__name__}, not an array of numbers")
    return array.astype(np.float64)


def _found(attr: str, value: object) -> Found:
    """What the loader checks about one ``d_…`` name of the user's module."""
    try:
        signature = inspect.signature(value) if callable(value) else None
    except (TypeError, ValueError):
        signature = None
    one = True
    if signature is not None:
        try:
            signature.bind(None)
        except TypeError:
            one = False
    text = None if signature is None else str(signature)
    return Found(attr, type(value).__name__, callable(value), text, one)


def _user_functions(module: types.ModuleType) -> dict[str, Any]:
    """The module's ``d_…`` names and their values, in the file's order."""
    return {attr: value for attr, value in vars(module).items() if attr.startswith("d_")}


def _import_file(path: Path, source: str) -> tuple[types.ModuleType | None, tuple[str, Any]]:
    """Run the user's file as a module: the module and ("imported", found) or ("failed", why)."""
    module = types.ModuleType("_bptui_user_grads")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses & co. look themselves up here
    try:
        code = compile(source, str(path), "exec", dont_inherit=True)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            exec(code, module.__dict__)
    except SystemExit:
        return None, ("failed", f"{path}: importing it called exit()")
    except BaseException as e:
        line = line_in(path, e.__traceback__)
        where = f"{path}:{line}" if line else str(path)
        return None, ("failed", f"{where}: importing it raised {describe(e)}")
    found = [_found(attr, value) for attr, value in _user_functions(module).items()]
    return module, ("imported", found)


def _call(function: Any, name: str, path: Path, ctx: GradContext, whole_layer: bool) -> Outcome:
    """One call of the user's function, everything it could do turned into an Outcome."""
    convert = _as_array if whole_layer else _as_number
    output = Kept()
    try:
        with (
            redirect_stdout(output),
            redirect_stderr(output),
            warnings.catch_warnings(),
            np.errstate(all="ignore"),
        ):
            warnings.simplefilter("ignore")
            return Outcome(convert(function(ctx), name), None, output.getvalue())
    except _NotANumber as e:
        return Outcome(None, str(e), output.getvalue())
    except BaseException as e:
        line = line_in(path, e.__traceback__)
        where = f" ({path.name}:{line})" if line else ""
        if isinstance(e, SystemExit):
            what = f"exited with status {_exit_status(e.code)}"
        else:
            what = f"raised {describe(e)}"
        return Outcome(None, f"{name}{where} {what}", output.getvalue())


def _serve(conn: Connection, path_text: str, source: str) -> None:
    """The worker's life: import the user's file, then answer batches of calls until told to stop."""
    detach()
    conn.send(("started", None))
    path = Path(path_text)
    module, reply = _import_file(path, source)
    conn.send(reply)
    if module is None:
        return
    functions = _user_functions(module)
    whole_layers = layer_functions(functions)
    while True:
        try:
            jobs = conn.recv()
        except (EOFError, OSError):
            return
        if jobs is None:
            return
        contexts: dict[int, GradContext] = {}  # one ctx per distinct values in a batch
        for name, values in jobs:
            if id(values) not in contexts:
                contexts[id(values)] = context_from(values)
            call = _call(functions[name], name, path, contexts[id(values)], name in whole_layers)
            conn.send(call)


# ---------------------------------------------------------- in bptui itself
def _at(worker: Worker, path: Path) -> str:
    """`` (f.py:12)``: the line of the user's file a stuck or crashed worker was on, if known."""
    line = worker.line_in_file(path)
    return f" ({path.name}:{line})" if line else ""


def _next(worker: Worker, seconds: float, doing: str, path: Path, hint: str = "") -> Any:
    """The worker's next message while it is ``doing`` something; UserCodeError if not in time."""
    try:
        return worker.receive(seconds)
    except Stuck:
        worker.abandon()
        why = f"{doing} did not finish within {seconds:g} s{hint}"
    except Gone as e:
        why = f"{doing} {e}"
    line = worker.line_in_file(path)
    raise UserCodeError(f"{path}:{line}: {why}" if line else f"{path}: {why}")


def _imported(worker: Worker, path: Path) -> list[Found]:
    """Wait for the worker to start and import the file; UserCodeError says why not."""
    _next(worker, START_SECONDS, "starting its worker process", path)
    kind, detail = _next(worker, IMPORT_SECONDS, "importing it", path, " (an endless loop?)")
    if kind == "failed":
        raise UserCodeError(detail)
    return detail


class Sandbox:
    """The worker of one user file: imports it, calls its functions, gives up on stuck ones."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        #: Functions that overran the time limit or ended the worker, and why:
        #: they are not called again (the TUI evaluates after every step).
        self.given_up: dict[str, str] = {}
        self._worker: Worker | None = None
        self._broken: str | None = None  # why a restarted worker cannot import the file
        #: One conversation with the worker at a time, whichever thread asks.
        self._talking = threading.Lock()

    def open(self) -> list[Found]:
        """Start the worker and import the file in it; UserCodeError says why not."""
        self.close()
        worker = Worker(_serve, (str(self.path), self.source), "bptui-user-grads")
        try:
            found = _imported(worker, self.path)
        except BaseException:
            worker.stop()
            raise
        self._worker = worker
        return found

    @property
    def running(self) -> bool:
        """Is a worker process up (a call starts one when none is)?"""
        return self._worker is not None and self._worker.alive

    def close(self, now: bool = False) -> None:
        """End the worker (``now``: at once, mid-call or not); a call starts a fresh one."""
        if self._worker is not None:
            self._worker.end(now)
            self._worker = None

    def run(self, jobs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Outcome]:
        """Each ``(d_name, values)`` job's outcome, in order."""
        outcomes: list[Outcome] = []
        with self._talking:
            while len(outcomes) < len(jobs):
                outcomes += self._run_until_stopped(jobs[len(outcomes) :])
        return outcomes

    def _live_worker(self) -> Worker | str:
        """The worker, restarted if a give-up ended it, or why there is none."""
        if self._broken is None and (self._worker is None or not self._worker.alive):
            try:
                self.open()
            except UserCodeError as e:
                self._broken = f"cannot be run again: {e}"
        if self._worker is None:
            return self._broken or "has no worker process"
        return self._worker

    def _run_until_stopped(self, jobs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Outcome]:
        """Outcomes of the jobs in order, up to and including one that stops the worker."""
        live = [job for job in jobs if job[0] not in self.given_up]
        worker = self._live_worker() if live else "is not called"
        if isinstance(worker, str):
            return [Outcome(None, self.given_up.get(name, f"{name} {worker}")) for name, _ in jobs]
        worker.send(live)
        outcomes = []
        for name, _ in jobs:
            if name in self.given_up:
                outcomes.append(Outcome(None, self.given_up[name]))
                continue
            try:
                outcomes.append(worker.receive(CALL_SECONDS))
                continue
            except Stuck:
                worker.abandon()
                why = (
                    f"{name}{_at(worker, self.path)} did not return within "
                    f"{CALL_SECONDS:g} s (an endless loop?)"
                )
            except Gone as e:
                why = f"{name}{_at(worker, self.path)} {e}"
            self.given_up[name] = why
            outcomes.append(Outcome(None, why))
            self.close()
            break
        return outcomes
