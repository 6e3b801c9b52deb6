"""Activations and losses as tables: value, derivative and the formula a human would write.

Three tables, keyed by the names a scenario file uses: hidden activations
(:data:`ACTIVATIONS`), output activations (:data:`OUTPUT_ACTIVATIONS`) and
losses (:data:`LOSSES`).  Code looks a name up once (an unknown name is a
ValueError that names it) and from then on holds the object, so no function
here branches on a name.

Every function here is numerically stable at large |z| (no overflow warnings),
because a diverging run must be *shown*, not crash with a numpy warning.
The formula strings are what the chain-rule pane prints, so they name nodes the
way the article does (``sigmoid(z_blue)``, ``−2(y − green)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import numpy as np

Array = np.ndarray
T = TypeVar("T")

LEAKY_SLOPE = 0.01


def sigmoid(z: Array) -> Array:
    """1 / (1 + e⁻ᶻ) as exp(−log(1 + e⁻ᶻ)): no overflow, and no underflow to 0.

    The tanh form 0.5·(1 + tanh(z/2)) rounds to exactly 0 below z ≈ −38, which
    silently zeroes every gradient through a saturated unit (true value there:
    e^z, e.g. 1.2e-32 at z = −73.5); this form keeps full relative precision.
    """
    return np.exp(-np.logaddexp(0.0, -z))


def softplus(z: Array) -> Array:
    """log(1 + eᶻ) computed as logaddexp(0, z): exact for large |z|."""
    return np.logaddexp(0.0, z)


def log_softmax(z: Array) -> Array:
    """Row-wise log softmax, shifted by the row maximum for stability."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z: Array) -> Array:
    """Row-wise softmax, shifted by the row maximum for stability."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Activation:
    """An elementwise activation.

    ``derivative(z, a)`` gets both the pre-activation and the activation so
    each function uses whichever is cheaper and exact (sigmoid: a(1 − a)).
    ``formula(node)`` is ∂node/∂z_node written out for a node name.
    """

    name: str
    value: Callable[[Array], Array]
    derivative: Callable[[Array, Array], Array]
    formula_text: Callable[[str], str]
    value_text: str
    has_kink: bool = False

    def formula(self, node: str) -> str:
        return self.formula_text(node)


ACTIVATIONS: dict[str, Activation] = {
    "softplus": Activation(
        "softplus",
        softplus,
        lambda z, a: sigmoid(z),
        lambda n: f"sigmoid(z_{n})",
        "log(1 + e^z)",
    ),
    "relu": Activation(
        "relu",
        lambda z: np.maximum(z, 0.0),
        lambda z, a: (z > 0).astype(np.float64),
        lambda n: f"[z_{n} > 0]",
        "max(0, z)",
        has_kink=True,
    ),
    "sigmoid": Activation(
        "sigmoid",
        sigmoid,
        lambda z, a: a * (1.0 - a),
        lambda n: f"{n}(1 − {n})",
        "1 / (1 + e^−z)",
    ),
    "tanh": Activation(
        "tanh",
        np.tanh,
        lambda z, a: 1.0 - a * a,
        lambda n: f"1 − {n}²",
        "tanh(z)",
    ),
    "identity": Activation(
        "identity",
        lambda z: z,
        lambda z, a: np.ones_like(z),
        lambda n: "1",
        "z",
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
        lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
        lambda n: f"(1 if z_{n} > 0 else {LEAKY_SLOPE})",
        "max(0.01·z, z)",
        has_kink=True,
    ),
}


def _lookup(table: Mapping[str, T], name: str, what: str) -> T:
    """``table[name]``, or a ValueError that names the unknown name and the known ones."""
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what} {name!r} (known: {', '.join(table)})") from None


def hidden_activation(name: str) -> Activation:
    return _lookup(ACTIVATIONS, name, "activation")


# ----------------------------------------------------------- outputs
def _no_elementwise(what: str) -> Callable[..., NoReturn]:
    def fail(*_: object) -> NoReturn:
        raise ValueError(f"softmax couples its outputs: it has no elementwise {what}")

    return fail


def _softmax_backprop(g: Array, yhat: Array) -> Array:
    """∂Loss/∂z from ∂Loss/∂ŷ through softmax's Jacobian diag(p) − ppᵀ, row by row."""
    return yhat * (g - np.sum(yhat * g, axis=1, keepdims=True))


@dataclass(frozen=True)
class OutputActivation:
    """The output layer's activation, applied to the (n, k) logits.

    ``backprop(g, ŷ)`` turns ∂Loss/∂ŷ into ∂Loss/∂z.  Identity and sigmoid
    act elementwise, with ``slope(ŷ)`` = ∂ŷ/∂z and its ``slope_text``; softmax
    couples its outputs, so its chain starts at the logits and
    ``coupled_text(node, inner)`` writes ∂Loss/∂z_node around ``inner``, the
    loss's ∂Loss/∂ŷⱼ written for the j-th output ŷⱼ and its target yⱼ.
    """

    name: str
    value: Callable[[Array], Array]
    backprop: Callable[[Array, Array], Array]
    slope: Callable[[Array], Array]
    slope_text: Callable[[str], str]
    coupled_text: Callable[[str, str], str] | None = None
    min_outputs: int = 1

    @property
    def coupled(self) -> bool:
        return self.coupled_text is not None


def _sigmoid_slope(yhat: Array) -> Array:
    return ACTIVATIONS["sigmoid"].derivative(yhat, yhat)


OUTPUT_ACTIVATIONS: dict[str, OutputActivation] = {
    "identity": OutputActivation(
        "identity",
        ACTIVATIONS["identity"].value,
        lambda g, yhat: g,
        np.ones_like,
        lambda n: "1",
    ),
    "sigmoid": OutputActivation(
        "sigmoid",
        sigmoid,
        lambda g, yhat: g * _sigmoid_slope(yhat),
        _sigmoid_slope,
        lambda n: f"{n}(1 − {n})",
    ),
    "softmax": OutputActivation(
        "softmax",
        softmax,
        _softmax_backprop,
        _no_elementwise("slope"),
        _no_elementwise("slope formula"),
        coupled_text=lambda n, inner: f"{n}·(∂Loss/∂{n} − Σⱼ ŷⱼ·∂Loss/∂ŷⱼ),  ∂Loss/∂ŷⱼ = {inner}",
        min_outputs=2,
    ),
}


def output_activation(name: str) -> OutputActivation:
    return _lookup(OUTPUT_ACTIVATIONS, name, "output activation")


# ------------------------------------------------------------ losses
@dataclass(frozen=True)
class Loss:
    """A loss over (n, k) predictions.

    ``value(z, ŷ, y)`` and ``elementwise(z, ŷ, y)`` get the logits too, since
    bce and cross-entropy are exact only from them.  A loss either has
    ∂Loss/∂ŷ (``dloss_dyhat(ŷ, y, count)``, ``count`` the averaged elements)
    or, fused with the output it ``requires``, gives ∂Loss/∂z directly
    (``dloss_dz(ŷ, y, count, points)``: sigmoid + bce is p − y).  The
    ``*_text`` functions write those derivatives for a node name and the name
    of its target (``y``, or ``y2`` for the second of several outputs).
    ``bad_target(y)`` is the first row of targets the loss cannot take (or
    None); ``target_rule`` says what they must be.
    """

    name: str
    value: Callable[[Array, Array, Array], float]
    elementwise: Callable[[Array, Array, Array], Array]
    dloss_dyhat: Callable[[Array, Array, int], Array] | None = None
    dyhat_text: Callable[[str, str, int], str] | None = None
    dloss_dz: Callable[[Array, Array, int, int], Array] | None = None
    dz_text: Callable[[str, str, int, int], str] | None = None
    requires_output: str | None = None
    bad_target: Callable[[Array], int | None] = lambda y: None
    target_rule: str = ""

    @property
    def fused(self) -> bool:
        """True when the loss gives ∂Loss/∂z of the output itself."""
        return self.dloss_dz is not None


def _squared_error_slope(yhat: Array, y: Array, count: int) -> Array:
    return -2.0 * (y - yhat)


def _mean_squared_error_slope(yhat: Array, y: Array, count: int) -> Array:
    g = -2.0 * (y - yhat)
    g /= count
    return g


def _ssr(z: Array, yhat: Array, y: Array) -> float:
    r = y - yhat
    return float(np.sum(r * r))


def _mse(z: Array, yhat: Array, y: Array) -> float:
    r = y - yhat
    return float(np.sum(r * r) / r.size)


def _bce(z: Array, yhat: Array, y: Array) -> float:
    # −[y log p + (1−y) log(1−p)] with p = sigmoid(z) equals softplus(z) − y·z.
    return float(np.sum(np.logaddexp(0.0, z) - y * z) / z.size)


def _cross_entropy(z: Array, yhat: Array, y: Array) -> float:
    return float(-np.sum(y * log_softmax(z)) / z.shape[0])


def _first_bad_probability(y: Array) -> int | None:
    bad = np.argwhere((y < 0) | (y > 1))
    return int(bad[0][0]) if len(bad) else None


def _first_bad_distribution(y: Array) -> int | None:
    for i, row in enumerate(y):
        if (row < 0).any() or abs(row.sum() - 1.0) > 1e-9:
            return i
    return None


LOSSES: dict[str, Loss] = {
    "ssr": Loss(
        "ssr",
        _ssr,
        lambda z, yhat, y: (y - yhat) ** 2,
        dloss_dyhat=_squared_error_slope,
        dyhat_text=lambda n, y, count: f"−2({y} − {n})",
    ),
    "mse": Loss(
        "mse",
        _mse,
        lambda z, yhat, y: (y - yhat) ** 2 / y.size,
        dloss_dyhat=_mean_squared_error_slope,
        dyhat_text=lambda n, y, count: f"−2({y} − {n}) / {count}",
    ),
    "bce": Loss(
        "bce",
        _bce,
        lambda z, yhat, y: (np.logaddexp(0.0, z) - y * z) / y.size,
        dloss_dz=lambda yhat, y, count, points: (yhat - y) / count,
        dz_text=lambda n, y, count, points: f"({n} − {y}) / {count}",
        requires_output="sigmoid",
        bad_target=_first_bad_probability,
        target_rule="lie in [0, 1]",
    ),
    "cross_entropy": Loss(
        "cross_entropy",
        _cross_entropy,
        lambda z, yhat, y: -(y * log_softmax(z)) / y.shape[0],
        # General form for probability rows; p − y for one-hot targets.
        dloss_dz=lambda yhat, y, count, points: (yhat * y.sum(axis=1, keepdims=True) - y) / points,
        # Targets are rows summing to 1 (bad_target), so ŷ·Σy − y is ŷ − y.
        dz_text=lambda n, y, count, points: f"({n} − {y}) / {points}",
        requires_output="softmax",
        bad_target=_first_bad_distribution,
        target_rule="be one-hot or probability rows summing to 1",
    ),
}


def loss_function(name: str) -> Loss:
    return _lookup(LOSSES, name, "loss")


# ------------------------------------------------- the two together
def fused_output(loss: Loss, output: OutputActivation) -> bool:
    """True when ∂Loss/∂z of the output is computed directly, not via ∂Loss/∂ŷ.

    Softmax always couples its outputs, and sigmoid + bce has the famous
    simplification p − y; in both the chain starts at the logits.
    """
    return loss.fused or output.coupled


def dloss_dz_output(
    loss: Loss, output: OutputActivation, yhat: Array, y: Array, count: int, points: int
) -> Array:
    """∂Loss/∂z at the output layer for every (point, output)."""
    if loss.dloss_dz is not None:
        return loss.dloss_dz(yhat, y, count, points)
    return output.backprop(loss.dloss_dyhat(yhat, y, count), yhat)


def dloss_dz_formula(
    loss: Loss, output: OutputActivation, node: str, target: str, count: int, points: int
) -> str:
    """The formula of ∂Loss/∂z_node for fused outputs, as printed in the chain pane.

    ``target`` names the node's target (``y``, or ``y2`` for the second output).
    """
    if loss.dz_text is not None:
        return loss.dz_text(node, target, count, points)
    return output.coupled_text(node, loss.dyhat_text("ŷⱼ", "yⱼ", count))
