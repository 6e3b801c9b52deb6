"""The loss pane, mounted alone: plotted data, log and fit views, odd histories."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import math
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from rich.console import Console
from textual.app import App, ComposeResult

from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin, parse_scenario
from bptui.tui.state import PENDING, View, view_of
from bptui.tui.widgets.heatmap import HALF_BLOCK, heatmap_data, unit_count, unit_name
from bptui.tui.widgets.loss_plot import LossPane, downsample, nice_ticks, step_ticks, unit_parts

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
        if pane.heatmap_mode:
            return pane, heatmap_text(pane), notes
        drawing = pane.plt.uncolorize(pane.plt.build())
        rendered = pane.render().plain
        assert rendered.split("\n")[0] == drawing.split("\n")[0]
        return pane, drawing, notes


def heatmap_text(pane: LossPane) -> str:
    """What the heatmap shows, as plain text."""
    console = Console(width=pane.size.width, file=io.StringIO())
    lines = console.render_lines(pane.render(), console.options, pad=False)
    return "\n".join("".join(segment.text for segment in line) for line in lines)


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
    assert pane.plotted["loss"][0] == pytest.approx(3.0667888, abs=1e-7)  # the article
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


THREE_INPUTS = """
name = "three"
[network]
layers = [3, 2, 1]
activation = "tanh"
output_activation = "identity"
[training]
learning_rate = 0.1
seed = 1
[data]
x = [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
y = [1, 2, 3]
"""


@sync
async def test_fit_view_needs_one_or_two_inputs() -> None:
    scenario = parse_scenario(THREE_INPUTS, "three.toml", None)
    pane, drawing, notes = await mounted(view_of(Stepper(scenario.training())), keys="f")
    assert not pane.fit_mode
    assert notes == ["The fit view needs one or two inputs; this network has 3."]
    assert "Loss · step 0" in drawing


# ------------------------------------------------------- the units' parts
def test_article_parts_are_the_output_weights_times_the_hidden_units() -> None:
    """w3·blue(x) + w4·orange(x) + b3 is green(x): the article's output is identity."""
    stepper = article_after(20)
    view = view_of(stepper)
    xs = np.linspace(-0.2, 1.2, 15)
    parts = unit_parts(view, xs)
    assert [label for label, _, _ in parts] == ["w3·blue", "w4·orange", "b3"]
    theta = view.network.param_dict(view.record.theta)
    softplus = np.log1p(np.exp(theta["w1"] * xs + theta["b1"]))
    assert np.allclose(parts[0][2], theta["w3"] * softplus, rtol=1e-12)
    softplus2 = np.log1p(np.exp(theta["w2"] * xs + theta["b2"]))
    assert np.allclose(parts[1][2], theta["w4"] * softplus2, rtol=1e-12)
    assert np.all(parts[2][2] == theta["b3"]) and theta["b3"] != 0
    green = view.network.predict(view.record.theta, xs[:, None])[:, 0]
    assert np.allclose(parts[0][2] + parts[1][2] + parts[2][2], green, rtol=1e-12)


def test_parts_only_for_one_input_and_one_output() -> None:
    view = view_of(Stepper(load_builtin("xor").training()))
    assert unit_parts(view, np.linspace(0, 1, 5)) == []


@sync
async def test_fit_view_draws_each_units_part_with_a_legend() -> None:
    pane, drawing, _ = await mounted(view_of(article_after(5)), keys="f")
    for label in ("w3·blue", "w4·orange", "b3", "green = ŷ"):
        assert label in drawing
    theta = pane.view.network.param_dict(pane.view.record.theta)
    assert pane.plotted["part b3"][0] == theta["b3"]
    assert len(pane.plotted["part w3·blue"]) == len(pane.plotted["curve_x0"])


# --------------------------------------------------------------- heatmap
def xor_trained(steps: int) -> Stepper:
    stepper = Stepper(load_builtin("xor").training())
    stepper.run(steps)
    return stepper


def test_heatmap_values_are_the_net_on_the_grid() -> None:
    view = view_of(xor_trained(2000))
    data = heatmap_data(view, 0, columns=9, rows=4)
    assert data.values.shape == (8, 9, 1) and data.pixels.shape == (8, 9, 3)
    (a, b), (c, d) = data.x1_range, data.x2_range
    assert (a, b) == (c, d) == (-0.15, 1.15)
    # The top-left pixel is (x1 = -0.15, x2 = 1.15): the net's output there.
    corner = view.network.predict(view.record.theta, np.array([[a, d]]))[0, 0]
    assert data.values[0, 0, 0] == corner
    # Trained on xor: near (0, 1) high (blue), near (0, 0) low (orange).
    blue, orange = data.pixels[1, 1], data.pixels[-2, 1]
    assert blue[2] > blue[0] and orange[0] > orange[2]
    assert {rgb for _, _, rgb in data.points} == {(255, 140, 40), (90, 170, 255)}


def test_heatmap_of_a_hidden_unit_is_its_activation() -> None:
    view = view_of(xor_trained(100))
    data = heatmap_data(view, 2, columns=5, rows=3)
    theta = view.network.param_dict(view.record.theta)
    (a, _), (_, d) = data.x1_range, data.x2_range
    z = theta["w3"] * a + theta["w4"] * d + theta["b2"]  # W is (out, in), row by row
    assert math.isclose(data.values[0, 0, 0], 1 / (1 + math.exp(-z)), rel_tol=1e-12)
    assert unit_count(view) == 3
    assert [unit_name(view, k) for k in range(3)] == ["ŷ1", "h1.1", "h1.2"]


def test_softmax_heatmap_colours_the_winning_class() -> None:
    stepper = Stepper(load_builtin("softmax3").training())
    stepper.run(300)
    view = view_of(stepper)
    data = heatmap_data(view, 0, columns=20, rows=10)
    assert data.values.shape == (20, 20, 3)
    colours = {rgb for _, _, rgb in data.points}
    assert len(colours) == 3  # one colour per class
    for col, row, rgb in data.points:
        # where each point sits, the winning class is the point's own (trained 300 steps)
        winner = int(np.argmax(data.values[2 * row, col]))
        assert rgb == [(255, 140, 40), (90, 170, 255), (80, 200, 100)][winner]


@sync
async def test_heatmap_in_the_pane_draws_half_blocks_and_the_data() -> None:
    pane, text, _ = await mounted(view_of(xor_trained(10)), keys="f")
    lines = text.split("\n")
    assert pane.heatmap_mode
    assert "Heatmap · output ŷ1 · step 10" in lines[0]
    assert lines[1].count(HALF_BLOCK) + lines[1].count("●") == SIZE[0]
    assert text.count("●") == 4 + 1  # the four points and the legend's
    assert "orange low · blue high" in lines[-2] or "orange low · blue high" in lines[-1]


@sync
async def test_heatmap_unit_changes_the_map() -> None:
    app = LossApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(LossPane)
        pane.show(view_of(xor_trained(10)))
        pane.toggle_fit()
        await pilot.pause()
        assert "output ŷ1" in heatmap_text(pane)
        pane.set_heatmap_unit(1)
        await pilot.pause()
        assert "hidden unit h1.1" in heatmap_text(pane)


# ------------------------------------------------------------ step axes
@sync
async def test_log_step_axis_spreads_the_early_steps() -> None:
    stepper = article_after(1000)
    app = LossApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(LossPane)
        pane.show(view_of(stepper))
        pane.set_step_axis("log")
        await pilot.pause()
        drawing = pane.plt.uncolorize(pane.plt.build())
        steps = pane.plotted["steps"]
    assert "step (log)" in drawing
    assert all(f" {tick} " in drawing or f" {tick}\n" in drawing for tick in ("10", "100"))
    # the first ten steps keep (nearly) one point each, though they are 1% of the run
    assert sorted(set(steps))[:8] == list(range(8))
    assert steps[-1] == 1000


@sync
async def test_recent_steps_show_the_last_hundred() -> None:
    stepper = article_after(1000)
    app = LossApp()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(LossPane)
        pane.show(view_of(stepper))
        pane.set_step_axis("recent")
        await pilot.pause()
        drawing = pane.plt.uncolorize(pane.plt.build())
    assert min(pane.plotted["steps"]) == 901 and max(pane.plotted["steps"]) == 1000
    history = stepper.loss_history
    assert max(pane.plotted["loss"]) == max(history[901:])
    assert "Loss · last 100 steps" in drawing and "901" in drawing


def test_log_spaced_downsample_keeps_the_early_steps() -> None:
    values = np.linspace(10, 1, 5000)
    steps, kept = downsample(values, 50, log_spaced=True)
    assert sorted(set(steps.tolist()))[:3] == [0, 1, 2]
    assert steps[-1] == 4999 and len(steps) <= 100
    assert np.all(kept == values[steps])


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


@pytest.mark.parametrize(
    ("first", "last", "count", "expected"),
    [
        (0, 5, 5, [0, 2, 4, 5]),  # rounding five even points gave 0 1 2 4 5
        (0, 5, 6, [0, 1, 2, 3, 4, 5]),
        (0, 10, 5, [0, 3, 6, 10]),  # 9 gives way to the last step, one step beyond it
        (0, 19648, 6, [0, 3930, 7860, 11790, 15720, 19648]),
        (100, 600, 6, [100, 200, 300, 400, 500, 600]),
        (0, 1, 2, [0, 1]),
    ],
)
def test_step_ticks_are_evenly_spaced_whole_steps_ending_at_the_last(
    first: int, last: int, count: int, expected: list[int]
) -> None:
    ticks = step_ticks(first, last, count)
    assert ticks == expected
    gaps = {b - a for a, b in zip(ticks, ticks[1:-1])}
    assert len(gaps) <= 1 and len(ticks) <= count and ticks[0] == first


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 7, 9, 12, 20, 33, 64, 101, 999, 4097])
def test_step_ticks_never_crowd_or_skew_any_short_run(steps: int) -> None:
    for count in range(2, 7):
        ticks = step_ticks(0, steps, count)
        gap = ticks[1] - ticks[0] if len(ticks) > 1 else 0
        assert all(b - a == gap for a, b in zip(ticks, ticks[1:-1]))
        assert ticks[-1] == steps and len(ticks) <= count
        assert len(ticks) == 1 or steps - ticks[-2] >= gap / 2
