"""Why one of the user's tensors is wrong: each recognised mistake is one small function.

A cause gets a :class:`Suspect` (the user's tensor, the correct one and every
value it came from) and returns one sentence when the user's tensor is
exactly what that mistake produces, else None.  :data:`CAUSES` tries them in
order, the most specific first; :func:`likely_cause` returns the first answer.
Each test rebuilds the mistaken tensor from the engine's correct values and
compares with the one agreement rule, so a cause is named only when it
explains every entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from bptui.debug.gradcheck import ABS_FLOOR, RATIO_REL
from bptui.debug.impl.agree import same
from bptui.debug.impl.interface import Layout, TensorName
from bptui.debug.impl.reference import Reference
from bptui.engine.functions import ACTIVATIONS, Activation

Array = np.ndarray


@dataclass(frozen=True)
class Suspect:
    """The user's tensor and what the correct one is made of."""

    name: TensorName
    yours: Array
    correct: Array
    ref: Reference
    layout: Layout

    @property
    def key(self) -> str:
        return self.name.key

    @property
    def delta_layer(self) -> int:
        """The layer whose ∂Loss/∂z this tensor is computed from (dA_{l-1} from dZ_l)."""
        return self.name.layer + 1 if self.name.kind == "A" else self.name.layer


# ------------------------------------------------------------------ shapes
def shape_only(s: Suspect) -> str | None:
    """Right values, wrong shape: (1, out) or (out, 1) where (out,) belongs, or back."""
    y, c = s.yours, s.correct
    if y.shape == c.shape or y.size != c.size or not same(y.reshape(c.shape), c):
        return None
    if c.ndim == 2 and y.shape == c.T.shape:
        return None  # a transposed vector: said by transpose()
    if s.name.kind != "b":
        return f"{s.key} has shape {y.shape} where {c.shape} belongs; the values are right"
    l = s.name.layer
    fix = (
        f"np.sum(dZ{l}, axis=0) without keepdims"
        if s.layout.rows
        else f"np.sum(dZ{l}, axis=1, keepdims=True)"
    )
    return (
        f"{s.key} has shape {y.shape} where b{l} has {c.shape}: the values are right, "
        f"but b{l} − α·{s.key} would have shape {np.broadcast_shapes(y.shape, c.shape)} ({fix})"
    )


def transpose(s: Suspect) -> str | None:
    """The transpose of the correct tensor (operands of a product swapped)."""
    c = s.correct
    if c.ndim != 2 or s.yours.shape != c.T.shape or not same(s.yours, c.T) or same(s.yours, c):
        return None
    l = s.name.layer
    if s.name.kind == "W":
        formula = f"A{l - 1}ᵀ·dZ{l}" if s.layout.rows else f"dZ{l}·A{l - 1}ᵀ"
        return f"{s.key} is the transpose of the correct one: dW{l} = {formula}, shaped like W{l}"
    if s.name.kind == "b":
        return f"{s.key} is transposed: shape {s.yours.shape} where b{l} is {c.shape}"
    where = "rows" if s.layout.rows else "columns"
    return f"{s.key} is transposed: its points must be {where}, like X's"


def missing_batch_sum(s: Suspect) -> str | None:
    """db with one value per point: the sum over the batch was left out."""
    if s.name.kind != "b":
        return None
    per_point = s.ref.correct("Z", s.name.layer, s.layout)
    if s.yours.shape != per_point.shape or not same(s.layout.batch_sum(s.yours), s.correct):
        return None
    l, axis = s.name.layer, s.layout.batch_axis
    keep = "" if s.layout.rows else ", keepdims=True"
    return (
        f"{s.key} has one value per point (shape {s.yours.shape}): db{l} is their sum over "
        f"the {s.ref.points} points (np.sum(dZ{l}, axis={axis}{keep}))"
    )


def extra_batch_sum(s: Suspect) -> str | None:
    """dZ or dA summed (or averaged) over the points, where one value per point belongs."""
    if s.name.kind not in "ZA":
        return None
    total = s.layout.batch_sum(s.correct)
    for summary, values in (("summed", total), ("averaged", total / s.ref.points)):
        if s.yours.size == values.size and same(s.yours.reshape(values.shape), values):
            each = "row" if s.layout.rows else "column"
            return (
                f"{s.key} is {summary} over the points (shape {s.yours.shape}): it keeps one "
                f"{each} per point, shape {s.correct.shape}; only db sums over the batch"
            )
    return None


# ------------------------------------------------------------------ ratios
def constant_ratio(yours: Array, correct: Array) -> float | None:
    """The one number c with yours = c·correct at every entry (c ≠ 1), else None."""
    if yours.shape != correct.shape:
        return None
    big = np.abs(correct) > ABS_FLOOR
    if not big.any():
        return None
    with np.errstate(all="ignore"):
        c = float(np.median(yours[big] / correct[big]))
    if not np.isfinite(c) or abs(c - 1.0) <= RATIO_REL or not same(yours, c * correct):
        return None
    return c


def _magnitudes(points: int, outputs: int) -> Iterator[tuple[float, str]]:
    """Ratios a classic mistake produces, and what each one says."""
    yield 1.0, ""
    yield points, f"the 1/m of the mean over the m = {points} points is missing"
    yield 1.0 / points, f"divided by m = {points} once too often (the mean taken twice?)"
    if outputs > 1:
        elements = points * outputs
        yield elements, f"the 1/{elements} of the mean over all {elements} elements is missing"
        yield (
            outputs,
            f"divided by the {points} points where the mean is over all {elements} elements",
        )
    yield 2.0, "a factor 2 too many"
    yield 0.5, "a factor 2 missing (as in d(y − ŷ)²/dŷ = −2(y − ŷ))"


def ratio_words(c: float, points: int, outputs: int) -> str | None:
    """A named ratio: −1 (sign flip), 2, 1/2, n, 1/n …, or None for any other number."""
    for magnitude, words in _magnitudes(points, outputs):
        if abs(abs(c) - magnitude) <= RATIO_REL * magnitude:
            if c > 0:
                return words
            flip = "the sign is flipped (ŷ − y and y − ŷ swapped, or a minus lost)"
            return f"{flip} and {words}" if words else flip
    return None


def known_ratio(s: Suspect) -> str | None:
    """yours = c·correct for a c that a classic mistake gives."""
    c = constant_ratio(s.yours, s.correct)
    if c is None:
        return None
    words = ratio_words(c, s.ref.points, s.ref.network.layers[-1])
    return None if words is None else f"{s.key} is {c:.6g} × the correct value: {words}"


def other_ratio(s: Suspect) -> str | None:
    """yours = c·correct for some other c (said only where two entries show it)."""
    c = constant_ratio(s.yours, s.correct)
    if c is None or np.count_nonzero(np.abs(s.correct) > ABS_FLOOR) < 2:
        return None
    return f"{s.key} is {c:.6g} × the correct value at every entry: one constant factor is wrong"


# ------------------------------------------------------------------ slopes
def _function(ref: Reference, layer: int) -> Activation | None:
    """The layer's activation as an elementwise table entry (None: softmax output)."""
    name = ref.network.arch.activation if layer < ref.depth else ref.network.output
    return ACTIVATIONS.get(name)


def _slopes(g: Activation, z: Array, a: Array, l: int) -> Iterator[tuple[str, Array]]:
    """Wrong slopes for a layer whose activation is ``g``, most likely first, with what each is."""
    own = f"{g.name}'(Z{l})"
    yield f"the activation A{l} = {g.name}(Z{l}) used where its slope {own} belongs", a
    yield (
        (
            f"{g.name}'(A{l}) used where {own} belongs (the slope taken at the activation, "
            f"not at Z{l})"
        ),
        g.derivative(a, g.value(a)),
    )
    yield f"the slope {own} left out (dZ{l} = dA{l})", np.ones_like(z)
    for f in (f for f in ACTIVATIONS.values() if f.name != g.name):
        true_slope, on_a = f.derivative(z, f.value(z)), f.derivative(z, a)
        if not same(on_a, true_slope):  # a formula written with the activation
            words = f"{f.name}'s slope formula applied to A{l} = {g.name}(Z{l})"
            yield f"{words}, where {own} belongs", on_a
        yield f"{f.name}'(Z{l}) used where {own} belongs", true_slope
    yield f"Z{l} used where the slope {own} belongs", z


def delta_variants(ref: Reference, layer: int) -> Iterator[tuple[str, Array]]:
    """Wrong versions of a layer's ∂Loss/∂z = dA ⊙ g'(Z): what each mistake computes."""
    da, g = ref.da[layer], _function(ref, layer)
    if da is None or g is None:
        return
    for words, slope in _slopes(g, ref.z[layer - 1], ref.a[layer], layer):
        yield words, da * slope


def wrong_slope(s: Suspect) -> str | None:
    """A dZ (or a dW, db, dA made from it) computed with the wrong activation slope."""
    l = s.delta_layer
    if l > s.ref.depth or s.yours.shape != s.correct.shape:
        return None
    right = s.ref.dz[l - 1]
    for words, dz in delta_variants(s.ref, l):
        if not np.isfinite(dz).all() or same(dz, right):
            continue
        if same(s.yours, s.ref.derive(s.name.kind, s.name.layer, dz, s.layout)):
            if s.name.kind == "Z":
                return f"{s.key}: {words}"
            return f"{s.key} is what dZ{l} gives with {words}"
    return None


def z_for_a(s: Suspect) -> str | None:
    """dW_l built from the pre-activation Z_{l-1} where the activation A_{l-1} belongs."""
    l = s.name.layer
    if s.name.kind != "W" or l < 2:
        return None
    wrong = s.layout.weight(s.ref.dz[l - 1].T @ s.ref.z[l - 2])
    if same(wrong, s.correct) or not same(s.yours, wrong):
        return None
    product = f"A{l - 1}ᵀ·dZ{l}" if s.layout.rows else f"dZ{l}·A{l - 1}ᵀ"
    return f"{s.key} uses Z{l - 1} where A{l - 1} belongs (dW{l} = {product})"


# ------------------------------------------------------------ accumulation
def _terms(s: Suspect) -> Iterator[tuple[str, Array]]:
    """The single terms of the sum the tensor is, each with what it is the term of."""
    ref, lay, l = s.ref, s.layout, s.name.layer
    if s.name.kind in "Wb" and ref.points > 1:
        dz = ref.dz[l - 1]
        for i in sorted({ref.points - 1, 0}, reverse=True):
            term = (
                lay.weight(np.outer(dz[i], ref.a[l - 1][i]))
                if s.name.kind == "W"
                else lay.bias(dz[i])
            )
            yield f"point {i + 1} of {ref.points}", term
    elif s.name.kind == "A" and l < ref.depth and ref.network.layers[l + 1] > 1:
        dz, W = ref.dz[l], ref.W[l]
        for k in range(min(W.shape[0], 16)):
            yield (
                f"node {k + 1} of the {W.shape[0]} in layer {l + 1}",
                lay.per_point(dz[:, [k]] * W[k]),
            )


def accumulation(s: Suspect) -> str | None:
    """A sum that kept only one of its terms: `=` where `+=` belongs."""
    for which, term in _terms(s):
        if same(s.yours, term) and not same(term, s.correct):
            return (
                f"{s.key} equals the term of {which} alone: the sum was overwritten, "
                "not accumulated (= where += belongs)"
            )
    return None


def neighbour_layer(s: Suspect) -> str | None:
    """The correct tensor of the layer above or below: an index off by one."""
    kind, l = s.name.kind, s.name.layer
    for other in (l - 1, l + 1):
        if not (0 if kind == "A" else 1) <= other <= s.ref.depth:
            continue
        theirs = s.ref.correct(kind, other, s.layout)
        if theirs is not None and same(s.yours, theirs) and not same(theirs, s.correct):
            return (
                f"{s.key} equals the correct d{kind}{other}: a layer index is off by one "
                f"(layer {other}'s values used for layer {l})"
            )
    return None


Cause = Callable[[Suspect], "str | None"]

#: Tried in this order; the first sentence is the likely cause.
CAUSES: tuple[Cause, ...] = (
    shape_only,
    transpose,
    missing_batch_sum,
    extra_batch_sum,
    known_ratio,
    wrong_slope,
    z_for_a,
    accumulation,
    neighbour_layer,
    other_ratio,
)


def likely_cause(s: Suspect) -> str | None:
    """The first cause that explains every entry of the user's tensor, or None."""
    with np.errstate(all="ignore"):
        for cause in CAUSES:
            found = cause(s)
            if found is not None:
                return found
    return None
