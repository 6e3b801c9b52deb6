"""Optimizers and penalties: how a gradient becomes an update, as torch.optim does it.

The update of every optimizer is written here once, twice over: :func:`apply`
moves the whole parameter vector (numpy, what the stepper runs), and
:func:`update_terms` redoes one parameter's update in plain floats, with the
same operations in the same order, so the pieces it shows (velocity, m, v,
m̂, v̂, the step) are the very numbers the update used.

The formulas are torch.optim's: SGD with momentum and dampening 0, Nesterov
as ``nesterov=True``, RMSprop without centering or momentum, Adam with bias
correction (not AdamW).  Penalties are added to the gradient first:
g' = g + weight_decay·θ + l1·sign(θ).

Optimizer state is one (3, n) array per run, so a checkpoint is one copy:
row 0 counts each parameter's updates (torch keeps ``step`` per parameter,
and a parameter that does not train does not count), rows 1 and 2 hold the
moments (velocity; m and v; the square average).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Array = np.ndarray

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")

#: The numeric settings, in the order scenario files and the trace list them.
SETTINGS = ("momentum", "beta1", "beta2", "alpha", "eps", "weight_decay", "l1")

#: The state rows each optimizer keeps (row 1, then row 2), by their trace names.
STATE_NAMES: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("velocity",),
    "nesterov": ("velocity",),
    "rmsprop": ("square_avg",),
    "adam": ("m", "v"),
}

#: Which settings each optimizer reads (the penalties apply to all).
USES: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("momentum",),
    "nesterov": ("momentum",),
    "rmsprop": ("alpha", "eps"),
    "adam": ("beta1", "beta2", "eps"),
}

_UNIT = "must be in [0, 1)"
_RULES: dict[str, tuple[str, object]] = {
    "momentum": (_UNIT, lambda v: 0.0 <= v < 1.0),
    "beta1": (_UNIT, lambda v: 0.0 <= v < 1.0),
    "beta2": (_UNIT, lambda v: 0.0 <= v < 1.0),
    "alpha": (_UNIT, lambda v: 0.0 <= v < 1.0),
    "eps": ("must be a positive number", lambda v: v > 0.0),
    "weight_decay": ("must be 0 or more", lambda v: v >= 0.0),
    "l1": ("must be 0 or more", lambda v: v >= 0.0),
}


def number_text(value: float) -> str:
    """A number as bptui prints it in a formula: six significant digits, one minus (−)."""
    if value == 0.0:
        value = 0.0  # never −0
    return f"{value:.6g}".replace("-", "−")


def _operand(value: float) -> str:
    """A number ready to stand next to · or +: bracketed when negative."""
    text = number_text(value)
    return f"({text})" if text.startswith("−") else text


def setting_problem(name: str, value: object, typographic: bool = True) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` (None when it is fine).

    One rule for scenario files and live edits alike, so both say the same;
    a file's error keeps the ASCII minus (``typographic=False``).
    """
    if name == "optimizer":
        if value not in OPTIMIZERS:
            return f"must be one of {', '.join(OPTIMIZERS)}, got {value!r}"
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, got {value!r}"
    number = float(value)
    shown = number_text(number) if typographic else f"{number:.6g}"
    if not math.isfinite(number):
        return f"must be finite, got {shown}"
    rule, ok = _RULES[name]
    if not ok(number):  # type: ignore[operator]
        return f"{rule}, got {shown}"
    return None


@dataclass(frozen=True)
class Optimizer:
    """Which optimizer and its settings (torch.optim's defaults where torch has one)."""

    name: str = "sgd"
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    l1: float = 0.0

    @property
    def penalized(self) -> bool:
        return self.weight_decay != 0.0 or self.l1 != 0.0

    @property
    def plain(self) -> bool:
        """θ ← θ − α·g exactly: the stepper's fast paths apply."""
        return self.name == "sgd" and not self.penalized

    @property
    def state_names(self) -> tuple[str, ...]:
        return STATE_NAMES[self.name]

    def settings(self) -> dict[str, object]:
        """The optimizer as the trace and a scenario file write it."""
        return {"optimizer": self.name, **{k: getattr(self, k) for k in SETTINGS}}


@dataclass(frozen=True)
class UpdateTerm:
    """One piece of a parameter's update: its symbol, its formula with numbers, its value.

    ``formula`` evaluates to ``value`` (to the printed digits).
    """

    symbol: str
    formula: str
    value: float


def new_state(size: int) -> Array:
    """Fresh optimizer state: no updates counted, zero moments."""
    return np.zeros((3, size))


def penalty(opt: Optimizer, theta: Array) -> Array:
    """weight_decay·θ + l1·sign(θ), the term added to every gradient."""
    term = np.zeros_like(theta)
    if opt.weight_decay:
        term = term + opt.weight_decay * theta
    if opt.l1:
        term = term + opt.l1 * np.sign(theta)
    return term


def _penalized(opt: Optimizer, theta: Array, grad: Array) -> Array:
    g = grad
    if opt.weight_decay:
        g = g + opt.weight_decay * theta
    if opt.l1:
        g = g + opt.l1 * np.sign(theta)
    return g


def apply(
    opt: Optimizer, learning_rate: float, train: Array, theta: Array, grad: Array, state: Array
) -> None:
    """One update of ``theta`` (in place) from ``grad``; ``state`` moves with it.

    ``train`` indexes the trainable parameters: only they, and only their
    state, change.  Plain SGD is the stepper's own line, not this one.
    """
    g = _penalized(opt, theta[train], grad[train])
    t = state[0, train]
    if opt.name in ("momentum", "nesterov"):
        buf = np.where(t == 0.0, g, opt.momentum * state[1, train] + g)
        state[1, train] = buf
        step = g + opt.momentum * buf if opt.name == "nesterov" else buf
    elif opt.name == "rmsprop":
        square = opt.alpha * state[1, train] + (1.0 - opt.alpha) * (g * g)
        state[1, train] = square
        step = g / (np.sqrt(square) + opt.eps)
    elif opt.name == "adam":
        count = t + 1.0
        m = opt.beta1 * state[1, train] + (1.0 - opt.beta1) * g
        v = opt.beta2 * state[2, train] + (1.0 - opt.beta2) * (g * g)
        state[1, train] = m
        state[2, train] = v
        m_hat = m / (1.0 - np.power(opt.beta1, count))
        v_hat = v / (1.0 - np.power(opt.beta2, count))
        step = m_hat / (np.sqrt(v_hat) + opt.eps)
    else:
        step = g
    state[0, train] = t + 1.0
    theta[train] = theta[train] - learning_rate * step


def state_dict(opt: Optimizer, names: list[str], state: Array) -> dict[str, dict[str, float]]:
    """The state as the trace writes it: state name → parameter name → value (t included)."""
    out: dict[str, dict[str, float]] = {"t": {n: int(t) for n, t in zip(names, state[0].tolist())}}
    for row, key in enumerate(opt.state_names, start=1):
        out[key] = dict(zip(names, state[row].tolist()))
    return out


def update_terms(
    opt: Optimizer,
    learning_rate: float,
    name: str,
    theta: float,
    grad: float,
    state: tuple[float, float, float],
    trainable: bool = True,
    g_symbol: str | None = None,
) -> list[UpdateTerm]:
    """The pieces of one parameter's update, in order, from its θ, g and state before it.

    Plain floats with the operations of :func:`apply`, so every value is the
    one the update used; each formula holds the numbers it was computed from.
    ``g_symbol`` names a gradient that is not backprop's (default ∂Loss/∂<name>).
    """
    g_symbol = g_symbol or f"∂Loss/∂{name}"
    terms = [UpdateTerm(g_symbol, number_text(grad), grad)]
    if not trainable:
        return [*terms, UpdateTerm(f"{name} (does not train)", number_text(theta), theta)]
    g = grad
    if opt.penalized:
        g, text = grad, _operand(grad)
        if opt.weight_decay:
            g = g + opt.weight_decay * theta
            text += f" + {number_text(opt.weight_decay)}·{_operand(theta)}"
        if opt.l1:
            sign = float(np.sign(theta))
            g = g + opt.l1 * sign
            text += f" + {number_text(opt.l1)}·{_operand(sign)}"
        terms.append(UpdateTerm("g", text, g))
    pieces, step, step_text = _optimizer_terms(opt, g, state)
    terms += pieces
    new = theta - learning_rate * step
    lr = number_text(learning_rate)
    if step_text != _operand(step):
        # What α multiplies, when it is not g or the velocity itself (rmsprop's and adam's
        # ratios): named, so Δθ's and θ's lines hold no number the pane has not shown.
        terms.append(UpdateTerm("step", step_text, step))
    terms.append(UpdateTerm("Δθ", f"−{lr}·{_operand(step)}", -(learning_rate * step)))
    terms.append(UpdateTerm(name, f"{_operand(theta)} − {lr}·{_operand(step)}", new))
    return terms


def _optimizer_terms(
    opt: Optimizer, g: float, state: tuple[float, float, float]
) -> tuple[list[UpdateTerm], float, str]:
    """The optimizer's own pieces, the step it takes and that step's formula."""
    t, first, second = state
    gt = _operand(g)
    if opt.name in ("momentum", "nesterov"):
        mu = number_text(opt.momentum)
        if t == 0.0:
            buf, text = g, number_text(g)
        else:
            buf, text = opt.momentum * first + g, f"{mu}·{_operand(first)} + {gt}"
        pieces = [UpdateTerm("velocity", text, buf)]
        if opt.name == "nesterov":
            step = g + opt.momentum * buf
            return pieces, step, f"{gt} + {mu}·{_operand(buf)}"
        return pieces, buf, _operand(buf)
    if opt.name == "rmsprop":
        a = opt.alpha
        square = a * first + (1.0 - a) * (g * g)
        text = f"{number_text(a)}·{_operand(first)} + {number_text(1.0 - a)}·{gt}²"
        step = g / (math.sqrt(square) + opt.eps)
        step_text = f"{gt}/(√{_operand(square)} + {number_text(opt.eps)})"
        return [UpdateTerm("square_avg", text, square)], step, step_text
    if opt.name == "adam":
        return _adam_terms(opt, g, state)
    return [], g, gt


def _adam_terms(
    opt: Optimizer, g: float, state: tuple[float, float, float]
) -> tuple[list[UpdateTerm], float, str]:
    t, m_old, v_old = state
    count = t + 1.0
    b1, b2 = opt.beta1, opt.beta2
    gt = _operand(g)
    m = b1 * m_old + (1.0 - b1) * g
    v = b2 * v_old + (1.0 - b2) * (g * g)
    # np.power, as apply uses, so m̂ and v̂ carry the very bits of the update
    m_hat = m / (1.0 - float(np.power(b1, count)))
    v_hat = v / (1.0 - float(np.power(b2, count)))
    n = f"{count:g}"
    step = m_hat / (math.sqrt(v_hat) + opt.eps)
    terms = [
        UpdateTerm("t", f"{t:g} + 1", count),
        UpdateTerm("m", f"{number_text(b1)}·{_operand(m_old)} + {number_text(1.0 - b1)}·{gt}", m),
        UpdateTerm("v", f"{number_text(b2)}·{_operand(v_old)} + {number_text(1.0 - b2)}·{gt}²", v),
        UpdateTerm("m̂", f"{_operand(m)}/(1 − {number_text(b1)}^{n})", m_hat),
        UpdateTerm("v̂", f"{_operand(v)}/(1 − {number_text(b2)}^{n})", v_hat),
    ]
    return terms, step, f"{_operand(m_hat)}/(√{_operand(v_hat)} + {number_text(opt.eps)})"
