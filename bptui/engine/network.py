"""A fully connected network over one flat float64 parameter vector.

All parameters live in one vector ``theta`` laid out in parameter order (weights
layer by layer, row-major, then biases), so the names ``w1 … b3`` are just
indices, an update is one vector operation, and a history snapshot is one copy.
``W`` and ``b`` of each layer are reshaped *views* into that vector.

Forward and backward are written to be read in one sitting, and they are the
reference: every record comes from them, and the stepper's faster plain step
(:mod:`bptui.engine.fast`) is tested to give the very same bits.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.seeded import legacy_normals

Array = np.ndarray

#: Up to this many weights the seeded init is drawn in Python (as fast as
#: numpy there, and numpy.random need not be imported); beyond, by numpy.
SEEDED_IN_PYTHON = 256


@dataclass(frozen=True)
class Architecture:
    """What the network is: sizes, activations, loss and node names."""

    layers: tuple[int, ...]
    activation: str = "softplus"
    output_activation: str = "identity"
    loss: str = "ssr"
    node_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ParamInfo:
    """Where one named parameter sits: its layer (1-based), kind, row and column."""

    name: str
    index: int
    layer: int
    kind: str  # "W" or "b"
    row: int
    col: int | None


class ParamTable(Sequence[ParamInfo]):
    """Every parameter's :class:`ParamInfo`, made when asked for.

    A 784-64-10 net has 50,890 parameters; building all their ParamInfo
    objects up front cost more than a training step, for callers that look
    at a handful.  Indexing and iterating work as on the list it replaces.
    """

    def __init__(self, shapes: list[tuple[int, int]], weight_count: int) -> None:
        self._shapes = shapes
        self._weight_count = weight_count
        sizes = [out * inp for out, inp in shapes] + [out for out, _ in shapes]
        self._starts = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        self._size = self._starts[-1]
        self._made: dict[int, ParamInfo] = {}  # callers such as the chain pane ask again and again

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> ParamInfo: ...
    @overload
    def __getitem__(self, index: slice) -> list[ParamInfo]: ...
    def __getitem__(self, index: int | slice) -> ParamInfo | list[ParamInfo]:
        if isinstance(index, slice):
            return [self._info(k) for k in range(*index.indices(self._size))]
        k = index + self._size if index < 0 else index
        if not 0 <= k < self._size:
            raise IndexError("parameter index out of range")
        return self._info(k)

    def __iter__(self) -> Iterator[ParamInfo]:
        return (self._info(k) for k in range(self._size))

    def _info(self, k: int) -> ParamInfo:
        info = self._made.get(k)
        if info is None:
            info = self._made[k] = self._make(k)
        return info

    def _make(self, k: int) -> ParamInfo:
        block = bisect.bisect_right(self._starts, k) - 1
        offset = k - self._starts[block]
        depth = len(self._shapes)
        if block < depth:  # a weight: row-major within its layer
            inp = self._shapes[block][1]
            return ParamInfo(f"w{k + 1}", k, block + 1, "W", offset // inp, offset % inp)
        return ParamInfo(f"b{k - self._weight_count + 1}", k, block - depth + 1, "b", offset, None)


def default_node_names(layers: tuple[int, ...]) -> list[list[str]]:
    """x1…, h<layer>.<i>…, ŷ1… (docs/scenarios.md, node names)."""
    names = [[f"x{i + 1}" for i in range(layers[0])]]
    for l, width in enumerate(layers[1:-1], start=1):
        names.append([f"h{l}.{i + 1}" for i in range(width)])
    names.append([f"ŷ{i + 1}" for i in range(layers[-1])])
    return names


class Network:
    """Shapes, names and the math of one architecture; holds no parameter values."""

    def __init__(self, arch: Architecture) -> None:
        self.arch = arch
        self.layers = tuple(arch.layers)
        self.depth = len(self.layers) - 1
        self.hidden = fn.hidden_activation(arch.activation)
        self.output_fn = fn.output_activation(arch.output_activation)
        self.loss_fn = fn.loss_function(arch.loss)
        self.output = arch.output_activation  # the names, as a scenario file writes them
        self.loss = arch.loss
        self.fused = fn.fused_output(self.loss_fn, self.output_fn)

        shapes = [(self.layers[l + 1], self.layers[l]) for l in range(self.depth)]
        self.shapes = shapes
        self.weight_slices: list[slice] = []
        self.bias_slices: list[slice] = []
        offset = 0
        for out, inp in shapes:
            self.weight_slices.append(slice(offset, offset + out * inp))
            offset += out * inp
        self.weight_count = offset
        for out, _ in shapes:
            self.bias_slices.append(slice(offset, offset + out))
            offset += out
        self.size = offset
        #: Per layer: where its W and b sit in theta, and W's shape.
        self.layout = tuple(zip(self.weight_slices, self.bias_slices, shapes))

        self.params = ParamTable(shapes, self.weight_count)
        self.param_names = [f"w{k}" for k in range(1, self.weight_count + 1)]
        self.param_names += [f"b{k}" for k in range(1, self.size - self.weight_count + 1)]
        self.param_index = {name: k for k, name in enumerate(self.param_names)}

        if arch.node_names is not None:
            flat = list(arch.node_names)
            self.node_names: list[list[str]] = []
            start = 0
            for width in self.layers:
                self.node_names.append(flat[start : start + width])
                start += width
        else:
            self.node_names = default_node_names(self.layers)
        self.all_node_names = [n for layer in self.node_names for n in layer]

    # ----------------------------------------------------------- parameters
    def views(self, theta: Array) -> list[tuple[Array, Array]]:
        """(W, b) of every layer as views into ``theta`` (writes go through)."""
        return [(theta[ws].reshape(shape), theta[bs]) for ws, bs, shape in self.layout]

    def random_init(self, seed: int) -> Array:
        """The article's init: one N(0, 1) scalar per weight in parameter order, biases 0.

        One draw of ``weight_count`` normals gives the very sequence of that
        many one-scalar draws (RandomState's normal is a scalar loop inside).
        A small net draws the same numbers without importing numpy.random
        (bptui.engine.seeded), which a launch would otherwise wait for.
        """
        theta = np.zeros(self.size)
        if self.weight_count <= SEEDED_IN_PYTHON:
            theta[: self.weight_count] = legacy_normals(seed, self.weight_count)
        else:
            theta[: self.weight_count] = np.random.RandomState(seed).normal(
                0, 1, size=self.weight_count
            )
        return theta

    def pack(self, layers: list[tuple[Array, Array]]) -> Array:
        """A parameter vector from explicit per-layer (W, b)."""
        theta = np.zeros(self.size)
        for (W, b), (Wv, bv) in zip(layers, self.views(theta)):
            Wv[...] = W
            bv[...] = b
        return theta

    def param_dict(self, theta: Array) -> dict[str, float]:
        return {name: float(v) for name, v in zip(self.param_names, theta)}

    # ----------------------------------------------------------------- math
    # The reference: every record comes from here.  The stepper's plain step
    # runs bptui.engine.fast, which must give these very bits.
    def forward(self, theta: Array, x: Array) -> tuple[list[Array], list[Array]]:
        """Pre-activations z (one per layer) and activations a (input first)."""
        zs: list[Array] = []
        acts = [x]
        for l, (W, b) in enumerate(self.views(theta), start=1):
            z = acts[-1] @ W.T + b
            f = self.output_fn if l == self.depth else self.hidden
            zs.append(z)
            acts.append(f.value(z))
        return zs, acts

    def predict(self, theta: Array, x: Array) -> Array:
        return self.forward(theta, x)[1][-1]

    def loss_value(self, theta: Array, x: Array, y: Array) -> float:
        zs, acts = self.forward(theta, x)
        return self.loss_fn.value(zs[-1], acts[-1], y)

    def output_delta(self, z: Array, yhat: Array, y: Array) -> Array:
        """∂Loss/∂z of the output layer for the given (batch) rows."""
        return fn.dloss_dz_output(self.loss_fn, self.output_fn, yhat, y, y.size, y.shape[0])

    def backward(
        self,
        theta: Array,
        zs: list[Array],
        acts: list[Array],
        delta: Array,
        grad: Array,
    ) -> tuple[list[Array], list[Array | None]]:
        """Fill ``grad`` from the output delta; return ∂Loss/∂z and ∂Loss/∂a of every layer.

        The output layer's ∂Loss/∂a is None: backward starts from its ∂Loss/∂z.
        """
        params, grads = self.views(theta), self.views(grad)
        dzs = [delta] * self.depth
        das: list[Array | None] = [None] * self.depth
        dz = delta
        for l in reversed(range(self.depth)):
            (W, _), (dW, db) = params[l], grads[l]
            dzs[l] = dz
            dW[...] = dz.T @ acts[l]
            db[...] = dz.sum(axis=0)
            if l > 0:
                da = das[l - 1] = dz @ W  # ∂Loss/∂a of the layer below …
                dz = da * self.hidden.derivative(zs[l - 1], acts[l])  # … times ∂a/∂z
        return dzs, das

    def loss_and_grad(self, theta: Array, x: Array, y: Array, grad: Array) -> float:
        """Loss of (x, y) and its gradient written into ``grad``."""
        zs, acts = self.forward(theta, x)
        z_out, yhat = zs[-1], acts[-1]
        loss = self.loss_fn.value(z_out, yhat, y)
        self.backward(theta, zs, acts, self.output_delta(z_out, yhat, y), grad)
        return loss
