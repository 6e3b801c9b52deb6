"""How long the user's own code costs: ``check --grads`` on the article and a TUI step with it.

The user's functions run in a worker process (bptui/debug/worker.py), so each
answer crosses a Pipe.  This measures, three runs each, best and spread:

(a) ``bptui check --grads examples/article_grads.py``, the whole command in a
    fresh interpreter, beside ``bptui check`` without it (what the seven
    functions' check adds is the bar: under 0.5 s);
(b) in one process: starting the worker and importing the file, then judging
    the seven ``d_`` functions at step 0 (the first start includes the fork
    server's);
(c) one TUI step with ``--grads``: the app's DebugState judging the user's
    functions at the new state after ``step_once``, with all seven correct and
    with the article's wrong ``d_b3`` (a wrong value is probed at up to ten
    more states), and ``s`` pressed in the app itself until its view is of the
    new step, beside the same without ``--grads``;
(d) a TUI step with a ``d_b3`` that takes 1.9 s (the article's files with a
    sleep added, correct and wrong), ``s`` pressed in the app: until the status
    line shows the new step, and until the chain pane has the new step's
    verdict (the same moment while the app judged on its UI thread; later, and
    the step at once, since it judges in the background).

(d) measured on the 2-core machine under load, three runs each, best (spread),
before (278ce9e: judged on the UI thread) → after (judged in the background):

    ======================================  =====================  =====================
    ``s`` to ...                            before                 after
    ======================================  =====================  =====================
    the new step shown, no ``--grads``      105 ms (20 ms)         117 ms (9 ms)
    the new step shown, 1.9 s correct d_b3  2014 ms (10 ms)        139 ms (15 ms)
    its verdict shown, 1.9 s correct d_b3   2014 ms (10 ms)        1949 ms (10 ms)
    the new step shown, 1.9 s wrong d_b3    11487 ms (55 ms)       151 ms (48 ms)
    its verdict shown, 1.9 s wrong d_b3     11487 ms (55 ms)       11454 ms (14 ms)
    ======================================  =====================  =====================

    .venv/bin/python benchmarks/bench_user_code.py        (all)
    .venv/bin/python benchmarks/bench_user_code.py slow   (only (d))
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "article_grads.py"
MISTAKE = ROOT / "examples" / "article_mistake.py"
RUNS = 3
STEPS = 50  # per run of (c): the median step is reported
SLOW_SECONDS = 1.9  # (d): how long the slow d_b3 sleeps on each call
SLOW_STEPS = 3  # per run of (d): the median step is reported


def show(what: str, times: list[float]) -> None:
    best, worst = min(times), max(times)
    print(f"  {what:<58} best {best * 1000:7.1f} ms, spread {(worst - best) * 1000:6.1f} ms")


def timed(run: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def cli_check(*grads: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bptui", "check", *grads], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr


def in_process() -> tuple[list[float], list[float]]:
    from bptui.debug.usergrads import load_user_grads
    from bptui.engine.stepper import Stepper
    from bptui.scenario.loading import load_builtin

    stepper = Stepper(load_builtin("article").training())
    record = stepper.record()
    starts, checks = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        grads = load_user_grads(CORRECT, stepper.network.param_names)
        starts.append(time.perf_counter() - start)
        start = time.perf_counter()
        results = grads.evaluate(record)
        checks.append(time.perf_counter() - start)
        assert len(results) == 7 and all(r.agrees for r in results.values())
        grads.close()
    return starts, checks


def debug_state_steps(path: Path) -> list[float]:
    """The median of STEPS steps' DebugState.results(), per run."""
    from bptui.debug.session import DebugState
    from bptui.debug.usergrads import load_user_grads
    from bptui.engine.stepper import Stepper
    from bptui.scenario.loading import load_builtin

    medians = []
    for _ in range(RUNS):
        stepper = Stepper(load_builtin("article").training())
        state = DebugState(stepper, load_user_grads(path, stepper.network.param_names))
        state.results()
        times = []
        for _ in range(STEPS):
            stepper.step_once()
            start = time.perf_counter()
            state.results()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
        assert state.user_grads is not None
        state.user_grads.close()
    return medians


async def app_steps(path: Path | None) -> float:
    """The median time from pressing ``s`` to the status line showing the new step."""
    from bptui.debug.usergrads import load_user_grads
    from bptui.scenario.loading import load_builtin
    from bptui.tui.app import make_app

    scenario = load_builtin("article")
    grads = None if path is None else load_user_grads(path, scenario.network().param_names)
    app = make_app(scenario, user_grads=grads, size=(140, 45))
    times = []
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        for n in range(1, STEPS + 1):
            start = time.perf_counter()
            await pilot.press("s")
            while app.stepper.step != n or app.view is None or app.view.step != n:
                await pilot.pause(0.001)
            times.append(time.perf_counter() - start)
    if grads is not None:
        grads.close()
    return statistics.median(times)


def slow_file(path: Path, folder: Path) -> Path:
    """``path`` with a SLOW_SECONDS sleep at the top of its d_b3."""
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "def d_b3(ctx):\n", f"def d_b3(ctx):\n    __import__('time').sleep({SLOW_SECONDS})\n"
    )
    slow = folder / f"slow_{path.name}"
    slow.write_text(text, encoding="utf-8")
    return slow


async def slow_app_steps(path: Path | None) -> tuple[float, float]:
    """Medians from ``s`` to the new step on the status line, and to its verdict drawn.

    ``path`` None: the app without ``--grads`` (no verdict; the second median is the first).
    """
    from tui_support import status_line

    from bptui.debug.usergrads import load_user_grads
    from bptui.scenario.loading import load_builtin
    from bptui.tui.app import make_app

    scenario = load_builtin("article")
    grads = None if path is None else load_user_grads(path, scenario.network().param_names)
    app = make_app(scenario, user_grads=grads, size=(140, 45))
    steps, verdicts = [], []
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        for n in range(1, SLOW_STEPS + 1):
            start = time.perf_counter()
            await pilot.press("s")
            while f"Step {n} " not in status_line(app) + " ":
                await pilot.pause(0.001)
            steps.append(time.perf_counter() - start)
            while grads is not None and not judged(app, n):
                await pilot.pause(0.005)
            verdicts.append(time.perf_counter() - start)
    if grads is not None:
        grads.close()
    return statistics.median(steps), statistics.median(verdicts)


def judged(app: object, step: int) -> bool:
    """Does the app's view hold the user's b3 verdict of ``step`` (not "checking…")?"""
    view = getattr(app, "view", None)
    if view is None or view.step != step:
        return False
    result = view.user_results.get("b3")
    return result is not None and result.diagnosis.kind != "pending"


def slow_rows() -> None:
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))  # tui_support's status_line
    runs = [asyncio.run(slow_app_steps(None)) for _ in range(RUNS)]
    show("(d) no --grads: s to the new step shown", [s for s, _ in runs])
    with tempfile.TemporaryDirectory() as folder:
        for what, path in (("correct", CORRECT), ("wrong", MISTAKE)):
            slow = slow_file(path, Path(folder))
            runs = [asyncio.run(slow_app_steps(slow)) for _ in range(RUNS)]
            show(f"(d) 1.9 s d_b3 ({what}): s to the new step shown", [s for s, _ in runs])
            show(f"(d) 1.9 s d_b3 ({what}): s to its verdict shown", [v for _, v in runs])


def main() -> None:
    if sys.argv[1:] == ["slow"]:
        print(f"a slow d_b3 ({SLOW_SECONDS} s a call), article, {RUNS} runs")
        slow_rows()
        return
    print(f"the user's derivatives, article, {RUNS} runs (best, spread = worst - best)")
    show("(a) bptui check, no --grads: the same command without them", timed(cli_check))
    show(
        "(a) bptui check --grads article_grads.py, whole command",
        timed(lambda: cli_check("--grads", str(CORRECT))),
    )
    starts, checks = in_process()
    show("(b) worker start + import of the file (1st: + fork server)", starts)
    show("(b) judging the seven d_ functions at step 0", checks)
    show("(c) a step's DebugState.results(), all seven correct", debug_state_steps(CORRECT))
    show("(c) a step's DebugState.results(), the article's wrong d_b3", debug_state_steps(MISTAKE))
    for what, path in (("no --grads", None), ("all correct", CORRECT), ("wrong d_b3", MISTAKE)):
        steps = [asyncio.run(app_steps(path)) for _ in range(RUNS)]
        show(f"(c) s pressed in the app to the new step drawn, {what}", steps)
    slow_rows()


if __name__ == "__main__":
    main()
