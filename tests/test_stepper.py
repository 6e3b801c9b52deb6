"""The stepper: phases, step / back / reset / goto / run, trainable subsets,
mini-batches, history size and divergence.

"A straight run" below is a second stepper taking one whole step at a time,
snapshotting θ after every step; time travel must reproduce it bit for bit.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bptui.engine.stepper import (
    CHECKPOINT_EVERY,
    DivergedError,
    Phase,
    PhaseWalk,
    Stepper,
    phases_for,
)
from bptui.scenario.loading import Scenario, load_builtin

ARTICLE_PHASES = [
    Phase("update"),
    Phase("forward", 1),
    Phase("forward", 2),
    Phase("loss"),
    Phase("backward", 2),
    Phase("backward", 1),
]


def article() -> Scenario:
    return load_builtin("article")


def straight_run(scenario: Scenario, steps: int) -> list[np.ndarray]:
    """θ after 0, 1, …, steps whole steps, one step_once at a time."""
    stepper = Stepper(scenario.training())
    thetas = [stepper.theta.copy()]
    for _ in range(steps):
        stepper.step_once()
        thetas.append(stepper.theta.copy())
    return thetas


def article_loss_and_grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray):
    """The article's net by hand: SSR and its seven derivatives (w1…w4, b1…b3)."""
    w1, w2, w3, w4, b1, b2, b3 = theta
    z_blue, z_orange = w1 * x + b1, w2 * x + b2
    blue, orange = np.logaddexp(0, z_blue), np.logaddexp(0, z_orange)
    green = w3 * blue + w4 * orange + b3
    d_green = -2 * (y - green)
    s_blue, s_orange = 1 / (1 + np.exp(-z_blue)), 1 / (1 + np.exp(-z_orange))
    grad = np.array(
        [
            np.sum(d_green * w3 * s_blue * x),
            np.sum(d_green * w4 * s_orange * x),
            np.sum(d_green * blue),
            np.sum(d_green * orange),
            np.sum(d_green * w3 * s_blue),
            np.sum(d_green * w4 * s_orange),
            np.sum(d_green),
        ]
    )
    return float(np.sum((y - green) ** 2)), grad


# ------------------------------------------------------------------ phases
def test_next_phase_walks_update_forward_loss_backward() -> None:
    stepper = Stepper(article().training())
    assert stepper.phases == ARTICLE_PHASES
    assert stepper.done and stepper.step == 0
    theta0, grad0 = stepper.theta.copy(), stepper.grad.copy()
    walked = []
    for _ in ARTICLE_PHASES:
        walked.append(stepper.next_phase())
        assert stepper.step == 1
    assert walked == ARTICLE_PHASES
    assert [p.label for p in walked] == [
        "update",
        "forward layer 1",
        "forward layer 2",
        "loss",
        "backward layer 2",
        "backward layer 1",
    ]
    assert stepper.done
    np.testing.assert_array_equal(stepper.theta, theta0 - 0.01 * grad0)
    assert stepper.loss == pytest.approx(2.9817410, abs=5e-8)
    # And the walk goes on into step 2.
    assert stepper.next_phase() == Phase("update")
    assert stepper.step == 2 and not stepper.done


def test_deep_network_phase_order() -> None:
    stepper = Stepper(load_builtin("deep").training())
    kinds = [(p.kind, p.layer) for p in stepper.phases]
    assert kinds == [
        ("update", 0),
        ("forward", 1),
        ("forward", 2),
        ("forward", 3),
        ("loss", 0),
        ("backward", 3),
        ("backward", 2),
        ("backward", 1),
    ]


def test_step_once_finishes_a_partial_step() -> None:
    thetas = straight_run(article(), 2)
    stepper = Stepper(article().training())
    stepper.next_phase()
    stepper.next_phase()
    assert stepper.phase == Phase("forward", 1) and not stepper.done
    stepper.step_once()
    assert stepper.step == 1 and stepper.done
    np.testing.assert_array_equal(stepper.theta, thetas[1])
    stepper.step_once()
    assert stepper.step == 2
    np.testing.assert_array_equal(stepper.theta, thetas[2])


def test_record_follows_the_state() -> None:
    stepper = Stepper(article().training())
    first = stepper.record()
    assert first.step == 0 and first.loss == stepper.loss
    stepper.step_once()
    second = stepper.record()
    assert second.step == 1
    np.testing.assert_array_equal(second.theta, first.theta - 0.01 * first.grad)
    assert second.loss == stepper.loss == stepper.loss_history[1]


# ------------------------------------------------------ back, reset, goto
def test_back_and_reset() -> None:
    thetas = straight_run(article(), 3)
    stepper = Stepper(article().training())
    assert stepper.back() is False  # nothing before step 0
    stepper.run(3)
    assert stepper.back() is True
    assert stepper.step == 2 and stepper.done
    np.testing.assert_array_equal(stepper.theta, thetas[2])
    np.testing.assert_array_equal(stepper.previous_theta, thetas[1])
    assert len(stepper.loss_history) == 3
    # From a partial step, back returns to the step it started from.
    stepper.next_phase()
    assert stepper.step == 3 and not stepper.done
    stepper.back()
    assert stepper.step == 2 and stepper.done
    np.testing.assert_array_equal(stepper.theta, thetas[2])
    stepper.reset()
    assert stepper.step == 0 and stepper.done and stepper.previous_theta is None
    np.testing.assert_array_equal(stepper.theta, thetas[0])
    assert stepper.loss_history.tolist() == [pytest.approx(3.0667888, abs=5e-8)]


def test_back_from_a_partial_first_step() -> None:
    stepper = Stepper(article().training())
    stepper.next_phase()
    stepper.next_phase()
    assert stepper.step == 1
    assert stepper.back() is True
    assert stepper.step == 0 and stepper.done
    np.testing.assert_array_equal(stepper.theta, stepper.initial)


def test_goto_forward_and_back_is_bit_identical_across_checkpoints() -> None:
    last = 3 * CHECKPOINT_EVERY + 5
    thetas = straight_run(article(), last)
    losses = [Stepper(article().training()).loss]
    stepper = Stepper(article().training())
    stepper.goto(last)
    assert stepper.step == last
    np.testing.assert_array_equal(stepper.theta, thetas[last])
    straight = Stepper(article().training())
    for _ in range(last):
        straight.step_once()
        losses.append(straight.loss)
    np.testing.assert_array_equal(stepper.loss_history, losses)
    # Every reached step, around every checkpoint, rebuilds exactly.
    for k in range(last + 1):
        assert np.array_equal(stepper.theta_at(k), thetas[k]), k
    for k in (2 * CHECKPOINT_EVERY + 1, CHECKPOINT_EVERY, CHECKPOINT_EVERY - 1, 1, 0):
        stepper.goto(k)
        assert stepper.step == k
        np.testing.assert_array_equal(stepper.theta, thetas[k])
        assert stepper.loss == losses[k]
    # Forward again from the past: the same future.
    stepper.goto(last)
    np.testing.assert_array_equal(stepper.theta, thetas[last])
    np.testing.assert_array_equal(stepper.loss_history, losses)


def test_goto_back_then_step_rewrites_the_future_consistently() -> None:
    thetas = straight_run(article(), 2 * CHECKPOINT_EVERY + 2)
    stepper = Stepper(article().training())
    stepper.run(2 * CHECKPOINT_EVERY + 2)
    stepper.goto(CHECKPOINT_EVERY - 2)
    for _ in range(4):  # walk forward across the checkpoint by phases and steps
        stepper.next_phase()
        stepper.step_once()
    assert stepper.step == CHECKPOINT_EVERY + 2
    np.testing.assert_array_equal(stepper.theta, thetas[CHECKPOINT_EVERY + 2])
    np.testing.assert_array_equal(stepper.theta_at(CHECKPOINT_EVERY), thetas[CHECKPOINT_EVERY])
    with pytest.raises(IndexError):
        stepper.theta_at(CHECKPOINT_EVERY + 3)
    with pytest.raises(ValueError):
        stepper.goto(-1)


def test_run_takes_k_whole_steps() -> None:
    thetas = straight_run(article(), 25)
    stepper = Stepper(article().training())
    assert stepper.run(10) == 10
    assert stepper.step == 10 and stepper.done
    np.testing.assert_array_equal(stepper.theta, thetas[10])
    stepper.next_phase()  # a partial step 11 …
    assert stepper.run(14) == 14  # … is finished, then 14 more
    assert stepper.step == 25
    np.testing.assert_array_equal(stepper.theta, thetas[25])
    assert stepper.run(0) == 0 and stepper.step == 25


def test_article_loss_never_rises_at_its_small_learning_rate() -> None:
    """α = 0.01 is small for this net: every step lowers the loss (the article's rose)."""
    stepper = Stepper(article().training())
    stepper.run(2000)
    history = stepper.loss_history
    assert len(history) == 2001
    assert np.all(np.diff(history) < 0)
    # The same 100 steps by hand (plain numpy formulas) land on the same loss.
    theta = stepper.initial.copy()
    x, y = stepper.x[:, 0], stepper.y[:, 0]
    for _ in range(100):
        theta -= 0.01 * article_loss_and_grad(theta, x, y)[1]
    assert history[100] == pytest.approx(article_loss_and_grad(theta, x, y)[0], rel=1e-10)


# --------------------------------------------------- trainable, batches
def test_frozen_parameters_never_move() -> None:
    scenario = replace(article(), trainable=("w1", "b3"))
    stepper = Stepper(scenario.training())
    start = stepper.theta.copy()
    net = stepper.network
    moving = [net.param_index["w1"], net.param_index["b3"]]
    frozen = [i for i in range(net.size) if i not in moving]
    stepper.run(100)
    stepper.next_phase()
    np.testing.assert_array_equal(stepper.theta[frozen], start[frozen])
    assert np.all(stepper.theta[moving] != start[moving])
    # The frozen ones still have gradients (shown, just not applied).
    assert np.all(stepper.grad[frozen] != 0)
    for k in (1, 50, 101):
        np.testing.assert_array_equal(stepper.theta_at(k)[frozen], start[frozen])


def test_trainable_step_equals_masked_update() -> None:
    stepper = Stepper(replace(article(), trainable=("b3",)).training())
    _, grad = article_loss_and_grad(stepper.theta, stepper.x[:, 0], stepper.y[:, 0])
    expected = stepper.theta.copy()
    expected[6] -= 0.01 * grad[6]
    stepper.step_once()
    np.testing.assert_allclose(stepper.theta, expected, rtol=1e-14)


def test_minibatches_are_deterministic_and_descend_the_batch_gradient() -> None:
    scenario = replace(article(), batch_size=2)
    a, b = Stepper(scenario.training()), Stepper(scenario.training())
    a.run(30)
    for _ in range(30):
        b.step_once()
    np.testing.assert_array_equal(a.theta, b.theta)

    stepper = Stepper(scenario.training())
    x, y = stepper.x[:, 0], stepper.y[:, 0]
    batches = [[0, 1], [2]]  # batch_size 2 over 3 points, in order, cycling
    theta = stepper.theta.copy()
    for k in range(6):
        batch = batches[k % 2]
        np.testing.assert_array_equal(stepper.batch_for(k), batch)
        batch_loss, batch_grad = article_loss_and_grad(theta, x[batch], y[batch])
        full_loss, full_grad = article_loss_and_grad(theta, x, y)
        record = stepper.record()
        np.testing.assert_allclose(stepper.grad, batch_grad, rtol=1e-12)
        np.testing.assert_allclose(record.grad, batch_grad, rtol=1e-12)
        assert not np.allclose(batch_grad, full_grad)
        assert record.batch_loss == pytest.approx(batch_loss, rel=1e-12)
        # The loss shown and kept in history is over all the data.
        assert record.loss == pytest.approx(full_loss, rel=1e-12)
        assert stepper.loss == pytest.approx(full_loss, rel=1e-12)
        # Chain factors of points outside the batch are zero; products sum to the batch grad.
        outside = [i for i in range(3) if i not in batch]
        for name in stepper.network.param_names:
            product = record.chain_product(name)
            assert np.all(product[outside] == 0)
            assert product.sum() == pytest.approx(record.grads[name], rel=1e-12, abs=1e-15)
        stepper.step_once()
        theta = theta - 0.01 * batch_grad
        np.testing.assert_allclose(stepper.theta, theta, rtol=1e-12)
    # Time travel replays the same batches.
    stepper.goto(3)
    np.testing.assert_array_equal(stepper.theta, straight_run(scenario, 3)[3])
    np.testing.assert_array_equal(stepper.batch_for(3), [2])


def test_batch_size_at_least_the_data_is_full_batch() -> None:
    full = straight_run(article(), 5)
    for size in (0, 3, 10):
        np.testing.assert_array_equal(
            straight_run(replace(article(), batch_size=size), 5)[5], full[5]
        )


# ---------------------------------------------------------------- history
def stored_bytes(stepper: Stepper) -> int:
    """Bytes of every numpy array the stepper holds (history tables included)."""
    total = 0
    seen: set[int] = set()

    def visit(value) -> None:
        nonlocal total
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif hasattr(value, "__dict__") and type(value).__module__.startswith(
            "bptui.engine.stepper"
        ):
            for v in vars(value).values():
                visit(v)

    for name, value in vars(stepper).items():
        if name not in ("scenario", "network", "_record"):
            visit(value)
    return total


def history_law(steps: int, params: int) -> int:
    """Loss per step + a θ checkpoint per CHECKPOINT_EVERY steps, ×2 for doubling growth."""
    losses = 8 * (steps + 1)
    checkpoints = 8 * params * (steps // CHECKPOINT_EVERY + 1)
    return 2 * (losses + checkpoints) + 4096


def test_history_grows_by_a_loss_per_step_and_a_checkpoint_per_64() -> None:
    """A million steps would take ~20 s here, so the growth law is checked on fewer."""
    stepper = Stepper(article().training())
    size = stepper.network.size
    base = stored_bytes(stepper)
    measured = {}
    for steps in (1_000, 4_000, 16_000):
        stepper.run(steps - stepper.step)
        measured[steps] = stored_bytes(stepper)
        assert stepper.losses.size == steps + 1
        assert stepper.checkpoints.size == steps // CHECKPOINT_EVERY + 1
        assert measured[steps] <= history_law(steps, size) + base
    # Nothing else grows: 16× the steps costs at most ~16× the bytes of history.
    assert measured[16_000] - base <= 16 * (measured[1_000] - base) * 1.2
    # Extrapolated to a million steps of the article net: under 20 MB.
    assert history_law(1_000_000, size) + base < 20_000_000
    # And time travel still works from the compact history.
    np.testing.assert_array_equal(stepper.theta_at(16_000), stepper.theta)


# ------------------------------------------------------------- divergence
def test_diverge_reaches_a_non_finite_loss_and_refuses_to_step() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any numpy warning fails the test
        stepper = Stepper(load_builtin("diverge").training())
        taken = stepper.run(10_000)
        assert stepper.diverged is not None
        assert taken == stepper.step == stepper.diverged < 10_000
        record = stepper.record()
        assert not record.finite
        assert not (np.isfinite(stepper.loss) and np.isfinite(stepper.grad).all())
        assert all(np.isfinite(stepper.loss_history[:-1]))
        assert not stepper.can_step
        for action in (stepper.step_once, stepper.next_phase, lambda: stepper.run(1)):
            with pytest.raises(DivergedError):
                action()
        with pytest.raises(DivergedError):
            stepper.goto(stepper.step + 1)
        diverged_at = stepper.diverged

        stepper.back()
        assert stepper.diverged is None and stepper.can_step
        assert stepper.step == diverged_at - 1 and np.isfinite(stepper.loss)
        stepper.step_once()  # deterministic: the same step diverges again
        assert stepper.diverged == diverged_at

        stepper.reset()
        assert stepper.diverged is None and stepper.step == 0
        stepper.goto(diverged_at - 1)
        assert stepper.diverged is None
        stepper.goto(diverged_at + 50)  # stops at the divergence
        assert stepper.step == stepper.diverged == diverged_at


def test_diverge_is_the_article_net_with_a_large_learning_rate() -> None:
    diverge = load_builtin("diverge")
    a = article()
    assert diverge.arch == a.arch and diverge.learning_rate > a.learning_rate
    np.testing.assert_array_equal(diverge.initial_theta(), a.initial_theta())


# ----------------------------------------------- random walks through time
MAX_STEP = 260
WALK_SCENARIOS = {
    "article": lambda: article(),
    "article-batch2": lambda: replace(article(), batch_size=2),
    "article-w1-b3": lambda: replace(article(), trainable=("w1", "b3")),
    "xor-batch3": lambda: replace(load_builtin("xor"), batch_size=3),
    "diverge": lambda: load_builtin("diverge"),
}


@functools.cache
def reference_path(name: str) -> tuple[list[np.ndarray], list[float], int | None]:
    """θ and loss of steps 0…MAX_STEP (or up to divergence) by whole steps; the divergence step."""
    stepper = Stepper(WALK_SCENARIOS[name]().training())
    thetas, losses = [stepper.theta.copy()], [stepper.loss]
    while stepper.step < MAX_STEP and stepper.diverged is None:
        stepper.step_once()
        thetas.append(stepper.theta.copy())
        losses.append(stepper.loss)
    return thetas, losses, stepper.diverged


OPERATIONS = st.one_of(
    st.just(("next_phase",)),
    st.just(("step_once",)),
    st.just(("back",)),
    st.just(("reset",)),
    st.tuples(st.just("run"), st.integers(0, 40)),
    st.tuples(st.just("goto"), st.integers(0, MAX_STEP - 45)),
)


@pytest.mark.parametrize("name", list(WALK_SCENARIOS))
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=25))
@example(  # into the divergence of `diverge` (step 220) and out again, by every route
    operations=[
        ("goto", 215),
        ("run", 40),
        ("next_phase",),
        ("back",),
        ("next_phase",),
        ("next_phase",),
        ("step_once",),
        ("goto", 63),
        ("goto", 215),
        ("step_once",),
        ("goto", 215),
        ("reset",),
    ]
)
@settings(max_examples=25, deadline=None)
def test_random_walks_through_time_match_a_straight_run(name, operations) -> None:
    """Any mix of phase, step, run, back, goto and reset lands exactly on the straight run.

    A small model says where each operation must land (step, whether the step
    is complete, whether the state is diverged); θ, loss, history and the
    previous θ must then equal the straight run's bit for bit.
    """
    thetas, losses, diverges_at = reference_path(name)
    last = len(thetas) - 1
    stepper = Stepper(WALK_SCENARIOS[name]().training())
    phases = len(stepper.phases)
    step, phase, diverged = 0, phases - 1, diverges_at == 0

    for op in operations:
        done = phase == phases - 1
        kind = op[0]
        refuses = diverged and (
            kind in ("next_phase", "step_once", "run") or (kind == "goto" and op[1] > step)
        )
        if refuses:
            with pytest.raises(DivergedError):
                getattr(stepper, kind)(*op[1:])
            continue
        if (kind == "run" and step + op[1] > last) or (kind == "goto" and op[1] > last):
            continue  # beyond the reference path
        if kind in ("next_phase", "step_once") and done and step + 1 > last:
            continue
        result = getattr(stepper, kind)(*op[1:])
        if kind == "next_phase":
            if done:
                step, phase = step + 1, 0
            else:
                phase += 1
        elif kind == "step_once":
            step += 1 if done else 0
            phase = phases - 1
        elif kind == "run":
            target = step + op[1]
            if diverges_at is not None:
                target = min(target, diverges_at)
            assert result == target - step
            step, phase = target, phases - 1
        elif kind == "goto":
            target = op[1]
            if target > step and diverges_at is not None:
                target = min(target, diverges_at)
            step, phase = target, phases - 1
        elif kind == "back":
            assert result is (step > 0 or not done)
            step, phase = max(step - 1, 0), phases - 1
        elif kind == "reset":
            step, phase = 0, phases - 1
        diverged = step == diverges_at

        assert stepper.step == step, op
        assert stepper.done is (phase == phases - 1), op
        assert stepper.phase == stepper.phases[phase]
        assert (stepper.diverged is not None) is diverged
        assert np.array_equal(stepper.theta, thetas[step]), op
        assert np.array_equal(stepper.loss_history, losses[: step + 1], equal_nan=True)
        if step == 0:
            assert stepper.previous_theta is None
        else:
            assert np.array_equal(stepper.previous_theta, thetas[step - 1])
        probe = step // 2
        assert np.array_equal(stepper.theta_at(probe), thetas[probe])


def test_a_walk_into_divergence_may_finish_its_phases_then_stops() -> None:
    """n into the diverging update stops at phase "update"; the walk may still
    show that step's forward, loss and backward, and only then is refused."""
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(219)
    assert stepper.diverged is None
    stepper.next_phase()  # update 220: the new record is not finite
    assert stepper.diverged == 220 and stepper.phase.kind == "update"
    assert stepper.can_step
    walked = [stepper.next_phase().label for _ in range(len(stepper.phases) - 1)]
    assert walked[-1] == "backward layer 1" and stepper.done
    assert not math.isfinite(stepper.record().loss)
    assert not stepper.can_step
    with pytest.raises(DivergedError):
        stepper.next_phase()
    with pytest.raises(DivergedError):
        stepper.step_once()
    assert stepper.back() and stepper.step == 219 and stepper.can_step


def test_phase_walk_says_what_is_computed_without_index_arithmetic() -> None:
    stepper = Stepper(article().training())
    assert stepper.walk.done and stepper.walk.phase == Phase("backward", 1)
    assert stepper.walk.loss_computed and stepper.walk.backward_computed(2)
    seen = []
    for _ in ARTICLE_PHASES:
        stepper.next_phase()
        walk = stepper.walk
        assert walk.phase == stepper.phase and walk.index == stepper.phase_index
        assert walk.done == stepper.done
        seen.append(
            (
                [walk.forward_computed(layer) for layer in (0, 1, 2)],
                walk.loss_computed,
                [walk.backward_computed(layer) for layer in (2, 1)],
            )
        )
    assert seen == [
        ([True, False, False], False, [False, False]),  # update
        ([True, True, False], False, [False, False]),  # forward 1
        ([True, True, True], False, [False, False]),  # forward 2
        ([True, True, True], True, [False, False]),  # loss
        ([True, True, True], True, [True, False]),  # backward 2
        ([True, True, True], True, [True, True]),  # backward 1: done
    ]
    assert [stepper.walk.position(p) for p in ARTICLE_PHASES] == list(range(6))
    with pytest.raises(ValueError, match="no phase 'forward layer 3'"):
        stepper.walk.computed(Phase("forward", 3))


def test_phase_walk_at_builds_the_engine_order() -> None:
    walk = PhaseWalk.at(2)
    assert walk.phases == tuple(ARTICLE_PHASES) == tuple(phases_for(2)) and walk.done
    partial = PhaseWalk.at(3, 2)
    assert partial.phase == Phase("forward", 2) and not partial.done
    assert partial.forward_computed(2) and not partial.forward_computed(3)
    assert partial == PhaseWalk.at(3, 2)  # immutable values compare equal


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_stepper_without_history_holds_constant_memory_and_the_same_bits(optimizer) -> None:
    """What a trace steps with: its tables keep their last rows, and every step is the same."""
    from bptui.engine.optimizers import Optimizer

    train = replace(article().training(), optimizer=Optimizer(name=optimizer))
    kept, forward = Stepper(train), Stepper(train, history=False)
    held = {}
    for steps in (1_000, 16_000):
        kept.run(steps - kept.step)
        forward.run(steps - forward.step)
        held[steps] = stored_bytes(forward)
        assert forward.step == kept.step == steps
        assert forward.loss == kept.loss
        np.testing.assert_array_equal(forward.theta, kept.theta)
        np.testing.assert_array_equal(forward.grad, kept.grad)
        assert forward.record().layers[0].W.tolist() == kept.record().layers[0].W.tolist()
    assert held[16_000] <= held[1_000] < 16_384
    assert stored_bytes(kept) > held[16_000] + 8 * 15_000  # the kept one has a loss a step
    # The step before is still there (a divergence names its θ), the distant past is not.
    np.testing.assert_array_equal(forward.theta_at(15_999), kept.theta_at(15_999))
    with pytest.raises(IndexError, match="not held"):
        forward.theta_at(10)


def test_a_stepper_without_history_refuses_its_history_once_rows_are_gone() -> None:
    """Its loss table holds the last rows only: read as the whole history, it would be wrong."""
    forward, kept = Stepper(article().training(), history=False), Stepper(article().training())
    forward.run(10)
    kept.run(10)
    assert forward.loss_history.tolist() == kept.loss_history.tolist()  # nothing dropped yet
    forward.run(500)
    with pytest.raises(IndexError, match="no longer held"):
        forward.loss_history  # noqa: B018
    kept.run(500)
    assert forward.loss == kept.loss  # the current loss is always there
