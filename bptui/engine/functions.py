"""Activations and losses: value, derivative and the formula a human would write.

Every function here is numerically stable at large |z| (no overflow warnings),
because a diverging run must be *shown*, not crash with a numpy warning.
The formula strings are what the chain-rule pane prints, so they name nodes the
way the article does (``sigmoid(z_blue)``, ``−2(y − green)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray

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

HIDDEN_ACTIVATIONS = tuple(ACTIVATIONS)
OUTPUT_ACTIVATIONS = ("identity", "sigmoid", "softmax")
LOSSES = ("ssr", "mse", "bce", "cross_entropy")

#: Losses that need a particular output activation (SPEC §2).
LOSS_REQUIRES_OUTPUT = {"bce": "sigmoid", "cross_entropy": "softmax"}


def output_values(name: str, z: Array) -> Array:
    """Apply an output activation to the (n, k) logits."""
    if name == "softmax":
        return softmax(z)
    return ACTIVATIONS[name].value(z)


def loss_value(loss: str, output: str, z: Array, yhat: Array, y: Array) -> float:
    """The loss of (n, k) predictions; bce and cross-entropy use the logits."""
    if loss == "ssr":
        r = y - yhat
        return float(np.sum(r * r))
    if loss == "mse":
        r = y - yhat
        return float(np.sum(r * r) / r.size)
    if loss == "bce":
        # −[y log p + (1−y) log(1−p)] with p = sigmoid(z) equals softplus(z) − y·z.
        return float(np.sum(np.logaddexp(0.0, z) - y * z) / z.size)
    if loss == "cross_entropy":
        return float(-np.sum(y * log_softmax(z)) / z.shape[0])
    raise ValueError(f"unknown loss {loss!r}")


def loss_elementwise(loss: str, z: Array, yhat: Array, y: Array) -> Array:
    """Each (point, output) element's share of the loss; rows sum to a point's share."""
    n, k = y.shape
    if loss == "ssr":
        return (y - yhat) ** 2
    if loss == "mse":
        return (y - yhat) ** 2 / (n * k)
    if loss == "bce":
        return (np.logaddexp(0.0, z) - y * z) / (n * k)
    return -(y * log_softmax(z)) / n


def fused_output(loss: str, output: str) -> bool:
    """True when ∂Loss/∂z of the output is computed directly, not via ∂Loss/∂ŷ.

    Softmax always couples its outputs, and sigmoid + bce has the famous
    simplification p − y; in both the chain starts at the logits.
    """
    return output == "softmax" or (output == "sigmoid" and loss == "bce")


def dloss_dyhat(loss: str, yhat: Array, y: Array, count: int) -> Array:
    """∂Loss/∂ŷ for ssr and mse; ``count`` is the number of averaged elements."""
    g = -2.0 * (y - yhat)
    if loss == "mse":
        g /= count
    return g


def dloss_dyhat_formula(loss: str, node: str, count: int) -> str:
    if loss == "ssr":
        return f"−2(y − {node})"
    return f"−2(y − {node}) / {count}"


def dloss_dz_output(
    loss: str, output: str, z: Array, yhat: Array, y: Array, count: int, points: int
) -> Array:
    """∂Loss/∂z at the output layer for every (point, output)."""
    if loss == "bce":
        return (yhat - y) / count
    if loss == "cross_entropy":
        # General form for probability rows; p − y for one-hot targets.
        return (yhat * y.sum(axis=1, keepdims=True) - y) / points
    g = dloss_dyhat(loss, yhat, y, count)
    if output == "softmax":
        return yhat * (g - np.sum(yhat * g, axis=1, keepdims=True))
    if output == "sigmoid":
        return g * output_slope(output, yhat)
    return g


def dloss_dz_formula(loss: str, output: str, node: str, count: int, points: int) -> str:
    """The formula of ∂Loss/∂z_node for fused outputs, as printed in the chain pane."""
    if loss == "bce":
        return f"({node} − y) / {count}"
    if loss == "cross_entropy":
        return f"({node} − y) / {points}"
    inner = dloss_dyhat_formula(loss, node, count)
    return f"{node}·(∂Loss/∂{node} − Σⱼ ŷⱼ·∂Loss/∂ŷⱼ),  ∂Loss/∂{node} = {inner}"


def output_slope(output: str, yhat: Array) -> Array:
    """∂ŷ/∂z of the non-fused outputs (identity, sigmoid), from ŷ itself."""
    if output == "sigmoid":
        return ACTIVATIONS["sigmoid"].derivative(yhat, yhat)
    return np.ones_like(yhat)


def output_derivative_formula(output: str, node: str) -> str:
    """∂ŷ/∂z for the non-fused outputs (identity, sigmoid)."""
    if output == "sigmoid":
        return f"{node}(1 − {node})"
    return "1"
