"""Helpers shared by the TUI pilot tests: run async tests, read the screen."""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Awaitable, Callable

from rich.console import Console
from textual import events

from bptui.tui.app import BptuiApp
from bptui.tui.widgets.chain import chain_renderable


def sync(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async pilot test with asyncio (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def within(seconds: float) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., None]]:
    """Like :func:`sync`, but the test fails (not hangs) if it takes more than ``seconds``."""

    def wrap(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
        @functools.wraps(test)
        def run(*args: object, **kwargs: object) -> None:
            asyncio.run(asyncio.wait_for(test(*args, **kwargs), seconds))

        return run

    return wrap


def burst(app: BptuiApp, *keys: str) -> None:
    """Queue ``keys`` at once through the driver, as a paste or a key repeat does.

    The pilot's ``press`` waits for the app to be idle between keys; a burst
    does not, which is what reaches races in Textual's screens.
    """
    driver = app._driver
    assert driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)


def status_line(app: BptuiApp) -> str:
    """The top row of the screen: the status line with Step and Loss."""
    return screen_text(app).split("\n")[0]


def screen_text(app: BptuiApp) -> str:
    """What the terminal shows right now, as plain text lines."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


def pane_text(app: BptuiApp, pane_id: str) -> str:
    """The text inside one pane's region of the screen (borders included)."""
    region = app.query_one(f"#{pane_id}").region
    lines = screen_text(app).split("\n")[region.y : region.bottom]
    return "\n".join(line[region.x : region.right] for line in lines)


def chain_text(app: BptuiApp) -> str:
    """The whole content of the chain pane, scrolled or not."""
    console = Console(width=200, record=True, file=io.StringIO())
    assert app.view is not None
    console.print(chain_renderable(app.view))
    return console.export_text()


async def wait_until(pilot, condition, tries: int = 400) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition()`` holds (bounded; asserts nothing about time)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")
