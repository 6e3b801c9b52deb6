"""Training with the learner's own derivatives: ``--grads FILE --train-with-yours``.

The article's wrong d_b3 (−2·SSR, one number for all points) must be seen
derailing training beside the true run; a correct file must train exactly as
backprop does; a derivative that fails stops its run at that step with one
line, and time travel stays exact across it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bptui.debug.usergrads import load_user_grads
from bptui.debug.usergrads.yours import (
    YourDerivatives,
    covered_line,
    training_with_yours,
)
from bptui.engine.record import build_record
from bptui.engine.stepper import Stepper, Training
from bptui.scenario.loading import load_builtin
from tests.cli_support import assert_one_line_error

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "article_grads.py"
MISTAKE = ROOT / "examples" / "article_mistake.py"
MATRIX_XOR = ROOT / "examples" / "grads_matrix_xor.py"

#: d_b3 right at every state but the one of step 3 (ctx.step is part of the state).
FAILS_AT_3 = """
def d_b3(ctx):
    if ctx.step == 3:
        raise RuntimeError("boom at step three")
    return sum(-2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"]))
"""


def article() -> Training:
    return load_builtin("article").training()


def yours(path: Path, training: Training | None = None) -> Training:
    training = article() if training is None else training
    return training_with_yours(training, load_user_grads(path, training.network))


def stepped(training: Training, steps: int) -> tuple[Stepper, list[np.ndarray]]:
    """A stepper after ``steps`` single steps, and θ at each step on the way."""
    stepper = Stepper(training)
    thetas = [stepper.theta.copy()]
    for _ in range(steps):
        stepper.step_once()
        thetas.append(stepper.theta.copy())
    return stepper, thetas


# ------------------------------------------------------------ the article
def test_the_articles_wrong_d_b3_derails_training_where_backprop_descends() -> None:
    true, mine = Stepper(article()), Stepper(yours(MISTAKE))
    assert true.run(20) == mine.run(20) == 20
    backprop, your = true.loss_history, mine.loss_history
    assert backprop[0] == your[0] == pytest.approx(3.0667888, abs=1e-7)  # the same start
    assert np.all(np.diff(backprop) < 0)  # backprop's loss falls at every step
    assert np.all(np.diff(your[4:]) > 0)  # yours rises from step 4 on …
    assert your[10] == pytest.approx(3.0220500, abs=1e-7)
    assert backprop[10] == pytest.approx(2.8082444, abs=1e-7)
    assert your[20] > your[0] > backprop[20]  # … past where it started
    assert mine.halted is None and mine.diverged is None
    # b3 alone is driven: −2·SSR < 0 at every state, so b3 climbs every update
    b3 = mine.network.param_index["b3"]
    assert np.all(np.diff([mine.theta_at(k)[b3] for k in range(21)]) > 0)


def test_step_one_is_theta_minus_alpha_times_your_gradient() -> None:
    training = article()
    mine = Stepper(yours(MISTAKE, training))
    mine.step_once()
    # Independently: the readable reference's gradient, b3 replaced by −2·SSR.
    net, theta0 = training.network, training.initial
    reference = build_record(net, theta0, training.x, training.y)
    ssr = float(((training.y - net.predict(theta0, training.x)) ** 2).sum())
    gradient = reference.grad.copy()
    gradient[net.param_index["b3"]] = -2 * ssr
    expected = theta0 - training.learning_rate * gradient
    np.testing.assert_allclose(mine.theta, expected, rtol=0, atol=1e-15)
    assert gradient[net.param_index["b3"]] == pytest.approx(-6.1335776, abs=1e-7)
    # The loss and the record stay the true ones at the new θ.
    assert mine.loss == pytest.approx(net.loss_value(expected, training.x, training.y), abs=1e-15)
    np.testing.assert_allclose(
        mine.record().grad, build_record(net, expected, training.x, training.y).grad, atol=1e-15
    )


def test_the_update_phase_shows_the_gradient_the_update_used() -> None:
    mine = Stepper(yours(MISTAKE))
    mine.step_once()
    b3 = mine.network.param_index["b3"]
    terms = mine.update_terms(b3)
    assert [t.symbol for t in terms] == ["your d_b3", "Δθ", "b3"]
    assert terms[0].value == pytest.approx(-6.1335776, abs=1e-7)
    assert terms[0].formula == "−6.13358"
    assert terms[1].value == pytest.approx(0.061335776, abs=1e-9)  # −α·g with α = 0.01
    assert terms[2].value == mine.theta[b3]
    w3 = mine.network.param_index["w3"]
    assert mine.update_terms(w3)[0].symbol == "∂Loss/∂w3"  # backprop's: no function for it


def test_a_correct_file_trains_as_backprop_does() -> None:
    true, mine = Stepper(article()), Stepper(yours(CORRECT))
    true.run(200)
    mine.run(200)
    np.testing.assert_allclose(mine.loss_history, true.loss_history, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mine.theta, true.theta, rtol=0, atol=1e-12)
    assert mine.training.gradient.calls == 200  # one worker round-trip per update


def test_matrix_functions_train_xor_as_backprop_with_one_round_trip_per_step() -> None:
    training = load_builtin("xor").training()
    mine = Stepper(yours(MATRIX_XOR, training))
    true = Stepper(training)
    true.run(50)
    mine.run(50)
    np.testing.assert_allclose(mine.theta, true.theta, rtol=0, atol=1e-12)
    assert mine.training.gradient.calls == 50  # d_W1, d_b1, d_W2, d_b2 in one batch each


def test_parameters_without_a_function_use_backprops_value() -> None:
    training = yours(MISTAKE)
    gradient = training.gradient
    assert isinstance(gradient, YourDerivatives)
    assert gradient.covered == ["b3"]
    assert gradient.uncovered == ["w1", "w2", "w3", "w4", "b1", "b2"]
    assert covered_line(training) == (
        "the your derivatives run descends your b3; w1, w2, w3, w4, b1, b2 use backprop's "
        "(no d_ function)"
    )
    mine, true = Stepper(training), Stepper(article())
    mine.step_once()
    true.step_once()
    moved = mine.theta != true.theta
    assert moved.tolist() == [name == "b3" for name in mine.network.param_names]


# --------------------------------------------------- a failing derivative
def test_a_derivative_that_raises_at_step_3_stops_the_run_there(tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text(FAILS_AT_3)
    mine = Stepper(yours(path))
    assert mine.run(10) == 3
    line = "stopped at step 3: your d_b3 (fails.py:4) raised RuntimeError: boom at step three"
    assert mine.step == 3
    assert mine.halted == mine.stop_reason == line
    assert mine.diverged is None
    mine.step_once()  # asked again: the same answer, no move
    assert (mine.step, mine.halted) == (3, line)
    assert mine.next_phase().kind == "backward" and mine.step == 3  # still done, not moved
    # Up to step 3 it is the run of a correct d_b3, which backprop's run is.
    true = Stepper(article())
    true.run(3)
    np.testing.assert_allclose(mine.theta, true.theta, rtol=0, atol=1e-12)


def test_time_travel_across_a_stopped_step_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text(FAILS_AT_3)
    mine, thetas = stepped(yours(path), 5)  # steps 4 and 5 were refused
    assert mine.step == 3 and len(thetas) == 6
    for k in range(4):
        assert mine.theta_at(k).tobytes() == thetas[k].tobytes()
    mine.back()
    assert (mine.step, mine.halted, mine.stop_reason) == (2, None, None)
    assert mine.theta.tobytes() == thetas[2].tobytes()
    mine.goto(0)
    mine.goto(3)
    assert mine.theta.tobytes() == thetas[3].tobytes()
    assert mine.halted is None  # reached, not yet refused
    mine.step_once()
    assert mine.step == 3 and mine.halted is not None and "boom at step three" in mine.halted


def test_time_travel_on_your_run_is_exact_across_checkpoints() -> None:
    mine, thetas = stepped(yours(MISTAKE), 150)
    calls = mine.training.gradient.calls
    for k in (149, 130, 64, 63, 1, 0, 100):
        mine.goto(k)
        assert mine.theta.tobytes() == thetas[k].tobytes(), k
    mine.goto(150)
    assert mine.theta.tobytes() == thetas[150].tobytes()
    assert mine.training.gradient.calls == calls  # replays reuse the answers, no new calls


# ------------------------------------------------------------------- CLI
def test_trace_writes_the_run_on_your_derivatives(run_cli) -> None:
    result = run_cli("trace", "--grads", MISTAKE, "--train-with-yours", "--steps", "10")
    assert result.code == 0, result.err
    trace = json.loads(result.out)
    mine = Stepper(yours(MISTAKE))
    mine.run(10)
    assert [r["loss"] for r in trace["steps"]] == mine.loss_history.tolist()
    assert trace["steps"][10]["loss"] == pytest.approx(3.0220500, abs=1e-7)
    assert trace["update_gradient"] == {
        "file": str(MISTAKE),
        "yours": ["b3"],
        "backprop": ["w1", "w2", "w3", "w4", "b1", "b2"],
    }
    assert trace["diverged"] is None and "stopped" not in trace


def test_trace_of_a_run_your_derivative_stops(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text(FAILS_AT_3)
    result = run_cli("trace", "--grads", path, "--train-with-yours", "--steps", "10")
    assert result.code == 1
    reason = "stopped at step 3: your d_b3 (fails.py:4) raised RuntimeError: boom at step three"
    assert result.err == f"bptui: {reason}\n"
    trace = json.loads(result.out)
    assert [r["step"] for r in trace["steps"]] == [0, 1, 2, 3]
    assert trace["stopped"] == {"step": 3, "reason": reason}


def test_trace_train_with_yours_needs_grads(run_cli) -> None:
    result = run_cli("trace", "--train-with-yours")
    assert_one_line_error(result, "--train-with-yours needs --grads FILE")


def test_trace_grads_without_train_with_yours_is_refused(run_cli) -> None:
    result = run_cli("trace", "--grads", MISTAKE)
    assert_one_line_error(result, "trace --grads goes with --train-with-yours")


def test_the_banner_says_why_the_run_stopped_not_that_a_watch_paused_it(tmp_path: Path) -> None:
    from bptui.tui.state import view_of
    from bptui.tui.widgets.status import banner_text

    path = tmp_path / "fails.py"
    path.write_text(FAILS_AT_3)
    mine = Stepper(yours(path))
    mine.run(10)
    assert banner_text(view_of(mine)) == (
        "⚠ Stopped at step 3: your d_b3 (fails.py:4) raised RuntimeError: boom at step three. "
        "Press b to step back, R to reset."
    )
    mine.back()
    assert banner_text(view_of(mine)) is None
