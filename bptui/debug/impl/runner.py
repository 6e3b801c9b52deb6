"""Running the user's forward and backward in a worker process, with a time limit.

The user's file may loop forever, print, crash the interpreter or write into
the arrays it is given.  So it is imported and called in a worker process
(:class:`bptui.debug.worker.Worker`, shared with the ``d_`` derivative files)
that gets pickled copies of the parameters and data: nothing it does reaches
bptui's own arrays.  The ``cache`` forward returns never leaves the
worker (it may be anything), only ``yhat`` and the gradients come back, as
float64 arrays.  Every wait is timed in bptui's process; a worker that
overruns is terminated, then killed.  What the user's code prints is kept
(bounded) and returned with the answer instead of reaching the terminal.
"""

from __future__ import annotations

import ast
import sys
import types
import warnings
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from bptui.debug.worker import Gone, Kept, Stuck, Worker, describe, detach, line_in
from bptui.errors import UserCodeError

#: How long forward, and then backward, may each take before they are given up on.
CALL_SECONDS = 2.0
#: How long importing the file (running its top level) may take.
IMPORT_SECONDS = 5.0
#: How long a fresh worker may take to start Python and numpy on a busy machine.
START_SECONDS = 60.0


@dataclass(frozen=True)
class FileInfo:
    """What importing the file told: its LAYOUT (None when absent) and where it is set."""

    layout: str | None  # what LAYOUT is (its repr when not a string)
    layout_line: int | None
    forward_at: str  # file:line of forward's def, for what it returns


@dataclass
class Answer:
    """One forward + backward run: the arrays, or the one line saying why there are none."""

    yhat: np.ndarray | None = None
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    stage: str = "backward"  # where it ended: "forward" or "backward"
    printed: str = ""


# ------------------------------------------------------------ in the worker
class _Refused(Exception):
    """What the user's function returned cannot be used; the message says why."""


def _where(path: Path, exc: BaseException) -> str:
    """``file:line`` of the deepest frame in the user's file (``file`` when none)."""
    line = line_in(path, exc.__traceback__)
    if line is None and isinstance(exc, SyntaxError):
        line = exc.lineno
    return f"{path}:{line}" if line else str(path)


def _what(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"called exit({exc.code!r})"
    return f"raised {describe(exc)}"


def _layout_line(source: str) -> int | None:
    """The line that assigns LAYOUT at the top level, if the source parses."""
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "LAYOUT" for t in targets):
            return node.lineno
    return None


def _import(path: Path, source: str, printed: Kept) -> types.ModuleType:
    module = types.ModuleType("_bptui_user_impl")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # dataclasses & co. look their module up
    code = compile(source, str(path), "exec", dont_inherit=True)
    with redirect_stdout(printed), redirect_stderr(printed):
        exec(code, module.__dict__)
    for name in ("forward", "backward"):
        if not callable(getattr(module, name, None)):
            raise _Refused(f"{path}: defines no function {name}()")
    return module


def _array(value: Any, what: str) -> np.ndarray:
    """A float64 copy of what the user returned; complex or huge entries are refused, not cut."""
    try:
        array = np.asarray(value)
        if np.iscomplexobj(array):  # float64 would drop the imaginary part silently
            raise _Refused(f"{what} has complex entries, not real numbers")
        return np.array(array, dtype=np.float64)
    except OverflowError:  # an int beyond float range, e.g. 10**400
        raise _Refused(f"{what} holds an integer too large for a float") from None
    except (TypeError, ValueError):
        raise _Refused(f"{what} is a {type(value).__name__}, not an array of numbers") from None


def _def_line(path: Path, function: Any) -> str:
    code = getattr(function, "__code__", None)
    return f"{path}:{code.co_firstlineno}" if code is not None else str(path)


def _forward(module: types.ModuleType, path: Path, params: dict, x: np.ndarray) -> tuple:
    result = module.forward(params, x)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise _Refused(
            f"{_def_line(path, module.forward)}: forward must return (yhat, cache), "
            f"got {type(result).__name__}"
        )
    return _array(result[0], f"{_def_line(path, module.forward)}: forward's yhat"), result[1]


def _backward(module: types.ModuleType, path: Path, job: tuple, cache: Any) -> dict:
    params, x, y = (_copied(part) for part in job)
    grads = module.backward(params, x, y, cache)
    where = _def_line(path, module.backward)
    if not isinstance(grads, Mapping):
        raise _Refused(
            f"{where}: backward must return a dict of gradients, got {type(grads).__name__}"
        )
    return {str(k): _array(v, f"{where}: backward's {k!r}") for k, v in grads.items()}


def _copied(value: Any) -> Any:
    return {k: v.copy() for k, v in value.items()} if isinstance(value, dict) else value.copy()


def _run_job(module: types.ModuleType, path: Path, job: tuple, conn: Connection) -> Answer:
    """Forward, a note that it returned (so a stuck backward is named), then backward."""
    printed = Kept()
    answer = Answer(stage="forward")
    try:
        with redirect_stdout(printed), redirect_stderr(printed):
            params, x, _ = (_copied(part) for part in job)
            answer.yhat, cache = _forward(module, path, params, x)
            conn.send("forward returned")
            answer.stage = "backward"
            answer.grads = _backward(module, path, job, cache)
    except _Refused as e:
        answer.error = str(e)
    except BaseException as e:
        answer.error = f"{_where(path, e)}: {answer.stage} {_what(e)}"
    answer.printed = printed.getvalue()
    return answer


def _serve(conn: Connection, path_text: str, source: str) -> None:
    """The worker: import the file, then run each job it is sent until told to stop."""
    detach()
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    conn.send("started")
    path = Path(path_text)
    try:
        module = _import(path, source, Kept())
        layout = getattr(module, "LAYOUT", None)
        if not (layout is None or isinstance(layout, str)):
            layout = repr(layout)
        conn.send(FileInfo(layout, _layout_line(source), _def_line(path, module.forward)))
    except _Refused as e:
        conn.send(UserCodeError(str(e)))
        return
    except BaseException as e:
        conn.send(UserCodeError(f"{_where(path, e)}: importing it {_what(e)}"))
        return
    while (job := conn.recv()) is not None:
        conn.send(_run_job(module, path, job, conn))


# ---------------------------------------------------------- in bptui itself
class ImplRunner:
    """One worker for one user file: ``with ImplRunner(path, source) as r: r.run(...)``."""

    def __init__(self, path: Path, source: str) -> None:
        """Start the worker; it starts Python and imports the file while bptui goes on."""
        self.path = path
        self.worker = Worker(_serve, (str(path), source), "bptui-impl")
        self._info: FileInfo | None = None

    @property
    def info(self) -> FileInfo:
        """What importing the file told (waits for it); UserCodeError if it failed."""
        if self._info is None:
            self._info = self._started()
        return self._info

    def __enter__(self) -> ImplRunner:
        return self

    def __exit__(self, *_: object) -> None:
        self.worker.stop()

    def _receive(self, seconds: float, doing: str) -> Any:
        """The worker's next message, or one line saying it overran or ended (and on which line)."""
        try:
            return self.worker.receive(seconds)
        except Stuck:
            self.worker.abandon()
            why = f"{doing} did not finish within {seconds:g} s (an endless loop?)"
        except Gone as e:
            why = f"{doing} {e}"
        line = self.worker.line_in_file(self.path)
        raise UserCodeError(f"{self.path}:{line}: {why}" if line else f"{self.path}: {why}")

    def _started(self) -> FileInfo:
        self._receive(START_SECONDS, "starting its worker process")
        message = self._receive(IMPORT_SECONDS, "importing it")
        if isinstance(message, UserCodeError):
            raise message
        return message

    def run(self, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Answer:
        """The user's forward and backward on these values (the worker gets copies)."""
        self.worker.send((params, x, y))
        first = self._receive(CALL_SECONDS, "forward")
        if isinstance(first, Answer):  # forward raised or returned something unusable
            return first
        return self._receive(CALL_SECONDS, "backward")
