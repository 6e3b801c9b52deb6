"""The fast path equals the readable reference, bit for bit.

``Network`` (bptui/engine/network.py) is the readable forward and backward
pass every record comes from; ``FastStep`` (bptui/engine/fast.py) is what the
stepper's plain step and replay run.  Any difference, even in the last bit,
would make the trained parameters drift from what a learner can recompute by
reading the code, so every comparison here is exact (``np.array_equal``, and
``==`` on losses), on random nets of every hidden activation × output ×
loss and on every built-in along its whole run.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bptui.engine import functions as fn
from bptui.engine.fast import EINSUM_ROWS, FastStep, all_finite, column_sums
from bptui.engine.network import Architecture, Network
from bptui.engine.record import build_record
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import builtin_names, load_builtin

COMBOS = [
    (hidden, output, loss.name)
    for hidden in fn.ACTIVATIONS
    for output in fn.OUTPUT_ACTIVATIONS
    for loss in fn.LOSSES.values()
    if loss.requires_output in (None, output)
]
SHAPES = [(1, 1), (1, 2, 1), (3, 4, 2), (2, 8, 8, 3), (5, 1, 4, 2)]


def test_every_allowed_combination_is_covered() -> None:
    assert len(COMBOS) == 6 * 8
    assert ("relu", "softmax", "cross_entropy") in COMBOS
    assert ("tanh", "identity", "bce") not in COMBOS


def random_problem(
    arch: Architecture, rng: np.random.Generator, scale: float
) -> tuple[Network, np.ndarray, np.ndarray, np.ndarray]:
    """A network, targets its loss accepts, and parameters drawn at ``scale``."""
    net = Network(arch)
    n, k = int(rng.integers(1, 9)), arch.layers[-1]
    x = rng.normal(size=(n, arch.layers[0]))
    if arch.loss == "cross_entropy":
        y = rng.dirichlet(np.ones(k), size=n)
    elif arch.loss == "bce":
        y = rng.uniform(0.0, 1.0, size=(n, k))
    else:
        y = rng.normal(size=(n, k))
    return net, x, y, scale * rng.normal(size=net.size)


@pytest.mark.parametrize(("hidden", "output", "loss"), COMBOS, ids=["-".join(c) for c in COMBOS])
def test_fast_step_equals_the_readable_network(hidden: str, output: str, loss: str) -> None:
    rng = np.random.default_rng(COMBOS.index((hidden, output, loss)))
    for layers in SHAPES:
        if output == "softmax" and layers[-1] < 2:
            continue
        arch = Architecture(layers, hidden, output, loss)
        for scale in (0.5, 3.0, 40.0):  # gentle, saturating, far past saturation
            net, x, y, theta = random_problem(arch, rng, scale)
            fast = FastStep(net)
            with np.errstate(all="ignore"):
                want_grad, got_grad = np.zeros(net.size), np.full(net.size, 7.0)
                want = net.loss_and_grad(theta, x, y, want_grad)
                got = fast.loss_and_grad(theta, x, y, got_grad)
                assert got == want or (np.isnan(got) and np.isnan(want))
                assert np.array_equal(got_grad, want_grad, equal_nan=True)
                assert fast.loss_value(theta, x, y) == net.loss_value(theta, x, y) or np.isnan(want)
                for ours, reference in zip(fast.forward(theta, x), net.forward(theta, x)):
                    for a, b in zip(ours, reference):
                        assert np.array_equal(a, b, equal_nan=True)


def test_column_sums_are_add_reduces_bits_on_every_shape() -> None:
    rng = np.random.default_rng(5)
    for rows in (1, 2, 7, EINSUM_ROWS - 1, EINSUM_ROWS, 65, 128, 257, 500, 1000):
        for columns in (1, 2, 3, 8, 10, 17, 64):
            # magnitudes spread over 1e±10, so any other order of the sums shows in the bits
            values = rng.normal(size=(rows, columns)) * np.exp(
                rng.normal(size=(rows, columns)) * 10
            )
            out = np.full(columns, 7.0)
            column_sums(values, out)
            assert np.array_equal(out, np.add.reduce(values, axis=0)), (rows, columns)


@pytest.mark.parametrize("points", [EINSUM_ROWS, 300, 500])
def test_fast_step_equals_the_readable_network_on_many_points(points: int) -> None:
    """Bias gradients of many points go through einsum: still the reference's bits."""
    rng = np.random.default_rng(points)
    for hidden, output, loss in COMBOS:
        for layers in ((2, 8, 8, 1), (3, 4, 2), (4, 16, 3)):
            if output == "softmax" and layers[-1] < 2:
                continue
            net = Network(Architecture(layers, hidden, output, loss))
            x = rng.normal(size=(points, layers[0]))
            k = layers[-1]
            if loss == "cross_entropy":
                y = rng.dirichlet(np.ones(k), size=points)
            elif loss == "bce":
                y = rng.uniform(0.0, 1.0, size=(points, k))
            else:
                y = rng.normal(size=(points, k))
            theta = rng.normal(size=net.size)
            want, got = np.zeros(net.size), np.full(net.size, 7.0)
            with np.errstate(all="ignore"):
                assert FastStep(net).loss_and_grad(theta, x, y, got) == net.loss_and_grad(
                    theta, x, y, want
                )
            assert np.array_equal(got, want, equal_nan=True), (hidden, output, loss, layers)


@pytest.mark.parametrize(
    "name", [n for n in builtin_names() if load_builtin(n).optimizer.plain]
)  # tests/test_optimizers.py holds the other optimizers to their own reference
def test_every_builtin_trains_as_its_step_code_would(name: str) -> None:
    """200 plain steps equal 200 steps of θ ← θ − α·∇ with the gradient of the stepper's path.

    That path is the readable Network's bits (FastStep) or, for nets small
    enough, the generated Python (tests/test_compiled.py holds it to Network).
    """
    stepper = Stepper(load_builtin(name).training())
    net = stepper.network
    reference = type(stepper.fast)(net)
    theta = stepper.initial.copy()
    grad = np.zeros(net.size)
    with np.errstate(all="ignore"):
        for step in range(200):
            batch = stepper.batch_for(step)
            loss = reference.loss_and_grad(theta, stepper.x[batch], stepper.y[batch], grad)
            if isinstance(stepper.fast, FastStep):  # bit for bit the readable code too
                readable = np.zeros(net.size)
                net.loss_and_grad(theta, stepper.x[batch], stepper.y[batch], readable)
                assert np.array_equal(readable, grad, equal_nan=True)
            if step == stepper.step:
                assert np.array_equal(stepper.grad, grad, equal_nan=True)
                if len(stepper.batches) == 1:
                    assert stepper.loss == loss or np.isnan(loss)
            if stepper.diverged is not None:
                break
            theta = theta - stepper.learning_rate * stepper.trainable_mask * grad
            stepper.step_once()
            assert np.array_equal(stepper.theta, theta, equal_nan=True)
    assert stepper.step > 0


@pytest.mark.parametrize("batch_size", [0, 2, 3])
@pytest.mark.parametrize("name", builtin_names())
def test_records_hold_the_plain_steps_numbers(name: str, batch_size: int) -> None:
    """The record shows the very ∂Loss/∂θ and loss the update used, mini-batches too,
    and its node values are the readable Network's (to 1e-12 where not bit for bit)."""
    stepper = Stepper(replace(load_builtin(name), batch_size=batch_size).training())
    # numpy's ∂Loss/∂z of a mini-batch's rows may differ in the last bit from
    # those rows inside the reference's all-points product, so exact only for full batches.
    exact = isinstance(stepper.fast, FastStep) and len(stepper.batches) == 1
    for _ in range(12):
        record = stepper.record()
        assert np.array_equal(record.grad, stepper.grad, equal_nan=True)
        assert record.loss == stepper.loss or np.isnan(stepper.loss)
        reference = build_record(stepper.network, stepper.theta, stepper.x, stepper.y, record.batch)
        for ours, theirs in zip(record.layers, reference.layers):
            for a, b in ((ours.z, theirs.z), (ours.a, theirs.a), (ours.dz, theirs.dz)):
                if exact:
                    np.testing.assert_array_equal(a, b)
                else:
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(record.grad, reference.grad, rtol=1e-12, atol=1e-12)
        if not stepper.can_step:
            break
        stepper.step_once()


def test_all_finite_sees_every_kind_of_non_finite() -> None:
    grad = np.ones(4)
    assert all_finite(1.0, grad)
    assert not all_finite(float("inf"), grad)
    assert not all_finite(float("nan"), grad)
    for bad in (np.inf, -np.inf, np.nan):
        broken = grad.copy()
        broken[2] = bad
        assert not all_finite(1.0, broken)
    huge = np.full(4, 1e200)  # grad·grad overflows, yet every entry is finite
    assert all_finite(1.0, huge)


def eager_param_table(net: Network) -> list[tuple[str, int, int, str, int, int | None]]:
    """The parameter table as the network used to build it eagerly, in parameter order."""
    rows: list[tuple[str, int, int, str, int, int | None]] = []
    for l, (out, inp) in enumerate(net.shapes, start=1):
        for i in range(out):
            for j in range(inp):
                rows.append((f"w{len(rows) + 1}", len(rows), l, "W", i, j))
    for l, (out, _) in enumerate(net.shapes, start=1):
        for i in range(out):
            rows.append((f"b{len(rows) - net.weight_count + 1}", len(rows), l, "b", i, None))
    return rows


@pytest.mark.parametrize("layers", [(1, 2, 1), (2, 8, 8, 1), (5, 1, 4, 2), (30, 7, 3)])
def test_lazy_param_table_is_the_eager_one(layers: tuple[int, ...]) -> None:
    net = Network(Architecture(layers))
    eager = eager_param_table(net)
    lazy = [(p.name, p.index, p.layer, p.kind, p.row, p.col) for p in net.params]
    assert lazy == eager
    assert [net.params[k].name for k in range(-len(eager), 0)] == [r[0] for r in eager]
    assert net.param_names == [r[0] for r in eager]
    assert net.param_index == {r[0]: r[1] for r in eager}
    with pytest.raises(IndexError):
        net.params[len(eager)]


@pytest.mark.parametrize("seed", [0, 42, 2**31])
def test_random_init_draws_the_scalar_sequence(seed: int) -> None:
    """One vector draw is the article's one-scalar-at-a-time init, bit for bit."""
    net = Network(Architecture((3, 5, 2)))
    rng = np.random.RandomState(seed)
    scalars = [rng.normal(0, 1) for _ in range(net.weight_count)]
    theta = net.random_init(seed)
    assert theta[: net.weight_count].tolist() == scalars
    assert not theta[net.weight_count :].any()
