"""The UI benchmark: launch time against a bare Textual app, and flat-out running.

Why: the engine benchmark proves the math is fast; this one proves the app
around it is.  Two measurements, one run, printed as ratios:

(a) Launch to first painted screen.  Each contender is started as a real
    process in a pseudo-terminal of 140×45 (interpreter start, imports,
    compose, mount and the first frame all count), and the clock stops when
    the terminal has received a frame holding the contender's markers: for
    bptui the status line's ``Loss 3.066789``, the diagram's ``green`` and the
    Footer's ``Quit``; for the baseline, a bare Textual app with a Header and
    a Footer, its title and ``Quit``.  Runs alternate between the two so
    load on the machine hits both alike; the median is reported.  Two later
    stages of bptui are timed too: every pane filled (the forward and chain
    panes' numbers) and the loss plot's title, which is drawn just after the
    first frame (plotext is imported then, see bptui/tui/widgets/loss_plot.py).
    Bar: bptui ≤ 1.7× the bare app.  Both start from compiled bytecode, as
    an installed package does: the children write and read .pyc files in a
    private cache (:func:`child_env`) even where PYTHONDONTWRITEBYTECODE is
    set, and the warm-up launch fills it.  Without that, bptui's own source
    (textual's comes compiled in site-packages) was compiled at every launch.

(b) Flat out on the article scenario, headless (``run_test`` at 140×45):
    press ``r``, press ``+`` up to the top speed, let it run for five
    seconds, count steps (the stepper's step counter) and frames: repaints
    of the network diagram (``render_lines`` calls the compositor made for
    it; every frame redraws it with the new step's values).  Screen updates,
    views handed out and loss-plot rebuilds are printed beside it.  The
    engine running with no UI at all over the same time is the baseline.
    Bar: ≥ 5,000 steps/s while drawing ≥ 10 frames/s.

(c) Flat out on xor, side by side in one run: the loss plot, then the
    heatmap (``f``) in its place, ``--runs`` times each (alternating, so load
    hits both alike).  Beside steps/s and frames/s, where a frame's time goes:
    building the View and handing it out (``refresh_view``), the heatmap's or
    plot's rebuild inside it (``LossPane._replot``: the heatmap's forward pass
    over its grid and its cells), and painting (``Screen._compositor_refresh``,
    of which the diagram's, the loss pane's and the two DataTables' renders;
    while running the tables are drawn at most every ``SLOW_PANE_SECONDS``,
    see bptui/tui/runner.py).  Bar: ≥ 10 frames/s with the heatmap visible.

Run:  .venv/bin/python benchmarks/bench_tui.py [--rounds N] [--seconds S] [--runs N]
      [--only-heatmap] [--write]

``--write`` also writes the tables to benchmarks/RESULTS_TUI.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAUNCH_BAR = 1.7  # first paint ÷ the bare app (issue 13)
STEPS_BAR = 5_000.0
FRAMES_BAR = 10.0
SIZE = (140, 45)
LAUNCH_TIMEOUT = 30.0
ANALYSIS = "<!-- analysis: kept by --write -->"

BARE_APP = """
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header

class Bare(App):
    TITLE = "bare textual"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Footer()

Bare().run()
"""

#: Escape sequences (CSI, OSC, DCS/APC strings, two-byte escapes).
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P_^X][^\x1b]*\x1b\\|\x1b."
)


@dataclass(frozen=True)
class Contender:
    """A program and the frames to wait for: (label, markers) stages in order."""

    name: str
    argv: list[str]
    stages: tuple[tuple[str, tuple[str, ...]], ...]
    imports: str


FIRST = "first paint"
#: Where the launched apps keep their bytecode (see the module docstring).
PYCACHE = Path(os.environ.get("TMPDIR", "/tmp")) / "bptui-bench-pycache"
FILLED = "every pane filled"
PLOTTED = "and the loss plot"


def contenders() -> list[Contender]:
    python = sys.executable
    return [
        Contender(
            "bare Textual (Header + Footer)",
            [python, "-c", BARE_APP],
            ((FIRST, ("bare textual", "Quit")),),
            "import textual.app, textual.widgets; from textual.widgets import Footer, Header",
        ),
        Contender(
            "bptui (article)",
            [python, "-m", "bptui"],
            (
                # status line, diagram and Footer
                (FIRST, ("Loss 3.066789", "green", "Quit")),
                # and the forward pane's blue (6 decimals) and ∂Loss/∂b1
                (FILLED, ("Loss 3.066789", "green", "Quit", "0.718291", "0.646880")),
                # and the loss plot's title (it is drawn just after the first frame)
                (PLOTTED, ("Loss 3.066789", "green", "Quit", "0.718291", "Loss · step 0")),
            ),
            "import bptui.cli, bptui.tui.app",
        ),
    ]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a launched app: bytecode cached in PYCACHE, as after an install."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(PYCACHE), **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("TEXTUAL", None)
    return env


def paint_times(contender: Contender, size: tuple[int, int] = SIZE) -> dict[str, float]:
    """Seconds from fork until the terminal has shown each stage's markers."""
    columns, rows = size
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of the right size, then the app
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = child_env(TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows))
        os.execve(contender.argv[0], contender.argv, env)
    received = b""
    reached: dict[str, float] = {}
    try:
        while len(reached) < len(contender.stages):
            if time.perf_counter() - start > LAUNCH_TIMEOUT:
                missing = [label for label, _ in contender.stages if label not in reached]
                raise TimeoutError(f"{contender.name}: no {missing[0]} in {LAUNCH_TIMEOUT} s")
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # the child exited
                raise RuntimeError(f"{contender.name} exited before painting") from None
            now = time.perf_counter() - start
            received += chunk
            shown = ANSI.sub("", received.decode("utf-8", "replace"))
            for label, markers in contender.stages:
                if label not in reached and all(m in shown for m in markers):
                    reached[label] = now
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    return reached


def import_time(contender: Contender) -> float:
    """Seconds for a fresh interpreter to do the contender's imports and exit."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", contender.imports], check=True, env=child_env())
    return time.perf_counter() - start


def measure_launch(rounds: int) -> dict[str, list[float]]:
    """Median-ready samples, keyed "name: stage"; runs alternate between contenders."""
    times: dict[str, list[float]] = {}
    for contender in contenders():  # one warm-up each: page cache, .pyc files
        paint_times(contender)
    for _ in range(rounds):
        for contender in contenders():
            for label, seconds in paint_times(contender).items():
                times.setdefault(f"{contender.name}: {label}", []).append(seconds)
            times.setdefault(f"{contender.name}: imports alone", []).append(import_time(contender))
    return times


# ------------------------------------------------------------------ running


@dataclass(frozen=True)
class RunResult:
    seconds: float
    steps: int
    views: int
    screen_updates: int
    diagram_paints: int
    loss_builds: int
    engine_steps_per_second: float
    #: Seconds spent in each timed method over the run (see :data:`TIMED`).
    spent: dict[str, float] | None = None

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def frames_per_second(self) -> float:
        """Frames painted: repaints of the network diagram, which every frame redraws."""
        return self.diagram_paints / self.seconds


def engine_alone(seconds: float) -> float:
    """Steps per second of Stepper.run with no UI (chunks like the app's)."""
    from bptui.engine.stepper import Stepper
    from bptui.scenario.loading import load_builtin

    stepper = Stepper(load_builtin("article").training())
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    steps = 0
    while time.perf_counter() < deadline:
        steps += stepper.run(256)
    return steps / (time.perf_counter() - start)


#: (label, "module:Class.method") of what (c) times; counts and seconds per call.
TIMED = (
    ("screen", "textual.screen:Screen._compositor_refresh"),
    ("diagram", "bptui.tui.widgets.diagram:NetworkDiagram.render_lines"),
    ("loss", "bptui.tui.widgets.loss_plot:LossPane.render"),
    ("loss_lines", "bptui.tui.widgets.loss_plot:LossPane.render_lines"),
    ("tables", "textual.widgets._data_table:DataTable.render_lines"),
    ("replot", "bptui.tui.widgets.loss_plot:LossPane._replot"),
    ("view", "bptui.tui.app:BptuiApp.refresh_view"),
)


def _instrument(counts: dict[str, int], spent: dict[str, float]) -> list[tuple[Any, str, Any]]:
    """Wrap every TIMED method to count its calls and add up its time; returns what to undo."""
    import importlib

    undo = []
    for key, target in TIMED:
        module, _, path = target.partition(":")
        owner_name, name = path.split(".")
        owner = getattr(importlib.import_module(module), owner_name)
        original = getattr(owner, name)
        inherited = name not in vars(owner)  # undone by deleting the wrapper

        def timed(
            self: Any, *args: Any, _key: str = key, _original: Any = original, **kwargs: Any
        ) -> Any:
            counts[_key] += 1
            start = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                spent[_key] += time.perf_counter() - start

        setattr(owner, name, timed)
        undo.append((owner, name, None if inherited else original))
    return undo


def _undo(undo: list[tuple[Any, str, Any]]) -> None:
    for owner, name, original in undo:
        if original is None:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


async def flat_out(
    seconds: float, scenario: str = "article", keys: tuple[str, ...] = ()
) -> RunResult:
    """Run ``scenario`` flat out for ``seconds`` after pressing ``keys`` (e.g. ``f``)."""
    from bptui.scenario.loading import load_builtin
    from bptui.tui.app import SPEEDS, make_app

    counts = dict.fromkeys((key for key, _ in TIMED), 0)
    spent = dict.fromkeys((key for key, _ in TIMED), 0.0)
    undo = _instrument(counts, spent)
    try:
        app = make_app(load_builtin(scenario))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            if keys:
                await pilot.press(*keys)
            await pilot.press("r")
            for _ in range(len(SPEEDS)):
                await pilot.press("plus")
            assert SPEEDS[app.speed_index] == 0, "not flat out"
            await pilot.pause(0.5)  # settle into the rhythm
            assert app.running, "the app is not running"
            step0, views0, before, spent0 = app.stepper.step, app.frames, dict(counts), dict(spent)
            start = time.perf_counter()
            await asyncio.sleep(seconds)
            elapsed = time.perf_counter() - start
            steps, views = app.stepper.step - step0, app.frames - views0
            done = {key: counts[key] - before[key] for key in counts}
            took = {key: spent[key] - spent0[key] for key in spent}
            await pilot.press("r")
    finally:
        _undo(undo)
    return RunResult(
        elapsed,
        steps,
        views,
        done["screen"],
        done["diagram"],
        done["loss"],
        engine_alone(seconds) if scenario == "article" else math.nan,
        took,
    )


def heatmap_runs(seconds: float, runs: int) -> dict[str, list[RunResult]]:
    """xor flat out with the loss plot, then with the heatmap, alternating ``runs`` times."""
    results: dict[str, list[RunResult]] = {"loss plot": [], "heatmap": []}
    for _ in range(runs):
        results["loss plot"].append(asyncio.run(flat_out(seconds, "xor")))
        results["heatmap"].append(asyncio.run(flat_out(seconds, "xor", ("f",))))
    return results


def _spread(values: list[float], digits: int = 1) -> str:
    """Median with the range of the runs: ``12.3 (11.9–12.8)``."""
    return (
        f"{statistics.median(values):,.{digits}f} "
        f"({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    )


def heatmap_report(results: dict[str, list[RunResult]], seconds: float) -> str:
    """Section (c): the two modes side by side, medians and ranges of the runs."""
    names = list(results)
    runs = len(results[names[0]])

    def row(label: str, value: Callable[[RunResult], float], digits: int = 1) -> str:
        cells = " | ".join(_spread([value(r) for r in results[name]], digits) for name in names)
        return f"| {label} | {cells} |"

    def per_frame(key: str) -> Callable[[RunResult], float]:
        return lambda r: 1000 * (r.spent or {})[key] / max(1, r.views)

    lines = [
        f"## (c) Flat out on xor, {SIZE[0]}×{SIZE[1]}: loss plot vs heatmap "
        f"({runs} runs of {seconds:.1f} s each, median (min–max))",
        "",
        f"| measure | {' | '.join(names)} |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
        row("steps / s", lambda r: r.steps_per_second, 0),
        row("frames painted / s (diagram repaints)", lambda r: r.frames_per_second),
        row("views / s", lambda r: r.views / r.seconds),
        row(
            "loss pane repaints / s (heatmap or plot, ≤ 10 while running)",
            lambda r: r.loss_builds / r.seconds,
        ),
        row("ms per view: refresh_view (build + hand out)", per_frame("view"), 2),
        row("… of which the loss pane's rebuild (_replot)", per_frame("replot"), 2),
        row("ms per view: painting (compositor)", per_frame("screen"), 2),
        row("… of which the diagram's render", per_frame("diagram"), 2),
        row("… of which the loss pane's render (heatmap or plot)", per_frame("loss_lines"), 2),
        row("… of which the tables' renders (parameters, forward)", per_frame("tables"), 2),
        row(
            "share of wall time drawing (view + paint)",
            lambda r: 100 * ((r.spent or {})["view"] + (r.spent or {})["screen"]) / r.seconds,
        ),
    ]
    heat = statistics.median(r.frames_per_second for r in results["heatmap"])
    verdict = "meets" if heat >= FRAMES_BAR else "MISSES"
    lines += [
        "",
        f"heatmap visible: **{heat:.1f} frames/s** ({verdict} ≥ {FRAMES_BAR:.0f} frames/s)",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------- report


def report(times: dict[str, list[float]], run: RunResult, rounds: int) -> str:
    return launch_report(times, rounds) + "\n\n" + run_report(run)


def launch_report(times: dict[str, list[float]], rounds: int) -> str:
    """(a): every stage's median, min and max, and the ratios to the bare app."""
    bare_name, ours_name = (c.name for c in contenders())
    median = {key: statistics.median(values) for key, values in times.items()}
    bare = median[f"{bare_name}: {FIRST}"]
    ratio = median[f"{ours_name}: {FIRST}"] / bare
    filled_ratio = median[f"{ours_name}: {FILLED}"] / bare
    plotted_ratio = median[f"{ours_name}: {PLOTTED}"] / bare
    import_ratio = median[f"{ours_name}: imports alone"] / median[f"{bare_name}: imports alone"]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "",
        f"## (a) Launch to first painted screen ({SIZE[0]}×{SIZE[1]} pty, median of {rounds})",
        "",
        "| app: stage | median | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, values in sorted(times.items()):
        lines.append(
            f"| {key} | {median[key] * 1000:.0f} ms "
            f"| {min(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |"
        )
    verdict = "meets" if ratio <= LAUNCH_BAR else "MISSES"
    lines += [
        "",
        f"bptui first paint / bare = **{ratio:.2f}×** ({verdict} the bar of ≤ {LAUNCH_BAR}×); "
        f"every pane filled / bare = {filled_ratio:.2f}×; and the loss plot / bare = "
        f"{plotted_ratio:.2f}×; imports alone / bare imports = "
        f"{import_ratio:.2f}×",
    ]
    return "\n".join(lines)


def run_report(run: RunResult) -> str:
    """(b): steps and frames per second flat out, against the engine alone."""
    lines = [
        f"## (b) Flat out, article scenario, headless {SIZE[0]}×{SIZE[1]}, {run.seconds:.1f} s",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| steps | {run.steps:,} |",
        f"| steps / s | **{run.steps_per_second:,.0f}** |",
        f"| frames painted / s (network diagram repaints) | **{run.frames_per_second:.1f}** |",
        f"| screen updates / s | {run.screen_updates / run.seconds:.1f} |",
        f"| views handed to the panes / s | {run.views / run.seconds:.1f} |",
        f"| loss plot rebuilds / s (throttled to ≤ 10 while running) | "
        f"{run.loss_builds / run.seconds:.1f} |",
        f"| engine alone (Stepper.run, no UI), steps / s | {run.engine_steps_per_second:,.0f} |",
        "",
    ]
    steps_ok = run.steps_per_second >= STEPS_BAR
    frames_ok = run.frames_per_second >= FRAMES_BAR
    lines += [
        f"steps/s ÷ bar = **{run.steps_per_second / STEPS_BAR:.2f}×** "
        f"({'meets' if steps_ok else 'MISSES'} ≥ {STEPS_BAR:,.0f} steps/s); "
        f"frames/s ÷ bar = **{run.frames_per_second / FRAMES_BAR:.2f}×** "
        f"({'meets' if frames_ok else 'MISSES'} ≥ {FRAMES_BAR:.0f} frames/s); "
        f"UI run ÷ engine alone = {run.steps_per_second / run.engine_steps_per_second:.2f}×",
        "",
        f"TensorFlow Playground draws one step per animation frame (about 60 steps/s): "
        f"flat out bptui takes {run.steps_per_second / 60:,.0f}× as many steps per second.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="launches per app (default 7)")
    parser.add_argument("--seconds", type=float, default=5.0, help="flat-out run (default 5)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each mode in (c) (default 3)")
    parser.add_argument(
        "--only-heatmap", action="store_true", help="only (c), loss plot vs heatmap"
    )
    parser.add_argument("--only-launch", action="store_true", help="only (a), the launch")
    parser.add_argument(
        "--only-flat-out",
        metavar="NAME",
        help="only a flat-out run of the built-in NAME (deep, say): steps/s and frames/s",
    )
    parser.add_argument("--write", action="store_true", help="also write benchmarks/RESULTS_TUI.md")
    args = parser.parse_args(argv)
    if args.only_launch:
        print(launch_report(measure_launch(args.rounds), args.rounds))
        return 0
    if args.only_flat_out:
        run = asyncio.run(flat_out(args.seconds, args.only_flat_out))
        print(
            f"{args.only_flat_out} flat out, {run.seconds:.1f} s: {run.steps_per_second:,.0f} steps/s"
            f" at {run.views / run.seconds:.1f} new frames/s (views handed out;"
            f" {run.frames_per_second:.1f} diagram repaints/s)"
        )
        return 0

    heatmap = heatmap_report(heatmap_runs(args.seconds, args.runs), args.seconds)
    if args.only_heatmap:
        print(heatmap)
        return 0
    times = measure_launch(args.rounds)
    run = asyncio.run(flat_out(args.seconds))
    text = report(times, run, args.rounds) + "\n\n" + heatmap
    print(text)
    if args.write:
        path = Path(__file__).with_name("RESULTS_TUI.md")
        header = (
            "# bptui UI benchmark\n\n"
            "Written by `.venv/bin/python benchmarks/bench_tui.py --write` "
            f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).\n\n"
        )
        # a hand-written analysis below the marker survives a rerun
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        analysis = old[old.index(ANALYSIS) :] if ANALYSIS in old else ""
        path.write_text(header + text + "\n\n" + analysis, encoding="utf-8")
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
