"""Pilot tests of the TUI: every key and phase, asserted on what the screen shows.

Numbers on screen are compared with the article's values (the article) or with a
separate headless Stepper, never with the app's own state alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from tui_support import chain_text, pane_text, screen_text, sync, wait_until

from bptui.engine.stepper import Stepper
from bptui.engine.watches import AtStep, stop_on
from bptui.scenario.loading import load_builtin
from bptui.tui import keys
from bptui.tui.app import SPEEDS, BptuiApp, GotoScreen, make_app
from bptui.tui.format import fmt_column, fmt_loss, fmt_value
from bptui.tui.runner import FLAT_OUT, Run, speed_label
from bptui.tui.screens.help import HelpScreen
from bptui.tui.state import PENDING, view_of
from bptui.tui.widgets.chain import chain_renderable
from bptui.tui.widgets.parameters import parameter_cells

WIDE = (140, 45)


def status(app: BptuiApp) -> str:
    return screen_text(app).split("\n")[0]


def row_of(text: str, name: str) -> str:
    """The line of a table whose first cell is ``name``."""
    for line in text.split("\n"):
        if re.match(rf"^│?\s*(❄ )?{re.escape(name)}\s", line):
            return line
    raise AssertionError(f"no row {name!r} in:\n{text}")


def reference(name: str = "article", steps: int = 0) -> Stepper:
    stepper = Stepper(load_builtin(name).training())
    if steps:
        stepper.run(steps)
    return stepper


# ------------------------------------------------------------------ status
@sync
async def test_start_shows_step_0_and_the_articles_loss() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        line = status(app)
        assert "article" in line
        assert "Step 0" in line
        assert "Loss 3.066789" in line
        assert "done" in line
        assert "α 0.01" in line
        assert "paused" in line


@sync
async def test_s_and_space_take_whole_steps() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("s")
        assert "Step 1" in status(app)
        assert "Loss 2.981741" in status(app)  # the article: one full step
        await pilot.press("space")
        ref = reference(steps=2)
        assert "Step 2" in status(app)
        assert f"Loss {fmt_loss(ref.loss)}" in status(app)
        # Δ last step of b3 is −α·∂Loss/∂b3 of step 1, as the reference computes it
        change = ref.theta_at(2)[6] - ref.theta_at(1)[6]
        assert f"+{fmt_value(change)}" in row_of(pane_text(app, "params"), "b3")


# ------------------------------------------------------------------ phases
@sync
async def test_n_walks_update_forward_loss_backward() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("n")
        line = status(app)
        assert "Step 1" in line and "update" in line
        assert "Loss 3.066789 (step 0)" in line and "pending" in line
        params = pane_text(app, "params")
        # b1: 0 − 0.01 · (−0.646880) = 0.006469, shown old → new
        assert "0.000000 → 0.006469" in row_of(params, "b1")
        assert "−0.646880" in row_of(params, "b1")  # the gradient the update applies
        assert "0.496714 → 0.499978" in row_of(params, "w1")
        forward = pane_text(app, "forward")
        assert forward.count(PENDING) == 3 * (6 + 1)  # z and a of 3 nodes, loss share
        ref = reference(steps=1).record()

        await pilot.press("n")  # forward layer 1: blue and orange known, green not
        assert "forward layer 1" in status(app)
        forward = pane_text(app, "forward")
        assert fmt_value(ref.nodes["blue"][0]) in forward
        assert fmt_value(ref.nodes["orange"][2]) in forward
        assert fmt_value(ref.nodes["green"][0]) not in forward
        assert forward.count(PENDING) == 3 * (2 + 1)

        await pilot.press("n")  # forward layer 2: ŷ known, loss share still pending
        assert "forward layer 2" in status(app)
        forward = pane_text(app, "forward")
        assert fmt_value(ref.nodes["green"][1]) in forward
        assert forward.count(PENDING) == 3
        assert "pending" in status(app)

        await pilot.press("n")  # loss
        assert "loss" in status(app)
        assert "Loss 2.981741" in status(app)
        assert PENDING not in pane_text(app, "forward")
        assert PENDING in row_of(pane_text(app, "params"), "w3")

        await pilot.press("n")  # backward layer 2: output-layer gradients only
        assert "backward layer 2" in status(app)
        params = pane_text(app, "params")
        grads = ref.grads
        assert fmt_value(grads["w3"]) in row_of(params, "w3")
        assert fmt_value(grads["b3"]) in row_of(params, "b3")
        assert PENDING in row_of(params, "b1")
        assert PENDING in row_of(params, "w1")

        await pilot.press("n")  # backward layer 1: the step is complete
        assert "│ backward layer 1 · done │" in status(app)  # the last phase is named
        params = pane_text(app, "params")
        assert PENDING not in params
        assert fmt_value(grads["b1"]) in row_of(params, "b1")
        assert "→" not in params

        await pilot.press("n")  # from done, the next update
        assert "Step 2" in status(app) and "update" in status(app)


@sync
async def test_s_finishes_a_partial_step() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("n", "n", "n")
        await pilot.press("s")
        assert "Step 1 │ done │" in status(app)  # a whole move: no phase to name
        assert "Loss 2.981741" in status(app)
        assert PENDING not in pane_text(app, "params")


# ------------------------------------------------------------- chain pane
@sync
async def test_chain_pane_takes_b1_apart() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        chain = pane_text(app, "chain")
        assert "∂Loss/∂b1 = ∂Loss/∂green · ∂green/∂blue · ∂blue/∂b1" in chain
        assert "−2(y − green)" in chain
        assert "= w3" in chain
        assert "sigmoid(z_blue)" in chain
        assert "↻ reused — first computed for b3 in backward layer 2" in chain
        record = reference().record()
        products = record.chain_product("b1")
        for value in products:
            assert fmt_value(value) in chain
        assert "Σ products = −0.646880" in chain
        assert "∂Loss/∂b1 = −0.646880" in chain
        assert "✓" in chain
        assert "backprop 4 + 6 = 10" in chain
        assert "from scratch 6 + 12 = 18" in chain


@sync
async def test_chain_is_pending_until_backward_reaches_the_layer() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("n", "n", "n", "n", "n")  # backward layer 2
        chain = pane_text(app, "chain")
        ref = reference(steps=1).record()
        upstream = ref.factors["b1"][0].values
        assert fmt_value(upstream[1]) in chain  # ∂Loss/∂green is computed in layer 2
        assert "∂Loss/∂b1: after backward layer 1" in chain
        assert "backprop 4 + ?  vs  from scratch 6 + ?" in chain
        await pilot.press("n")
        chain = pane_text(app, "chain")
        assert PENDING not in chain
        assert fmt_value(ref.grads["b1"]) in chain


@sync
async def test_parameter_cursor_selects_the_chain() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        await pilot.press("down")  # b1 → b2
        await pilot.pause()
        assert app.selected_param == "b2"
        chain = pane_text(app, "chain")
        assert "∂Loss/∂b2 = ∂Loss/∂green · ∂green/∂orange · ∂orange/∂b2" in chain
        assert "sigmoid(z_orange)" in chain
        assert fmt_value(reference().record().grads["b2"]) in chain
        await pilot.press("up", "up", "up")  # b1, w4, w3
        await pilot.pause()
        assert app.selected_param == "w3"
        chain = pane_text(app, "chain")
        assert "∂Loss/∂w3 = ∂Loss/∂green · ∂green/∂w3" in chain
        assert "= blue" in chain


# ---------------------------------------------------------- time travel
@sync
async def test_b_goes_back_and_R_resets() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("s", "s", "s")
        assert "Step 3" in status(app)
        await pilot.press("b")
        assert "Step 2" in status(app)
        assert f"Loss {fmt_loss(reference(steps=2).loss)}" in status(app)
        await pilot.press("b", "b")
        assert "Step 0" in status(app) and "Loss 3.066789" in status(app)
        await pilot.press("b")  # nothing before step 0
        assert "Step 0" in status(app)
        await pilot.press("s", "s", "n", "n")
        await pilot.press("R")
        assert "Step 0" in status(app) and "done" in status(app)
        assert "Loss 3.066789" in status(app)
        assert "—" in row_of(pane_text(app, "params"), "b1")  # no previous step


@sync
async def test_b_from_a_partial_step_returns_to_its_start() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("s", "n", "n")
        assert "Step 2" in status(app)
        await pilot.press("b")
        assert "Step 1" in status(app) and "done" in status(app)
        assert "Loss 2.981741" in status(app)


@sync
async def test_g_goes_to_a_step_forward_and_back() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("g")
        assert isinstance(app.screen, GotoScreen)
        await pilot.press(*"10000000", "enter")
        assert "going to step 10000000" in status(app)
        await pilot.press("r")  # pauses on the way
        assert not app.running and 0 < app.stepper.step < 10_000_000
        await pilot.press("g", "4", "0", "enter")  # back in history (or on to it)
        await wait_until(pilot, lambda: not app.running)
        assert "Step 40" in status(app)
        await pilot.press("R", "g", "4", "0", "enter")  # forward again from 0
        await wait_until(pilot, lambda: not app.running)
        assert "Step 40" in status(app)
        assert f"Loss {fmt_loss(reference(steps=40).loss)}" in status(app)
        await pilot.press("g", "7", "enter")
        await pilot.pause()
        assert "Step 7" in status(app)
        assert f"Loss {fmt_loss(reference(steps=7).loss)}" in status(app)
        await pilot.press("g", "escape")
        assert not isinstance(app.screen, GotoScreen)
        assert "Step 7" in status(app)


# -------------------------------------------------------------- running
@sync
async def test_r_runs_and_pauses() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("r")
        assert app.running and "running" in status(app)
        await wait_until(pilot, lambda: app.stepper.step >= 3)
        await pilot.press("r")
        assert not app.running and "paused" in status(app)
        stopped_at = app.stepper.step
        await pilot.pause(0.1)
        assert app.stepper.step == stopped_at
        line = status(app)
        assert f"Step {stopped_at}" in line
        assert f"Loss {fmt_loss(reference(steps=stopped_at).loss)}" in line


@sync
async def test_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


@sync
async def test_comma_and_full_stop_select_the_parameter_anywhere() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")  # the chain pane alone
        await pilot.press("full_stop")
        assert "∂Loss/∂b2 = ∂Loss/∂green · ∂green/∂orange" in pane_text(app, "chain")
        await pilot.press("comma", "comma")
        assert app.selected_param == "w4"
        assert "∂Loss/∂w4 = ∂Loss/∂green · ∂green/∂w4" in pane_text(app, "chain")
        await pilot.press("2")
        await pilot.pause()
        assert app.query_one("#params").cursor_row == 3  # the cursor followed
        assert app.selected_param == "w4"


@sync
async def test_number_keys_focus_panes() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("3")
        assert app.focused is app.query_one("#forward")
        await pilot.press("down")  # the forward cursor selects the data point
        await pilot.pause()
        assert app.selected_point == 1
        await pilot.press("2")
        assert app.focused is app.query_one("#params")


@sync
async def test_plus_and_minus_set_the_speed() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        assert "100 steps/s" in status(app)
        await pilot.press("plus")
        assert "300 steps/s" in status(app)
        for _ in range(len(SPEEDS)):
            await pilot.press("plus")
        assert "flat out" in status(app)
        for _ in range(len(SPEEDS)):
            await pilot.press("minus")
        assert "1 step/s" in status(app)


@sync
async def test_flat_out_takes_many_steps_per_frame() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        for _ in range(len(SPEEDS)):
            await pilot.press("plus")
        frames_before = app.frames
        await pilot.press("r")
        await wait_until(pilot, lambda: app.frames >= frames_before + 4)
        await pilot.press("r")
        frames = app.frames - frames_before
        # a 1/s run would need one frame per step; flat out batches them
        assert app.stepper.step > 3 * frames


@sync
async def test_divergence_shows_a_banner_refuses_steps_and_b_recovers() -> None:
    app = make_app(load_builtin("diverge"))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("g", "1", "0", "0", "0", "enter")
        await wait_until(pilot, lambda: not app.running)
        diverged = reference("diverge", steps=1000).diverged
        assert diverged == app.stepper.diverged == app.stepper.step
        text = screen_text(app)
        assert f"Diverged at step {diverged}" in text
        assert "Press b to step back, R to reset" in text
        assert app.check_action("step", ()) is None
        assert app.check_action("next_phase", ()) is None
        assert app.check_action("run", ()) is None
        assert app.check_action("back", ()) is True
        await pilot.press("s", "n", "r")
        assert app.stepper.step == diverged and not app.running
        await pilot.press("b")
        assert app.stepper.diverged is None
        assert f"Step {diverged - 1}" in status(app)
        assert "Diverged" not in screen_text(app)
        assert np.isfinite(app.stepper.loss)
        await pilot.press("s")  # stepping works again (and diverges again)
        assert "Diverged" in screen_text(app)


@sync
async def test_a_phase_walk_into_divergence_shows_the_diverged_step() -> None:
    """n into the diverging update, then n through its phases: the non-finite
    loss is shown; only then are s, n and r refused."""
    app = make_app(load_builtin("diverge"))
    diverged = reference("diverge", steps=1000).diverged
    assert diverged is not None
    async with app.run_test(size=WIDE) as pilot:
        app.stepper.run(diverged - 1)
        app.refresh_view()
        await pilot.press("n")
        assert f"Step {diverged} │ update" in status(app)
        assert app.check_action("next_phase", ()) is True
        assert app.check_action("run", ()) is None
        for _ in range(len(app.stepper.phases) - 1):
            await pilot.press("n")
        assert f"Step {diverged} │ backward layer 1 · done │ Loss inf" in status(app)
        assert app.check_action("next_phase", ()) is None
        await pilot.press("n", "s")
        assert app.stepper.step == diverged


# ------------------------------------------------------- points, loss pane
@sync
async def test_brackets_select_the_data_point() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("right_square_bracket")
        assert app.selected_point == 1
        assert app.query_one("#forward").cursor_row == 1
        assert app.view is not None and app.view.selected_point == 1
        await pilot.press("p")
        assert app.selected_point == 2
        await pilot.press("p")  # wraps around
        assert app.selected_point == 0
        await pilot.press("left_square_bracket")
        assert app.selected_point == 2


@sync
async def test_l_and_f_toggle_the_loss_pane() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        loss = app.query_one("#loss")
        await pilot.press("l")
        assert loss.log_scale
        await pilot.press("f")
        assert loss.fit_mode
        await pilot.press("l", "f")
        assert not loss.log_scale and not loss.fit_mode


@sync
async def test_fit_view_of_two_inputs_is_a_heatmap_and_u_cycles_its_unit() -> None:
    app = make_app(load_builtin("xor"))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("f")
        await pilot.pause()
        assert app.query_one("#loss").heatmap_mode
        assert "Heatmap · output ŷ1 · step 0" in pane_text(app, "loss")
        await pilot.press("u")
        await pilot.pause()
        assert "Heatmap · hidden unit h1.1" in pane_text(app, "loss")
        await pilot.press("u", "u")  # h1.2, then the output again
        await pilot.pause()
        assert app.heatmap_unit == 0 and "output ŷ1" in pane_text(app, "loss")


# ---------------------------------------------------- help and palette
@sync
async def test_help_screen_explains_keys_and_panes() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Keys & panes" in text
        assert "next phase" in text.lower()
        assert "one whole gradient-descent step" in text
        await pilot.press("right")  # the next page: the article's errata
        await pilot.pause()
        assert "2.8582 → 2.8841 RISES" in screen_text(app)
        await pilot.press("left")
        await pilot.pause()
        assert "one whole gradient-descent step" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@sync
async def test_every_action_is_in_the_command_palette() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for title in ("Step", "Next phase", "Run / pause", "Back one step", "Reset", "Help"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Next phase")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.stepper.step == 1)
        assert "update" in status(app)


# -------------------------------------------------------------- layouts
@sync
async def test_80x24_is_usable() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Step 0" in text and "Loss 3.066789" in text
        assert "1 Diagram" in text and "4 Chain" in text
        await pilot.press("4")
        chain = pane_text(app, "chain")
        assert "−2(y − green)" in chain and "Σ products = −0.646880" in chain
        await pilot.press("2")
        assert "0.496714" in pane_text(app, "params")
        await pilot.press("s")
        assert "Step 1" in status(app) and "Loss 2.981741" in status(app)


@pytest.mark.parametrize("size", [(50, 30), (100, 12), (30, 8)])
@sync
async def test_below_the_minimum_size_asks_to_enlarge(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "enlarge the terminal" in text
        assert "Step" not in text
        await pilot.press("s")  # keys still work, nothing breaks
        assert app.stepper.step == 1


@sync
async def test_resizing_switches_layouts() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        assert app.query_one("#chain").display and app.query_one("#params").display
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "1 Diagram" in screen_text(app)
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        assert "enlarge the terminal" in screen_text(app)
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        assert "Loss 3.066789" in screen_text(app)


# ------------------------------------------------------------- scenarios
@pytest.mark.parametrize(("name", "first"), [("xor", "b1"), ("softmax3", "w1"), ("deep", "w1")])
@sync
async def test_every_phase_of_other_scenarios_renders(name: str, first: str) -> None:
    app = make_app(load_builtin(name))
    ref = reference(name, steps=1)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("n")
        for _ in range(len(app.stepper.phases) - 1):
            await pilot.press("n")
        assert "Step 1" in status(app) and "done" in status(app)
        assert f"Loss {fmt_loss(ref.loss)}" in status(app)
        # b1 for small nets; w1 where b1 would open the table scrolled down
        assert app.selected_param == first
        params = pane_text(app, "params")
        # The gradient column is written in one style, chosen from all its numbers.
        column = fmt_column(ref.record().grad)
        assert column[app.stepper.network.param_index[first]] in row_of(params, first)
        chain = chain_text(app)  # all of it: the pane scrolls for many points
        assert "✓ equal" in chain
        assert f"∂Loss/∂{first} = {fmt_value(ref.record().grads[first])}" in chain


@sync
async def test_deep_forward_pane_shows_activations_only() -> None:
    app = make_app(load_builtin("deep"))
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        forward = pane_text(app, "forward")
        assert "activations only" in forward
        assert "z_h1.1" not in forward
        assert "h1.1" in forward


@sync
async def test_frozen_parameters_are_marked() -> None:
    scenario = dataclasses.replace(load_builtin("article"), trainable=("b3",))
    app = make_app(scenario)
    async with app.run_test(size=WIDE) as pilot:
        params = pane_text(app, "params")
        assert "frozen" in row_of(params, "w1")
        assert "❄ w1" in params
        assert "+0.017658" in row_of(params, "b3")
        await pilot.press("s")
        params = pane_text(app, "params")
        assert "0.496714" in row_of(params, "w1")  # unchanged
        assert "0.017658" in row_of(params, "b3")  # the article's own step, done right


# ------------------------------------------------------------ pure views
def test_user_grads_column_flags_disagreement() -> None:
    stepper = reference()
    view = view_of(stepper, user_grads={"b1": -0.6468799443149954, "b3": -5.7164})
    assert "✓" in parameter_cells(view, "b1")["yours"].plain
    assert "✗" in parameter_cells(view, "b3")["yours"].plain  # the article's wrong b3
    assert parameter_cells(view, "w1")["yours"].plain == "—"


def test_loss_always_has_four_significant_digits() -> None:
    assert fmt_loss(3.06678879302855) == "3.066789"
    assert fmt_loss(0.0001234567) == "1.2346e−04"
    assert fmt_loss(0.0123456) == "0.012346"
    assert fmt_loss(float("inf")) == "inf"
    assert fmt_value(-0.6468799) == "−0.646880"
    assert fmt_value(3.2e-9) == "3.20e−09"
    assert fmt_value(-0.0) == "0.000000"


def test_chain_marks_points_outside_the_mini_batch() -> None:
    scenario = dataclasses.replace(load_builtin("article"), batch_size=2)
    stepper = Stepper(scenario.training())
    stepper.run(1)  # step 1 descends the second batch: the third point alone
    view = view_of(stepper, selected_param="b1")
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(chain_renderable(view))
    text = console.export_text()
    assert "x=0.1 ⊘" in text and "x=0.53 ⊘" in text and "x=0.82 ⊘" not in text
    assert "contributes 0" in text
    grad = view.record.grads["b1"]
    assert f"∂Loss/∂b1 = {fmt_value(grad)}  ✓ equal" in text
    assert fmt_value(float(view.record.chain_product("b1")[2])) == fmt_value(grad)


# ------------------------------------------------------- one list of keys
def bound_actions() -> list[str]:
    return list(dict.fromkeys(binding.action for binding in keys.BINDINGS))


def test_keys_read_as_the_help_and_readme_print_them() -> None:
    assert keys.key_displays("step") == ["s", "space"]
    assert keys.key_displays("faster") == ["+"]  # = is + without shift
    assert keys.key_displays("point(1)") == ["]", "p"]
    assert keys.key_displays(keys.PALETTE_ACTION) == ["ctrl+p"]
    assert keys.keys_text(("toggle_log", "toggle_fit")) == "`l` / `f`"
    assert keys.keys_text(tuple(f"pane({n})" for n in range(1, 6))) == "`1` … `5`"
    with pytest.raises(KeyError, match="no key is bound to 'fly'"):
        keys.key_displays("fly")


def test_every_binding_is_in_the_palette_with_its_key_and_nothing_else() -> None:
    entries = list(keys.palette_entries())
    assert [action for action, _, _ in entries] == bound_actions()
    for action, title, help_text in entries:
        assert title and help_text
        assert help_text.endswith(f"(key: {' / '.join(keys.key_displays(action))})"), action
    assert (
        "step",
        "Step",
        "One whole gradient-descent step (finishes a partial one) (key: s / space)",
    ) in entries


@sync
async def test_the_palette_lists_each_binding_once() -> None:
    app = make_app()
    async with app.run_test(size=WIDE):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for _, title, _ in keys.palette_entries():
            assert titles.count(title) == 1, title


def test_every_binding_is_in_the_help_with_its_key_and_nothing_else() -> None:
    lines = keys.help_markdown().splitlines()
    entries = [entry for line in keys.HELP_LINES for entry in line]
    listed = [action for entry in entries for action in entry.actions]
    assert sorted(listed) == sorted([*bound_actions(), keys.PALETTE_ACTION])
    for entry in entries:
        cell = entry.key_cell()
        for action in entry.actions:
            for key in keys.key_displays(action):
                if len(entry.actions) <= 3:  # 1 … 5 shows the ends of the run
                    assert f"`{key}`" in cell, (action, key)
        assert sum(f"{cell} — " in line for line in lines) == 1, cell
    assert lines[0] == (
        "- `s` / `space` — **step**: one whole gradient-descent step (or finish the step `n` started)"
    )
    assert lines[-1] == "- `?` — this help · `q` — quit"
    assert "- `1` … `5` — show / focus a pane: diagram, parameters, forward, chain, loss" in lines


def test_readme_keys_table_is_generated_from_the_bindings() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Keys\n\n", 1)[1]
    table = section[: section.index("\n\n")] + "\n"
    assert table == keys.markdown_table()
    mentioned = set().union(*(entry.mentioned() for entry in keys.README_ROWS))
    assert mentioned == {*bound_actions(), keys.PALETTE_ACTION}
    assert "| `r` | run / pause; `+` / `-` change the speed (1 step/s … flat out) |" in table


@sync
async def test_the_palette_path_is_refused_like_the_key_while_diverged() -> None:
    """run_action (what the palette calls) asks check_action: no guard in the actions."""
    app = make_app(load_builtin("diverge"))
    async with app.run_test(size=WIDE) as pilot:
        app.stepper.run(1000)
        app.refresh_view()
        diverged = app.stepper.step
        for action in ("step", "next_phase", "run"):
            assert await app.run_action(action) is False
        await pilot.pause()
        assert app.stepper.step == diverged and not app.running
        assert await app.run_action("back") is True
        assert app.stepper.step == diverged - 1


# ------------------------------------------------------------------ runner
def test_a_flat_out_run_stops_exactly_at_its_target() -> None:
    stepper = reference()
    run = Run(stepper, None, FLAT_OUT, target=150)
    while not run.finished:
        asyncio.run(run.frame())
    assert stepper.step == 150
    assert speed_label(FLAT_OUT) == "flat out" and speed_label(0) == "1 step/s"


def test_a_run_stops_where_a_watch_fires() -> None:
    stepper = reference()
    run = Run(stepper, stop_on([AtStep(7)]), FLAT_OUT)
    while not run.finished:
        asyncio.run(run.frame())
    assert stepper.step == 7 and stepper.stop_reason


def test_a_slow_run_takes_about_one_step_a_frame() -> None:
    stepper = reference()
    run = Run(stepper, None, SPEEDS.index(10))
    assert run.interval == pytest.approx(0.1)
    for _ in range(3):
        asyncio.run(run.frame())
    assert 3 <= stepper.step <= 6  # a late frame owes at most two intervals' steps
