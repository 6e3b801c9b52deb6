"""The plain step's shortcuts must never change a number.

``FastStep.layer_views`` remembers the views of the last few buffers, and
``Stepper.run`` sets numpy's error state once for the whole run; a stale view
or a different code path would silently train on wrong parameters.  Each test
compares against a fast step or stepper that cannot have hit any cache.
(tests/test_fast.py compares the fast step with the readable Network.)
"""

from __future__ import annotations

import numpy as np

from bptui.engine.fast import FastStep
from bptui.engine.network import Architecture, Network
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin

ARCH = Architecture((2, 3, 2), "tanh", "softmax", "cross_entropy")


def _data(rows: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(rows, 2)), np.eye(2)[rng.integers(0, 2, rows)]


def _fresh_loss_and_grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray):
    grad = np.zeros_like(theta)
    loss = FastStep(Network(ARCH)).loss_and_grad(theta.copy(), x, y, grad)
    return loss, grad


def test_cycling_through_more_buffers_than_the_cache_holds() -> None:
    fast = FastStep(Network(ARCH))
    x, y = _data()
    rng = np.random.default_rng(1)
    size = fast.network.size
    assert 7 + 3 > FastStep.CACHE_SIZE
    thetas = [rng.normal(size=size) for _ in range(7)]
    grads = [np.zeros(size) for _ in range(3)]
    for i in range(40):
        theta, grad = thetas[(i * 3) % 7], grads[i % 3]
        loss = fast.loss_and_grad(theta, x, y, grad)
        want_loss, want_grad = _fresh_loss_and_grad(theta, x, y)
        assert loss == want_loss
        np.testing.assert_array_equal(grad, want_grad)


def test_in_place_changes_to_a_cached_theta_are_seen() -> None:
    fast = FastStep(Network(ARCH))
    x, y = _data()
    size = fast.network.size
    theta, grad = np.zeros(size), np.zeros(size)
    fast.loss_and_grad(theta, x, y, grad)  # caches theta's views
    theta[:] = np.linspace(-1.0, 1.0, size)
    loss = fast.loss_and_grad(theta, x, y, grad)
    want_loss, want_grad = _fresh_loss_and_grad(theta, x, y)
    assert loss == want_loss
    np.testing.assert_array_equal(grad, want_grad)
    assert np.any(grad != 0.0)


def test_layer_views_write_through() -> None:
    net = Network(ARCH)
    buffer = np.zeros(net.size)
    W, WT, b = FastStep(net).layer_views(buffer)[1]
    W[1, 2] = 5.0
    b[0] = -3.0
    assert WT[2, 1] == 5.0
    assert buffer[net.param_index["w12"]] == 5.0
    assert buffer[net.param_index["b4"]] == -3.0


def test_run_equals_single_steps_with_records_in_between() -> None:
    """run's loop (no per-step errstate) and step_once + record walk the same path."""
    for name in ("article", "softmax3", "xor"):
        fast, slow = Stepper(load_builtin(name).training()), Stepper(load_builtin(name).training())
        fast.run(150)
        for _ in range(150):
            slow.step_once()
            slow.record()  # fresh record buffers churn the view cache
        np.testing.assert_array_equal(fast.theta, slow.theta)
        np.testing.assert_array_equal(fast.grad, slow.grad)
        np.testing.assert_array_equal(fast.loss_history, slow.loss_history)


def test_divergence_is_flagged_without_a_numpy_warning() -> None:
    """The finite check sees overflow in the gradient; pytest turns warnings into errors."""
    stepper = Stepper(load_builtin("diverge").training())
    while stepper.can_step:
        stepper.step_once()
    assert stepper.diverged == stepper.step
    assert not (np.isfinite(stepper.loss) and np.isfinite(stepper.grad).all())


def test_every_public_operation_is_quiet_on_a_diverging_run() -> None:
    """numpy's error state is each public operation's own business; warnings are errors here."""
    walker = Stepper(load_builtin("diverge").training())
    while walker.can_step:
        walker.next_phase()
    runner = Stepper(load_builtin("diverge").training())
    assert runner.run(10_000) == walker.step
    np.testing.assert_array_equal(runner.theta, walker.theta)
    assert runner.diverged == walker.diverged == walker.step
    last = walker.step
    assert walker.back() and walker.step == last - 1 and walker.diverged is None
    walker.goto(last)
    assert walker.diverged == last
    np.testing.assert_array_equal(walker.theta_at(last), runner.theta)
    walker.goto(0)
    walker.reset()
    assert walker.step == 0 and walker.diverged is None


def _through(name: str, plan: list[int | tuple[str, str, float]], fused: bool) -> Stepper:
    """``plan``'s steps (counts) and edits (kind, name, value), in order.

    Each count as ``step_once`` after ``step_once`` or, ``fused``, as one
    ``run`` (the fused loops).
    """
    stepper = Stepper(load_builtin(name).training())
    for item in plan:
        if isinstance(item, tuple):
            stepper.edit(*item)
        elif fused:
            assert stepper.run(item) == item
        else:
            for _ in range(item):
                stepper.step_once()
    return stepper


def test_the_numpy_paths_fused_run_is_the_plain_step_bit_for_bit() -> None:
    """deep and softmax3 run on numpy: run's tight loop must take the very same steps.

    Over several checkpoints (every 64 steps), across an edit, and back in history.
    """
    for name in ("deep", "softmax3"):
        plan: list[int | tuple[str, str, float]] = [130, ("learning_rate", "", 0.02), 75]
        walker, runner = _through(name, plan, False), _through(name, plan, True)
        assert isinstance(runner.fast, FastStep) and runner.step == 205
        np.testing.assert_array_equal(runner.theta, walker.theta)
        np.testing.assert_array_equal(runner.grad, walker.grad)
        np.testing.assert_array_equal(runner.previous_theta, walker.previous_theta)
        np.testing.assert_array_equal(runner.loss_history, walker.loss_history)
        for step in (63, 64, 129, 130, 131, 192):
            np.testing.assert_array_equal(runner.theta_at(step), walker.theta_at(step))
        assert runner.record().loss == walker.record().loss
        np.testing.assert_array_equal(runner.record().grad, walker.record().grad)


def test_the_numpy_paths_fused_run_stops_where_the_plain_step_diverges() -> None:
    walker = _through("deep", [3, ("learning_rate", "", 40.0)], False)
    while walker.can_step:
        walker.step_once()
    runner = _through("deep", [3, ("learning_rate", "", 40.0)], True)
    taken = runner.run(500)
    assert taken > 2  # inside the fused loop, not its last plain step
    assert walker.diverged is not None and runner.diverged == walker.diverged == 3 + taken
    np.testing.assert_array_equal(runner.theta, walker.theta)
    np.testing.assert_array_equal(runner.previous_theta, walker.previous_theta)
    np.testing.assert_array_equal(runner.loss_history, walker.loss_history)
