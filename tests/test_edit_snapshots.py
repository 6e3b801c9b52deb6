"""Snapshots of live edits: the edit dialog, the update phase under Adam, two runs overlaid.

Update on purpose with ``pytest tests/test_edit_snapshots.py --snapshot-update``
and look at the changed SVGs before committing them.
"""

from __future__ import annotations

from typing import Any

from tui_support import wait_until

from bptui.scenario.loading import load_builtin
from bptui.tui.app import make_app
from bptui.tui.screens.edit import EditScreen

WIDE = (140, 45)
SMALL = (80, 24)


async def open_dialog(pilot: Any, key: str) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, EditScreen))
    await pilot.pause()


def test_edit_dialog_on_a_parameter(snap_compare: Any) -> None:
    async def enter_on_w3(pilot: Any) -> None:
        await pilot.press("s", "2")
        pilot.app.selected_param = "w3"
        await pilot.pause()
        await open_dialog(pilot, "enter")

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=enter_on_w3)


def test_edit_dialog_refusal_at_80x24(snap_compare: Any) -> None:
    async def refused(pilot: Any) -> None:
        await open_dialog(pilot, "E")
        await pilot.press(*"-0.5", "enter")
        await wait_until(
            pilot, lambda: "✗" in str(pilot.app.screen.query_one("#edit-message").render())
        )
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SMALL, run_before=refused)


def test_update_phase_under_adam(snap_compare: Any) -> None:
    app = make_app(load_builtin("adam"))
    assert snap_compare(app, press=["s", "s", "s", "n"], terminal_size=WIDE)


def test_update_phase_under_adam_at_80x24(snap_compare: Any) -> None:
    app = make_app(load_builtin("adam"))
    assert snap_compare(app, press=["s", "s", "s", "n"], terminal_size=SMALL)


def test_two_runs_overlaid(snap_compare: Any) -> None:
    async def fork(pilot: Any) -> None:
        app = pilot.app
        app.stepper.run(3)
        app.refresh_view()
        await open_dialog(pilot, "F")
        await pilot.press(*"0.002", "enter")  # a fifth of the rate: a slower descent
        await wait_until(pilot, lambda: len(app.runs.runs) == 2)
        app.stepper.run(27)  # the fork (current) to step 30
        await pilot.press("right_curly_bracket")  # back to main, which goes on to 30 too
        app.stepper.run(27)
        app.refresh_view()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=fork)
