"""Live edits, forks and saving through the TUI, asserted on the screen and against a fresh replay.

Every edit kind is made through the UI (a key, enter on a pane's row, the
palette's command), then ``b`` steps back across it and the screen shows the
value from before; the state after an edit is compared bit for bit with a
headless Stepper that makes the same edit at the same step.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tui_support import pane_text, screen_text, sync, wait_until

from bptui.engine.stepper import Stepper
from bptui.engine.watches import AtStep
from bptui.scenario.loading import load_builtin, load_file
from bptui.tui.app import BptuiApp, make_app
from bptui.tui.format import fmt_value
from bptui.tui.screens.edit import EditScreen
from bptui.tui.widgets.update import term_value

WIDE = (140, 45)
SMALL = (80, 24)


def status(app: BptuiApp) -> str:
    return screen_text(app).split("\n")[0]


def row_of(text: str, name: str) -> str:
    for line in text.split("\n"):
        cells = line.strip("│ ").split()
        if cells and cells[0] in (name, "❄") and name in cells[:2]:
            return line
    raise AssertionError(f"no row {name!r} in:\n{text}")


async def dialog(pilot: Any) -> EditScreen:
    """The edit dialog, once it is open (bounded wait)."""
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, EditScreen))
    await pilot.pause()
    return pilot.app.screen


async def type_value(pilot: Any, text: str, *, enter: bool = True) -> None:
    """Type into the dialog's value box (its text is selected on opening, so typing replaces it)."""
    await dialog(pilot)
    await pilot.press(*text)
    if enter:
        await pilot.press("enter")
        await pilot.pause()


async def closed(pilot: Any) -> None:
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, EditScreen))
    await pilot.pause()


def replayed(
    name: str, steps_before: int, edits: list[tuple[str, str, Any]], after: int = 0
) -> Stepper:
    """A headless Stepper that makes ``edits`` at step ``steps_before`` and steps ``after`` more."""
    stepper = Stepper(load_builtin(name).training())
    stepper.run(steps_before)
    for kind, name_, new in edits:
        stepper.edit(kind, name_, new)
    if after:
        stepper.run(after)
    return stepper


def same_state(app: BptuiApp, reference: Stepper) -> None:
    assert app.stepper.step == reference.step
    assert app.stepper.theta.tobytes() == reference.theta.tobytes()
    assert np.array_equal(app.stepper.loss_history, reference.loss_history)


# ------------------------------------------------------------ every edit kind
@sync
async def test_learning_rate_edit_by_key_then_back_shows_the_old_rate() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("s", "s", "E")
        await dialog(pilot)
        assert "Edit at step 2" in screen_text(app)
        assert "now 0.01" in screen_text(app)
        await type_value(pilot, "0.2")
        await closed(pilot)
        assert "α 0.2 " in status(app)
        await pilot.press("s", "s")
        same_state(app, replayed("article", 2, [("learning_rate", "learning_rate", 0.2)], 2))
        await pilot.press("b", "b")  # two steps back: at step 2, the edit still applied
        assert "α 0.2 " in status(app)
        await pilot.press("b")  # the edit undone
        await pilot.pause()
        assert "Step 2 " in status(app) and "α 0.01 " in status(app)
        same_state(app, replayed("article", 2, []))


@sync
async def test_parameter_edit_by_enter_on_its_row_then_back() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("s")
        params = app.query_one("#params")
        params.focus()
        app.selected_param = "w2"
        await pilot.pause()
        old = float(app.stepper.theta[app.stepper.network.param_index["w2"]])
        await pilot.press("enter")
        screen = await dialog(pilot)
        assert f"now {old!r}" in screen_text(app)
        assert screen.query_one("#edit-trains").value is True
        await type_value(pilot, "0.25")
        await closed(pilot)
        assert fmt_value(0.25) in row_of(pane_text(app, "params"), "w2")
        same_state(app, replayed("article", 1, [("param", "w2", 0.25)]))
        await pilot.press("b")
        await pilot.pause()
        assert fmt_value(old) in row_of(pane_text(app, "params"), "w2")
        assert app.stepper.step == 1


@sync
async def test_freezing_a_parameter_in_its_dialog_then_back() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        app.query_one("#params").focus()
        app.selected_param = "b1"
        await pilot.pause()
        await pilot.press("enter")
        await dialog(pilot)
        await pilot.press("tab", "space")  # the value box, then the trains checkbox
        await pilot.press("shift+tab", "enter")
        await closed(pilot)
        assert "❄ b1" in pane_text(app, "params")
        names = [n for n in app.stepper.network.param_names if n != "b1"]
        same_state(app, replayed("article", 0, [("trainable", "trainable", names)]))
        await pilot.press("s")
        await pilot.pause()
        b1 = app.stepper.network.param_index["b1"]
        assert app.stepper.step == 1 and app.stepper.theta[b1] == app.stepper.initial[b1]
        await pilot.press("b", "b")
        await pilot.pause()
        assert "❄ b1" not in pane_text(app, "params")


@sync
async def test_x_edit_by_enter_on_the_forward_pane_then_back() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("3", "down")  # the forward pane, the second point
        await pilot.pause()
        assert app.selected_point == 1
        await pilot.press("enter")
        await dialog(pilot)
        assert "now 0.53" in screen_text(app)
        await type_value(pilot, "0.6")
        await closed(pilot)
        assert app.stepper.x[1, 0] == 0.6
        assert " 0.6000 " in pane_text(app, "forward")
        same_state(app, replayed("article", 0, [("x", "x[1]", 0.6)]))
        await pilot.press("b")
        await pilot.pause()
        assert " 0.5300 " in pane_text(app, "forward") and " 0.6000 " not in pane_text(
            app, "forward"
        )


@sync
async def test_y_edit_from_the_palette_command_then_back() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Edit learning rate…", "Edit parameter…", "Edit data point y…", "Optimizer…"):
            assert title in titles
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Edit data point y…"
        )
        command.callback()
        await dialog(pilot)
        assert "now 1.2" in screen_text(app)
        await type_value(pilot, "2.5")
        await closed(pilot)
        assert " 2.5000 " in pane_text(app, "forward")
        same_state(app, replayed("article", 0, [("y", "y[0]", 2.5)]))
        await pilot.press("b")
        await pilot.pause()
        assert " 1.2000 " in pane_text(app, "forward")


@sync
async def test_optimizer_edit_then_back_and_the_update_shows_adams_pieces() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await app.run_action("edit('optimizer')")
        await type_value(pilot, "adam")
        await closed(pilot)
        assert app.stepper.optimizer.name == "adam"
        assert "adam α 0.01" in status(app)
        await pilot.press("n")  # the walk stands at update 1: its pieces above the chain
        await pilot.pause()
        reference = replayed("article", 0, [("optimizer", "optimizer", "adam")], 1)
        same_state(app, reference)
        chain = pane_text(app, "chain")
        assert "Update 1 of b1 · adam: 0.000000 → 0.010000" in chain
        terms = reference.update_terms(reference.network.param_index["b1"])
        assert [t.symbol for t in terms] == [
            "∂Loss/∂b1",
            "t",
            "m",
            "v",
            "m̂",
            "v̂",
            "step",
            "Δθ",
            "b1",
        ]
        for term in terms:
            shown = term_value(term.symbol, term.value)
            assert any(
                term.symbol in line
                and line.rstrip(" │▁▂▃▄▅▆▇█").endswith(shown)  # border, scrollbar
                for line in chain.split("\n")
            ), term
        await pilot.press("b", "b")
        await pilot.pause()
        assert app.stepper.optimizer.name == "sgd" and "adam" not in status(app)


# ------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "learning_rate must be a positive finite number, got 'abc'"),
        ("inf", "learning_rate must be a positive finite number, got inf"),
        ("nan", "learning_rate must be a positive finite number, got nan"),
        ("-1", "learning_rate must be a positive finite number, got −1"),
    ],
)
@sync
async def test_a_bad_learning_rate_is_refused_inline_and_nothing_changes(
    text: str, message: str
) -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("s", "E")
        await type_value(pilot, text)
        await dialog(pilot)  # open again, saying why
        shown = screen_text(app)
        assert f"✗ {message}" in shown, shown
        assert not app.stepper.events and app.stepper.learning_rate == 0.01
        await pilot.press("escape")
        await closed(pilot)
        assert "α 0.01 " in status(app)
        same_state(app, replayed("article", 1, []))


@sync
async def test_a_target_outside_0_1_on_a_bce_net_is_refused_inline() -> None:
    app = make_app(load_builtin("xor"), size=WIDE)
    async with app.run_test() as pilot:
        await app.run_action("edit('y')")
        await type_value(pilot, "2")
        await dialog(pilot)
        assert "✗ y[0] = 2 is outside [0, 1], which bce needs" in screen_text(app)
        assert "2" == app.screen.query_one("#edit-value").value  # the text as typed
        assert not app.stepper.events and app.stepper.y[0, 0] == 0.0


# ------------------------------------------------------------ running
@sync
async def test_an_edit_while_running_lands_between_steps() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("r")
        await wait_until(pilot, lambda: app.stepper.step >= 3)
        await pilot.press("E")
        await type_value(pilot, "0.05")
        await closed(pilot)
        assert app.running
        event = app.stepper.events[-1]
        await wait_until(pilot, lambda: app.stepper.step >= event.step + 5)
        await pilot.press("r")
        await pilot.pause()
        reference = replayed("article", event.step, [("learning_rate", "learning_rate", 0.05)])
        reference.run(app.stepper.step - event.step)
        same_state(app, reference)


# ------------------------------------------------------------ runs
@sync
async def test_a_fork_shows_two_curves_and_the_status_names_the_run() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press(*"sssss")
        await pilot.press("F")
        await dialog(pilot)
        assert "Fork at step 5" in screen_text(app)
        await type_value(pilot, "0.1")
        await closed(pilot)
        assert len(app.runs.runs) == 2
        await pilot.press(*"sssss")
        await pilot.pause()
        pane = app.query_one("#loss")
        lines = [key for key in pane.plotted if key.startswith("line ")]
        assert len(lines) == 2, pane.plotted.keys()
        current = app.runs.current
        assert f"run {current.name}" in status(app)
        other = next(r for r in app.runs.runs if r is not current)
        assert pane.plotted[f"line {current.name} ◂"] == list(current.stepper.loss_history)
        assert pane.plotted[f"line {other.name}"] == list(other.stepper.loss_history)
        assert current.name in pane_text(app, "loss") and other.name in pane_text(app, "loss")
        await pilot.press("right_curly_bracket")
        await pilot.pause()
        assert app.runs.current is other and f"run {other.name}" in status(app)


def shown_number(text: str) -> float:
    return float(text.replace("−", "-").replace("+", ""))


@sync
async def test_the_parameters_pane_diffs_this_run_against_the_other_at_the_same_step() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("s", "s", "F")
        await type_value(pilot, "0.1")
        await closed(pilot)
        fork, main = app.runs.runs[1].stepper, app.runs.runs[0].stepper
        assert app.stepper is fork
        await pilot.press("s", "s", "s")
        await wait_until(pilot, lambda: fork.step == 5 and main.step == 5)  # main follows
        await pilot.pause()
        pane = pane_text(app, "params")
        assert "θ − other" in pane and "∂ − other" in pane
        assert "other = main, at step 5 too" in pane
        # the differences against a fresh replay of each run, not the pane's own arithmetic
        ours = replayed("article", 2, [("learning_rate", "learning_rate", 0.1)], 3)
        theirs = Stepper(load_builtin("article").training())
        theirs.run(5)
        net = theirs.network
        for name in net.param_names:
            index = net.param_index[name]
            theta_vs, grad_vs = row_of(pane, name).strip("│ ").split()[-2:]
            expected_theta = ours.theta[index] - theirs.theta[index]
            expected_grad = ours.grad[index] - theirs.grad[index]
            assert shown_number(theta_vs) == pytest.approx(expected_theta, abs=6e-7), name
            assert shown_number(grad_vs) == pytest.approx(expected_grad, abs=6e-7), name
            assert theta_vs[0] in "+−"  # the fork's larger α moved every parameter further
        await pilot.press("b", "b", "b", "b")  # to step 2, then across the fork's α: same bits
        await wait_until(pilot, lambda: main.step == 2 and fork.learning_rate == 0.01)
        await pilot.pause()
        pane = pane_text(app, "params")
        assert row_of(pane, "w1").strip("│ ").split()[-2:] == ["0", "0"]


@sync
async def test_a_compared_run_that_diverged_stays_there_and_the_pane_says_where() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("F")
        await type_value(pilot, "5")  # α 5 diverges at step 105
        await closed(pilot)
        fork = app.runs.runs[1].stepper
        await pilot.press("left_curly_bracket")  # main steps; the fork follows
        await wait_until(pilot, lambda: app.runs.index == 0)
        await pilot.press("g", *"120", "enter")
        await wait_until(pilot, lambda: app.stepper.step == 120 and not app.running, 1500)
        await pilot.pause()
        assert fork.diverged == 105 and fork.step == 105
        pane = pane_text(app, "params")
        assert "other: α 0.01 → 5 stopped at step 105" in pane
        assert row_of(pane, "w1").strip("│ ").split()[-2:] == ["—", "—"]


@sync
async def test_a_fork_with_another_seed_from_the_palette_command() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("s", "s", "s")
        await app.run_action("fork('seed')")
        await dialog(pilot)
        assert "now 42" in screen_text(app)  # the scenario's seed
        await type_value(pilot, "abc")
        await wait_until(pilot, lambda: "✗" in screen_text(app))  # the dialog, again, saying why
        assert "seed must be a whole number from 0 to 4294967295, got 'abc'" in screen_text(app)
        assert len(app.runs.runs) == 1
        await pilot.press(*["backspace"] * 3, "7", "enter")
        await closed(pilot)
        assert [run.name for run in app.runs.runs] == ["main", "seed 7"]
        seeded = app.stepper
        assert seeded.step == 3 and "run seed 7" in status(app)
        training = load_builtin("article").training()
        reference = Stepper(replace(training, initial=training.network.random_init(7)))
        reference.run(3)
        same_state(app, reference)


@sync
async def test_each_run_has_its_own_watches_and_a_fork_starts_with_its_parents() -> None:
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        app._set_watches((AtStep(6),))  # as the watches screen answers
        await pilot.press("s", "F")
        await type_value(pilot, "0.02")
        await closed(pilot)
        fork, main = app.runs.runs[1], app.runs.runs[0]
        assert fork.watches == [AtStep(6)]  # inherited
        app._set_watches(())  # the fork runs without it
        assert main.watches == [AtStep(6)]
        await pilot.press("r")  # the fork runs past step 6
        await wait_until(pilot, lambda: fork.stepper.step >= 9)
        await pilot.press("r")
        assert fork.stepper.stop_reason is None
        await pilot.press("left_curly_bracket")  # main, which followed: reset, then run
        await wait_until(pilot, lambda: app.runs.current is main)
        await pilot.press("R", "r")
        await wait_until(pilot, lambda: main.stepper.stop_reason is not None)
        assert main.stepper.step == 6 and "reached step 6" in main.stepper.stop_reason


# ------------------------------------------------------------ save
@sync
async def test_ctrl_s_writes_a_scenario_that_reproduces_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("s", "s", "E")
        await type_value(pilot, "0.2")
        await closed(pilot)
        await pilot.press("s", "ctrl+s")
        await pilot.pause()
        saved = tmp_path / "bptui-saved-3.toml"
        await wait_until(pilot, saved.exists)
        assert [n.message for n in app._notifications][-1] == f"Saved step 3 as {saved}"
        tomllib.loads(saved.read_text(encoding="utf-8"))
        again = Stepper(load_file(saved).training())
        again.run(3)
        same_state(app, again)
