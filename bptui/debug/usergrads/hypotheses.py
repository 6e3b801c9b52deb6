"""Known mistakes, one class each: what it predicts and how to say it.

A parameter's gradient is Σᵢ Πₖ fₖ[i] over the chain factors of
``record.factors``.  Each mistake below is a function of the state: its
``predict(record)`` is the value a user making that mistake would return, and
``describe(record, user)`` the diagnosis when it fits.  :func:`hypotheses_for`
lists them for one parameter, most specific and most common first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bptui.debug.gradcheck import ABS_FLOOR, close, same_factor
from bptui.debug.usergrads.diagnosis import Diagnosis, fmt, per_point
from bptui.debug.usergrads.probes import MAX_POINT_PROBES
from bptui.engine import functions as fn
from bptui.engine.chain import bracketed
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


def _fused_loss(record: StepRecord) -> bool:
    """Whether the loss gives ∂Loss/∂z of the output itself (bce, cross-entropy)."""
    return record.network.loss_fn.fused


def _output_factor(record: StepRecord) -> tuple[str, str]:
    """The fused output factor ∂Loss/∂z as (symbol, formula), for one output or the k-th."""
    net = record.network
    outputs = net.node_names[-1]
    node, target = (outputs[0], "y") if len(outputs) == 1 else ("ŷₖ", "yₖ")
    points = len(record.batch)
    formula = fn.dloss_dz_formula(
        net.loss_fn, net.output_fn, node, target, points * len(outputs), points
    )
    return f"∂Loss/∂z_{node}", formula


def _mean_count(record: StepRecord) -> int:
    """The n of the fused factor's 1/n: points × outputs for bce, points for cross-entropy."""
    points = len(record.batch)
    return points * record.network.layers[-1] if record.network.loss == "bce" else points


def gradient_with_delta(record: StepRecord, param: str, delta: Array) -> float:
    """``param``'s gradient when backprop starts from ``delta`` as ∂Loss/∂z of the output."""
    net = record.network
    batch = record.batch
    zs, acts = net.forward(record.theta, record.x[batch])
    grad = np.zeros_like(record.theta)
    net.backward(record.theta, zs, acts, delta, grad)
    return float(grad[net.param_index[param]])


def _outputs(record: StepRecord) -> tuple[Array, Array]:
    """(ŷ, y) of the batch rows, as the output factor sees them."""
    return record.yhat[record.batch], record.y[record.batch]


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


FUSED_SIGN_TEXT = (
    "the sign is flipped: consistent with one factor's sign — which one cannot be told "
    "from the value; most often the output's {factor} = {formula} written as y − ŷ"
)


@dataclass(frozen=True)
class SignFlip:
    """Backprop's value with its sign flipped."""

    param: str

    def predict(self, record: StepRecord) -> float:
        return -1.0 * record.grads[self.param]

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        if _fused_loss(record):
            symbol, formula = _output_factor(record)
            return Diagnosis("sign", FUSED_SIGN_TEXT.format(factor=symbol, formula=formula))
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
        if _fused_loss(record):
            symbol, formula = _output_factor(record)
            return Diagnosis("scale", self.text.format(factor=symbol, formula=formula))
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
        factors = record.factors[self.param]
        f = factors[self.k]
        kept = [g.formula for j, g in enumerate(factors) if j != self.k and g.formula != "1"]
        product = "·".join(bracketed(t) for t in kept) if kept else "1"
        return Diagnosis(
            "drop",
            f"yours equals Σᵢ {product} = {fmt(self.predict(record))}: the factor "
            f"{f.symbol} = {f.formula} is missing",
            f.symbol,
            1.0,
            per_point(f.values[record.batch]),
        )


@dataclass(frozen=True)
class DroppedSlope:
    """The local factor ∂node/∂θ = slope·input with the activation's slope left out."""

    param: str

    def _upstream_and_source(self, record: StepRecord) -> tuple[Array, Array]:
        net = record.network
        p = net.params[net.param_index[self.param]]
        upstream = np.ones(record.x.shape[0])
        for f in record.factors[self.param][:-1]:
            upstream = upstream * f.values
        if p.kind == "W":
            inputs = record.x if p.layer == 1 else record.layers[p.layer - 2].a
            source = inputs[:, p.col]
        else:
            source = np.ones(record.x.shape[0])
        return upstream, source

    def predict(self, record: StepRecord) -> float:
        upstream, source = self._upstream_and_source(record)
        return float(np.sum((upstream * source)[record.batch]))

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        net = record.network
        p = net.params[net.param_index[self.param]]
        factors = record.factors[self.param]
        local = factors[-1]
        node = net.node_names[p.layer][p.row]
        slope = net.hidden.formula(node) if p.layer < net.depth else net.output_fn.slope_text(node)
        source = net.node_names[p.layer - 1][p.col] if p.kind == "W" else "1"
        upstream = " · ".join(f.symbol for f in factors[:-1])
        kept = f"{upstream} · {source}" if source != "1" else upstream
        activation = net.hidden.name if p.layer < net.depth else net.output_fn.name
        return Diagnosis(
            "drop_slope",
            f"yours equals Σᵢ {kept} = {fmt(self.predict(record))}: the factor {slope} "
            f"({activation}'s slope, part of {local.symbol} = {local.formula}) is missing",
            local.symbol,
        )


@dataclass(frozen=True)
class OutputDelta:
    """A wrong fused output factor ∂Loss/∂z, carried through the whole chain.

    ``delta(ŷ, y, n)`` is the output factor the mistake writes (one value per
    batch point and output), ``text`` what it is; the prediction is backprop
    started from it, so it holds for every parameter, however deep.
    """

    param: str
    kind: str
    delta: Callable[[Array, Array, int], Array]
    text: str  # may name {factor} and {formula}

    def predict(self, record: StepRecord) -> float:
        yhat, y = _outputs(record)
        return gradient_with_delta(record, self.param, self.delta(yhat, y, _mean_count(record)))

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        symbol, formula = _output_factor(record)
        return Diagnosis(self.kind, self.text.format(factor=symbol, formula=formula), symbol)


def _output_mistakes(param: str, record: StepRecord) -> list[OutputDelta]:
    """Known wrong output factors of a fused loss (sigmoid + bce, softmax + cross-entropy)."""
    slope = "ŷ(1 − ŷ)"
    n = _mean_count(record)
    out = [
        OutputDelta(
            param,
            "extra_slope",
            lambda yhat, y, n: (yhat - y) * yhat * (1 - yhat) / n,
            f"consistent with {{factor}} = {{formula}} times the output's slope {slope} "
            "again: in the fused form that slope has already cancelled",
        ),
    ]
    if record.network.loss == "bce":
        out += [
            OutputDelta(
                param,
                "squared_on_bce",
                lambda yhat, y, n: -2 * (y - yhat) * yhat * (1 - yhat) / n,
                f"consistent with the squared error's −2(y − ŷ)·{slope} / {n} in place of "
                "binary cross-entropy's {factor} = {formula}",
            ),
            OutputDelta(
                param,
                "squared_on_bce",
                lambda yhat, y, n: -2 * (y - yhat) * yhat * (1 - yhat),
                f"consistent with the squared error's −2(y − ŷ)·{slope} (summed, no 1/{n}) "
                "in place of binary cross-entropy's {factor} = {formula}",
            ),
        ]
    return out


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


def _fused_scales(n: int) -> list[tuple[float, str]]:
    """A fused loss's 1/n lives in the output factor {factor}: lost, or applied twice."""
    return [
        (
            float(n),
            f"{n} × backprop's value: consistent with {{factor}} = {{formula}} written "
            f"without its 1/{n} (the mean over {n}) — a constant factor could sit in any "
            "factor, but that is where the 1/n lives",
        ),
        (
            1.0 / n,
            f"1/{n} of backprop's value: consistent with {{factor}} = {{formula}} "
            f"divided by {n} twice — a constant factor could sit in any factor, but that "
            "is where the 1/n lives",
        ),
        (
            2.0,
            "2 × backprop's value: off by a constant factor, which factor cannot be told — "
            "consistent with −2(y − ŷ) / n, the squared error's derivative, in place of "
            "{factor} = {formula}",
        ),
        (0.5, "0.5 × backprop's value: off by a constant factor — which factor cannot be told"),
    ]


def _scale_texts(loss: str, n: int, squared: bool, fused: bool = False) -> list[tuple[float, str]]:
    """Constant-factor mistakes (the sign aside) and what each says about the loss factor."""
    if fused:
        return _fused_scales(n) if n > 1 else _fused_scales(n)[2:]
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
    fused = _fused_loss(record)
    count = _mean_count(record) if fused else n
    out += [
        ConstantScale(param, c, text)
        for c, text in _scale_texts(record.network.loss, count, squared, fused)
    ]
    if fused:
        out += _output_mistakes(param, record)
    out += [
        DroppedFactor(param, k)
        for k, factor in enumerate(record.factors[param])
        if not same_factor(factor.values[record.batch], 1.0)
    ]
    if _has_slope(param, record):  # a weight's slope·input without the slope
        out.append(DroppedSlope(param))
    if n > 1:
        out += [OnePoint(param, int(i)) for i in record.batch[:MAX_POINT_PROBES]]
    return out


@dataclass(frozen=True)
class ConstantRatio:
    """Backprop's value times the ratio seen at the current state, at every state.

    Any constant factor gained or lost (a 3, a 1/n applied where none belongs)
    shows as this ratio; where in the chain it sits cannot be told from values,
    so the diagnosis blames no factor.
    """

    param: str
    c: float

    def predict(self, record: StepRecord) -> float:
        return self.c * record.grads[self.param]

    def describe(self, record: StepRecord, user: float) -> Diagnosis:
        return Diagnosis(
            "scale",
            f"{self.c:.6g} × backprop's value at every state probed: off by a constant "
            "factor — which factor holds it cannot be told",
        )


def constant_ratio(param: str, record: StepRecord, user: float) -> list[Hypothesis]:
    """The user's value over backprop's as a constant-factor mistake (none at a zero gradient)."""
    grad = record.grads[param]
    if abs(grad) <= ABS_FLOOR or not np.isfinite(user / grad):
        return []
    return [ConstantRatio(param, user / grad)]


def _has_slope(param: str, record: StepRecord) -> bool:
    """Whether the parameter's local factor holds an activation slope that is not 1."""
    net = record.network
    p = net.params[net.param_index[param]]
    if p.kind != "W" or (p.layer == net.depth and net.fused):
        return False  # a bias's local factor is the slope itself: DroppedFactor says it
    activation = net.hidden.name if p.layer < net.depth else net.output_fn.name
    return activation != "identity"


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
