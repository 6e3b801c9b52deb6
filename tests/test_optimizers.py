"""Optimizers: torch.optim's formulas, checked against a reference written here in plain loops.

The reference below is written from torch.optim's documented algorithms, one
parameter at a time in Python floats, and never calls bptui's optimizer code;
only the gradient comes from the readable network.  Each optimizer's first 20
steps agree with it to 1e-12 on three nets, with and without penalties and
with a trainable subset.  Time travel (goto, back, R, replay from a
checkpoint) reproduces every optimizer's run bit for bit, and every printed
formula of the update phase evaluates to its value.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest

from bptui.engine.optimizers import OPTIMIZERS, Optimizer, UpdateTerm, number_text
from bptui.engine.stepper import CHECKPOINT_EVERY, Stepper, Training
from bptui.scenario.loading import load_builtin

NETS = ("article", "xor", "softmax3")  # regression, bce, softmax with cross-entropy
SUBSETS = {"article": ("w1", "b3"), "xor": ("w2", "w4", "b1"), "softmax3": ("w1", "w9", "b5")}
PENALTIES = {"none": {}, "penalized": {"weight_decay": 0.01, "l1": 0.001}}


def training(net: str, optimizer: Optimizer, subset: bool = False, lr: float = 0.05) -> Training:
    base = load_builtin(net).training()
    return replace(
        base,
        optimizer=optimizer,
        learning_rate=lr,
        trainable=SUBSETS[net] if subset else None,
    )


def reference_thetas(train: Training, steps: int) -> list[list[float]]:
    """θ after each of ``steps`` updates, by torch.optim's documented algorithms."""
    opt = train.optimizer
    net = train.network
    theta = [float(v) for v in train.initial]
    n = len(theta)
    trains = [train.trainable is None or name in train.trainable for name in net.param_names]
    buf, m, v, square = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    out = [list(theta)]
    lr = train.learning_rate
    for t in range(1, steps + 1):
        grad = np.zeros(n)
        net.loss_and_grad(np.array(theta), train.x, train.y, grad)
        for i in range(n):
            if not trains[i]:
                continue
            sign = (theta[i] > 0) - (theta[i] < 0)
            g = float(grad[i]) + opt.weight_decay * theta[i] + opt.l1 * sign
            if opt.name in ("momentum", "nesterov"):
                # torch: b_1 = g_1, then b_t = μ b_{t−1} + (1 − dampening) g_t, dampening 0
                buf[i] = g if t == 1 else opt.momentum * buf[i] + g
                g = g + opt.momentum * buf[i] if opt.name == "nesterov" else buf[i]
                theta[i] = theta[i] - lr * g
            elif opt.name == "rmsprop":
                square[i] = opt.alpha * square[i] + (1 - opt.alpha) * g * g
                theta[i] = theta[i] - lr * g / (math.sqrt(square[i]) + opt.eps)
            elif opt.name == "adam":
                m[i] = opt.beta1 * m[i] + (1 - opt.beta1) * g
                v[i] = opt.beta2 * v[i] + (1 - opt.beta2) * g * g
                m_hat = m[i] / (1 - opt.beta1**t)
                v_hat = v[i] / (1 - opt.beta2**t)
                theta[i] = theta[i] - lr * m_hat / (math.sqrt(v_hat) + opt.eps)
            else:
                theta[i] = theta[i] - lr * g
        out.append(list(theta))
    return out


CASES = [
    (net, name, penalty, subset)
    for net in NETS
    for name in OPTIMIZERS
    for penalty in PENALTIES
    for subset in (False, True)
]


@pytest.mark.parametrize(("net", "name", "penalty", "subset"), CASES)
def test_first_20_steps_match_the_reference(
    net: str, name: str, penalty: str, subset: bool
) -> None:
    train = training(net, Optimizer(name, **PENALTIES[penalty]), subset)
    expected = reference_thetas(train, 20)
    stepper = Stepper(train)
    got = [stepper.theta.tolist()]
    for _ in range(20):
        stepper.step_once()
        got.append(stepper.theta.tolist())
    assert stepper.diverged is None
    np.testing.assert_allclose(np.array(got), np.array(expected), rtol=0, atol=1e-12)
    # the run moved, and the untrained parameters did not
    assert not np.array_equal(got[0], got[-1])
    if subset:
        frozen = [i for i, p in enumerate(train.network.param_names) if p not in SUBSETS[net]]
        assert np.array_equal(np.array(got)[:, frozen], np.array(got)[[0] * 21][:, frozen])


def test_the_optimizers_take_different_paths() -> None:
    """A reference that ignored the optimizer would pass the test above for sgd only."""
    finals = {name: _final(training("xor", Optimizer(name)), 20) for name in OPTIMIZERS}
    for a in OPTIMIZERS:
        for b in OPTIMIZERS:
            if a < b:
                assert not np.allclose(finals[a], finals[b], atol=1e-6), (a, b)


def _final(train: Training, steps: int) -> np.ndarray:
    stepper = Stepper(train)
    stepper.run(steps)
    return stepper.theta.copy()


def _snapshot(stepper: Stepper) -> tuple[bytes, bytes, bytes, float]:
    return stepper.theta.tobytes(), stepper.grad.tobytes(), stepper.state.tobytes(), stepper.loss


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_time_travel_is_exact_for_every_optimizer(name: str) -> None:
    train = training("xor", Optimizer(name, weight_decay=0.01, l1=0.001), subset=True)
    stepper = Stepper(train)
    states = [_snapshot(stepper)]
    assert 150 > 2 * CHECKPOINT_EVERY
    for _ in range(150):  # past two checkpoints
        stepper.step_once()
        states.append(_snapshot(stepper))
    for target in (20, 150, 7, 64, 65, 130, 0):
        stepper.goto(target)
        assert _snapshot(stepper) == states[target], target
    stepper.goto(20)
    assert stepper.back()
    assert _snapshot(stepper) == states[19]
    stepper.reset()
    assert _snapshot(stepper) == states[0]
    stepper.run(150)
    assert _snapshot(stepper) == states[150]
    assert np.array_equal(stepper.record().optimizer_state, stepper.state)


def test_plain_sgd_keeps_no_state_and_the_fused_path() -> None:
    stepper = Stepper(training("article", Optimizer()))
    stepper.run(200)
    assert not stepper.state.any()
    assert all(held is None for held in stepper.state_checkpoints)
    assert stepper.record().optimizer_state is None


# ------------------------------------------------------ the update phase
def evaluate(formula: str) -> float:
    """A formula as printed (·, −, ², ^, √), evaluated as Python arithmetic."""
    text = formula.replace("−", "-").replace("·", "*").replace("²", "**2").replace("^", "**")
    text = re.sub(r"√\(([^()]*)\)", r"math.sqrt(\1)", text)
    text = re.sub(r"√([0-9.e+-]+)", r"math.sqrt(\1)", text)
    assert re.fullmatch(r"[0-9.e+\-*/() sqrtmah]*", text), text
    return float(eval(text, {"math": math}))  # noqa: S307 - our own printed arithmetic


def numbers_in(formula: str) -> list[float]:
    return [float(n) for n in re.findall(r"\d+(?:\.\d*)?(?:e[−-]?\d+)?", formula.replace("−", "-"))]


def assert_true_formula(term: UpdateTerm) -> None:
    """The printed formula's value is the term's, to its six printed digits."""
    evaluated = evaluate(term.formula)
    scale = max([abs(term.value), *map(abs, numbers_in(term.formula))])
    assert evaluated == pytest.approx(term.value, rel=1e-4, abs=1e-5 * scale), term


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("penalty", sorted(PENALTIES))
def test_update_terms_are_true_and_end_at_the_new_theta(name: str, penalty: str) -> None:
    stepper = Stepper(training("xor", Optimizer(name, **PENALTIES[penalty]), subset=True))
    assert stepper.update_terms(0) == []
    net = stepper.network
    for step in (1, 2, 5):
        stepper.goto(step)
        for index, pname in enumerate(net.param_names):
            terms = stepper.update_terms(index)
            assert terms[0].symbol == f"∂Loss/∂{pname}"
            for term in terms:
                assert_true_formula(term)
            assert terms[-1].value == stepper.theta[index]  # the very bits of the update
            symbols = [t.symbol for t in terms]
            if pname not in SUBSETS["xor"]:
                assert symbols == [f"∂Loss/∂{pname}", f"{pname} (does not train)"]
                continue
            assert terms[-1].symbol == pname
            assert ("g" in symbols) == (penalty == "penalized")
            expected = {
                "sgd": [],
                "momentum": ["velocity"],
                "nesterov": ["velocity", "step"],
                "rmsprop": ["square_avg", "step"],
                "adam": ["t", "m", "v", "m̂", "v̂", "step"],
            }[name]
            assert [s for s in symbols if s in expected] == expected
            assert symbols[-2] == "Δθ"


def test_update_terms_show_the_gradient_of_the_previous_record() -> None:
    stepper = Stepper(training("article", Optimizer("adam")))
    stepper.goto(3)
    grads = stepper.record().grad.copy()
    stepper.goto(4)
    terms = stepper.update_terms(2)
    assert terms[0].value == grads[2]
    assert [t.value for t in terms if t.symbol == "t"] == [4.0]


def test_an_adam_formula_reads_as_expected() -> None:
    stepper = Stepper(training("article", Optimizer("adam")))
    stepper.step_once()
    terms = {t.symbol: t for t in stepper.update_terms(0)}
    assert terms["m̂"].formula.endswith("/(1 − 0.9^1)")
    assert terms["v"].formula.startswith("0.999·0 + 0.001·")
    assert "−" in terms["Δθ"].formula and "-" not in terms["Δθ"].formula


@pytest.mark.parametrize(
    ("name", "symbol"), [("adam", "m̂/(√v̂ + ε)"), ("rmsprop", "g/(√square_avg + ε)")]
)
def test_a_ratio_step_is_named_so_thetas_line_has_no_unexplained_number(
    name: str, symbol: str
) -> None:
    stepper = Stepper(training("article", Optimizer(name)))
    stepper.goto(2)
    old_theta = float(stepper.theta[0])  # the pane's heading prints it: old → new
    stepper.goto(3)
    terms = {t.symbol: t for t in stepper.update_terms(0)}
    step, delta, theta = terms["step"], terms["Δθ"], terms["w1"]
    lr = stepper.learning_rate
    assert delta.value == -(lr * step.value)
    # each number on θ's line and Δθ's is one the pane printed above it (or α)
    values = [*(t.value for t in terms.values()), lr, old_theta]
    printed = {number_text(abs(v)) for v in values}
    for term in (delta, theta):
        for number in re.findall(r"\d+\.\d+(?:e[−-]\d+)?", term.formula):
            assert number in printed, (term.formula, number)


# ---------------------------------------------------------- torch itself
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_against_torch_optim(name: str) -> None:
    torch = pytest.importorskip("torch")
    opt = Optimizer(name, weight_decay=0.01)
    train = training("xor", opt)
    stepper = Stepper(train)
    param = torch.tensor(train.initial.copy(), dtype=torch.float64, requires_grad=True)
    lr = train.learning_rate
    make = {
        "sgd": lambda p: torch.optim.SGD(p, lr=lr, weight_decay=opt.weight_decay),
        "momentum": lambda p: torch.optim.SGD(
            p, lr=lr, momentum=opt.momentum, weight_decay=opt.weight_decay
        ),
        "nesterov": lambda p: torch.optim.SGD(
            p, lr=lr, momentum=opt.momentum, nesterov=True, weight_decay=opt.weight_decay
        ),
        "rmsprop": lambda p: torch.optim.RMSprop(
            p, lr=lr, alpha=opt.alpha, eps=opt.eps, weight_decay=opt.weight_decay
        ),
        "adam": lambda p: torch.optim.Adam(
            p,
            lr=lr,
            betas=(opt.beta1, opt.beta2),
            eps=opt.eps,
            weight_decay=opt.weight_decay,
        ),
    }[name]
    optimizer = make([param])
    for _ in range(20):
        grad = np.zeros(train.network.size)
        train.network.loss_and_grad(param.detach().numpy().copy(), train.x, train.y, grad)
        param.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
        stepper.step_once()
        np.testing.assert_allclose(stepper.theta, param.detach().numpy(), rtol=0, atol=1e-12)
