"""The generated straight-line Python step equals the readable numpy reference.

Small nets step as generated scalar Python (bptui/engine/compiled.py).  Its
sums run in another order than numpy's and its exp and log are the C
library's, so results match Network's to ~1e-15, not bit for bit; the bound
here is 1e-12 relative to each vector's largest entry (absolute below 1), on
every activation × output × loss, over 10,000 steps of every built-in and of
random nets, and divergence at the same step.  Within one stepper the path is
fixed, so run, replay (goto, back) and records agree bit for bit.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from bptui.engine import functions as fn
from bptui.engine.compiled import HELPERS, CompiledStep, compilable, python_source
from bptui.engine.fast import FastStep
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
TOLERANCE = 1e-12


def assert_close(
    ours: np.ndarray | float, reference: np.ndarray | float, what: str, terms: float = 1.0
) -> None:
    """|ours − reference| ≤ 1e-12 · max(1, largest |reference|) · terms, non-finite alike.

    ``terms`` is how much larger than the result the summed terms can be
    (the largest |weight| for a backward sum): a reordered sum errs relative
    to its terms, and they cancel.
    """
    ours, reference = np.atleast_1d(ours), np.atleast_1d(reference)
    finite = np.isfinite(reference)
    assert np.array_equal(finite, np.isfinite(ours)), what
    if finite.any():
        scale = max(1.0, float(np.max(np.abs(reference[finite]))))
        error = float(np.max(np.abs(ours[finite] - reference[finite])))
        bound = TOLERANCE * scale * terms
        assert error <= bound, f"{what}: error {error:.3g} at scale {scale:.3g} × {terms:.3g}"


def random_problem(arch: Architecture, rng: np.random.Generator, scale: float):
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
def test_generated_step_and_record_equal_the_readable_network(hidden, output, loss) -> None:
    rng = np.random.default_rng(COMBOS.index((hidden, output, loss)))
    for layers in SHAPES:
        if output == "softmax" and layers[-1] < 2:
            continue
        for scale in (0.5, 3.0, 40.0):  # gentle, saturating, far past saturation
            net, x, y, theta = random_problem(
                Architecture(layers, hidden, output, loss), rng, scale
            )
            step = CompiledStep(net)
            terms = max(1.0, float(np.max(np.abs(theta))))
            want_grad, got_grad = np.zeros(net.size), np.full(net.size, 7.0)
            with np.errstate(all="ignore"):
                want = net.loss_and_grad(theta, x, y, want_grad)
                reference = build_record(net, theta, x, y, np.arange(0, len(x), 2))
            got = step.loss_and_grad(theta, x, y, got_grad)
            assert_close(got, want, "loss")
            assert_close(got_grad, want_grad, "gradient", terms)
            assert_close(step.loss_value(theta, x, y), want, "loss_value")
            values = step.record_values(theta, x, y, reference.batch, got_grad, True)
            assert_close(values.loss, reference.loss, "record loss")
            assert_close(values.batch_loss, reference.batch_loss, "batch loss")
            assert_close(values.point_loss, reference.point_loss, "point loss")
            assert_close(values.grad, reference.grad, "record gradient", terms)
            for (z, a, dz, da), layer in zip(values.layers, reference.layers):
                for ours, theirs, what in (
                    (z, layer.z, "z"),
                    (a, layer.a, "a"),
                    (dz, layer.dz, "dz"),
                ):
                    assert_close(ours, theirs, what, terms)
                assert (da is None) == (layer.da is None)
                if da is not None:
                    assert_close(da, layer.da, "da", terms)


def trajectory(step: FastStep | CompiledStep, x, y, theta, rate, steps: int):
    """(loss, gradient, θ) before each of ``steps`` steps, as arrays; ends at a non-finite one."""
    grad, rows = np.zeros(theta.size), []
    with np.errstate(all="ignore"):
        for _ in range(steps):
            loss = step.loss_and_grad(theta, x, y, grad)
            rows.append(np.concatenate([[loss], grad, theta]))
            if not (math.isfinite(loss) and np.isfinite(grad).all()):
                break
            theta = theta - rate * grad
    return np.array(rows)


def compare_runs(net: Network, x, y, theta, rate, steps: int = 10_000) -> None:
    """Both paths from ``theta``: same length, and each step's loss, gradient and θ close."""
    reference = trajectory(FastStep(net), x, y, theta.copy(), rate, steps)
    ours = trajectory(CompiledStep(net), x, y, theta.copy(), rate, steps)
    assert ours.shape == reference.shape
    parts = {
        "loss": slice(0, 1),
        "gradient": slice(1, 1 + net.size),
        "θ": slice(1 + net.size, None),
    }
    for what, part in parts.items():
        want, got = reference[:, part], ours[:, part]
        finite = np.isfinite(want)
        assert np.array_equal(finite, np.isfinite(got)), what
        with np.errstate(all="ignore"):  # the non-finite entries are masked out
            scale = np.maximum(1.0, np.max(np.where(finite, np.abs(want), 0.0), axis=1))
            error = np.max(np.where(finite, np.abs(got - want), 0.0), axis=1)
        worst = int(np.argmax(error / scale))
        assert error[worst] <= TOLERANCE * scale[worst], (
            f"{what} at step {worst}: {error[worst]:.3g}"
        )


@pytest.mark.parametrize("name", builtin_names())
def test_10000_steps_of_every_builtin(name: str) -> None:
    scenario = load_builtin(name)
    training = scenario.training()
    rate = training.learning_rate  # every built-in trains all parameters on one batch
    assert training.trainable is None and training.batch_size == 0
    compare_runs(training.network, scenario.x, scenario.y, training.initial, rate)


@pytest.mark.parametrize(
    "arch",
    [
        Architecture((1, 3, 1), "sigmoid", "identity", "mse"),
        Architecture((2, 3, 1), "relu", "sigmoid", "bce"),
        Architecture((2, 2, 3), "leaky_relu", "softmax", "cross_entropy"),
        Architecture((3, 2, 2, 1), "tanh", "sigmoid", "ssr"),
    ],
    ids=lambda a: f"{a.activation}-{a.output_activation}-{a.loss}",
)
def test_10000_steps_of_random_nets(arch: Architecture) -> None:
    rng = np.random.default_rng(len(arch.layers))
    net, x, y, theta = random_problem(arch, rng, 1.0)
    compare_runs(net, x, y, theta, 0.1)


def test_the_diverging_builtin_diverges_at_the_same_step() -> None:
    scenario = load_builtin("diverge")
    training = scenario.training()
    net = training.network
    reference = trajectory(FastStep(net), scenario.x, scenario.y, training.initial, 1.0, 10_000)
    stepper = Stepper(training)
    assert isinstance(stepper.fast, CompiledStep)
    stepper.run(10_000)
    assert stepper.diverged == len(reference) - 1 < 10_000


@pytest.mark.parametrize("name", ["article", "xor", "diverge"])
def test_small_builtins_step_as_generated_python_and_travel_in_time_exactly(name: str) -> None:
    """Forward runs, goto, back and records all come from the generated code, bit for bit."""
    stepper = Stepper(load_builtin(name).training())
    assert isinstance(stepper.fast, CompiledStep)
    forward = []
    for _ in range(150):
        forward.append((stepper.theta.copy(), stepper.grad.copy(), stepper.loss))
        if not stepper.can_step:
            break
        stepper.step_once()
    for target in (len(forward) - 1, 0, 64, 65, 127, 3):
        if target >= len(forward):
            continue
        stepper.goto(target)
        theta, grad, loss = forward[target]
        assert np.array_equal(stepper.theta, theta, equal_nan=True)
        assert np.array_equal(stepper.grad, grad, equal_nan=True)
        assert stepper.loss == loss or math.isnan(loss)
        record = stepper.record()
        assert np.array_equal(record.grad, grad, equal_nan=True)
        assert np.array_equal(record.theta, theta)
        if stepper.back():
            assert np.array_equal(stepper.theta, forward[target - 1][0], equal_nan=True)


def test_the_size_rule_picks_the_faster_path() -> None:
    """Built-ins with little work per step compile; larger ones stay on numpy."""
    chosen = {name: type(Stepper(load_builtin(name).training()).fast) for name in builtin_names()}
    assert chosen == {
        "adam": CompiledStep,  # its gradient; the adam update itself is numpy
        "article": CompiledStep,
        "xor": CompiledStep,
        "diverge": CompiledStep,
        "softmax3": FastStep,
        "deep": FastStep,
        "circle": FastStep,
        "spiral": FastStep,
    }
    big = Network(Architecture((784, 64, 10), "relu", "softmax", "cross_entropy"))
    assert not compilable(big, 1)


def test_mini_batches_and_frozen_parameters_on_the_generated_path() -> None:
    scenario = replace(load_builtin("xor"), batch_size=3, trainable=("w1", "b3"))
    stepper = Stepper(scenario.training())
    assert isinstance(stepper.fast, CompiledStep)
    theta = stepper.initial.copy()
    for _ in range(20):
        record = stepper.record()
        reference = build_record(stepper.network, theta, stepper.x, stepper.y, record.batch)
        assert_close(record.grad, reference.grad, "mini-batch gradient")
        assert_close(stepper.loss, reference.loss, "loss of all points")
        assert np.array_equal(record.grad, stepper.grad)
        theta = theta - stepper.learning_rate * stepper.trainable_mask * reference.grad
        stepper.step_once()
        assert_close(stepper.theta, theta, "θ")
        assert np.array_equal(
            stepper.theta[[1, 2, 3, 4, 5, 6, 7]], stepper.initial[[1, 2, 3, 4, 5, 6, 7]]
        )


def test_names_that_are_not_python_names_still_compile() -> None:
    arch = Architecture((1, 2, 1), "tanh", node_names=("w1", "for", "h.1", "ŷ"))
    net = Network(arch)
    source = python_source(net)
    assert "for w1_2, y1 in points:" in source  # the input node w1 is not the weight w1
    assert "n_for = tanh(z_n_for)" in source and "yhat = z_yhat" in source
    rng = np.random.default_rng(3)
    x, y, theta = rng.normal(size=(3, 1)), rng.normal(size=(3, 1)), rng.normal(size=net.size)
    want_grad, got_grad = np.zeros(net.size), np.zeros(net.size)
    assert_close(
        CompiledStep(net).loss_and_grad(theta, x, y, got_grad),
        net.loss_and_grad(theta, x, y, want_grad),
        "loss",
    )
    assert_close(got_grad, want_grad, "gradient")


def test_the_source_is_what_runs() -> None:
    """The exported text, run on its own with math's functions, gives the step's numbers."""
    net = load_builtin("article").network()
    source = python_source(net)
    assert "z_blue = w1 * x + b1" in source and "d_b3 += d_z_green" in source
    scope = dict(HELPERS)
    exec(source, scope)  # noqa: S102 - our own generated code
    theta = load_builtin("article").initial_theta()
    points = [(0.1, 1.2), (0.53, 3.2), (0.82, 1.1)]
    loss, grad = scope["loss_and_grad"](theta.tolist(), points, 3, 3)
    assert loss == pytest.approx(3.06678879302855, rel=1e-14)
    assert grad[-1] == pytest.approx(-1.7658128185429645, rel=1e-14)  # ∂Loss/∂b3 at step 0


@pytest.mark.parametrize("name", ["article", "xor", "diverge"])
def test_a_run_in_one_call_is_the_same_steps_one_by_one(name: str) -> None:
    """Stepper.run's generated loop equals step_once repeated: θ, ∇, losses, checkpoints, divergence."""
    one_call = Stepper(load_builtin(name).training())
    by_step = Stepper(load_builtin(name).training())
    for chunk in (1, 2, 63, 64, 200, 1000):
        if one_call.diverged is not None:
            break
        taken = one_call.run(chunk)
        for _ in range(taken):
            by_step.step_once()
        assert one_call.step == by_step.step
        assert one_call.diverged == by_step.diverged
        for a, b in (
            (one_call.theta, by_step.theta),
            (one_call.grad, by_step.grad),
            (one_call.previous_theta, by_step.previous_theta),
            (one_call.loss_history, by_step.loss_history),
            (one_call.checkpoints.view(), by_step.checkpoints.view()),
        ):
            assert np.array_equal(a, b, equal_nan=True)
    assert (one_call.diverged is not None) == (name == "diverge")


@pytest.mark.parametrize(("name", "step"), [("article", 5), ("xor", 0), ("deep", 3)])
def test_export_python_is_a_program_that_prints_the_traces_numbers(
    run_cli, tmp_path, name: str, step: int
) -> None:
    result = run_cli("export", name, "--format", "python", "--step", str(step))
    assert result.code == 0 and result.err == ""
    script = tmp_path / "step.py"
    script.write_text(result.out)
    printed = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    trace = run_cli("trace", name, "--steps", str(step), "--format", "csv").out.splitlines()
    row = [float(v) for v in trace[-1].split(",")]
    size = (len(row) - 2) // 2
    loss = float(printed[0].removeprefix(f"step {step}: loss "))
    grad = [float(line.split(" = ")[1]) for line in printed[1:]]
    assert len(grad) == size
    if name in ("article", "xor"):  # stepped as this very code: the same bits
        assert [loss, *grad] == [row[1], *row[2 + size :]]
    else:
        assert_close(loss, row[1], "loss")
        assert_close(np.array(grad), np.array(row[2 + size :]), "gradient")


def test_export_python_refuses_worksheet_options(run_cli) -> None:
    result = run_cli("export", "--format", "python", "--exercise")
    assert result.code == 2
    assert result.err.strip().endswith("--exercise, --param and --seed do not apply")
    assert result.out == ""
