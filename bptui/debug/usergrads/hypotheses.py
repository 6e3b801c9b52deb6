"""Known mistakes, one class each: what it predicts and how to say it.

A parameter's gradient is Σᵢ Πₖ fₖ[i] over the chain factors of
``record.factors``.  Each mistake below is a function of the state: its
``predict(record)`` is the value a user making that mistake would return, and
``describe(record, user)`` the diagnosis when it fits.  :func:`hypotheses_for`
lists them for one parameter, most specific and most common first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bptui.debug.gradcheck import ABS_FLOOR, close, same_factor
from bptui.debug.usergrads.diagnosis import Diagnosis, fmt, per_point
from bptui.debug.usergrads.probes import MAX_POINT_PROBES
from bptui.engine.record import StepRecord

Array = np.ndarray


class Hypothesis(Protocol):
    """One known mistake for one parameter."""

    def predict(self, record: StepRecord) -> float:
        """The value a user making this mistake returns at ``record``."""
        ...

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        """The diagnosis when this mistake explains the user's value."""
        ...


def _squared(record: StepRecord) -> bool:
    """Whether the first factor is a squared loss's ∂Loss/∂ŷ (where the 2 and the sign live)."""
    net = record.network
    return net.loss in ("ssr", "mse") and not net.fused


def _first_total(record: StepRecord, param: str) -> float:
    return float(np.sum(record.factors[param][0].values))


def _rest(record: StepRecord, param: str) -> Array:
    """Per batch point: the product of the factors after the first."""
    product = np.ones(record.x.shape[0])
    for f in record.factors[param][1:]:
        product = product * f.values
    return product[record.batch]


@dataclass(frozen=True)
class ArticleLossScalar:
    """The article's derivative1: ∂Loss/∂ŷ as the single number −2·Loss."""

    param: str

    def predict(self, record: StepRecord) -> float:
        return -2.0 * record.batch_loss * float(np.mean(_rest(record, self.param)))

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        factors = record.factors[self.param]
        first = factors[0]
        wrong = -2.0 * record.batch_loss
        right = _first_total(record, self.param)
        rest_text = ""
        if len(factors) > 1 and not same_factor(_rest(record, self.param), 1.0):
            rest_text = " (times the rest of the chain averaged over the points)"
        loss = {"ssr": "SSR", "mse": "MSE"}.get(record.network.loss, "Loss")
        return Diagnosis(
            "loss_scalar",
            f"consistent with {first.symbol} = −2·{loss} = {fmt(wrong)}"
            f"{rest_text} — the article's derivative1 — instead of "
            f"Σᵢ {first.formula} = {fmt(right)}",
            first.symbol,
            wrong,
            right,
        )


SIGN_TEXT = (
    "the sign is flipped: consistent with one factor's sign — which one cannot be told; "
    "most often {factor} ({formula}) written without its minus"
)


@dataclass(frozen=True)
class SignFlip:
    """Backprop's value with its sign flipped."""

    param: str

    def predict(self, record: StepRecord) -> float:
        return -1.0 * record.grads[self.param]

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        first = record.factors[self.param][0]
        return Diagnosis("sign", SIGN_TEXT.format(factor=first.symbol, formula=first.formula))


@dataclass(frozen=True)
class ConstantScale:
    """Backprop's value times a constant: a 2, an n or a 1/n gained or lost.

    For a squared loss the constant belongs to its ∂Loss/∂ŷ factor (which
    holds the 2 and the 1/n), so the diagnosis names it.
    """

    param: str
    c: float
    text: str  # may name {factor} and {formula}

    def predict(self, record: StepRecord) -> float:
        return self.c * record.grads[self.param]

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        first = record.factors[self.param][0]
        message = self.text.format(factor=first.symbol, formula=first.formula)
        if not _squared(record):
            return Diagnosis("scale", message)
        total = _first_total(record, self.param)
        message += (
            f" (Σᵢ {first.symbol}: yours acts as {fmt(self.c * total)}, correct {fmt(total)})"
        )
        return Diagnosis("scale", message, first.symbol, self.c * total, total)


@dataclass(frozen=True)
class DroppedFactor:
    """The chain with one factor left out."""

    param: str
    k: int

    def predict(self, record: StepRecord) -> float:
        product = np.ones(record.x.shape[0])
        for j, f in enumerate(record.factors[self.param]):
            if j != self.k:
                product = product * f.values
        return float(product[record.batch].sum())

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        f = record.factors[self.param][self.k]
        return Diagnosis(
            "drop",
            f"consistent with leaving out the factor {f.symbol} = {f.formula} "
            "(the other factors' product, summed over the points, gives your value)",
            f.symbol,
            1.0,
            per_point(f.values[record.batch]),
        )


@dataclass(frozen=True)
class OnePoint:
    """One point's chain product instead of the sum over the points."""

    param: str
    i: int

    def predict(self, record: StepRecord) -> float:
        return float(record.chain_product(self.param)[self.i])

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        return Diagnosis(
            "single_point",
            f"consistent with the chain at point {self.i + 1} alone: the sum over the "
            f"{len(record.batch)} points is missing (Σᵢ = {fmt(record.grads[self.param])})",
        )


def _scale_texts(loss: str, n: int, squared: bool) -> list[tuple[float, str]]:
    """Constant-factor mistakes (the sign aside) and what each says about the loss factor."""
    if not squared:
        return [
            (c, f"{c:g} × backprop's value: off by a constant factor — which factor cannot be told")
            for c in (0.5, 2.0)
        ]
    scales = [
        (0.5, "half of backprop's value: consistent with {factor} ({formula}) missing its 2"),
        (2.0, "twice backprop's value: consistent with an extra 2 in {factor} ({formula})"),
        (
            -0.5,
            "minus half of backprop's value: consistent with {factor} ({formula}) missing its −2",
        ),
        (
            -2.0,
            "minus twice backprop's value: consistent with {factor} ({formula}) "
            "with its sign flipped and an extra 2",
        ),
    ]
    if n > 2:
        scales += _point_count_scales(loss, n)
    return scales


def _point_count_scales(loss: str, n: int) -> list[tuple[float, str]]:
    """A squared loss's n: SSR has no 1/n, MSE has one."""
    if loss == "ssr":
        return [
            (
                1.0 / n,
                f"1/{n} of backprop's value: consistent with {{factor}} "
                f"averaged over the {n} points, but SSR sums them (no 1/n)",
            ),
            (
                float(n),
                f"{n} × backprop's value: consistent with {{factor}} "
                "counted once per point too many",
            ),
        ]
    return [
        (
            float(n),
            f"{n} × backprop's value: consistent with {{factor}} "
            f"({{formula}}) missing the 1/{n} of the mean over {n} points",
        ),
        (
            1.0 / n,
            f"1/{n} of backprop's value: consistent with {{factor}} "
            f"({{formula}}) divided by {n} twice",
        ),
    ]


def hypotheses_for(param: str, record: StepRecord) -> list[Hypothesis]:
    """Every known mistake for ``param``, most specific and most common first."""
    n = len(record.batch)
    squared = _squared(record)
    out: list[Hypothesis] = [ArticleLossScalar(param)] if squared else []
    out.append(SignFlip(param))
    out += [
        ConstantScale(param, c, text) for c, text in _scale_texts(record.network.loss, n, squared)
    ]
    out += [
        DroppedFactor(param, k)
        for k, factor in enumerate(record.factors[param])
        if not same_factor(factor.values[record.batch], 1.0)
    ]
    if n > 1:
        out += [OnePoint(param, int(i)) for i in record.batch[:MAX_POINT_PROBES]]
    return out


def first_fit(
    hypotheses: Sequence[Hypothesis], observed: Sequence[tuple[StepRecord, float]]
) -> Hypothesis | None:
    """The first mistake that reproduces the user's value at every observed state."""
    for hypothesis in hypotheses:
        predicted = [hypothesis.predict(record) for record, _ in observed]
        if all(abs(p) <= ABS_FLOOR for p in predicted):
            continue  # a mistake that predicts 0 everywhere explains nothing
        if all(close(value, p) for (_, value), p in zip(observed, predicted)):
            return hypothesis
    return None
