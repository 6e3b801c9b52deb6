"""What a ``d_<param>(ctx)`` function may read: :class:`GradContext`.

The state crosses into the sandbox's worker process as plain values (a dict of
arrays and numbers, :func:`values_of`); the worker rebuilds the read-only ctx
from them (:func:`context_from`), so nothing a user's function does can reach
bptui's own arrays.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bptui.engine.record import StepRecord

Array = np.ndarray


@dataclass(frozen=True)
class GradContext:
    """What a ``d_<param>(ctx)`` function may read: the state of one step.

    Per-point values are 1-D arrays when there is one column (the article's x,
    y, and every node); all arrays are read-only copies, so a user's function
    cannot change what bptui shows.  For ``d_W<l>`` / ``d_b<l>`` functions the
    layers come as matrices too, by layer number: ``A[l]`` and ``Z[l]`` are
    (points, nodes) with ``A[0]`` the inputs, ``W[l]`` is (out, in), ``b[l]`` (out,).
    """

    x: Array
    y: Array
    nodes: Mapping[str, Array]
    z: Mapping[str, Array]
    params: Mapping[str, float]
    learning_rate: float | None
    n: int
    loss: float
    yhat: Array
    step: int
    A: Mapping[int, Array] = field(default_factory=dict)
    Z: Mapping[int, Array] = field(default_factory=dict)
    W: Mapping[int, Array] = field(default_factory=dict)
    b: Mapping[int, Array] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        """``ctx["w3"]`` or ``ctx["blue"]``: a parameter or a node by name."""
        if name in self.params:
            return self.params[name]
        return self.nodes[name]


#: The ASCII spelling a node name may use for ŷ (``yhat1`` for ``ŷ1``).
YHAT_ALIAS = "yhat"


class NodeValues(Mapping[str, Array]):
    """Each node's activations by name; ``yhat1`` finds ``ŷ1`` (ŷ is awkward to type).

    The aliases are accepted, not listed: iterating gives the real names once each.
    """

    def __init__(self, values: Mapping[str, Array]) -> None:
        self._values = types.MappingProxyType(dict(values))

    def __getitem__(self, name: str) -> Array:
        if name not in self._values and isinstance(name, str) and name.startswith(YHAT_ALIAS):
            return self._values["ŷ" + name.removeprefix(YHAT_ALIAS)]
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"NodeValues({list(self._values)})"


def _frozen(values: Array) -> Array:
    """A copy in immutable memory: ``setflags(write=True)`` cannot make it writable again,
    so one function of the user's file cannot change what the next one is given."""
    out = np.asarray(values, dtype=np.float64)
    return _immutable(out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out)


def _immutable(values: Array) -> Array:
    """A float64 copy in immutable memory, in the shape it had."""
    out = np.asarray(values, dtype=np.float64)
    return np.frombuffer(out.tobytes(), dtype=np.float64).reshape(out.shape)


def _by_layer(arrays: Mapping[int, Array]) -> Mapping[int, Array]:
    """Layer number → that layer's matrix, each immutable (as :func:`_frozen`, never squeezed)."""
    return types.MappingProxyType({l: _immutable(a) for l, a in arrays.items()})


def values_of(record: StepRecord, learning_rate: float | None = None) -> dict[str, Any]:
    """A record's ctx as plain values, restricted to the points its gradient descends."""
    batch = record.batch
    layers = dict(enumerate(record.layers, start=1))
    return {
        "A": {0: record.x[batch], **{l: layer.a[batch] for l, layer in layers.items()}},
        "Z": {l: layer.z[batch] for l, layer in layers.items()},
        "W": {l: layer.W for l, layer in layers.items()},
        "b": {l: layer.b for l, layer in layers.items()},
        "x": record.x[batch],
        "y": record.y[batch],
        "nodes": {k: v[batch] for k, v in record.nodes.items()},
        "z": {k: v[batch] for k, v in record.pre_activations.items()},
        "params": dict(record.params),
        "learning_rate": learning_rate,
        "n": len(batch),
        "loss": float(record.batch_loss),
        "yhat": record.yhat[batch],
        "step": record.step,
    }


def context_from(values: Mapping[str, Any]) -> GradContext:
    """The read-only ctx of :func:`values_of`'s plain values."""
    return GradContext(
        x=_frozen(values["x"]),
        y=_frozen(values["y"]),
        nodes=NodeValues({k: _frozen(v) for k, v in values["nodes"].items()}),
        z=types.MappingProxyType({k: _frozen(v) for k, v in values["z"].items()}),
        params=types.MappingProxyType(dict(values["params"])),
        learning_rate=values["learning_rate"],
        n=values["n"],
        loss=values["loss"],
        yhat=_frozen(values["yhat"]),
        step=values["step"],
        **{key: _by_layer(values[key]) for key in ("A", "Z", "W", "b")},
    )


def context_of(record: StepRecord, learning_rate: float | None = None) -> GradContext:
    """The ctx of a record, restricted to the points its gradient descends (its batch)."""
    return context_from(values_of(record, learning_rate))
