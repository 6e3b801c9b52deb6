"""The loss pane, mounted alone: plotted data, log and fit views, odd histories."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from textual.app import App, ComposeResult

from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui.state import PENDING, View, view_of
from bptui.tui.widgets.loss_plot import LossPane, downsample, nice_ticks

SIZE = (70, 16)


def sync(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async pilot test with asyncio (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class LossApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LossPane(id="loss")


async def mounted(
    view: View, keys: str = "", size: tuple[int, int] = SIZE
) -> tuple[LossPane, str, list[str]]:
    """Show ``view``, press the pane's toggles (l, f); return pane, drawing, notes."""
    app = LossApp()
    notes: list[str] = []
    async with app.run_test(size=size) as pilot:
        pane = app.query_one(LossPane)
        pane.notify = lambda message, **_: notes.append(message)  # type: ignore[method-assign]
        pane.show(view)
        for key in keys:
            {"l": pane.toggle_log, "f": pane.toggle_fit}[key]()
        await pilot.pause()
        drawing = pane.plt.uncolorize(pane.plt.build())
        rendered = pane.render().plain
        assert rendered.split("\n")[0] == drawing.split("\n")[0]
        return pane, drawing, notes


def article_after(steps: int) -> Stepper:
    stepper = Stepper(load_builtin("article").training())
    stepper.run(steps)
    return stepper


@sync
async def test_loss_history_is_plotted_step_by_step() -> None:
    stepper = article_after(5)
    pane, drawing, _ = await mounted(view_of(stepper))
    assert pane.plotted["steps"] == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(pane.plotted["loss"], stepper.loss_history, rtol=0, atol=0)
    assert pane.plotted["loss"][0] == pytest.approx(3.0667888, abs=1e-7)  # SPEC §1
    assert pane.plotted["loss"][1] == pytest.approx(2.9817410, abs=1e-7)
    assert "Loss · step 5 · " in drawing
    assert f"{stepper.loss:.7g}" in drawing
    for tick in ("2.85", "2.9", "2.95", "3", "3.05"):  # round ticks over 2.839…3.067
        assert f"{tick}┤" in drawing


@sync
async def test_a_single_point_history_draws() -> None:
    pane, drawing, _ = await mounted(view_of(Stepper(load_builtin("article").training())))
    assert pane.plotted == {"steps": [0], "loss": [pytest.approx(3.0667888, abs=1e-7)]}
    assert "Loss · step 0 · 3.066789" in drawing
    assert "●" in drawing


@sync
async def test_log_toggle_changes_axis_and_title() -> None:
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(60)  # the loss grows by many orders of magnitude
    pane, linear, _ = await mounted(view_of(stepper))
    assert not pane.log_scale and "(log)" not in linear
    pane, log, _ = await mounted(view_of(stepper), keys="l")
    assert pane.log_scale and "Loss (log) · step 60" in log
    exponents = [t for t in log.split() if t.startswith("1e+")]
    assert len(exponents) >= 2, "decade ticks on a log axis"
    pane, back, _ = await mounted(view_of(stepper), keys="ll")
    assert not pane.log_scale and back == linear


@sync
async def test_fit_view_shows_data_and_the_networks_curve() -> None:
    stepper = article_after(20)
    pane, drawing, notes = await mounted(view_of(stepper), keys="f")
    assert pane.fit_mode and not notes
    assert pane.plotted["data_x"] == [0.1, 0.53, 0.82]
    assert pane.plotted["data_y0"] == [1.2, 3.2, 1.1]
    xs = np.array(pane.plotted["curve_x0"])
    assert xs[0] < 0.1 and xs[-1] > 0.82
    expected = stepper.network.predict(stepper.theta, xs[:, None])[:, 0]
    np.testing.assert_allclose(pane.plotted["curve_y0"], expected, rtol=1e-12)
    assert "Fit (● data) · step 20" in drawing
    assert drawing.count("●") >= 4  # three data points and the title's key


@sync
async def test_fit_view_follows_training() -> None:
    app = LossApp()
    stepper = article_after(0)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(LossPane)
        pane.show(view_of(stepper))
        pane.toggle_fit()
        before = list(pane.plotted["curve_y0"])
        stepper.run(50)
        pane.show(view_of(stepper))
        await pilot.pause()
        after = pane.plotted["curve_y0"]
    assert before != after
    assert pane.title_text().startswith("Fit (● data) · step 50")


@sync
async def test_fit_view_needs_one_input() -> None:
    pane, drawing, notes = await mounted(view_of(Stepper(load_builtin("xor").training())), keys="f")
    assert not pane.fit_mode
    assert notes and "one-input" in notes[0] and "2 inputs" in notes[0]
    assert "Loss · step 0" in drawing


@sync
async def test_diverged_history_drops_non_finite_losses() -> None:
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(10_000)
    history = stepper.loss_history
    assert stepper.diverged is not None and not np.isfinite(history).all()
    for keys in ("", "l", "f"):
        pane, drawing, _ = await mounted(view_of(stepper), keys=keys)
        for values in pane.plotted.values():
            assert np.isfinite(values).all()
    pane, drawing, _ = await mounted(view_of(stepper))
    assert len(pane.plotted["loss"]) <= int(np.isfinite(history).sum())
    assert f"diverged at step {stepper.diverged}" in drawing
    finite = history[np.isfinite(history)]
    assert finite.max() > 1e100
    pane, drawing, _ = await mounted(view_of(stepper), keys="l")
    assert "≥1e+100" in drawing  # the top of the axis says values were clipped there


@sync
async def test_divergence_switches_the_axis_to_log_and_l_switches_back() -> None:
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(10_000)
    pane, drawing, _ = await mounted(view_of(stepper))
    assert pane.log_scale and "Loss (log)" in drawing
    pane, drawing, _ = await mounted(view_of(stepper), keys="l")
    assert not pane.log_scale and "Loss (log)" not in drawing
    pane, _, _ = await mounted(view_of(article_after(3)))
    assert not pane.log_scale  # a healthy run keeps the linear axis


@sync
async def test_long_history_is_downsampled_but_keeps_its_extremes() -> None:
    view = view_of(Stepper(load_builtin("article").training()))
    history = 1.0 + np.exp(-np.arange(200_000) / 5_000.0)
    history[123_457] = 50.0  # a spike in the middle must stay visible
    history[150_000] = np.nan
    pane, drawing, _ = await mounted(dataclasses.replace(view, loss_history=history))
    steps = pane.plotted["steps"]
    assert len(steps) <= 2 * SIZE[0]
    assert max(pane.plotted["loss"]) == 50.0
    assert min(pane.plotted["loss"]) == pytest.approx(history[-1])
    assert steps[0] == 0 and steps[-1] == len(history) - 1
    assert "199999" in drawing  # the step axis ends at the last step


@sync
async def test_mid_walk_the_new_loss_is_pending() -> None:
    stepper = article_after(3)
    stepper.next_phase()  # the update: the new loss is not computed yet in the walk
    pane, drawing, _ = await mounted(view_of(stepper))
    assert pane.plotted["steps"] == [0, 1, 2, 3]
    assert f"step 4 · {PENDING}" in drawing


@sync
async def test_showing_the_same_state_again_does_not_replot() -> None:
    app = LossApp()
    stepper = article_after(3)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(LossPane)
        calls = []
        original = pane._plot_loss
        pane._plot_loss = lambda view: (calls.append(view.step), original(view))  # type: ignore[method-assign]
        for _ in range(5):
            pane.show(view_of(stepper))
        stepper.run(1)
        pane.show(view_of(stepper))
        await pilot.pause()
    assert calls == [3, 4]


def test_downsample_keeps_everything_when_short() -> None:
    values = np.array([3.0, 2.0, np.inf, 1.0, np.nan])
    steps, kept = downsample(values, columns=10)
    assert steps.tolist() == [0, 1, 3] and kept.tolist() == [3.0, 2.0, 1.0]


def test_downsample_bounds_points_and_follows_the_trend() -> None:
    values = np.linspace(10.0, 0.0, 10_001)
    steps, kept = downsample(values, columns=50)
    assert len(steps) == 100
    assert steps[0] == 0 and steps[-1] == 10_000
    assert kept[0] == 10.0 and kept[-1] == 0.0
    assert np.all(np.diff(kept) <= 0), "a falling curve is drawn falling"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1.1, 3.2, [1.5, 2.0, 2.5, 3.0]),
        (2.7958, 3.0667, [2.8, 2.9, 3.0]),
        (2.839, 3.0668, [2.85, 2.9, 2.95, 3.0, 3.05]),
        (0.0084, 0.97, [0.2, 0.4, 0.6, 0.8]),
    ],
)
def test_nice_ticks_are_round_and_inside_the_range(
    low: float, high: float, expected: list[float]
) -> None:
    ticks = nice_ticks(low, high, 5)
    np.testing.assert_allclose(ticks, expected)
    assert low <= ticks.min() and ticks.max() <= high


def test_nice_ticks_fall_back_to_even_spacing() -> None:
    np.testing.assert_allclose(nice_ticks(5.0, 5.0, 3), [5.0, 5.0, 5.0])


@sync
async def test_a_narrow_pane_keeps_a_shorter_title() -> None:
    stepper = article_after(30)
    loss = f"{stepper.loss:.7g}"
    _, wide, _ = await mounted(view_of(stepper), keys="l")
    assert f"Loss (log) · step 30 · {loss}" in wide
    _, narrow, _ = await mounted(view_of(stepper), keys="l", size=(30, 8))
    assert f"Loss (log) · {loss}" in narrow and "step 30 ·" not in narrow
