"""Central finite differences: the independent witness for every gradient.

Relative error is |a − n| / max(|a|, |n|).  Verdicts follow the usual rule of
thumb (CS231n): ≤ 1e-7 good; ≤ 1e-4 acceptable only near a kink (relu,
leaky_relu); > 1e-2 wrong; in between, suspect.  Tiny gradients, whose
relative error is dominated by round-off, are judged by absolute error instead.
Where the ±h nudge straddles a kink, the central difference averages the two
one-sided slopes while backprop takes one of them: there the two cannot be
compared, so the verdict is "kink" — flagged, but not counted as a
disagreement.  Likewise "imprecise" where the difference is below what the
central difference can resolve at this loss (a diverging run's 1e300 loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptui.engine.network import Network

Array = np.ndarray

# ------------------------------------------------------------------ tolerances
# Every tolerance of debug/ lives here, each under one name.

#: The central difference's step, times max(1, |θₖ|).
STEP = 1e-6
#: Backprop vs central differences: a relative error up to this is good …
GOOD = 1e-7
#: … up to this acceptable where the nudge is near a relu kink …
KINK_OK = 1e-4
#: … and beyond this wrong (in between: suspect).
WRONG = 1e-2
#: Below this absolute difference two gradients agree whatever their ratio
#: (round-off on gradients near zero) — in the check and for the user's values.
ABS_FLOOR = 1e-9
#: A user's value agrees with backprop within this relative error: both are
#: exact formulas, so only the order of floating-point operations differs.
AGREE_REL = 1e-6

# The diagnosis of a user's wrong value compares its responses to probes.
SAME_RESPONSE_REL = 1e-5  # two responses are the same within this share of the larger
NO_RESPONSE = 1e-9  # moving less than this (times max(1, |value|)) is no response
ZERO = 1e-12  # a slope or chain value this small is zero (never divided by)
FACTOR_REL = 1e-5  # a factor within these (numpy's allclose defaults) of 1, or of its
FACTOR_ABS = 1e-8  # first point's value, is 1, or one number for all points
RATIO_REL = 1e-6  # the user's chain over the correct one is one ratio at every point


def close(a: float, b: float) -> bool:
    """The one rule of agreement for a user's value: within AGREE_REL or ABS_FLOOR."""
    diff = abs(a - b)
    return diff <= ABS_FLOOR or diff <= AGREE_REL * max(abs(a), abs(b))


def same_factor(values: Array, target: float | Array) -> bool:
    """Whether a factor's values equal ``target`` (1, or one point's value) everywhere."""
    return bool(np.allclose(values, target, rtol=FACTOR_REL, atol=FACTOR_ABS))


@dataclass(frozen=True)
class CheckRow:
    """One parameter's analytic and numeric gradient and the verdict."""

    name: str
    analytic: float
    numeric: float
    rel_error: float
    abs_error: float
    near_kink: bool
    verdict: str  # good, ok-kink, kink, imprecise, suspect, wrong, non-finite

    @property
    def agrees(self) -> bool:
        """No evidence of a wrong gradient (kink and imprecise cannot be told)."""
        return self.verdict in ("good", "ok-kink", "kink", "imprecise")


def relative_error(a: float, n: float) -> float:
    scale = max(abs(a), abs(n))
    return 0.0 if scale == 0.0 else abs(a - n) / scale


def verdict(rel: float, abs_err: float, near_kink: bool, resolution: float = 0.0) -> str:
    if not (np.isfinite(rel) and np.isfinite(abs_err)):
        return "non-finite"
    if rel <= GOOD or abs_err <= ABS_FLOOR:
        return "good"
    if near_kink:
        return "ok-kink" if rel <= KINK_OK else "kink"
    if abs_err <= resolution:
        return "imprecise"
    if rel > WRONG:
        return "wrong"
    return "suspect"


def numeric_gradient(
    network: Network, theta: Array, x: Array, y: Array, step: float = STEP
) -> Array:
    """∂Loss/∂θ by central differences, one parameter at a time."""
    return central_differences(network, theta, x, y, step)[0]


def central_differences(
    network: Network, theta: Array, x: Array, y: Array, step: float = STEP
) -> tuple[Array, Array]:
    """The numeric gradient and, per parameter, the smallest difference it resolves.

    (L(θ+h) − L(θ−h)) / 2h cannot see changes below the round-off of the two
    losses, about ε·(|L₊| + |L₋|) / 2h.  At an ordinary loss that is ~1e-9;
    at the loss of a diverging run (1e300) it swamps every gradient.
    """
    grad = np.zeros_like(theta)
    resolution = np.zeros_like(theta)
    probe = theta.copy()
    eps = np.finfo(np.float64).eps
    with np.errstate(all="ignore"):
        for k in range(theta.size):
            h = step * max(1.0, abs(theta[k]))
            probe[k] = theta[k] + h
            up = network.loss_value(probe, x, y)
            probe[k] = theta[k] - h
            down = network.loss_value(probe, x, y)
            probe[k] = theta[k]
            grad[k] = (up - down) / (2 * h)
            resolution[k] = 4 * eps * (abs(up) + abs(down)) / (2 * h)
    return grad, resolution


def kink_parameters(network: Network, theta: Array, x: Array, step: float = STEP) -> set[str]:
    """Parameters whose ±h nudge can move some relu / leaky_relu input across its kink.

    Each parameter is nudged by the same ±h the numeric gradient uses and the
    hidden pre-activations recomputed: the parameter is near a kink when, for
    some node and point, z lies within the change the nudge causes
    (|z| ≤ max |Δz| with Δz ≠ 0; a sign change is the extreme case).  Then the
    central difference straddles the kink and measures neither side's slope.
    """
    if not network.hidden.has_kink or network.depth < 2:
        return set()
    near: set[str] = set()
    probe = theta.copy()
    with np.errstate(all="ignore"):
        base = network.forward(theta, x)[0][:-1]
        for k, p in enumerate(network.params):
            h = step * max(1.0, abs(theta[k]))
            moved = []
            for sign in (1.0, -1.0):
                probe[k] = theta[k] + sign * h
                moved.append(network.forward(probe, x)[0][:-1])
            probe[k] = theta[k]
            for z, up, down in zip(base, *moved):
                reach = np.maximum(np.abs(up - z), np.abs(down - z))
                if np.any((reach > 0) & (np.abs(z) <= reach)):
                    near.add(p.name)
                    break
    return near


def gradient_check(
    network: Network, theta: Array, x: Array, y: Array, analytic: Array
) -> list[CheckRow]:
    numeric, resolution = central_differences(network, theta, x, y)
    kinks = kink_parameters(network, theta, x)
    rows = []
    for name, a, n, res in zip(
        network.param_names, analytic.tolist(), numeric.tolist(), resolution.tolist()
    ):
        rel = relative_error(a, n)
        err = abs(a - n)
        near = name in kinks
        rows.append(CheckRow(name, a, n, rel, err, near, verdict(rel, err, near, res)))
    return rows
