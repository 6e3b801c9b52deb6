"""Central finite differences: the independent witness for every gradient.

Relative error is |a − n| / max(|a|, |n|).  Verdicts follow the usual rule of
thumb (CS231n): ≤ 1e-7 good; ≤ 1e-4 acceptable only near a kink (relu,
leaky_relu); > 1e-2 wrong; in between, suspect.  Each numeric value comes with
its uncertainty (truncation and round-off, from steps shrunk until the
difference quotient is stable), so a large parameter is no false alarm.
Near zero a relative error means nothing: where both values lie below what the
central difference resolves at this loss, the verdict is "both ≈ 0" (the
gradient is negligible at this loss) or "cannot tell" (a saturated unit's
gradient, which a wrong value of the same size would match as well).
Where the ±h nudge straddles a kink, the central difference averages the two
one-sided slopes while backprop takes one of them: there the two cannot be
compared, so the verdict is "kink" — flagged, but not counted as a
disagreement.  Likewise "imprecise" where the difference lies within the
numeric value's uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bptui.engine.network import Network

Array = np.ndarray
#: How many parameters a gradient check nudges between two progress reports.
PROGRESS_EVERY = 256

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
    """One parameter's analytic and numeric gradient and the verdict.

    ``uncertainty`` is how far the numeric value may be from the true
    derivative (truncation and round-off, estimated), ``step`` the h it used.
    """

    name: str
    analytic: float
    numeric: float
    rel_error: float
    abs_error: float
    near_kink: bool
    verdict: (
        str  # good, ok-kink, kink, imprecise, both ≈ 0, cannot tell, suspect, wrong, non-finite
    )
    uncertainty: float = 0.0
    step: float = 0.0

    @property
    def agrees(self) -> bool:
        """No evidence of a wrong gradient (kink, imprecise and cannot tell are no evidence)."""
        return self.verdict in ("good", "ok-kink", "kink", "imprecise", BOTH_ZERO, CANNOT_TELL)

    @property
    def meaningful_rel_error(self) -> float | None:
        """The relative error, or None where both values are below what can be resolved."""
        return None if self.verdict in (BOTH_ZERO, CANNOT_TELL) else self.rel_error


#: Verdicts near zero, where a relative error means nothing.
BOTH_ZERO = "both ≈ 0"
CANNOT_TELL = "cannot tell"
#: Why "cannot tell", in words.
CANNOT_TELL_WHY = (
    "too small for central differences to see at this loss (a saturated unit, or a huge "
    "loss): a wrong value of this size would pass too"
)


def relative_error(a: float, n: float) -> float:
    scale = max(abs(a), abs(n))
    return 0.0 if scale == 0.0 else abs(a - n) / scale


def negligible(value: float, loss: float, theta: float = 0.0) -> bool:
    """Whether a gradient is zero for all purposes at this loss.

    Moving θ across its whole scale, max(1, |θ|), would change the loss by
    less than the loss's own round-off (and never more than ε absolute): no
    step of gradient descent could tell it from 0.
    """
    eps = float(np.finfo(np.float64).eps)
    return abs(value) * max(1.0, abs(theta)) <= 4 * eps * min(abs(loss), 1.0)


def verdict(
    rel: float,
    abs_err: float,
    near_kink: bool,
    resolution: float = 0.0,
    *,
    largest: float | None = None,
    zero: bool = False,
) -> str:
    """The verdict on one parameter.

    ``resolution`` is the numeric value's uncertainty.  ``largest`` is
    max(|backprop|, |numeric|): when it is below the resolution neither value
    is seen by the central difference, so no relative error is meaningful and
    the verdict is "both ≈ 0" (``zero``: negligible at this loss) or "cannot
    tell".
    """
    if not (np.isfinite(rel) and np.isfinite(abs_err)):
        return "non-finite"
    if largest is not None and largest <= resolution:
        return BOTH_ZERO if zero or largest == 0.0 else CANNOT_TELL
    if largest is not None and zero:
        return BOTH_ZERO
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


#: At most this many steps, each RATIO times smaller than the last (two losses each).
MAX_LEVELS = 8
#: Each step is this many times smaller than the one before.
RATIO = 4.0
#: A numeric value is precise enough when its uncertainty is below this share of GOOD.
PRECISE = 0.1


@dataclass(frozen=True)
class _Difference:
    """One central difference, its step and what it cannot resolve (the losses' round-off)."""

    value: float
    roundoff: float
    h: float


def _difference(
    loss_at: Callable[[float], float], theta_k: float, h: float, exact: bool = True
) -> _Difference:
    """D(h); ``exact`` rounds h to a step θ ± h represents exactly.

    The first step, 1e-6·max(1, |θ|), is off by at most ε/1e-6 ≈ 2e-10 of
    itself, and is left as it always was; a refined step is smaller than |θ|
    by more, and θ's own rounding would swamp it.
    """
    eps = np.finfo(np.float64).eps
    if exact:
        h = (theta_k + h) - theta_k
    up, down = loss_at(theta_k + h), loss_at(theta_k - h)
    return _Difference((up - down) / (2 * h), 4 * eps * (abs(up) + abs(down)) / (2 * h), h)


def _estimate(
    loss_at: Callable[[float], float], theta_k: float, step: float
) -> tuple[float, float, float]:
    """(value, uncertainty, h) of one derivative, from steps shrunk until it is stable.

    The central difference D(h) = g + c·h² + … + noise/h.  Steps shrink by
    RATIO from h = step·max(1, |θ|); each new one gives D's truncation error
    |D(h) − D(h/r)| / (r² − 1) and the Richardson value that cancels the h²
    term, whose own error shows in how much it moves from one step to the
    next.  The estimate with the smallest uncertainty (truncation plus
    round-off) is kept, and the search stops once that is well below the
    verdict's threshold or smaller steps can only add round-off.  So a
    parameter of 1e6, whose first h = 1 is far too coarse for the curve, is
    not a false alarm, and one no step settles says so by its uncertainty.
    """
    r2 = RATIO * RATIO
    previous = _difference(loss_at, theta_k, step * max(1.0, abs(theta_k)), exact=False)
    best = (previous.value, float("inf"), previous.h)
    extrapolated: float | None = None
    for _ in range(MAX_LEVELS - 1):
        current = _difference(loss_at, theta_k, previous.h / RATIO)
        moved = abs(current.value - previous.value)
        if extrapolated is None:
            # The first step itself, kept when it is already stable (the usual case).
            first = (previous.value, moved * r2 / (r2 - 1) + previous.roundoff, previous.h)
            if first[1] <= GOOD * abs(first[0]):
                return first
            best = _better(best, first)
        richardson = current.value + (current.value - previous.value) / (r2 - 1)
        best = _better(best, (current.value, moved / (r2 - 1) + current.roundoff, current.h))
        if extrapolated is not None:
            error = abs(richardson - extrapolated) + 2 * current.roundoff
            best = _better(best, (richardson, error, current.h))
        if _precise(best) or current.roundoff >= best[1]:
            break
        previous, extrapolated = current, richardson
    if not np.isfinite(best[1]):
        best = (best[0], previous.roundoff, best[2])
    return best


def _precise(estimate: tuple[float, float, float]) -> bool:
    """Whether an estimate's uncertainty is well below what the verdict could notice."""
    return estimate[1] <= PRECISE * GOOD * abs(estimate[0])


def _better(
    best: tuple[float, float, float], candidate: tuple[float, float, float]
) -> tuple[float, float, float]:
    """The estimate with the smaller (finite) uncertainty."""
    value, uncertainty, _ = candidate
    if np.isfinite(value) and np.isfinite(uncertainty) and uncertainty < best[1]:
        return (float(value), float(uncertainty), candidate[2])
    return best


def central_differences(
    network: Network, theta: Array, x: Array, y: Array, step: float = STEP
) -> tuple[Array, Array]:
    """The numeric gradient and, per parameter, its uncertainty.

    The uncertainty adds the estimated truncation error to the round-off of
    the two losses, about ε·(|L₊| + |L₋|) / 2h: at an ordinary loss ~1e-9, at
    the loss of a diverging run (1e300) enough to swamp every gradient.
    """
    grad, uncertainty, _ = _central_differences(network, theta, x, y, step)
    return grad, uncertainty


def _central_differences(
    network: Network,
    theta: Array,
    x: Array,
    y: Array,
    step: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Array, Array, Array]:
    grad = np.zeros_like(theta)
    uncertainty = np.zeros_like(theta)
    steps = np.zeros_like(theta)
    probe = theta.copy()
    with np.errstate(all="ignore"):
        for k in range(theta.size):
            if progress is not None and k % PROGRESS_EVERY == 0:
                progress(k, theta.size)

            def loss_at(value: float, k: int = k) -> float:
                probe[k] = value
                return network.loss_value(probe, x, y)

            grad[k], uncertainty[k], steps[k] = _estimate(loss_at, float(theta[k]), step)
            probe[k] = theta[k]
    return grad, uncertainty, steps


def kink_parameters(network: Network, theta: Array, x: Array, step: float = STEP) -> set[str]:
    """Parameters whose ±h nudge can move some relu / leaky_relu input across its kink.

    Each parameter is nudged by the largest ±h the numeric gradient uses and the
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
    network: Network,
    theta: Array,
    x: Array,
    y: Array,
    analytic: Array,
    progress: Callable[[int, int], None] | None = None,
) -> list[CheckRow]:
    """Backprop against central differences, one verdict per parameter.

    ``progress(done, total)`` hears how many parameters have been nudged (a
    big net takes minutes); an exception raised from it abandons the check.
    """
    numeric, uncertainty, steps = _central_differences(network, theta, x, y, STEP, progress)
    kinks = kink_parameters(network, theta, x)
    with np.errstate(all="ignore"):
        loss = network.loss_value(theta, x, y)
    rows = []
    for k, name in enumerate(network.param_names):
        a, n, res = float(analytic[k]), float(numeric[k]), float(uncertainty[k])
        rel, err, near = relative_error(a, n), abs(a - n), name in kinks
        largest = max(abs(a), abs(n))
        zero = negligible(largest, loss, float(theta[k]))
        judged = verdict(rel, err, near, res, largest=largest, zero=zero)
        rows.append(CheckRow(name, a, n, rel, err, near, judged, res, float(steps[k])))
    return rows
