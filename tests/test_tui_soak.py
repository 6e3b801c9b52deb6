"""TUI soak: seeded random keys, palette bursts, clicks, resizes and run/pause storms.

Every built-in scenario gets its own seeded walk through every key bound in
``keys.BINDINGS`` (plus the palette and escape), sent one by one and in bursts
through the driver as a key repeat delivers them, mouse clicks anywhere,
resizes from 40×12 to 250×70 and storms of run / pause.  After each round:
no exception (none raised, none survived as an internal-error notice), the
status line shows ``Step`` and ``Loss`` whenever the terminal is above the
minimum size, and at the end the app still answers ``q``.  The seeds are
fixed, so a failure replays; the whole soak is bounded (:data:`BOUND`).
"""

from __future__ import annotations

import asyncio
import random

import pytest
from tui_support import burst, status_line, wait_until

from bptui.scenario.loading import builtin_names, load_builtin
from bptui.tui import keys
from bptui.tui.app import BptuiApp, make_app, pane_layout

#: Seconds one built-in's soak may take (2–5 s each; the suite's share stays under a minute).
BOUND = 40
#: Rounds per built-in; each round is a handful of keys, a click or a resize.
ROUNDS = 8
#: Keys that end the session: pressed once, at the end.
LAST = {"q"}
#: Keys a burst may add that are not bindings of the app (the palette, dialogs).
EXTRA_KEYS = ["escape", "enter", "tab", "up", "down", "left", "right", "pagedown", "pageup"]


def bound_keys() -> list[str]:
    """Every key of BINDINGS, as the driver names it."""
    names = {key.strip() for binding in keys.BINDINGS for key in binding.key.split(",")}
    return sorted(names - LAST)


async def close_dialogs(pilot, app: BptuiApp) -> None:  # type: ignore[no-untyped-def]
    """Escape out of whatever screen a key opened (help, palette, go to, watches …)."""
    for _ in range(6):
        if not app.screen.is_modal:
            return
        await pilot.press("escape")
        await pilot.pause(0.02)
    assert not app.screen.is_modal, f"{app.screen!r} does not close on escape"


async def one_round(pilot, app: BptuiApp, rng: random.Random, bound: list[str]) -> str:  # type: ignore[no-untyped-def]
    """One random thing: keys, a burst, the palette, a click, a resize or a run storm."""
    kind = rng.choice(["keys", "burst", "burst", "palette", "click", "resize", "storm"])
    width, height = app.size
    if kind == "keys":
        pressed = [rng.choice(bound) for _ in range(rng.randint(1, 3))]
        await pilot.press(*pressed)
    elif kind == "burst":
        pressed = [rng.choice(bound + EXTRA_KEYS) for _ in range(rng.randint(4, 12))]
        burst(app, *pressed)
    elif kind == "palette":
        pressed = ["ctrl+p"] + [rng.choice(EXTRA_KEYS + list("sanrb")) for _ in range(5)]
        burst(app, *pressed)
    elif kind == "click":
        pressed = [f"click {rng.randrange(width)},{rng.randrange(height)}"]
        await pilot.click(offset=(rng.randrange(width), rng.randrange(height)))
    elif kind == "resize":
        size = (rng.randint(40, 250), rng.randint(12, 70))
        pressed = [f"resize {size}"]
        await pilot.resize_terminal(*size)
    else:
        pressed = ["r"] * rng.randint(3, 9)
        burst(app, *pressed)
    await pilot.pause(0.05)
    return f"{kind}: {pressed}"


async def soak(name: str, seed: int) -> None:
    rng = random.Random(seed)
    bound = bound_keys()
    app = make_app(load_builtin(name), size=(100, 30))
    async with app.run_test(notifications=True) as pilot:
        history: list[str] = []
        for _ in range(ROUNDS):
            history.append(await one_round(pilot, app, rng, bound))
            await close_dialogs(pilot, app)
            if app.running and rng.random() < 0.5:
                await pilot.press("r")  # pause, sometimes
            assert app.internal_errors == [], history
            if pane_layout(*app.size) != "tiny":
                await wait_until(pilot, lambda: app.view is not None)
                line = status_line(app)
                assert "Step" in line and "Loss" in line, (line, history)
        app.pause()
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.05)
        assert "Step" in status_line(app) and "Loss" in status_line(app)
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.return_code in (None, 0)
    assert app.internal_errors == []


@pytest.mark.parametrize("name", builtin_names())
def test_soak_every_builtin(name: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # e (export) and ctrl+s (save) write files: here
    monkeypatch.setattr(BptuiApp, "export_folder", lambda self: tmp_path)
    seed = sum(map(ord, name))  # fixed per scenario: a failure replays
    asyncio.run(asyncio.wait_for(soak(name, seed), BOUND))
