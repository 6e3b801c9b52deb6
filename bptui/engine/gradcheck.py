"""Central finite differences: the independent witness for every gradient.

Relative error is |a − n| / max(|a|, |n|).  Verdicts follow the usual rule of
thumb (CS231n): ≤ 1e-7 good; ≤ 1e-4 acceptable only near a kink (relu,
leaky_relu); > 1e-2 wrong; in between, suspect.  Tiny gradients, whose
relative error is dominated by round-off, are judged by absolute error instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptui.engine.network import Network

Array = np.ndarray

STEP = 1e-6
GOOD = 1e-7
KINK_OK = 1e-4
WRONG = 1e-2
#: Below this absolute difference two gradients agree whatever their ratio.
ABS_FLOOR = 1e-9


@dataclass(frozen=True)
class CheckRow:
    """One parameter's analytic and numeric gradient and the verdict."""

    name: str
    analytic: float
    numeric: float
    rel_error: float
    abs_error: float
    near_kink: bool
    verdict: str  # good, ok-kink, suspect, wrong

    @property
    def agrees(self) -> bool:
        return self.verdict in ("good", "ok-kink")


def relative_error(a: float, n: float) -> float:
    scale = max(abs(a), abs(n))
    return 0.0 if scale == 0.0 else abs(a - n) / scale


def verdict(rel: float, abs_err: float, near_kink: bool) -> str:
    if rel <= GOOD or abs_err <= ABS_FLOOR:
        return "good"
    if rel <= KINK_OK and near_kink:
        return "ok-kink"
    if rel > WRONG:
        return "wrong"
    return "suspect"


def numeric_gradient(
    network: Network, theta: Array, x: Array, y: Array, step: float = STEP
) -> Array:
    """∂Loss/∂θ by central differences, one parameter at a time."""
    grad = np.zeros_like(theta)
    probe = theta.copy()
    with np.errstate(all="ignore"):
        for k in range(theta.size):
            h = step * max(1.0, abs(theta[k]))
            probe[k] = theta[k] + h
            up = network.loss_value(probe, x, y)
            probe[k] = theta[k] - h
            down = network.loss_value(probe, x, y)
            probe[k] = theta[k]
            grad[k] = (up - down) / (2 * h)
    return grad


def kink_parameters(network: Network, theta: Array, x: Array, step: float = STEP) -> set[str]:
    """Parameters whose nudge by ±h could move a relu input across 0."""
    if not network.hidden.has_kink:
        return set()
    zs, _ = network.forward(theta, x)
    near: set[str] = set()
    for layer_index, z in enumerate(zs[:-1], start=1):
        # A node whose z sits within a generous margin of 0 for some point
        # makes every parameter upstream of it (and its own) suspicious.
        margin = step * 10 * (1.0 + np.abs(z).max())
        close = (np.abs(z) < margin).any(axis=0)
        if close.any():
            for p in network.params:
                if p.layer <= layer_index:
                    near.add(p.name)
    return near


def gradient_check(
    network: Network, theta: Array, x: Array, y: Array, analytic: Array
) -> list[CheckRow]:
    numeric = numeric_gradient(network, theta, x, y)
    kinks = kink_parameters(network, theta, x)
    rows = []
    for name, a, n in zip(network.param_names, analytic.tolist(), numeric.tolist()):
        rel = relative_error(a, n)
        err = abs(a - n)
        near = name in kinks
        rows.append(CheckRow(name, a, n, rel, err, near, verdict(rel, err, near)))
    return rows
