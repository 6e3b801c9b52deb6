"""Hostile keys, text and sizes in the TUI: nothing hangs, nothing crashes.

Each test is one reported problem: a key repeat on the go-to dialog, bursts
in Textual's command palette, a backtracking regex, names that look like
Rich markup, exceptions inside handlers, long scenario names, big nets.
Bursts are sent to the driver without waiting between keys, as a paste or a
key repeat delivers them.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable

from textual.widgets import Label
from tui_support import burst, status_line, sync, wait_until

from bptui.tui.app import GotoScreen, make_app

WIDE = (140, 45)


def _run_in_child(module: str, name: str) -> None:
    """The child process's side of :func:`bounded`: run one async test body."""
    import importlib

    test = getattr(importlib.import_module(module), name)
    asyncio.run(test.__wrapped__())


def bounded(seconds: float) -> Callable[[Callable[[], Awaitable[None]]], Callable[[], None]]:
    """Run an async test in a child process and fail if it has not finished in ``seconds``.

    A UI frozen in a regex holds the GIL: no thread of this process could even
    notice, so the bound is kept by another process, which kills the child.
    """

    def wrap(test: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        def run() -> None:
            context = multiprocessing.get_context("spawn")
            child = context.Process(target=_run_in_child, args=(__name__, test.__name__))
            child.start()
            child.join(seconds)
            alive = child.is_alive()
            if alive:
                child.kill()
                child.join()
            assert not alive, f"the app did not answer within {seconds} s"
            assert child.exitcode == 0, "the test failed in the child (its traceback is above)"

        run.__name__ = test.__name__
        run.__wrapped__ = test  # type: ignore[attr-defined]
        return run

    return wrap


# ------------------------------------------------------------------ go to
@sync
async def test_goto_enter_twice_answers_once() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("g", "5")
        burst(app, "enter", "enter")
        # The run's end is drawn just after it stops: wait for the screen, not the flag.
        await wait_until(pilot, lambda: not app.running and "Step 5" in status_line(app))
        assert not isinstance(app.screen, GotoScreen)
        assert app.stepper.step == 5
        await pilot.press("s")  # still alive and answering
        assert "Step 6" in status_line(app)


@bounded(30)
async def test_goto_forty_digits_and_a_letter_do_not_freeze() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("g", *"1234567890" * 4, "x")
        field = app.screen.query_one("#goto-input")
        assert field.value.isdigit()  # the letter was refused, the digits capped
        await pilot.press("enter")
        assert isinstance(app.screen, GotoScreen)  # refused in words, not dismissed
        hint = app.screen.query_one("#goto-hint", Label)
        assert "at most 1,000,000,000" in str(hint.render())
        await pilot.press("escape", "s")
        assert "Step 1" in status_line(app)
