"""``bptui --impl FILE --train-with-yours``: two runs in the app, their losses overlaid,
the update phase naming the user's tensor, and a backward that cannot be descended
stopping its own run with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bptui.debug.impl.train import RUN_NAME, runs_with_your_backward, training_with_your_backward
from bptui.debug.session import ImplSession
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui.widgets.status import Banner
from bptui.tui.widgets.update import term_value
from tests.test_impl_train import FORMULAS, descended, sigmoid
from tests.tui_support import pane_text, sync, wait_until

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SIZE = (140, 45)


def _app(path: Path):  # type: ignore[no-untyped-def]
    """The app as ``bptui xor --impl FILE --train-with-yours`` makes it, on the user's run."""
    from bptui.tui.app import make_app

    scenario = load_builtin("xor")
    training = scenario.training()
    runs = runs_with_your_backward(training, training_with_your_backward(training, str(path)))
    runs.select(1)
    impl = ImplSession.open(str(path), Stepper(training))
    return make_app(scenario, runs=runs, impl=impl, size=SIZE), runs


def _bce(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """The xor net's mean binary cross-entropy at θ, in plain numpy."""
    W1, W2 = theta[0:4].reshape(2, 2), theta[4:6].reshape(1, 2)
    a = sigmoid(sigmoid(x @ W1.T + theta[6:8]) @ W2.T + theta[8:9])
    return float(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))


@sync
async def test_two_runs_overlaid_and_the_update_names_your_tensor() -> None:
    app, runs = _app(EXAMPLES / "impl_sign.py")
    training = load_builtin("xor").training()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.view is not None)
        assert [run.name for run in runs.runs] == ["backprop", RUN_NAME]
        for _ in range(5):
            await pilot.press("s")
        await wait_until(pilot, lambda: app.stepper.step == 5)
        await wait_until(
            pilot,
            lambda: "backprop" in pane_text(app, "loss") and RUN_NAME in pane_text(app, "loss"),
        )
        await wait_until(pilot, lambda: len(app.view.curves[1].losses) == 6)
        curves = app.view.curves
        assert [(c.label, c.current) for c in curves] == [("backprop", False), (RUN_NAME, True)]
        mine = [
            _bce(descended(FORMULAS["impl_sign.py"], training, k), training.x, training.y)
            for k in range(6)
        ]
        np.testing.assert_allclose(curves[1].losses, mine, rtol=1e-12, atol=0)
        true = Stepper(training)
        true.run(len(curves[0].losses) - 1)
        np.testing.assert_array_equal(curves[0].losses, true.loss_history)
        assert curves[0].losses[0] == curves[1].losses[0]  # the same start, then apart
        # backprop's run follows to step 5, and there the two are far apart
        assert len(curves[0].losses) == 6 and mine[5] - curves[0].losses[5] > 4

        # The chain pane opens on the first wrong layer's weight w5 = W2[0, 0].
        assert app.selected_param == "w5"
        await pilot.press("n")  # the walk stands at update 6, the one from θ5
        await wait_until(pilot, lambda: "Update 6 of w5" in pane_text(app, "chain"))
        before = descended(FORMULAS["impl_sign.py"], training, 5)
        dW2 = FORMULAS["impl_sign.py"](
            before[0:4].reshape(2, 2),
            before[6:8],
            before[4:6].reshape(1, 2),
            before[8:9],
            training.x,
            training.y,
        )[2]
        shown = term_value("your dW2[0, 0]", float(dW2[0, 0]))
        chain = pane_text(app, "chain")
        assert any(
            "your dW2[0, 0]" in line and line.rstrip(" │▁▂▃▄▅▆▇█").endswith(shown)
            for line in chain.split("\n")
        ), chain
        assert "∂Loss/∂w5 =" not in chain.split("your implementation")[0]  # not named as backprop's


@sync
async def test_a_backward_that_cannot_be_descended_stops_its_run_with_one_line() -> None:
    path = EXAMPLES / "impl_transpose.py"
    app, runs = _app(path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.view is not None)
        await pilot.press("s")
        banner = app.query_one(Banner)
        expected = (
            f"⚠ Stopped at step 0: {path}: backward's dW2 has shape (1, 2); W2's is (2, 1) "
            "(samples as rows). Press b to step back, R to reset."
        )
        await wait_until(pilot, lambda: str(banner.render()) == expected)
        assert app.stepper.step == 0 and runs.current.name == RUN_NAME
        assert runs.runs[0].stepper.halted is None  # backprop's run is not stopped


def test_the_command_line_opens_the_app_with_both_runs_and_the_check(monkeypatch, run_cli) -> None:  # type: ignore[no-untyped-def]
    """``bptui xor --impl FILE --train-with-yours`` hands the app the two runs and the check."""
    import bptui.tui.app as app_module

    opened = {}

    class Opened:
        return_code = 0

        def run(self) -> None:
            pass

    def make_app(scenario, **kwargs):  # type: ignore[no-untyped-def]
        opened.update(kwargs, scenario=scenario.name)
        return Opened()

    monkeypatch.setattr(app_module, "make_app", make_app)
    path = EXAMPLES / "impl_missing_mean.py"
    result = run_cli("xor", "--impl", path, "--train-with-yours")
    try:
        assert result.code == 0, result.err
        runs, impl = opened["runs"], opened["impl"]
        assert opened["scenario"] == "xor" and opened["user_grads"] is None
        assert [run.name for run in runs.runs] == ["backprop", RUN_NAME]
        assert runs.runs[1].stepper.training.gradient.path == str(path)
        assert impl.latest.first_wrong.name.key == "dZ2"  # the check runs beside it
    finally:
        impl.close()
        runs.runs[1].stepper.training.gradient.close()
