"""The file interface of ``--impl``: layouts, and the names of the user's gradients.

Course code comes in two layouts.  ``"rows"`` (the default): samples are rows
of X, Y and yhat, ``W<l>`` has shape (in, out) and ``b<l>`` shape (out,).
``"columns"``: samples are columns, ``W<l>`` is (out, in), ``b<l>`` (out, 1).
The engine keeps samples as rows and W as (out, in); a :class:`Layout` turns
the engine's arrays into the user's.  ``backward`` returns ``dW<l>``/``db<l>``
(or ``W<l>``/``b<l>``) and may add ``dZ<l>`` and ``dA<l>`` (layer 0 = inputs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bptui.errors import UserCodeError

Array = np.ndarray

ROWS, COLUMNS = "rows", "columns"

#: Kinds of tensor, in the order one layer's backward produces them.
KINDS = ("Z", "W", "b", "A")

_KEY = re.compile(r"^(?:d(?P<kind>[WbZA])|(?P<param>[Wb]))(?P<layer>\d+)$")


@dataclass(frozen=True)
class Layout:
    """Where the samples are, and how bptui knows it (for the report's first line)."""

    name: str  # ROWS or COLUMNS
    how: str  # "declared", "the default", "detected …"

    @property
    def rows(self) -> bool:
        return self.name == ROWS

    @property
    def batch_axis(self) -> int:
        return 0 if self.rows else 1

    def weight(self, W: Array) -> Array:
        """An engine (out, in) weight matrix (or its gradient) in this layout."""
        return np.ascontiguousarray(W.T) if self.rows else W.copy()

    def bias(self, b: Array) -> Array:
        return b.copy() if self.rows else b.reshape(-1, 1).copy()

    def per_point(self, values: Array) -> Array:
        """Engine (points, width) values (X, Y, Z, A, dZ, dA) in this layout."""
        return values.copy() if self.rows else np.ascontiguousarray(values.T)

    def batch_sum(self, values: Array) -> Array:
        """A per-point tensor of this layout summed over the points, shaped like a bias."""
        return values.sum(axis=self.batch_axis, keepdims=not self.rows)

    def describe(self) -> str:
        return f"layout: {self.name} ({self.how})"


def declared_layout(value: object, line: int | None, path: str) -> str | None:
    """The file's LAYOUT, or None when it has none; a bad value is bad input."""
    if value is None:
        return None
    if value in (ROWS, COLUMNS):
        return str(value)
    where = f"{path}:{line}" if line else path
    raise UserCodeError(f'{where}: LAYOUT must be "rows" or "columns", got {value!r:.40}')


def user_params(layers: list[tuple[Array, Array]], layout: Layout) -> dict[str, Array]:
    """``W1, b1, W2, …`` of the engine's per-layer (W, b), in the user's layout."""
    params: dict[str, Array] = {}
    for l, (W, b) in enumerate(layers, start=1):
        params[f"W{l}"] = layout.weight(W)
        params[f"b{l}"] = layout.bias(b)
    return params


@dataclass(frozen=True)
class TensorName:
    """One tensor of the check: kind (Z, W, b, A), its layer, and the user's key."""

    kind: str
    layer: int
    key: str


def user_tensors(grads: Mapping[str, Array], depth: int, path: str) -> list[TensorName]:
    """The gradients the user returned, by kind and layer; missing or clashing keys are bad input.

    Keys that name no tensor (``"loss"``, ``"cache"``) are left out of the check.
    """
    found: dict[tuple[str, int], str] = {}
    for key in grads:
        match = _KEY.match(key)
        if not match:
            continue
        kind = match["kind"] or match["param"]
        layer = int(match["layer"])
        low = 0 if kind == "A" else 1
        if not low <= layer <= depth:
            raise UserCodeError(
                f"{path}: backward returned {key!r}, but the network's layers are 1…{depth}"
                + (" (dA0 is the inputs')" if kind == "A" else "")
            )
        if (kind, layer) in found:
            raise UserCodeError(
                f"{path}: backward returned both {found[kind, layer]!r} and {key!r}"
            )
        found[kind, layer] = key
    missing = [f"d{k}{l}" for l in range(1, depth + 1) for k in "Wb" if (k, l) not in found]
    if missing:
        raise UserCodeError(
            f"{path}: backward returned no {', '.join(missing)} (it returned: "
            f"{', '.join(map(repr, grads)) or 'nothing'})"
        )
    return [TensorName(kind, layer, key) for (kind, layer), key in found.items()]


def ignored_keys(grads: Mapping[str, Array]) -> list[str]:
    """Keys of the user's grads that name no tensor bptui checks."""
    return [key for key in grads if not _KEY.match(key)]


def backprop_order(names: list[TensorName]) -> list[TensorName]:
    """Output delta first: dZ_L, dW_L, db_L, dA_{L-1}, dZ_{L-1}, …, dA_0."""

    def position(name: TensorName) -> tuple[int, int]:
        # dA_{l-1} is computed right after layer l's dW and db.
        if name.kind == "A":
            return (-(name.layer + 1), KINDS.index("A"))
        return (-name.layer, KINDS.index(name.kind))

    return sorted(names, key=position)
