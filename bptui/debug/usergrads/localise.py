"""When no known mistake fits: let the response to the targets y say where the error lies.

Only the first factor of a chain (∂Loss/∂ŷ or ∂Loss/∂z) depends on y.  Nudging
one point's target yᵢ moves that factor at point i alone, so the user's
response to it, divided by the factor's own response, is the rest of the
user's chain at point i.  A response like backprop's clears the rest of the
chain; no response at all implicates the first factor; and when the per-point
rests rebuild the user's value, the first factor is right and the rest
of the chain is compared factor by factor.  That split needs every point's
probe: with more points than are probed, which factor is wrong cannot be told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bptui.debug.gradcheck import (
    NO_RESPONSE,
    RATIO_REL,
    SAME_RESPONSE_REL,
    ZERO,
    close,
    same_factor,
)
from bptui.debug.usergrads.diagnosis import Diagnosis, fmt, fmt_points, per_point
from bptui.engine.chain import Factor
from bptui.engine.record import StepRecord

Array = np.ndarray
#: One target probe: the point whose y was nudged, the probe's record, the user's value there.
YResponse = tuple[int, StepRecord, float]


@dataclass(frozen=True)
class _Responses:
    """Per probed point i: how the user's value, the gradient and the first factor move with yᵢ."""

    points: list[int]
    user: Array  # ∂(user's value)/∂yᵢ
    true: Array  # ∂(gradient)/∂yᵢ
    slope: Array  # ∂(first factor at i)/∂yᵢ
    rest_true: Array  # the correct rest of the chain at i

    @classmethod
    def measure(cls, param: str, user: float, rec: StepRecord, probes: Sequence[YResponse]):
        first = rec.factors[param][0]
        chain = rec.chain_product(param)
        points, v, t, slope, rest_true = [], [], [], [], []
        for i, probe, value in probes:
            moved = probe.y[i] - rec.y[i]
            dy = float(np.sum(moved))
            if abs(dy) <= ZERO:  # a probability row's nudge keeps its sum: scale by its size
                dy = float(np.abs(moved).max())
            points.append(i)
            v.append((value - user) / dy)
            t.append((probe.grads[param] - rec.grads[param]) / dy)
            slope.append((probe.factors[param][0].values[i] - first.values[i]) / dy)
            rest_true.append(chain[i] / first.values[i] if first.values[i] else 0.0)
        return cls(points, np.array(v), np.array(t), np.array(slope), np.array(rest_true))

    def same_as_backprop(self) -> bool:
        scale = max(float(np.abs(self.true).max()), float(np.abs(self.user).max()), ZERO)
        return bool(np.abs(self.user - self.true).max() <= SAME_RESPONSE_REL * scale)

    def none(self, user: float) -> bool:
        return bool(np.abs(self.user).max() <= NO_RESPONSE * max(1.0, abs(user)))


def localise(
    param: str, user: float, rec: StepRecord, y_responses: Sequence[YResponse]
) -> Diagnosis:
    """Where the error lies, from the user's value at each (point, y-probe record)."""
    first = rec.factors[param][0]
    difference = fmt(user - rec.grads[param])
    if not y_responses:
        return Diagnosis("unknown", f"differs by {difference}; which factor cannot be told")
    r = _Responses.measure(param, user, rec, y_responses)
    if r.same_as_backprop():
        return Diagnosis(
            "offset",
            f"responds to y exactly as backprop does, so the chain after {first.symbol} "
            f"is consistent; the difference {difference} does not depend "
            f"on y — consistent with {first.symbol} computed from a wrong prediction, or a "
            "term added",
            first.symbol,
        )
    if r.none(user):
        return Diagnosis(
            "no_y",
            f"your value does not change with the targets y at all, but the gradient does, "
            f"through {first.symbol} ({first.formula}): that factor is missing or wrong",
            first.symbol,
        )
    if len(r.points) < len(rec.batch):
        # The per-point split needs every point's response to its own y.
        return Diagnosis(
            "unknown",
            f"differs by {difference}; which factor cannot be told "
            f"(only {len(r.points)} of the {len(rec.batch)} points were probed)",
        )
    if (np.abs(r.slope) > ZERO).all():
        split = _split_rest(param, user, rec, r)
        if split is not None:
            return split
    return Diagnosis(
        "loss",
        f"{first.symbol} ({first.formula}) is wrong: your value responds to the targets "
        f"yᵢ by {fmt_points(r.user)} where the correct chain responds by "
        f"{fmt_points(r.true)}, and only {first.symbol} depends on y",
        first.symbol,
    )


def _split_rest(param: str, user: float, rec: StepRecord, r: _Responses) -> Diagnosis | None:
    """With the first factor right, which later factor is not; None if the first is wrong."""
    first = rec.factors[param][0]
    rest_user = r.user / r.slope
    if not close(float(np.sum(first.values[rec.batch] * rest_user)), user):
        return None
    others = [f for f in rec.factors[param][1:] if not same_factor(f.values, 1.0)]
    if len(others) == 1:
        f = others[0]
        return Diagnosis(
            "factor",
            f"{first.symbol} is right, {f.symbol} is not: per point yours acts as "
            f"{fmt_points(rest_user)} where {f.formula} = {fmt_points(r.rest_true)}",
            f.symbol,
            per_point(rest_user),
            per_point(r.rest_true),
        )
    blamed = _blame_in_rest(others, rec.batch, rest_user, r.rest_true)
    if blamed is not None:
        f, implied, why = blamed
        correct_values = per_point(f.values[rec.batch])
        return Diagnosis(
            "factor",
            f"{first.symbol} is right, {f.symbol} ({f.formula}) is not — {why}: "
            f"per point yours acts as {fmt_points(np.array(implied))} where it is "
            f"{fmt_points(np.array(correct_values))}",
            f.symbol,
            tuple(implied),
            correct_values,
        )
    symbols = " · ".join(f.symbol for f in rec.factors[param][1:])
    return Diagnosis(
        "rest",
        f"{first.symbol} is right; the rest of the chain ({symbols}) is not — per "
        f"point yours acts as {fmt_points(rest_user)} instead of "
        f"{fmt_points(r.rest_true)}; which of its factors cannot be told",
        None,
        per_point(rest_user),
        per_point(r.rest_true),
    )


def _blame_in_rest(
    others: list[Factor], batch: Array, rest_user: Array, rest_true: Array
) -> tuple[Factor, list[float], str] | None:
    """Which factor after the first explains the user's per-point rest, if one can.

    A factor that is one number for every point (a weight, ∂green/∂blue = w3)
    can only scale all points alike; a per-point factor (sigmoid(z)·x) can
    scale them differently.  So a ratio yours/correct that is the same at
    every point points at the single constant factor, and one that varies
    points at the single varying factor.
    """
    usable = np.abs(rest_true) > ZERO
    if not usable.any():
        return None
    ratio = rest_user[usable] / rest_true[usable]
    constant = [f for f in others if same_factor(f.values[batch], f.values[batch][0])]
    varying = [f for f in others if f not in constant]
    same = bool(np.allclose(ratio, ratio[0], rtol=RATIO_REL, atol=ZERO))
    if same and len(constant) == 1:
        f = constant[0]
        c = float(ratio[0])
        implied = [float(v) * c for v in f.values[batch]]
        return (
            f,
            implied,
            f"yours is ×{c:.6g} the correct chain at every point, and it is the only "
            "remaining factor that is one number for all points",
        )
    if not same and len(varying) == 1:
        f = varying[0]
        full = np.ones_like(rest_true)
        full[usable] = rest_user[usable] / rest_true[usable]
        implied = [float(v) for v in f.values[batch] * full]
        return f, implied, "it is the only remaining factor that varies from point to point"
    return None
