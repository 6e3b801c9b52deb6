"""``bptui --grads FILE`` with slow ``d_`` functions: the keys stay instant.

The user's derivatives are judged on a thread of their own (bptui.debug.grads_live):
a step, a step back and q answer at once however long the user's code takes;
the parameters pane and the chain pane say "checking" until the answer for the
state on screen arrives, and an answer for a state already left is never shown.
"""

from __future__ import annotations

import time

import pytest
from tui_support import chain_text, status_line, wait_until, within

from bptui.debug.usergrads import load_user_grads, sandbox
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui.app import SPEEDS, BptuiApp, make_app
from bptui.tui.format import fmt_value
from bptui.tui.state import PENDING
from bptui.tui.widgets.parameters import parameter_cells

#: How long the user's d_b3 sleeps on every call: far longer than a key may take.
SLEEP = 4.0
#: How long a step, a step back or a quit may take (they took SLEEP and more before);
#: generous, since a loaded machine slows the pilot itself (2.2 s seen for a pause).
INSTANT = 1.2
#: wait_until's tries (0.02 s each) for a verdict: two judgements in turn, with room.
VERDICT_TRIES = 1500


@pytest.fixture(autouse=True)
def _calls_may_take_longer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call may take 12 s here (2 s in bptui), so SLEEP can dwarf a loaded machine's lag."""
    monkeypatch.setattr(sandbox, "CALL_SECONDS", 12.0)


SLOW_B3 = """
import time

def d_b3(ctx):
    time.sleep({sleep})
    return sum(-2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"]))
"""


def slow_app(write_file, sleep: float = SLEEP) -> BptuiApp:  # type: ignore[no-untyped-def]
    path = write_file("slow_grads.py", SLOW_B3.format(sleep=sleep))
    scenario = load_builtin("article")
    user = load_user_grads(path, scenario.network().param_names)
    return make_app(scenario, user_grads=user, size=(140, 45))


def backprop_b3(steps: int) -> float:
    """∂Loss/∂b3 after ``steps`` steps, from a stepper of its own."""
    stepper = Stepper(load_builtin("article").training())
    for _ in range(steps):
        stepper.step_once()
    return float(stepper.record().grads["b3"])


def verdict_line(steps: int) -> str:
    """The chain pane's verdict line once b3 is judged at that step (it agrees)."""
    return f"yours (d_b3) = {fmt_value(backprop_b3(steps))}  ✓ agrees"


def yours_cell(app: BptuiApp) -> str:
    assert app.view is not None
    return parameter_cells(app.view, "b3")["yours"].plain


def checking(app: BptuiApp) -> bool:
    """Both panes say the judgement of this state is on its way."""
    assert app.view is not None
    numeric = parameter_cells(app.view, "b3")["numeric"].plain
    return (
        "yours (d_b3): checking…" in chain_text(app)
        and yours_cell(app) == PENDING
        and numeric == PENDING
    )


async def timed_key(app: BptuiApp, pilot, key: str, step: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds from pressing ``key`` until the status line shows ``step``."""
    start = time.monotonic()
    await pilot.press(key)
    await wait_until(pilot, lambda: f"Step {step} " in status_line(app) + " ")
    return time.monotonic() - start


@within(60)
async def test_steps_are_instant_and_the_verdict_comes_later_for_its_step(write_file) -> None:
    app = slow_app(write_file)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.selected_param == "b3"
        assert verdict_line(0) in chain_text(app)  # the launch waits for step 0's verdict
        assert yours_cell(app) == f"{fmt_value(backprop_b3(0))} ✓"
        assert await timed_key(app, pilot, "s", 1) < INSTANT
        assert checking(app)
        assert await timed_key(app, pilot, "b", 0) < INSTANT
        assert verdict_line(0) in chain_text(app)  # kept: step 0 was judged
        assert await timed_key(app, pilot, "s", 1) < INSTANT
        await wait_until(pilot, lambda: verdict_line(1) in chain_text(app), VERDICT_TRIES)
        assert yours_cell(app) == f"{fmt_value(backprop_b3(1))} ✓"
        assert backprop_b3(1) != backprop_b3(0)
        judge = app.debug_state.judge
        assert judge is not None
        await wait_until(pilot, lambda: not judge.busy, VERDICT_TRIES)
        assert judge.judgements == 2  # steps 0 and 1, each once, however often asked for


@within(60)
async def test_an_answer_for_a_state_left_behind_is_not_shown(write_file) -> None:
    app = slow_app(write_file)
    async with app.run_test() as pilot:
        await pilot.pause()
        judge = app.debug_state.judge
        assert judge is not None and judge.judgements == 1  # step 0, at launch
        await pilot.press("s")
        await pilot.press("s")  # step 1 is being judged; step 2 waits its turn
        assert "Step 2 " in status_line(app) + " "
        await wait_until(
            pilot, lambda: judge.judgements == 2, VERDICT_TRIES
        )  # step 1's answer: dropped
        await pilot.pause()
        assert checking(app), chain_text(app)
        assert verdict_line(1) not in chain_text(app)
        await wait_until(pilot, lambda: verdict_line(2) in chain_text(app), VERDICT_TRIES)
        assert judge.judgements == 3


@within(60)
async def test_flat_out_judges_only_the_newest_state(write_file) -> None:
    app = slow_app(write_file, sleep=0.3)
    async with app.run_test() as pilot:
        await pilot.pause()
        judge = app.debug_state.judge
        assert judge is not None
        app.speed_index = SPEEDS.index(0)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.stepper.step >= 60)
        await pilot.press("r")
        await wait_until(pilot, lambda: not app.running)
        step = app.stepper.step
        await wait_until(pilot, lambda: verdict_line(step) in chain_text(app), VERDICT_TRIES)
        # at most one state waits: each 0.3 s judgement starts on the newest one
        assert judge.judgements < step / 4, (judge.judgements, step)


@within(60)
async def test_run_and_pause_answer_at_once(write_file) -> None:
    app = slow_app(write_file)
    async with app.run_test() as pilot:
        await pilot.pause()
        app.speed_index = SPEEDS.index(0)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.stepper.step >= 3)
        start = time.monotonic()
        await pilot.press("r")
        await wait_until(pilot, lambda: not app.running)
        assert time.monotonic() - start < 2 * INSTANT
        step = app.stepper.step
        await wait_until(pilot, lambda: verdict_line(step) in chain_text(app), VERDICT_TRIES)


@within(60)
async def test_q_quits_at_once_while_a_judgement_is_under_way(write_file) -> None:
    app = slow_app(write_file)
    async with app.run_test() as pilot:
        await pilot.pause()
        start = time.monotonic()
        await pilot.press("s")
        await pilot.press("q")
    took = time.monotonic() - start
    assert took < 2 * INSTANT, took
    judge = app.debug_state.judge
    assert judge is not None and judge.judgements == 1  # step 1's never arrived
    worker = judge._sandbox._worker
    assert worker is None or not worker.alive


def test_impl_checks_a_state_asked_for_again_during_its_check_once() -> None:
    """--impl's session: each frame asks for the state on screen; it is checked once."""
    from pathlib import Path

    from bptui.debug.session import ImplSession

    path = Path(__file__).resolve().parent.parent / "examples" / "impl_correct.py"
    stepper = Stepper(load_builtin("xor").training())
    session = ImplSession.open(str(path), stepper)
    try:
        stepper.step_once()
        checked: list[int] = []
        check_now = session.check_now

        def check_and_redraw(job, **kwargs):  # type: ignore[no-untyped-def]
            checked.append(job.step)
            assert session.want(stepper) is False  # a frame drawn during the check
            return check_now(job, **kwargs)

        session.check_now = check_and_redraw  # type: ignore[method-assign]
        assert session.want(stepper) is True
        verdicts = list(session.checks())
        assert checked == [1] and [v.step for v in verdicts] == [1]
        assert session.current(stepper) and verdicts[0].error is None
    finally:
        session.close()
