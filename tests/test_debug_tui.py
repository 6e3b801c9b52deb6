"""The debugging features in the TUI: --grads, gradient check (c), watches (w), errata.

Pilot tests assert what the screen shows against numbers computed separately
(the engine's gradient check, a watch-free stepper, the article); three snapshots
fix the look of the comparison view, the gradient check and a fired watch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Button, Input, Select, TabbedContent
from tui_support import chain_text, screen_text, sync, wait_until

from bptui import cli
from bptui.debug.gradcheck import gradient_check, kink_parameters
from bptui.debug.usergrads import load_user_grads
from bptui.engine.network import Architecture, Network
from bptui.engine.stepper import Stepper
from bptui.engine.watches import AtStep, LossRises, NonFinite
from bptui.scenario.loading import load_builtin, load_file
from bptui.tui.app import SPEEDS, BptuiApp, make_app
from bptui.tui.format import fmt_value
from bptui.tui.screens.gradcheck import GradCheckScreen
from bptui.tui.screens.watches import WatchesScreen
from bptui.tui.widgets.parameters import parameter_cells

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "article_grads.py"
MISTAKE = ROOT / "examples" / "article_mistake.py"
WATCHES = ROOT / "examples" / "watches.toml"
WIDE = (140, 45)
NAMES = ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]


def article_app(grads: Path | None = None, scenario=None) -> BptuiApp:  # type: ignore[no-untyped-def]
    scenario = scenario or load_builtin("article")
    user = None if grads is None else load_user_grads(grads, scenario.network().param_names)
    return make_app(scenario, user_grads=user, size=WIDE)


async def run_flat_out(app: BptuiApp, pilot) -> None:  # type: ignore[no-untyped-def]
    app.speed_index = SPEEDS.index(0)
    await pilot.press("r")
    await wait_until(pilot, lambda: not app.running)


# ------------------------------------------------------------- --grads
@sync
async def test_article_mistake_is_flagged_on_b3_in_the_tui() -> None:
    app = article_app(MISTAKE)
    async with app.run_test() as pilot:
        await pilot.pause()
        view = app.view
        assert view is not None
        assert app.selected_param == "b3"  # opens on the derivative that disagrees
        (message,) = [n.message for n in app._notifications]
        assert message.startswith("d_b3 = −6.133578 but backprop says −1.765813.")
        b3 = parameter_cells(view, "b3")
        assert b3["yours"].plain == f"{fmt_value(-6.1335775860571)} ✗"
        assert b3["numeric"].plain == fmt_value(-1.7658128184105948)
        assert parameter_cells(view, "w1")["yours"].plain == "—"
        app.selected_param = "b3"
        app.refresh_view()
        text = chain_text(app)
        assert "yours (d_b3) = −6.133578  ✗ wrong (rel error 7.12e−01)" in text
        assert "backprop = −1.765813   numeric = −1.765813" in text
        assert "✗ the factor: ∂Loss/∂green" in text
        assert "∂Loss/∂green = −2·SSR = −6.1335776" in text
        assert "implied −6.133578  ·  correct −1.765813" in text
        screen = screen_text(app)
        assert "−6.133578 ✗" in screen
        assert "the factor: ∂Loss/∂green" in screen


@sync
async def test_correct_file_is_accepted_in_the_tui_step_after_step() -> None:
    app = article_app(CORRECT)
    reference = Stepper(load_builtin("article").training())
    async with app.run_test() as pilot:
        for _ in range(3):
            await pilot.press("s")
            reference.step_once()
        view = app.view
        assert view is not None and view.step == 3
        grads = reference.record().grads
        for name in NAMES:
            yours = parameter_cells(view, name)["yours"].plain
            assert yours == f"{fmt_value(grads[name])} ✓", (name, yours)
        app.selected_param = "w1"
        app.refresh_view()
        assert "✓ agrees" in chain_text(app)
        assert "✗" not in chain_text(app)


@sync
async def test_user_values_are_pending_during_a_phase_walk() -> None:
    app = article_app(MISTAKE)
    async with app.run_test() as pilot:
        await pilot.press("n", "n")  # update, forward layer 1: no gradients yet
        assert app.view is not None
        assert parameter_cells(app.view, "b3")["yours"].plain == "·····"
        app.selected_param = "b3"
        app.refresh_view()
        assert "yours (d_b3)" not in chain_text(app)


@sync
async def test_raising_derivative_is_a_message_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "boom.py"
    path.write_text("def d_b3(ctx):\n    return ctx.nodes['purple']\n", encoding="utf-8")
    app = article_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.view is not None
        assert parameter_cells(app.view, "b3")["yours"].plain == "error ✗"
        messages = [n.message for n in app._notifications]
        assert messages == ["d_b3 (boom.py:2) raised KeyError: 'purple'"]
        await pilot.press("s")  # the same error is not repeated every step
        assert len(app._notifications) == 1
        assert app.stepper.step == 1


@sync
async def test_user_values_are_skipped_once_training_diverged() -> None:
    app = article_app(CORRECT, scenario=load_builtin("diverge"))
    async with app.run_test() as pilot:
        await run_flat_out(app, pilot)
        assert app.stepper.diverged == 220
        view = app.view
        assert view is not None
        assert parameter_cells(view, "b3")["yours"].plain == "—"
        assert parameter_cells(view, "b3")["numeric"].plain == "nan"
        app.selected_param = "b3"
        app.refresh_view()
        assert "yours (d_b3): not evaluated: the loss or a gradient is not finite" in chain_text(
            app
        )
        await pilot.press("b")
        assert parameter_cells(app.view, "b3")["yours"].plain.endswith("✓")


def test_cli_passes_user_grads_to_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[BptuiApp] = []
    monkeypatch.setattr(BptuiApp, "run", lambda self, *a, **k: started.append(self))
    assert cli.main(["--grads", str(MISTAKE)]) == 0
    (app,) = started
    results = app.debug_state.results()
    assert list(results) == ["b3"] and not results["b3"].agrees
    assert results["b3"].diagnosis.factor == "∂Loss/∂green"


def test_cli_tui_with_a_broken_file_is_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.py"
    path.write_text("def d_b3(ctx, y):\n    return 0\n", encoding="utf-8")
    assert cli.main(["--grads", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"bptui: error: {path}: d_b3(ctx, y) must take exactly one argument, ctx\n"


# ----------------------------------------------------- gradient check (c)
@sync
async def test_c_shows_backprop_numeric_and_yours() -> None:
    app = article_app(MISTAKE)
    async with app.run_test() as pilot:
        await pilot.press("s", "s")
        await pilot.press("c")
        assert isinstance(app.screen, GradCheckScreen)
        record = Stepper(load_builtin("article").training())
        record.run(2)
        rec = record.record()
        rows = gradient_check(rec.network, rec.theta, rec.x, rec.y, rec.grad)
        text = screen_text(app)
        assert "Gradient check · step 2" in text
        for row in rows:
            line = next(x for x in text.split("\n") if f" {row.name}  " in x and "good" in x)
            assert fmt_value(row.analytic) in line and fmt_value(row.numeric) in line
            assert f"{row.rel_error:.1e}".replace("-", "−") in line
        b3_line = next(x for x in text.split("\n") if " b3 " in x and "good" in x)
        assert "✗" in b3_line
        assert "✓ backprop agrees with central differences on every parameter" in text
        assert "✗ d_b3: yours" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, GradCheckScreen)


@sync
async def test_c_warns_when_a_relu_input_sits_at_its_kink(tmp_path: Path) -> None:
    # Point 1's z of h1.1 is exactly 0: w1·x + b1 = 0·1 + 0.
    path = tmp_path / "relu.toml"
    path.write_text(
        "[network]\nlayers = [1, 1, 1]\nactivation = 'relu'\n"
        "[data]\nx = [1.0, 2.0]\ny = [1.0, 3.0]\n"
        "[[init.layers]]\nW = [[0.0]]\nb = [0.0]\n"
        "[[init.layers]]\nW = [[1.0]]\nb = [0.5]\n",
        encoding="utf-8",
    )
    app = make_app(load_file(path), size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press("c")
        text = screen_text(app)
        assert "⚠ near a kink: w1, b1" in text
        assert "w2 ⚠" not in text


def test_kink_parameters_follow_the_nudge() -> None:
    """Near a kink = some relu input z lies within what a ±h nudge moves it."""
    x = np.array([[1.0], [2.0]])
    relu = Network(Architecture((1, 1, 1), "relu"))

    def one_hidden(b1: float) -> np.ndarray:
        return relu.pack([(np.array([[1.0]]), np.array([b1])), (np.array([[1.0]]), np.zeros(1))])

    # z = x − 1 + δ at the first point; h = 1e-6 moves it by 1e-6 (w1: ·x = 1, b1: 1).
    assert kink_parameters(relu, one_hidden(-1.0 + 5e-7), x) == {"w1", "b1"}
    assert kink_parameters(relu, one_hidden(-1.0 + 5e-6), x) == set()
    # Two hidden layers: z2 = 2·a1 − 3 = 0 at x = 1; layer-1 parameters reach it
    # through a1, the output layer's do not.
    deep = Network(Architecture((1, 1, 1, 1), "leaky_relu"))
    theta = deep.pack(
        [
            (np.array([[1.0]]), np.array([0.5])),
            (np.array([[2.0]]), np.array([-3.0])),
            (np.array([[1.0]]), np.zeros(1)),
        ]
    )
    assert kink_parameters(deep, theta, x) == {"w1", "b1", "w2", "b2"}
    assert kink_parameters(Network(Architecture((1, 1, 1, 1), "tanh")), theta, x) == set()


# ---------------------------------------------------------- watches (w)
@sync
async def test_w_adds_a_watch_and_the_run_stops_on_its_step() -> None:
    app = article_app()
    async with app.run_test() as pilot:
        await pilot.press("w")
        screen = app.screen
        assert isinstance(screen, WatchesScreen)
        assert "no watches" in screen_text(app)
        screen.query_one("#watch-kind", Select).value = "at_step"
        await pilot.pause()
        screen.query_one("#watch-amount", Input).value = "7"
        await pilot.click("#watch-add")
        await pilot.pause()
        assert screen.watches == [AtStep(7)] and app.watches == []  # answered on close
        assert "at step 7" in screen_text(app)
        await pilot.press("escape")
        assert app.watches == [AtStep(7)]
        await run_flat_out(app, pilot)
        assert app.stepper.step == 7
        text = screen_text(app)
        assert "Step 7" in text
        assert "Paused by a watch at step 7: watch at step 7: reached step 7" in text


@sync
async def test_w_form_reports_bad_values_and_removes_watches() -> None:
    app = article_app()
    async with app.run_test() as pilot:
        await pilot.press("w")
        screen = app.screen
        screen.query_one("#watch-kind", Select).value = "param_crosses"
        await pilot.pause()
        screen.query_one("#watch-amount", Input).value = "0.5"
        screen.query_one("#watch-param", Input).value = "w9"
        await pilot.click("#watch-add")
        await pilot.pause()
        text = screen_text(app)
        assert "✗ param_crosses.param: no parameter named 'w9'" in text
        assert screen.watches == []
        screen.query_one("#watch-param", Input).value = "w2"
        screen.query_one(Button.__name__ and "#watch-add", Button).press()
        await pilot.pause()
        assert [w.to_dict() for w in screen.watches] == [
            {"kind": "param_crosses", "param": "w2", "value": 0.5}
        ]
        await pilot.click("#watch-remove")
        await pilot.pause()
        assert screen.watches == []
        await pilot.press("escape")
        assert app.watches == []


@sync
async def test_scenario_watches_stop_the_run_where_a_plain_run_says() -> None:
    scenario = load_file(WATCHES)
    # Independently: the first step at which w2 is no longer negative.
    plain = Stepper(scenario.training())
    k = plain.network.param_index["w2"]
    while plain.theta[k] < 0:
        plain.step_once()
    app = make_app(scenario, size=WIDE)
    async with app.run_test() as pilot:
        assert len(app.watches) == 5
        await run_flat_out(app, pilot)
        assert app.stepper.step == plain.step == 342
        text = screen_text(app)
        assert "Step 342" in text
        assert "Paused by a watch at step 342: watch w2 crosses 0: w2 went" in text
        np.testing.assert_array_equal(app.stepper.theta, plain.theta)


@sync
async def test_nonfinite_watch_names_the_divergence() -> None:
    scenario = load_builtin("diverge")
    app = make_app(scenario, size=WIDE)
    async with app.run_test() as pilot:
        app.watches.append(NonFinite())
        await run_flat_out(app, pilot)
        assert app.stepper.diverged == app.stepper.step == 220
        assert app.stepper.stop_reason == "watch non-finite value: the loss is inf on step 220"
        assert "Diverged at step 220" in screen_text(app)


@sync
async def test_watches_do_not_fire_on_a_quiet_run() -> None:
    scenario = dataclasses.replace(load_file(WATCHES), watches=[LossRises()])
    app = make_app(scenario, size=WIDE)
    async with app.run_test() as pilot:
        app.goto(400)
        await wait_until(pilot, lambda: not app.running)
        assert app.stepper.step == 400 and app.stepper.stop_reason is None
        assert "Paused by a watch" not in screen_text(app)


# ---------------------------------------------------------------- errata
@sync
async def test_help_has_the_errata_page_with_the_numbers() -> None:
    app = article_app()
    async with app.run_test(size=(140, 60)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        app.screen.query_one(TabbedContent).active = "help-errata"
        await pilot.pause()
        text = screen_text(app)
        assert "Article errata" in text
        for expected in [
            "orange computed with w1, b1",
            "[1.5592, 1.8091, 1.9914]",
            "−6.1335776",
            "−1.7658128",
            "2.8582 → 2.8841 RISES",
            "3.0667888 → 3.0365433 falls",
        ]:
            assert expected in text, expected


# ------------------------------------------------------------- snapshots
# Compact layout (one pane: the chain, key 4) so other panes' changes do not
# churn these snapshots; the pilot tests above cover the wide layout.
COMPACT = (100, 30)


def test_snapshot_comparison_view(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = article_app(MISTAKE)

    async def select_b3(pilot) -> None:  # type: ignore[no-untyped-def]
        app.query_one("#params").move_cursor(row=6)
        await pilot.press("4")

    assert snap_compare(app, terminal_size=COMPACT, run_before=select_b3)


def test_snapshot_gradient_check(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(article_app(MISTAKE), press=["4", "c"], terminal_size=COMPACT)


def test_snapshot_fired_watch(snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make_app(load_file(WATCHES))

    async def run_to_the_watch(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("4")
        await run_flat_out(app, pilot)

    assert snap_compare(app, terminal_size=COMPACT, run_before=run_to_the_watch)


@sync
async def test_endless_derivative_is_a_message_and_is_not_called_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bptui.debug.usergrads import sandbox

    monkeypatch.setattr(sandbox, "CALL_SECONDS", 0.2)
    calls = tmp_path / "calls.txt"
    path = tmp_path / "loop.py"
    path.write_text(
        f"def d_b3(ctx):\n    open({str(calls)!r}, 'a').write('x')\n    while True: pass\n",
        encoding="utf-8",
    )
    app = article_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages == ["d_b3 (loop.py:3) did not return within 0.2 s (an endless loop?)"]
        await pilot.press("s")  # evaluated again at step 1: answered, not re-run
        assert "Step 1" in screen_text(app).split("\n")[0]
        assert parameter_cells(app.view, "b3")["yours"].plain == "error ✗"
        assert calls.read_text() == "x"  # called once, at launch


RUNAWAYS_IN_THE_TUI = [
    (
        "def d_b3(ctx):\n    while True:\n        try:\n            while True: pass\n"
        "        except BaseException:\n            pass\n",
        "d_b3 (runaway.py:4) did not return within 0.5 s (an endless loop?)",
    ),
    ("import os\ndef d_b3(ctx):\n    os._exit(0)\n", "d_b3 exited with status 0"),
]


@pytest.mark.parametrize(("text", "expected"), RUNAWAYS_IN_THE_TUI)
@sync
async def test_runaway_derivative_leaves_the_tui_working(
    text: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop that swallows every exception, or os._exit, is one message; the app goes on."""
    from bptui.debug.usergrads import sandbox

    monkeypatch.setattr(sandbox, "CALL_SECONDS", 0.5)
    path = tmp_path / "runaway.py"
    correct = "def d_w3(ctx):\n    return sum(-2 * (y - g) * b for y, g, b in zip(ctx.y, ctx.yhat, ctx['blue']))\n"
    path.write_text(text + correct, encoding="utf-8")
    app = article_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert [n.message for n in app._notifications] == [expected]
        for _ in range(3):
            await pilot.press("s")
        await pilot.pause()
        assert "Step 3" in screen_text(app).split("\n")[0]
        assert parameter_cells(app.view, "b3")["yours"].plain == "error ✗"
        assert parameter_cells(app.view, "w3")["yours"].plain.endswith("✓")
        assert len(app._notifications) == 1
