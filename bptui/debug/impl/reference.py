"""The engine's tensors of one state, named and shaped the way the user's code has them.

Everything here is the engine's readable forward and backward (one
:func:`~bptui.engine.record.build_record` on all points as one batch, the
batch the user's ``backward`` sees); this module only renames and reshapes.
``derive`` builds dW, db or dA from a different ∂Loss/∂z, so a cause can ask
"what would a wrong dZ have given here?".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptui.debug.impl.interface import Layout, user_params
from bptui.engine.network import Network
from bptui.engine.record import build_record

Array = np.ndarray


def _output_da(network: Network, dz: Array, yhat: Array, da: Array | None) -> Array | None:
    """∂Loss/∂ŷ: the record's, or dZ over ŷ's slope where the engine fused them.

    Softmax couples its outputs (no elementwise slope), so there it is None.
    """
    if da is not None:
        return da
    if network.output_fn.coupled:
        return None
    with np.errstate(all="ignore"):
        slope = network.output_fn.slope(yhat)
        values = dz / slope
    return values if np.isfinite(values).all() else None


@dataclass
class Reference:
    """The correct values, engine layout: per layer 1…L (index l−1), activations from a0 = X."""

    network: Network
    x: Array
    y: Array
    W: list[Array]
    b: list[Array]
    z: list[Array]
    a: list[Array]  # a[0] = X … a[L] = ŷ
    dz: list[Array]
    dW: list[Array]
    db: list[Array]
    da: list[Array | None]  # da[0] = ∂Loss/∂X … da[L] = ∂Loss/∂ŷ

    @property
    def depth(self) -> int:
        return self.network.depth

    @property
    def points(self) -> int:
        return self.x.shape[0]

    def inputs(self, layout: Layout) -> tuple[dict[str, Array], Array, Array]:
        """(params, X, Y) as the user's forward and backward take them (fresh copies)."""
        params = user_params(list(zip(self.W, self.b)), layout)
        return params, layout.per_point(self.x), layout.per_point(self.y)

    def correct(self, kind: str, layer: int, layout: Layout) -> Array | None:
        """The correct tensor ``d<kind><layer>`` in the user's layout (None: not known)."""
        if kind == "A":
            da = self.da[layer]
            return None if da is None else layout.per_point(da)
        if kind == "Z":
            return layout.per_point(self.dz[layer - 1])
        if kind == "W":
            return layout.weight(self.dW[layer - 1])
        return layout.bias(self.db[layer - 1])

    def derive(self, kind: str, layer: int, dz: Array, layout: Layout) -> Array:
        """What ``d<kind><layer>`` is when layer's ∂Loss/∂z is ``dz`` (engine layout).

        For A the tensor is dA of the layer below, computed from layer+1's dz.
        """
        if kind == "W":
            return layout.weight(dz.T @ self.a[layer - 1])
        if kind == "b":
            return layout.bias(dz.sum(axis=0))
        if kind == "A":
            return layout.per_point(dz @ self.W[layer])
        return layout.per_point(dz)

    def slope(self, layer: int) -> Array | None:
        """∂a/∂z of a layer, as the engine has it (None for a coupled softmax output)."""
        da = self.da[layer]
        if da is None:
            return None
        if layer < self.depth:
            return self.network.hidden.derivative(self.z[layer - 1], self.a[layer])
        return self.network.output_fn.slope(self.a[layer])


def build_reference(network: Network, theta: Array, x: Array, y: Array) -> Reference:
    """The engine's forward and backward at ``theta`` on all of (x, y) as one batch."""
    record = build_record(network, theta, x, y)
    layers = record.layers
    dz = [layer.dz for layer in layers]
    W = [layer.W for layer in layers]
    da: list[Array | None] = [dz[0] @ W[0]]
    da += [layer.da for layer in layers[:-1]]
    da.append(_output_da(network, dz[-1], layers[-1].a, layers[-1].da))
    return Reference(
        network=network,
        x=record.x,
        y=record.y,
        W=W,
        b=[layer.b for layer in layers],
        z=[layer.z for layer in layers],
        a=[record.x] + [layer.a for layer in layers],
        dz=dz,
        dW=[layer.dW.copy() for layer in layers],
        db=[layer.db.copy() for layer in layers],
        da=da,
    )
