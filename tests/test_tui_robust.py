"""The app never dies on a key: the command palette's bursts, markup in names, the boundary.

Keys that a key repeat or a paste delivers are sent to the driver without
waiting between them (:func:`burst`), which is what made Textual's palette
fail.  Every test runs under a time bound (:func:`bounded`), so a hang fails
instead of stalling the suite.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable

from textual import events
from textual.command import CommandPalette
from tui_support import screen_text, wait_until

from bptui.tui.app import BptuiApp, make_app

WIDE = (140, 45)
#: Seconds any one of these tests may take (the slowest takes ~3 s alone).
BOUND = 60


def bounded(test: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run an async pilot test, failing (not hanging) if it takes more than :data:`BOUND` s."""

    @functools.wraps(test)
    def run() -> None:
        asyncio.run(asyncio.wait_for(test(), BOUND))

    return run


def burst(app: BptuiApp, *keys: str) -> None:
    """Queue ``keys`` at once, as a paste or a key repeat does (no idle in between)."""
    driver = app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)


def status(app: BptuiApp) -> str:
    return screen_text(app).split("\n")[0]


async def settle(pilot, app: BptuiApp) -> None:  # type: ignore[no-untyped-def]
    """Let queued keys be handled: wait until the palette is gone or idle."""
    await pilot.pause(0.1)
    await wait_until(pilot, lambda: not app.screen.is_modal or CommandPalette.is_open(app))
    await pilot.pause(0.1)


# ------------------------------------------------------------ the palette
@bounded
async def test_palette_enter_enter_closes_once_and_the_app_goes_on() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        burst(app, "ctrl+p", "enter", "enter")
        await settle(pilot, app)
        await pilot.press("escape")  # the palette, if a late key left it open
        await wait_until(pilot, lambda: not CommandPalette.is_open(app))
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 1" in status(app))
    assert app.return_code in (None, 0)


@bounded
async def test_palette_page_down_before_the_list_is_drawn() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        burst(app, "ctrl+p", "pagedown", "pageup", "pagedown")
        await settle(pilot, app)
        assert CommandPalette.is_open(app)  # still there, still answering
        await pilot.press("escape")
        await wait_until(pilot, lambda: not CommandPalette.is_open(app))
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 1" in status(app))
    assert app.return_code in (None, 0)


@bounded
async def test_palette_step_by_name_runs_once_however_often_enter_is_pressed() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.press(*"Step")
        await pilot.pause(0.3)  # the search runs in a worker: let it list its hits
        burst(app, "enter", "enter", "enter", "enter")
        await wait_until(pilot, lambda: not CommandPalette.is_open(app))
        await pilot.pause(0.2)
        assert app.stepper.step == 1  # the command ran once
        assert "Step 1" in status(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 2" in status(app))
    assert app.return_code in (None, 0)


@bounded
async def test_palette_bursts_of_every_kind_leave_the_app_answering_q() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        for keys in (
            ("s", "ctrl+p", "pagedown", "enter", "enter"),
            ("ctrl+p", "down", "down", "enter", "enter", "enter"),
            ("ctrl+p", "pageup", "escape", "escape"),
            ("ctrl+p", "end", "home", "pagedown", "enter", "ctrl+p", "enter", "enter"),
        ):
            burst(app, *keys)
            await settle(pilot, app)
            for _ in range(4):
                if app.screen.is_modal:
                    await pilot.press("escape")
                    await pilot.pause(0.05)
        assert not app.screen.is_modal
        await pilot.press("q")
        await wait_until(pilot, lambda: app._exit_renderables == [] and not app.is_running)
    assert app.return_code in (None, 0)
