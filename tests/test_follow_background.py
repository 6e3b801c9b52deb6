"""``--train-with-yours`` with a slow file: backprop's run steps at once, yours catches up.

The compared run "your derivatives" descends the user's d_ functions, one call
into their sandbox per update; it follows backprop's step on a thread of its
own (bptui/tui/follow.py).  A key that moves backprop's run answers at once
however long the user's code takes; the parameters pane says the other run is
catching up (and shows no difference of a half-moved run); once there, the
differences are those of a fresh run of the same training.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from tui_support import status_line, wait_until, within

from bptui.debug.usergrads import load_user_grads, sandbox
from bptui.debug.usergrads.yours import RUN_NAME, runs_with_yours, training_with_yours
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui.app import BptuiApp, make_app
from bptui.tui.widgets.parameters import ParametersPane

#: How long the user's d_b3 sleeps on every call: far longer than a key may take.
SLEEP = 3.0
#: How long a step of backprop's run may take (it took SLEEP and more before); generous,
#: since a loaded machine slows the pilot itself.
INSTANT = 1.2
#: wait_until's tries (0.02 s each) for the follower: three calls in turn, with room.
CATCH_UP_TRIES = 2500

SLOW_B3 = """
import time

def d_b3(ctx):
    time.sleep({sleep})
    return sum(-2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"]))
"""


@pytest.fixture(autouse=True)
def _calls_may_take_longer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call may take 12 s here (2 s in bptui), so SLEEP can dwarf a loaded machine's lag."""
    monkeypatch.setattr(sandbox, "CALL_SECONDS", 12.0)


def train_app(write_file) -> BptuiApp:  # type: ignore[no-untyped-def]
    """The app as ``bptui --grads slow.py --train-with-yours`` makes it: backprop's run current."""
    path = write_file("slow_grads.py", SLOW_B3.format(sleep=SLEEP))
    scenario = load_builtin("article")
    training = scenario.training()
    yours = training_with_yours(training, load_user_grads(path, training.network))
    runs = runs_with_yours(training, yours)
    assert runs.current.name == "backprop"
    return make_app(scenario, runs=runs, size=(140, 45))


def subtitle(app: BptuiApp) -> str:
    return str(app.query_one(ParametersPane).border_subtitle)


@within(90)
async def test_backprops_run_steps_at_once_while_yours_catches_up(write_file) -> None:
    app = train_app(write_file)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.view is not None)
        yours = app.runs.runs[1].stepper
        for step in (1, 2, 3):
            start = time.monotonic()
            await pilot.press("s")
            await wait_until(pilot, lambda k=step: f"Step {k} " in status_line(app) + " ")
            assert time.monotonic() - start < INSTANT  # not SLEEP: the keys never wait for it
        assert app.follower.moving(yours)
        await wait_until(pilot, lambda: "catching up" in subtitle(app))
        assert app.view is not None and app.view.compare is not None
        assert app.view.compare.theta is None  # no difference of a run half-way
        # one update at a time, each shown: the pane counts up as it goes
        await wait_until(
            pilot, lambda: "catching up (step 2)" in subtitle(app), tries=CATCH_UP_TRIES
        )

        await wait_until(pilot, lambda: not app.follower.moving(yours), tries=CATCH_UP_TRIES)
        await wait_until(pilot, lambda: subtitle(app) == f"other = {RUN_NAME}, at step 3 too")
        assert yours.step == 3
        fresh = Stepper(yours.training)
        fresh.run(3)
        np.testing.assert_array_equal(yours.theta, fresh.theta)  # where a run of its own gets
        compare = app.view.compare
        assert compare is not None and compare.theta is not None
        np.testing.assert_array_equal(compare.theta, fresh.theta)


@within(60)
async def test_a_run_still_catching_up_is_not_taken_over_by_the_keys(write_file) -> None:
    app = train_app(write_file)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.view is not None)
        yours = app.runs.runs[1].stepper
        await pilot.press("s")
        await wait_until(pilot, lambda: app.follower.moving(yours))
        await pilot.press("right_curly_bracket")  # the next run: yours, still moving
        await pilot.pause()
        assert app.runs.current.name == "backprop"
        assert any("still catching up" in str(n.message) for n in app._notifications)
        await wait_until(pilot, lambda: not app.follower.moving(yours), tries=CATCH_UP_TRIES)
        await pilot.press("right_curly_bracket")
        await wait_until(pilot, lambda: app.runs.current.name == RUN_NAME)
        assert app.stepper is yours and yours.step == 1


def test_a_grads_app_keeps_one_worker_unless_a_run_calls_the_loaders(write_file) -> None:
    """The judge has its own worker; the loader's stays only for a run whose updates use it."""
    path = write_file("grads.py", SLOW_B3.format(sleep=0))
    scenario = load_builtin("article")
    user = load_user_grads(path, scenario.network().param_names)
    assert user.sandbox.running
    app = make_app(scenario, user_grads=user, size=(140, 45))
    try:
        assert app.debug_state.judge is not None
        assert not user.sandbox.running  # --grads alone: the judge's worker is the one
    finally:
        app.debug_state.close()

    training = scenario.training()
    mine = load_user_grads(path, training.network)
    runs = runs_with_yours(training, training_with_yours(training, mine))
    app = make_app(scenario, user_grads=mine, runs=runs, size=(140, 45))
    try:
        assert mine.sandbox.running  # --train-with-yours: "your derivatives" calls it
    finally:
        app.debug_state.close()
        mine.sandbox.close()


@within(90)
async def test_with_your_derivatives_columns_shown_the_pane_still_says_catching_up(
    write_file,
) -> None:
    """``--grads F --train-with-yours`` shows the yours/numeric columns; the subtitle says
    that the other run is catching up all the same, then returns to the columns' own."""
    path = write_file("slow_grads.py", SLOW_B3.format(sleep=SLEEP))
    scenario = load_builtin("article")
    training = scenario.training()
    mine = load_user_grads(path, training.network)
    runs = runs_with_yours(training, training_with_yours(training, mine))
    app = make_app(scenario, user_grads=mine, runs=runs, size=(140, 45))
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: app.view is not None)
        yours = app.runs.runs[1].stepper
        await pilot.press("s")
        await wait_until(pilot, lambda: f"other: {RUN_NAME} catching up" in subtitle(app))
        await wait_until(pilot, lambda: not app.follower.moving(yours), tries=CATCH_UP_TRIES)
        await wait_until(pilot, lambda: "catching up" not in subtitle(app))
        assert yours.step == 1


def test_two_runs_sharing_your_file_step_on_two_threads_without_mixing_answers(
    write_file,
) -> None:
    """A fork of your run shares its file (and worker): the follower moving one while the
    app steps the other must not interleave their calls (before: unpickling errors)."""
    from dataclasses import replace

    from bptui.tui.follow import Follower

    path = write_file("quick.py", SLOW_B3.format(sleep=0.02))
    training = load_builtin("article").training()
    yours = training_with_yours(training, load_user_grads(path, training.network))
    halved = replace(yours, learning_rate=yours.learning_rate / 2)  # a fork with another α
    moved, stepped = Stepper(yours), Stepper(halved)
    follower = Follower()
    follower.want(moved, 15)
    for _ in range(15):
        stepped.step_once()
    deadline = time.monotonic() + 60
    while follower.moving(moved) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert follower.error is None and moved.halted is None and stepped.halted is None
    assert moved.step == stepped.step == 15
    fresh = training_with_yours(training, load_user_grads(path, training.network))
    for run, train in (
        (moved, fresh),
        (stepped, replace(fresh, learning_rate=halved.learning_rate)),
    ):
        alone = Stepper(train)
        alone.run(15)
        np.testing.assert_array_equal(run.theta, alone.theta)


def test_quitting_ends_your_files_worker_at_once_even_mid_call(write_file) -> None:
    """The app's end kills the worker of a run's file: a call under way does not hold it up."""
    import threading

    path = write_file("slow_grads.py", SLOW_B3.format(sleep=SLEEP))
    training = load_builtin("article").training()
    hook = training_with_yours(training, load_user_grads(path, training.network)).gradient
    stepper = Stepper(training)
    record = stepper.record()
    call = threading.Thread(
        target=lambda: _quietly(hook, record.theta, stepper.x, stepper.y, 0, record.grad)
    )
    call.start()
    time.sleep(0.5)  # the call is in the user's sleep now
    start = time.monotonic()
    hook.close(now=True)
    call.join(SLEEP)
    # Asking a busy worker to stop waits STOP_SECONDS (1 s) before ending it: not that.
    assert not call.is_alive() and time.monotonic() - start < 0.7
    assert not hook.user_grads.sandbox.running


def _quietly(hook, *args) -> None:  # type: ignore[no-untyped-def]
    """Call the hook; its worker ended under it, it may say so, as a halted run would."""
    from bptui.engine.stepper import GradientUnavailable

    try:
        hook(*args)
    except GradientUnavailable:
        pass
