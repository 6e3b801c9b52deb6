"""Training with the learner's own backward: ``--impl FILE --train-with-yours``.

Each buggy example's run must be exactly the gradient descent its wrong
formula gives (written out here in plain numpy, not through bptui); the
correct file's run must be backprop's; a backward that fails, overruns or
returns what cannot be descended stops its run at that step with one line
naming the file; the trace carries the same fields as the ``--grads`` path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bptui.debug.impl.train import RUN_NAME, YourBackward, training_with_your_backward
from bptui.engine.stepper import Stepper, Training
from bptui.errors import UserCodeError
from bptui.scenario.loading import load_builtin
from tests.cli_support import assert_one_line_error

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CORRECT = EXAMPLES / "impl_correct.py"
STEPS = 20
ALL_PARAMS = ["w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3"]

Array = np.ndarray
Gradient = Callable[[Array, Array, Array, Array, Array, Array], tuple[Array, ...]]


def xor() -> Training:
    return load_builtin("xor").training()


def sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


# Each: (W1, b1, W2, b2, X, Y) in bptui's layout (W as (out, in), samples as rows)
# → (dW1, db1, dW2, db2) as the example file's backward computes them.
def _backward(W1, b1, W2, b2, X, Y, *, dz2_of, dz1_of):  # type: ignore[no-untyped-def]
    A1 = sigmoid(X @ W1.T + b1)
    A2 = sigmoid(A1 @ W2.T + b2)
    dZ2 = dz2_of(A2, Y, X.shape[0])
    dA1 = dZ2 @ W2
    dZ1 = dz1_of(dA1, A1)
    return dZ1.T @ X, dZ1.sum(axis=0), dZ2.T @ A1, dZ2.sum(axis=0)


def _true_dz1(dA1: Array, A1: Array) -> Array:
    return dA1 * A1 * (1 - A1)


FORMULAS: dict[str, Gradient] = {
    "impl_correct.py": lambda *a: _backward(
        *a, dz2_of=lambda A2, Y, m: (A2 - Y) / m, dz1_of=_true_dz1
    ),
    "impl_sign.py": lambda *a: _backward(
        *a, dz2_of=lambda A2, Y, m: (Y - A2) / m, dz1_of=_true_dz1
    ),
    "impl_missing_mean.py": lambda *a: _backward(
        *a, dz2_of=lambda A2, Y, m: A2 - Y, dz1_of=_true_dz1
    ),
    "impl_wrong_slope.py": lambda *a: _backward(
        *a, dz2_of=lambda A2, Y, m: (A2 - Y) / m, dz1_of=lambda dA1, A1: dA1 * A1
    ),
}


def descended(formula: Gradient, training: Training, steps: int) -> Array:
    """θ after ``steps`` plain full-batch gradient-descent steps on ``formula``'s gradient."""
    theta = training.initial.copy()
    X, Y = training.x, training.y
    for _ in range(steps):
        W1, W2 = theta[0:4].reshape(2, 2), theta[4:6].reshape(1, 2)
        b1, b2 = theta[6:8], theta[8:9]
        dW1, db1, dW2, db2 = formula(W1, b1, W2, b2, X, Y)
        theta = theta - training.learning_rate * np.concatenate(
            [dW1.ravel(), dW2.ravel(), db1, db2]
        )
    return theta


@pytest.fixture(scope="module")
def trained() -> dict[str, Stepper]:
    """Each example's "your backward" run after STEPS steps (one worker each)."""
    runs = {}
    for name in FORMULAS:
        stepper = Stepper(training_with_your_backward(xor(), str(EXAMPLES / name)))
        stepper.run(STEPS)
        runs[name] = stepper
    yield runs
    for stepper in runs.values():
        stepper.training.gradient.close()


@pytest.mark.parametrize("name", list(FORMULAS))
def test_your_run_is_the_descent_of_your_formula(trained: dict[str, Stepper], name: str) -> None:
    mine = trained[name]
    assert mine.step == STEPS and mine.halted is None
    expected = descended(FORMULAS[name], xor(), STEPS)
    np.testing.assert_allclose(mine.theta, expected, rtol=0, atol=1e-12)


def test_the_buggy_runs_leave_backprop_s_path(trained: dict[str, Stepper]) -> None:
    true = Stepper(xor())
    true.run(STEPS)
    for name in ("impl_sign.py", "impl_missing_mean.py", "impl_wrong_slope.py"):
        assert np.abs(trained[name].theta - true.theta).max() > 0.1, name


def test_the_correct_file_trains_as_backprop_does(trained: dict[str, Stepper]) -> None:
    true = Stepper(xor())
    true.run(STEPS)
    mine = trained["impl_correct.py"]
    np.testing.assert_allclose(mine.theta, true.theta, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mine.loss_history, true.loss_history, rtol=0, atol=1e-12)


def test_losses_stay_true_and_the_update_names_your_tensor(trained: dict[str, Stepper]) -> None:
    mine = trained["impl_sign.py"]
    from bptui.engine.record import build_record

    # the loss shown is the true loss of the run's own θ, not of the user's code
    record = build_record(mine.network, mine.theta, mine.x, mine.y)
    assert mine.loss == pytest.approx(record.loss, abs=1e-12)
    w2 = mine.network.param_index["w2"]  # W1[0, 1] in bptui's (out, in); rows: dW1[1, 0]
    terms = mine.update_terms(w2)
    assert [t.symbol for t in terms] == ["your dW1[1, 0]", "Δθ", "w2"]
    before = mine.theta_at(STEPS - 1)
    W1, W2 = before[0:4].reshape(2, 2), before[4:6].reshape(1, 2)
    dW1 = FORMULAS["impl_sign.py"](W1, before[6:8], W2, before[8:9], mine.x, mine.y)[0]
    assert terms[0].value == pytest.approx(dW1[0, 1], abs=1e-12)
    assert mine.training.gradient.symbols["b3"] == "your db2[0]"


COLUMNS_MISSING_MEAN = """
import numpy as np

def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))

def forward(params, X):
    A1 = sigmoid(params["W1"] @ X + params["b1"])
    A2 = sigmoid(params["W2"] @ A1 + params["b2"])
    return A2, (A1, A2)

def backward(params, X, Y, cache):
    A1, A2 = cache
    dZ2 = A2 - Y  # the 1/m missing
    dZ1 = (params["W2"].T @ dZ2) * A1 * (1 - A1)
    return {
        "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True),
        "dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
    }
"""


def test_a_columns_file_is_detected_and_read_into_the_parameters(tmp_path: Path) -> None:
    path = tmp_path / "columns.py"
    path.write_text(COLUMNS_MISSING_MEAN)
    training = training_with_your_backward(xor(), str(path))
    gradient = training.gradient
    try:
        assert gradient.layout.name == "columns" and "detected" in gradient.layout.how
        mine = Stepper(training)
        mine.run(STEPS)
        expected = descended(FORMULAS["impl_missing_mean.py"], xor(), STEPS)
        np.testing.assert_allclose(mine.theta, expected, rtol=0, atol=1e-12)
        # columns keep bptui's (out, in): w2 = W1[0, 1] is the user's dW1[0, 1]
        assert gradient.symbols["w2"] == "your dW1[0, 1]"
        assert gradient.symbols["b1"] == "your db1[0, 0]"
    finally:
        gradient.close()


def test_mini_batches_give_your_backward_the_update_s_batch() -> None:
    """Batch size 2: the correct file, on each update's two points, is backprop's run."""
    training = replace(xor(), batch_size=2)
    yours = training_with_your_backward(training, str(CORRECT))
    try:
        mine, true = Stepper(yours), Stepper(training)
        mine.run(7)
        true.run(7)
        np.testing.assert_allclose(mine.theta, true.theta, rtol=0, atol=1e-12)
        assert np.abs(true.theta - Stepper(xor()).theta).max() > 0  # it moved
    finally:
        yours.gradient.close()


def test_time_travel_reuses_the_answers(trained: dict[str, Stepper]) -> None:
    mine = trained["impl_wrong_slope.py"]
    expected = descended(FORMULAS["impl_wrong_slope.py"], xor(), 7)
    calls = mine.training.gradient.calls
    mine.goto(7)
    np.testing.assert_allclose(mine.theta, expected, rtol=0, atol=1e-12)
    mine.goto(STEPS)
    assert mine.training.gradient.calls == calls


# --------------------------------------------------------------- failures
#: Raises at its 4th call: the layout's detection at the start, then steps 0, 1, 2.
RAISES_AT_STEP_2 = """
import numpy as np
LAYOUT = "rows"
calls = 0

def forward(params, X):
    A1 = 1 / (1 + np.exp(-(X @ params["W1"] + params["b1"])))
    A2 = 1 / (1 + np.exp(-(A1 @ params["W2"] + params["b2"])))
    return A2, (A1, A2)

def backward(params, X, Y, cache):
    global calls
    calls += 1
    if calls == 4:
        raise ValueError("boom")
    A1, A2 = cache
    dZ2 = (A2 - Y) / X.shape[0]
    dZ1 = dZ2 @ params["W2"].T * A1 * (1 - A1)
    return {"dW2": A1.T @ dZ2, "db2": dZ2.sum(0), "dW1": X.T @ dZ1, "db1": dZ1.sum(0)}
"""


def _stopped(tmp_path: Path, source: str, steps: int) -> Stepper:
    path = tmp_path / "yours.py"
    path.write_text(source)
    stepper = Stepper(training_with_your_backward(xor(), str(path)))
    stepper.run(steps)
    return stepper


def test_a_raise_stops_the_run_at_its_step_with_the_file_and_line(tmp_path: Path) -> None:
    stepper = _stopped(tmp_path, RAISES_AT_STEP_2, 10)
    try:
        path = tmp_path / "yours.py"
        reason = f"stopped at step 2: {path}:15: backward raised ValueError: boom"
        assert stepper.step == 2 and stepper.halted == reason
        assert stepper.training.gradient.failure == reason
        assert stepper.training.gradient.calls == 3  # steps 0, 1, 2 (detection is not one)
    finally:
        stepper.training.gradient.close()


def test_a_non_finite_gradient_stops_the_run(tmp_path: Path) -> None:
    source = RAISES_AT_STEP_2.replace(
        'raise ValueError("boom")',
        'return {"dW2": np.full((2, 1), np.nan), "db2": np.zeros(1),'
        ' "dW1": np.zeros((2, 2)), "db1": np.zeros(2)}',
    )
    stepper = _stopped(tmp_path, source, 10)
    try:
        assert stepper.step == 2
        assert stepper.halted == (
            f"stopped at step 2: {tmp_path / 'yours.py'}: backward's dW2[0, 0] is nan, "
            "not a finite number"
        )
    finally:
        stepper.training.gradient.close()


def test_a_wrong_shape_stops_the_run_at_step_0() -> None:
    path = EXAMPLES / "impl_transpose.py"
    stepper = Stepper(training_with_your_backward(xor(), str(path)))
    try:
        stepper.run(5)
        assert stepper.step == 0
        assert stepper.halted == (
            f"stopped at step 0: {path}: backward's dW2 has shape (1, 2); W2's is (2, 1) "
            "(samples as rows)"
        )
    finally:
        stepper.training.gradient.close()


def test_an_endless_backward_stops_the_run_at_the_time_limit(tmp_path: Path) -> None:
    source = RAISES_AT_STEP_2.replace('raise ValueError("boom")', "while True: pass")
    stepper = _stopped(tmp_path, source, 10)
    try:
        assert stepper.step == 2
        assert stepper.halted.startswith(f"stopped at step 2: {tmp_path / 'yours.py'}:")
        assert stepper.halted.endswith("backward did not finish within 2 s (an endless loop?)")
    finally:
        stepper.training.gradient.close()


def test_a_file_that_cannot_be_imported_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def forward(params, X):\n    return (\n")
    with pytest.raises(UserCodeError, match="broken.py"):
        training_with_your_backward(xor(), str(path))


def test_the_run_is_named_your_backward() -> None:
    assert RUN_NAME == "your backward"
    gradient = YourBackward(str(CORRECT), xor().network)
    assert gradient.covered == ALL_PARAMS and gradient.uncovered == []
    assert gradient.symbols == {}  # nothing to name before the layout is known


# -------------------------------------------------------------------- CLI
def test_trace_writes_the_run_on_your_backward(run_cli) -> None:
    path = EXAMPLES / "impl_sign.py"
    result = run_cli("trace", "xor", "--impl", path, "--train-with-yours", "--steps", "10")
    assert result.code == 0, result.err
    trace = json.loads(result.out)
    theta = descended(FORMULAS["impl_sign.py"], xor(), 10)
    last = trace["steps"][10]
    assert [last["params"][name] for name in ALL_PARAMS] == pytest.approx(list(theta), abs=1e-12)
    assert trace["update_gradient"] == {"file": str(path), "yours": ALL_PARAMS, "backprop": []}
    assert trace["diverged"] is None and "stopped" not in trace


def test_trace_of_a_run_your_backward_stops(run_cli) -> None:
    path = EXAMPLES / "impl_transpose.py"
    result = run_cli("trace", "xor", "--impl", path, "--train-with-yours", "--steps", "10")
    assert result.code == 1
    reason = (
        f"stopped at step 0: {path}: backward's dW2 has shape (1, 2); W2's is (2, 1) "
        "(samples as rows)"
    )
    assert result.err == f"bptui: {reason}\n"
    trace = json.loads(result.out)
    assert [r["step"] for r in trace["steps"]] == [0]
    assert trace["stopped"] == {"step": 0, "reason": reason}


@pytest.mark.parametrize("command", [["trace"], []])
def test_train_with_yours_with_both_files_is_refused(run_cli, command: list[str]) -> None:
    result = run_cli(*command, "--impl", CORRECT, "--grads", CORRECT, "--train-with-yours")
    assert_one_line_error(
        result, "--train-with-yours trains with one file: give --grads or --impl, not both"
    )


@pytest.mark.parametrize("command", [["trace"], []])
def test_train_with_yours_with_neither_file_is_refused(run_cli, command: list[str]) -> None:
    result = run_cli(*command, "--train-with-yours")
    assert_one_line_error(
        result, "--train-with-yours needs --grads FILE or --impl FILE: the gradients to train with"
    )


def test_trace_impl_without_train_with_yours_is_refused(run_cli) -> None:
    result = run_cli("trace", "--impl", CORRECT)
    assert_one_line_error(result, "trace --impl goes with --train-with-yours")


def test_trace_with_a_broken_impl_file_exits_2(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def forward(params, X):\n    return (\n")
    result = run_cli("trace", "xor", "--impl", path, "--train-with-yours")
    assert_one_line_error(result, "broken.py")
