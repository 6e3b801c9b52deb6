"""Hostile user code, for ``--grads`` and ``--impl`` files alike, on the CLI and in the TUI's path.

Each row is something a user's file may do: loop inside ``except BaseException``,
sit in a long C call, ``os._exit(0)``, segfault, allocate without end, exec
itself, ``sys.exit``, return ``10**400`` or complex numbers, write into its
arrays, print megabytes.  On the CLI that is exit 2 and one line naming the
file (and the function and line where they are known); in the TUI's path
(:class:`DebugState` for ``--grads``, :class:`ImplSession` for ``--impl``) it is
one line, shown once, and bptui's own state is as it was.

The expected lines are exact: the line numbers are where the code was stuck
or crashed, read from the worker's stack dump.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_one_line_error

from bptui.debug.impl import runner
from bptui.debug.session import DebugState, ImplSession
from bptui.debug.usergrads import load_user_grads, sandbox
from bptui.debug.worker import OUTPUT_CHARS
from bptui.engine.stepper import Stepper
from bptui.errors import UserCodeError
from bptui.scenario.loading import load_builtin

LIMIT = 0.5  # seconds: the call and import limits, shortened for the suite
#: A run must end within this, whatever the code does (limits + a busy machine).
BOUND = 10.0

ARTICLE_PARAMS = ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]


@pytest.fixture(autouse=True)
def quick_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (sandbox, runner):
        monkeypatch.setattr(module, "CALL_SECONDS", LIMIT)
        monkeypatch.setattr(module, "IMPORT_SECONDS", LIMIT)


# ------------------------------------------------------------- the hostile code
#: name -> the hostile lines, as the body of a function (4 spaces in, first line first).
HOSTILE = {
    "catches BaseException": (
        "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass"
    ),
    "a long C call": "sum(range(10**12))",
    "a regex that backtracks": 're.match(r"(a+)+$", "a" * 40 + "b")',
    "os._exit(0)": "os._exit(0)",
    "a segfault": "ctypes.string_at(0)",
    "endless allocation": "chunks = []\nwhile True:\n    chunks.append(np.ones(3 * 10**8))",
    "sys.exit(0)": "sys.exit(0)",
}

#: name -> (what follows the --grads file's name, what follows the --impl file's name),
#: as patterns; {line} is the line of the hostile code running when it was stopped.
TIMEOUT = (
    r": d_b3 \(f\.py:{line}\) did not return within 0\.5 s \(an endless loop\?\)",
    r":{line}: forward did not finish within 0\.5 s \(an endless loop\?\)",
)
EXPECTED = {
    "catches BaseException": TIMEOUT,
    "a long C call": TIMEOUT,
    "a regex that backtracks": TIMEOUT,
    "os._exit(0)": (r": d_b3 exited with status 0", r": forward exited with status 0"),
    "a segfault": (
        r": d_b3 \(f\.py:{line}\) crashed \(signal SIGSEGV\)",
        r":{line}: forward crashed \(signal SIGSEGV\)",
    ),
    "endless allocation": (
        r": d_b3 \(f\.py:{line}\) raised MemoryError: Unable to allocate 2\.24 GiB .*",
        r":{line}: forward raised MemoryError: Unable to allocate 2\.24 GiB .*",
    ),
    "sys.exit(0)": (
        r": d_b3 \(f\.py:{line}\) exited with status 0",
        r":{line}: forward called exit\(0\)",
    ),
}

#: The line of each hostile body that is running when it is stopped (0: its first).  An
#: endless loop is on one line: ``while True:`` and ``pass`` on two are seen on either.
RUNNING = {"catches BaseException": 2, "endless allocation": 2}

HEADER = 'import ctypes, os, re, sys\nimport numpy as np\nCALLS = [0]\nLAYOUT = "rows"\n'

CORRECT_W3 = """
def d_w3(ctx):
    return float(np.sum(-2 * (ctx.y - ctx.yhat) * ctx.nodes["blue"]))
"""


def indented(body: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in body.splitlines()) + "\n"


def grads_file(body: str, from_call: int = 1) -> tuple[str, int]:
    """A --grads file whose d_b3 runs ``body`` from its ``from_call``-th call; its first line."""
    head = HEADER + f"\ndef d_b3(ctx):\n    CALLS[0] += 1\n    if CALLS[0] >= {from_call}:\n"
    text = head + indented(body, 8) + "    return float(np.sum(-2 * (ctx.y - ctx.yhat)))\n"
    return text + CORRECT_W3, head.count("\n") + 1


IMPL = """
def forward(params, X):
    CALLS[0] += 1
    if CALLS[0] >= {from_call}:
{body}    Z1 = X @ params["W1"] + params["b1"]
    A1 = 1 / (1 + np.exp(-Z1))
    A2 = 1 / (1 + np.exp(-(A1 @ params["W2"] + params["b2"])))
    return {yhat}, (A1, A2)


def backward(params, X, Y, cache):
    A1, A2 = cache
    dZ2 = (A2 - Y) / X.shape[0]
    dZ1 = dZ2 @ params["W2"].T * A1 * (1 - A1)
    return {{"dW2": A1.T @ dZ2, "db2": dZ2.sum(0), "dW1": X.T @ dZ1, "db1": dZ1.sum(0)}}
"""


def impl_file(body: str = "pass", from_call: int = 1, yhat: str = "A2") -> tuple[str, int]:
    """An --impl file (xor, rows) whose forward runs ``body`` from its ``from_call``-th call."""
    head = HEADER + IMPL[: IMPL.index("{body}")].format(from_call=from_call)
    text = HEADER + IMPL.format(from_call=from_call, body=indented(body, 8), yhat=yhat)
    return text, head.count("\n") + 1


def expected(name: str, first_line: int, which: int) -> str:
    """The pattern of the line for ``name``, its hostile code starting at ``first_line``."""
    return EXPECTED[name][which].replace("{line}", str(first_line + RUNNING.get(name, 0)))


def matches(line: str, start: str, pattern: str) -> bool:
    return re.fullmatch(re.escape(start) + pattern, line) is not None


def timed_cli(run_cli, *args: object):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    result = run_cli(*args)
    assert time.monotonic() - start < BOUND
    return result


# -------------------------------------------------------------------- the CLI
@pytest.mark.parametrize("name", HOSTILE)
def test_grads_cli_is_exit_2_one_line(name: str, write_file, run_cli) -> None:
    text, first = grads_file(HOSTILE[name])
    path = write_file("f.py", text)
    result = timed_cli(run_cli, "check", "--grads", path)
    line = assert_one_line_error(result)
    assert matches(line, f"bptui: error: {path}", expected(name, first, 0)), line


@pytest.mark.parametrize("name", HOSTILE)
def test_impl_cli_is_exit_2_one_line(name: str, write_file, run_cli) -> None:
    text, first = impl_file(HOSTILE[name])
    path = write_file("f.py", text)
    result = timed_cli(run_cli, "check", "--impl", path, "xor")
    line = assert_one_line_error(result)
    assert matches(line, f"bptui: error: {path}", expected(name, first, 1)), line


#: Top-level code: (the file, what follows its name).
AT_IMPORT = [  # (the top of the file, the pattern of what follows its name)
    ("import os\nos._exit(0)\n", r": importing it exited with status 0"),
    (
        "x = 1\nwhile True: pass\n",
        r":2: importing it did not finish within 0\.5 s \(an endless loop\?\)",
    ),
    ("import ctypes\nctypes.string_at(0)\n", r":2: importing it crashed \(signal SIGSEGV\)"),
    (
        "exec(compile(open(__file__).read(), __file__, 'exec'))\n",
        r":1: importing it raised RecursionError: maximum recursion depth exceeded.*",
    ),
]


@pytest.mark.parametrize(("top", "after_name"), AT_IMPORT)
@pytest.mark.parametrize("mode", ["--grads", "--impl"])
def test_top_level_code_is_exit_2_one_line(
    top: str, after_name: str, mode: str, write_file, run_cli
) -> None:
    """At import, in both kinds of file, and never exit 0 (os._exit(0) is not a pass)."""
    rest = grads_file("pass")[0] if mode == "--grads" else impl_file()[0]
    path = write_file("f.py", top + rest)
    result = timed_cli(run_cli, "check", mode, path, "xor" if mode == "--impl" else "article")
    line = assert_one_line_error(result)
    assert matches(line, f"bptui: error: {path}", after_name), line


@pytest.mark.parametrize("mode", ["--grads", "--impl"])
def test_a_file_that_imports_itself_loads_once(mode: str, write_file, run_cli) -> None:
    """Importing itself (its folder put on sys.path) runs it twice at most, then works."""
    top = "import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\nimport f\n"
    rest = grads_file("pass")[0] if mode == "--grads" else impl_file()[0]
    path = write_file("f.py", top + rest)
    result = timed_cli(run_cli, "check", mode, path, "xor" if mode == "--impl" else "article")
    assert result.code == 0, result.err
    assert "agree" in result.out.splitlines()[-1]


# -------------------------------------------------------------- numbers returned
RETURNS = [  # (d_b3 returns, what the grads line says, forward's yhat, what the impl line says)
    (
        "10**400",
        "d_b3 returned an integer too large for a float",
        "[[10**400]] * 4",
        "holds an integer too large for a float",
    ),
    (
        "np.array([-1.7658128185429645 + 0j])",
        "d_b3 returned complex values, not a real number",
        "A2 + 0j",
        "has complex entries, not real numbers",
    ),
]


@pytest.mark.parametrize(("value", "grads_says", "yhat", "impl_says"), RETURNS)
def test_unusable_numbers_never_agree(
    value: str, grads_says: str, yhat: str, impl_says: str, write_file, run_cli
) -> None:
    """10**400 and complex values (whose real part is right) are refused, not cut to agree."""
    path = write_file("f.py", grads_file(f"return {value}")[0])
    assert_one_line_error(run_cli("check", "--grads", path), f"{path}: {grads_says}")
    text, _ = impl_file(yhat=yhat)
    forward_at = text.splitlines().index("def forward(params, X):") + 1
    path = write_file("f.py", text)
    assert_one_line_error(
        run_cli("check", "--impl", path, "xor"), f"{path}:{forward_at}: forward's yhat {impl_says}"
    )


# ---------------------------------------------------------------- the TUI's path
def article_stepper() -> Stepper:
    return Stepper(load_builtin("article").training())


@pytest.mark.parametrize("name", HOSTILE)
def test_grads_in_the_tui_is_one_message_once_and_the_state_intact(name: str, write_file) -> None:
    """The app's DebugState: the first evaluation works, the second is one line, shown once."""
    text, first = grads_file(HOSTILE[name], from_call=2)
    path = write_file("f.py", text)
    stepper = article_stepper()
    state = DebugState(stepper, load_user_grads(path, ARTICLE_PARAMS))
    assert state.results()["b3"].agrees and state.new_errors() == []
    stepper.step_once()
    theta, step = stepper.theta.copy(), stepper.step
    start = time.monotonic()
    results = state.results()
    assert time.monotonic() - start < BOUND
    (message,) = state.new_errors()
    assert matches(message, "", expected(name, first, 0)[2:]), message  # without ": "
    assert results["b3"].user is None and not results["b3"].agrees
    assert results["w3"].agrees  # the file's other function goes on in a fresh worker
    stepper.step_once()
    assert state.results()["w3"].agrees and state.new_errors() == []  # shown once
    assert stepper.step == step + 1
    clean = article_stepper()
    for _ in range(2):
        clean.step_once()
    assert np.array_equal(stepper.theta, clean.theta) and not np.array_equal(theta, clean.theta)
    state.user_grads.close()


def xor_stepper() -> Stepper:
    return Stepper(load_builtin("xor").training())


@pytest.mark.parametrize("name", HOSTILE)
def test_impl_in_the_tui_is_one_line_and_the_next_state_is_checked(name: str, write_file) -> None:
    """The app's ImplSession: step 0 agrees, step 1 is the one line, step 2 a fresh worker."""
    text, first = impl_file(HOSTILE[name], from_call=2)
    path = write_file("f.py", text)
    stepper = xor_stepper()
    session = ImplSession.open(str(path), stepper)
    assert session.latest is not None and session.latest.error is None
    stepper.step_once()
    start = time.monotonic()
    verdict = session.check_now(session._job(stepper))
    assert time.monotonic() - start < BOUND
    assert verdict.error is not None
    assert matches(verdict.error, str(path), expected(name, first, 1)), verdict.error
    stepper.step_once()
    assert session.check_now(session._job(stepper)).error is None  # its first call again
    clean = xor_stepper()
    for _ in range(2):
        clean.step_once()
    assert np.array_equal(stepper.theta, clean.theta)
    session.close()


@pytest.mark.parametrize(("top", "after_name"), AT_IMPORT)
def test_top_level_code_stops_the_tui_before_it_opens(
    top: str, after_name: str, write_file
) -> None:
    """What ``bptui --grads/--impl FILE`` calls before the app: one UserCodeError line."""
    path = write_file("f.py", top + grads_file("pass")[0])
    with pytest.raises(UserCodeError) as grads_error:
        load_user_grads(path, ARTICLE_PARAMS)
    path = write_file("g.py", top + impl_file()[0])
    with pytest.raises(UserCodeError) as impl_error:
        ImplSession.open(str(path), xor_stepper())
    for error, name in ((grads_error, "f.py"), (impl_error, "g.py")):
        message = str(error.value)
        assert "\n" not in message
        assert matches(message, str(path.parent / name), after_name), message


# ------------------------------------------------------- copies, and printing
MUTATES = """
for array in (ctx.y, ctx.x, ctx.yhat, *ctx.nodes.values()):
    try:
        array.setflags(write=True)
        array[...] = 99.0
    except ValueError:
        pass
try:
    ctx.params["b3"] = 1e6
except TypeError:
    pass
"""


def test_grads_that_write_into_their_values_change_nothing(write_file) -> None:
    """Not bptui's state, and not what the file's next function is given."""
    path = write_file("f.py", grads_file(MUTATES, from_call=1)[0])
    stepper = article_stepper()
    y, x, theta = stepper.y.copy(), stepper.x.copy(), stepper.theta.copy()
    state = DebugState(stepper, load_user_grads(path, ARTICLE_PARAMS))
    results = state.results()
    assert results["b3"].agrees and results["w3"].agrees
    assert np.array_equal(stepper.y, y) and np.array_equal(stepper.x, x)
    assert np.array_equal(stepper.theta, theta)
    state.user_grads.close()


IMPL_MUTATES = 'params["W1"][...] = 1e6\nparams["b2"] += 7\nX[...] = -3'


def test_impl_that_writes_into_its_arrays_changes_nothing_of_bptui(write_file) -> None:
    path = write_file("f.py", impl_file(IMPL_MUTATES, from_call=2)[0])
    stepper = xor_stepper()
    theta, x, y = stepper.theta.copy(), stepper.x.copy(), stepper.y.copy()
    session = ImplSession.open(str(path), stepper)
    verdict = session.check_now(session._job(stepper))
    assert verdict.check is not None and verdict.check.first_wrong == "forward"
    assert np.array_equal(stepper.theta, theta)
    assert np.array_equal(stepper.x, x) and np.array_equal(stepper.y, y)
    assert session.check_now(session._job(stepper)).check.first_wrong == "forward"  # each time
    session.close()


PRINTS = 'print("y" * 1_000_000)\nos.write(1, b"raw" * 100_000)'
NOT_KEPT = f"… {1_000_001 - OUTPUT_CHARS:,} more characters not kept"


def test_grads_printing_megabytes_is_kept_bounded_shown_once_labelled(write_file, run_cli) -> None:
    text, _ = grads_file(PRINTS)
    path = write_file("f.py", text.replace("if CALLS[0] >= 1:", "if CALLS[0] == 1:"))
    result = run_cli("check", "--grads", path)
    assert result.code == 0, result.err
    assert result.out.count("d_b3 printed:") == 1
    assert result.out.count(NOT_KEPT) == 1
    assert len(result.out) < 10_000
    state = DebugState(article_stepper(), load_user_grads(path, ARTICLE_PARAMS))
    output = state.results()["b3"].output
    assert output == "y" * OUTPUT_CHARS + f"\n{NOT_KEPT}\n"
    assert "rawraw" not in result.out + result.err  # its own fd 1 leads nowhere
    state.user_grads.close()


def test_impl_printing_megabytes_is_kept_bounded_shown_once_labelled(write_file, run_cli) -> None:
    path = write_file("f.py", impl_file(PRINTS)[0])
    result = run_cli("check", "--impl", path, "xor")
    assert result.code == 0, result.err
    assert result.out.count("your code printed:") == 1
    assert result.out.count(NOT_KEPT) == 1
    assert len(result.out) < 10_000
    assert "rawraw" not in result.out + result.err


# ------------------------------------------------------- processes it starts
FORKS = """
pid = os.fork()
if pid == 0:
    open({pids!r}, "a").write(f"{{os.getpid()}}\\n")
    while True: pass
"""


def running(pid: int) -> bool:
    """Is ``pid`` a live process (not gone, not a zombie waiting to be reaped)?"""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def forked_pids(pids: Path) -> list[int]:
    """The pids the children wrote, once a whole line is there (the file exists before)."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        if pids.exists() and pids.read_text().endswith("\n"):
            break
        time.sleep(0.01)
    return [int(line) for line in pids.read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("mode", ["--grads", "--impl"])
def test_processes_the_code_starts_end_with_its_worker(mode: str, write_file, tmp_path) -> None:
    """A forked child spinning forever is killed with the worker, not left running."""
    pids = tmp_path / "pids.txt"
    body = FORKS.format(pids=str(pids))
    if mode == "--grads":
        grads = load_user_grads(write_file("f.py", grads_file(body)[0]), ARTICLE_PARAMS)
        assert grads.evaluate(article_stepper().record())["b3"].agrees
        close = grads.close
    else:
        session = ImplSession.open(str(write_file("f.py", impl_file(body)[0])), xor_stepper())
        assert session.latest is not None and session.latest.error is None
        close = session.close
    (child,) = forked_pids(pids)
    try:
        assert running(child)
        close()
        deadline = time.monotonic() + BOUND
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not running(child)
    finally:
        if running(child):
            os.kill(child, signal.SIGKILL)
