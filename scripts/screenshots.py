"""Write screenshots/*.svg from the real app, driven by key presses.

Why: the README shows what bptui looks like; these pictures must come from the
app itself (the same ``make_app`` the CLI uses), never be drawn by hand, and be
reproducible with one command after any change to the UI:

    .venv/bin/python scripts/screenshots.py [--only NAME ...] [--out DIR]

Each shot starts a fresh app headless at its terminal size, presses the keys
a user would press, waits for any run to finish and saves the screen.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from bptui.scenario.loading import load_builtin
from bptui.tui.app import BptuiApp, make_app

WIDE = (140, 45)
SMALL = (80, 24)
OUT = Path(__file__).resolve().parent.parent / "screenshots"
#: How long a run (goto, r) may take before the script gives up on a shot.
RUN_TIMEOUT = 60.0


async def wait_until(pilot: Pilot, done: Callable[[], bool], what: str) -> None:
    """Let the app work (a run is a timer) until ``done()`` holds."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await pilot.pause(0.05)


async def press(pilot: Pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
    await pilot.pause()


async def goto(pilot: Pilot, step: int) -> None:
    """``g``, the step number, enter; then wait for the run to arrive."""
    app = pilot.app
    assert isinstance(app, BptuiApp)
    await press(pilot, "g", *str(step), "enter")
    await wait_until(
        pilot,
        lambda: not app.running and (app.stepper.step == step or app.stepper.diverged is not None),
        f"step {step}",
    )


async def start(pilot: Pilot) -> None:
    """The app as it opens: the article, step 0."""


async def few_steps(pilot: Pilot) -> None:
    """Three whole steps (s s s): the loss is falling, Δ column filled."""
    await press(pilot, "s", "s", "s")


async def mid_backward(pilot: Pilot) -> None:
    """One step, then n ×5: update, forward 1, forward 2, loss, backward layer 2."""
    await press(pilot, "s", "n", "n", "n", "n", "n")


async def chain_b1(pilot: Pilot) -> None:
    """A finished phase walk (n ×6) with b1 selected: the chain pane shows ∂Loss/∂b1."""
    app = pilot.app
    assert isinstance(app, BptuiApp)
    await press(pilot, "n", "n", "n", "n", "n", "n")
    assert app.selected_param == "b1", app.selected_param


async def fit(pilot: Pilot) -> None:
    """Go to step 2000, then f: the data and the network's curve."""
    await goto(pilot, 2000)
    await press(pilot, "f")


async def diverged(pilot: Pilot) -> None:
    """The diverge scenario (α = 1) run with r until it blows up."""
    app = pilot.app
    assert isinstance(app, BptuiApp)
    await press(pilot, "plus", "plus", "plus", "r")
    await wait_until(pilot, lambda: app.stepper.diverged is not None, "divergence")
    await press(pilot, "l")


async def xor(pilot: Pilot) -> None:
    """XOR (2-2-1 sigmoid, BCE) after 500 steps."""
    await goto(pilot, 500)


async def deep(pilot: Pilot) -> None:
    """The 2-8-8-1 net after 200 steps: the diagram still draws every node."""
    await goto(pilot, 200)


async def small(pilot: Pilot) -> None:
    """An 80×24 terminal after one step: the diagram and the chain, o cycles the second."""
    await press(pilot, "s")


async def xor_heatmap(pilot: Pilot) -> None:
    """XOR after 500 steps, f: the output over the input plane with the data on top."""
    await goto(pilot, 500)
    await press(pilot, "f")


async def adam_update(pilot: Pilot) -> None:
    """The adam scenario: three steps, then n: update 4's pieces (t, m, v, m̂, v̂, step)."""
    await press(pilot, "s", "s", "s", "n")


async def two_runs(pilot: Pilot) -> None:
    """The article at step 3 forked with α 0.002 (F), both runs on to step 60 side by side."""
    from bptui.tui.screens.edit import EditScreen

    app = pilot.app
    assert isinstance(app, BptuiApp)
    await press(pilot, "s", "s", "s", "F")
    await wait_until(pilot, lambda: isinstance(app.screen, EditScreen), "the fork dialog")
    await press(pilot, *"0.002", "enter")
    await wait_until(pilot, lambda: len(app.runs.runs) == 2, "the fork")
    await goto(pilot, 60)


@dataclass(frozen=True)
class Shot:
    name: str
    scenario: str
    size: tuple[int, int]
    script: Callable[[Pilot], Awaitable[None]]


SHOTS = [
    Shot("start", "article", WIDE, start),
    Shot("steps", "article", WIDE, few_steps),
    Shot("mid-backward", "article", WIDE, mid_backward),
    Shot("chain-b1", "article", WIDE, chain_b1),
    Shot("fit", "article", WIDE, fit),
    Shot("diverged", "diverge", WIDE, diverged),
    Shot("xor", "xor", WIDE, xor),
    Shot("deep", "deep", WIDE, deep),
    Shot("small-80x24", "article", SMALL, small),
    Shot("xor-heatmap", "xor", WIDE, xor_heatmap),
    Shot("adam-update", "adam", WIDE, adam_update),
    Shot("two-runs", "article", WIDE, two_runs),
]


async def take(shot: Shot, out: Path) -> Path:
    app = make_app(load_builtin(shot.scenario), size=shot.size)
    async with app.run_test(size=shot.size) as pilot:
        await pilot.pause()
        await shot.script(pilot)
        await pilot.pause(0.2)
        path = out / f"{shot.name}.svg"
        path.write_text(app.export_screenshot(title=f"bptui · {shot.name}"), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="names of the shots to take")
    parser.add_argument("--out", type=Path, default=OUT, help=f"directory (default {OUT})")
    args = parser.parse_args(argv)
    chosen = [s for s in SHOTS if args.only is None or s.name in args.only]
    unknown = set(args.only or ()) - {s.name for s in SHOTS}
    if unknown:
        parser.error(f"unknown shot(s): {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    for shot in chosen:
        path = asyncio.run(take(shot, args.out))
        print(f"{path}  ({shot.size[0]}×{shot.size[1]}, {shot.scenario})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
