"""``bptui --grads FILE --train-with-yours``: two runs in the app, and a failing derivative stops its own."""

from __future__ import annotations

from pathlib import Path

from bptui.debug.usergrads import load_user_grads
from bptui.debug.usergrads.yours import RUN_NAME, runs_with_yours, training_with_yours
from bptui.scenario.loading import load_builtin
from bptui.tui.widgets.status import Banner
from tests.cli_support import assert_one_line_error
from tests.tui_support import pane_text, sync, wait_until

MISTAKE = Path(__file__).resolve().parent.parent / "examples" / "article_mistake.py"


@sync
async def test_both_runs_are_named_in_the_loss_pane() -> None:
    from bptui.tui.app import make_app

    scenario = load_builtin("article")
    training = scenario.training()
    runs = runs_with_yours(
        training, training_with_yours(training, load_user_grads(MISTAKE, training.network))
    )
    assert [run.name for run in runs.runs] == ["backprop", RUN_NAME]
    app = make_app(scenario, runs=runs, size=(140, 45))
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(pilot, lambda: app.view is not None)
        await wait_until(
            pilot,
            lambda: "backprop" in pane_text(app, "loss") and RUN_NAME in pane_text(app, "loss"),
        )


def test_the_app_with_train_with_yours_needs_grads(run_cli) -> None:
    result = run_cli("--train-with-yours")
    assert_one_line_error(result, "--train-with-yours needs --grads FILE")


FAILS_AT_3 = """
def d_b3(ctx):
    if ctx.step == 3:
        raise RuntimeError("boom at step three")
    return sum(-2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"]))
"""


@sync
async def test_a_failing_derivative_stops_its_run_with_one_line_and_the_app_goes_on(
    tmp_path: Path,
) -> None:
    from bptui.tui.app import make_app

    path = tmp_path / "fails.py"
    path.write_text(FAILS_AT_3)
    scenario = load_builtin("article")
    training = scenario.training()
    runs = runs_with_yours(
        training, training_with_yours(training, load_user_grads(path, training.network))
    )
    runs.select(1)
    app = make_app(scenario, runs=runs, size=(140, 45))
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(pilot, lambda: app.view is not None)
        for _ in range(4):
            await pilot.press("s")
        banner = app.query_one(Banner)
        expected = (
            "⚠ Stopped at step 3: your d_b3 (fails.py:4) raised RuntimeError: boom at step "
            "three. Press b to step back, R to reset."
        )
        await wait_until(pilot, lambda: str(banner.render()) == expected)
        assert app.stepper.step == 3 and runs.current.name == RUN_NAME
        await pilot.press("b")
        await wait_until(pilot, lambda: app.stepper.step == 2 and not banner.has_class("-visible"))
        await pilot.press("s")
        await wait_until(pilot, lambda: app.stepper.step == 3)
        assert app.stepper.halted is None  # step 3 reached again; its update not yet asked
