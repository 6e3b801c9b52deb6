"""Running frames: the tables draw at a lower rate than the status line and diagram.

While running at frame rate the parameters, forward, chain and update panes
are drawn at most ``runner.SLOW_PANE_SECONDS`` apart, the status line,
diagram and loss pane every frame; a pause draws every pane current.
"""

from __future__ import annotations

import math

import pytest

from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui import runner
from bptui.tui.app import SPEEDS, make_app
from bptui.tui.format import fmt_loss
from bptui.tui.runner import FLAT_OUT, SLOW_PANE_SECONDS, Run
from bptui.tui.widgets.parameters import ParametersPane
from bptui.tui.widgets.status import StatusBar
from tests.tui_support import sync, wait_until


def _run(speed: int) -> Run:
    return Run(Stepper(load_builtin("xor").training()), None, SPEEDS.index(speed))


def test_tables_are_due_once_per_interval_at_frame_rate() -> None:
    run = _run(0)
    due = [run.slow_panes_due(now) for now in (10.0, 10.1, 10.4, 10.0 + SLOW_PANE_SECONDS)]
    assert due == [True, False, False, True]
    assert run.slow_panes_due(10.0 + SLOW_PANE_SECONDS + 0.01) is False


def test_flat_out_stepping_fills_what_painting_leaves_of_a_frame() -> None:
    """Frames shorter than the aim step longer, longer ones shorter, within the bounds."""
    run = _run(0)
    aim, least = runner.FLAT_OUT_FRAME_SECONDS, runner.FLAT_OUT_BUDGET
    assert run.budget == least
    painting = 0.030  # each frame paints for 30 ms after its stepping
    for _ in range(30):
        run.flat_out_budget(run.budget + painting)
    assert run.budget + painting == pytest.approx(aim, abs=1e-6)
    for _ in range(30):
        run.flat_out_budget(run.budget + 0.5)  # painting slower than the whole aim
    assert run.budget == least
    for _ in range(30):
        run.flat_out_budget(0.0)
    assert run.budget == aim


@pytest.mark.parametrize("speed", [1, 10])
def test_below_frame_rate_every_frame_draws_the_tables(speed: int) -> None:
    run = _run(speed)
    assert all(run.slow_panes_due(10.0 + k * 0.001) for k in range(5))


def _value_cell(app, name: str) -> str:  # type: ignore[no-untyped-def]
    return app.query_one(ParametersPane).get_cell(name, "value").plain


def _number(cell: str) -> float:
    return float(cell.replace("−", "-"))


def _status(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.query_one(StatusBar).render())


@sync
async def test_tables_wait_their_turn_while_running_and_a_pause_draws_every_pane_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "SLOW_PANE_SECONDS", math.inf)  # after the first: never due
    app = make_app(load_builtin("xor"))
    name = app.stepper.network.param_names[0]
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("r")
        while app.speed_index != FLAT_OUT:
            await pilot.press("plus")
        await wait_until(pilot, lambda: app.frames >= 2)
        first = _value_cell(app, name)  # drawn by the run's first frame
        await wait_until(pilot, lambda: app.stepper.step > 500)
        frames = app.frames
        await wait_until(pilot, lambda: app.frames >= frames + 3)
        # mid-run, in one moment: the status line is this frame's, the table the first frame's
        assert app.running
        assert f"Step {app.view.step}" in _status(app)
        assert _value_cell(app, name) == first
        await pilot.press("r")
        await wait_until(pilot, lambda: not app.running and app.view.step == app.stepper.step)
        await pilot.pause()
        step, record = app.stepper.step, app.stepper.record()
        line = _status(app)
        assert f"Step {step}" in line
        assert f"Loss {fmt_loss(record.loss)}" in line
        index = app.stepper.network.param_names.index(name)
        cell = _value_cell(app, name)
        assert cell != first
        assert _number(cell) == pytest.approx(float(record.theta[index]), rel=1e-3, abs=1e-6)


@sync
async def test_a_new_status_line_repaints_its_row_without_laying_the_screen_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The status line is one fixed row (app.tcss); a layout per running frame cost ~10 ms."""
    layouts: list[bool] = []
    refresh = StatusBar.refresh

    def watched(self, *regions, layout: bool = False, **kwargs):  # type: ignore[no-untyped-def]
        layouts.append(layout)
        return refresh(self, *regions, layout=layout, **kwargs)

    monkeypatch.setattr(StatusBar, "refresh", watched)
    app = make_app(load_builtin("article"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        status = app.query_one(StatusBar)
        layouts.clear()
        for _ in range(10):  # "Step 9" → "Step 10": the text grows by a cell
            await pilot.press("s")
        await pilot.pause()
        assert layouts and not any(layouts)
        assert status.size.width == 100
        line = _status(app)
        assert line.startswith(" article │ Step 10 │") and "paused" in line
        assert f"Loss {fmt_loss(app.stepper.loss)}" in line
