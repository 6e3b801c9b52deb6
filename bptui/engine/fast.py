"""Speed tricks of the plain step, behind one boundary: same numbers, less Python.

:class:`~bptui.engine.network.Network` holds the readable forward and
backward pass; it is the reference, and every record the TUI shows and the
trace writes comes from it.  The stepper's plain step and its replay of
history take thousands of steps a second on nets so small that Python
overhead, not arithmetic, is the cost, so they run :class:`FastStep`
instead.  It makes the very same numpy calls on the very same operands in
the very same order (tests/test_fast.py checks bit-for-bit equality on every
built-in and on random nets of every activation, output and loss), and only
saves the work around them:

- the (W, Wᵀ, b) views of a parameter buffer are built once and kept, since
  the stepper updates its theta and grad in place;
- gradients are written straight into the grad buffer (``np.dot(out=)``,
  ``np.add.reduce(out=)``: what ``@`` and ``.sum`` compute, without the
  temporary or the Python wrapper);
- a bias gradient of many points and several nodes is summed by
  ``np.einsum("ij->j")``, which adds the rows in add.reduce's order (the same
  bits; tests/test_fast.py) at a fraction of its per-row cost (500×8: 13 → 4 µs);
- for regression (identity output, squared error) one residual y − ŷ serves
  both the loss and ∂Loss/∂ŷ;
- the finite check is one BLAS call in the common case.
"""

from __future__ import annotations

import math

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.network import Network
from bptui.engine.record import RecordValues

Array = np.ndarray

#: (W, Wᵀ, b) of one layer, as views into a parameter buffer.
LayerViews = tuple[Array, Array, Array]

#: From this many points on, a bias gradient of a layer wider than one node is
#: summed by einsum (below it, add.reduce's smaller start-up cost wins).
EINSUM_ROWS = 64


def column_sums(rows: Array, out: Array) -> None:
    """``rows.sum(axis=0)`` into ``out``, bit for bit, by the faster way for its shape.

    Both einsum and add.reduce add a C-ordered array's rows one after another;
    a single column is reduced pairwise by add.reduce, so it stays with it.
    """
    if rows.shape[0] >= EINSUM_ROWS and rows.shape[1] > 1 and rows.flags.c_contiguous:
        np.einsum("ij->j", rows, out=out)
    else:
        np.add.reduce(rows, axis=0, out=out)


#: Squared-error losses whose value and ∂Loss/∂ŷ share one residual, and
#: whether each averages over the elements (mse) or sums them (ssr).
_RESIDUAL_MEAN = {"ssr": False, "mse": True}


class FastStep:
    """Loss and gradient of one network, for the stepper's plain step and replay."""

    #: Views are kept for this many buffers (theta, grad and a replay's pair).
    CACHE_SIZE = 4

    def __init__(self, network: Network) -> None:
        self.network = network
        self.hidden = network.hidden
        self.output = network.output_fn
        self.loss_fn = network.loss_fn
        regression = network.output_fn is fn.OUTPUT_ACTIVATIONS["identity"]
        self.residual_mean = _RESIDUAL_MEAN.get(network.loss_fn.name) if regression else None
        self._cache: list[tuple[Array, list[LayerViews]]] = []

    def layer_views(self, buffer: Array) -> list[LayerViews]:
        """(W, Wᵀ, b) of every layer of ``buffer``, remembered for the last few buffers.

        Building the views anew costs more than a small net's arithmetic.
        Holding the buffer itself (not its id) makes a stale hit impossible,
        and in-place writes to it are seen because these are views.
        """
        cache = self._cache
        for i, (held, views) in enumerate(cache):
            if held is buffer:
                if i > 1:  # keep the two hottest (theta, grad) in front: an LRU that rarely moves
                    cache.insert(0, cache.pop(i))
                return views
        views = [(W, W.T, b) for W, b in self.network.views(buffer)]
        cache.insert(0, (buffer, views))
        del cache[self.CACHE_SIZE :]
        return views

    def forward(self, theta: Array, x: Array) -> tuple[list[Array], list[Array]]:
        """:meth:`Network.forward`, on cached views."""
        zs: list[Array] = []
        acts = [x]
        a = x
        last = self.network.depth - 1
        for l, (_, WT, b) in enumerate(self.layer_views(theta)):
            z = np.dot(a, WT)  # the BLAS call of a @ W.T, with less overhead
            z += b  # the bits of z + b, without a second array
            a = self.output.value(z) if l == last else self.hidden.value(z)
            zs.append(z)
            acts.append(a)
        return zs, acts

    def backward(
        self, theta: Array, zs: list[Array], acts: list[Array], delta: Array, grad: Array
    ) -> None:
        """:meth:`Network.backward` writing straight into ``grad``'s cached views."""
        layers = self.layer_views(theta)
        grads = self.layer_views(grad)
        derivative = self.hidden.derivative
        depth = self.network.depth
        dzs, das = [delta] * depth, [None] * depth
        dz = delta
        for l in range(depth - 1, -1, -1):
            dW, _, db = grads[l]
            dzs[l] = dz
            np.dot(dz.T, acts[l], out=dW)
            column_sums(dz, db)  # dz.sum(axis=0), the same bits, without its overhead
            if l:
                da = das[l - 1] = np.dot(dz, layers[l][0])
                dz = da * derivative(zs[l - 1], acts[l])
        self.kept_backward = (dzs, das)

    def loss_value(self, theta: Array, x: Array, y: Array) -> float:
        """:meth:`Network.loss_value`, on cached views."""
        zs, acts = self.kept_all = self.forward(theta, x)
        return self.loss_fn.value(zs[-1], acts[-1], y)

    def loss_and_grad(self, theta: Array, x: Array, y: Array, grad: Array) -> float:
        """:meth:`Network.loss_and_grad`: the loss of (x, y), its gradient into ``grad``."""
        zs, acts = self.kept_all = self.kept_batch = self.forward(theta, x)
        if self.residual_mean is not None:
            # One residual serves the loss and its delta, with the same
            # operations as the table's value and dloss_dyhat.
            r = y - acts[-1]
            loss = float(np.add.reduce(r * r, axis=None))
            delta = -2.0 * r
            if self.residual_mean:
                loss /= r.size
                delta /= r.size
        else:
            loss = self.loss_fn.value(zs[-1], acts[-1], y)
            delta = self.network.output_delta(zs[-1], acts[-1], y)
        self.backward(theta, zs, acts, delta, grad)
        return loss

    def record_values(
        self, theta: Array, x: Array, y: Array, batch: Array, grad: Array, fresh: bool
    ) -> RecordValues:
        """What a record needs, from the arrays the last step computed where ``fresh``.

        ``fresh`` says the last :meth:`loss_and_grad` (and, for a mini-batch,
        :meth:`loss_value` on every point) ran at ``theta`` with ``grad`` as
        its output; otherwise they are run here first.  The record's gradient
        is then the step's own, bit for bit, for full and mini-batches alike.
        """
        n = x.shape[0]
        full = len(batch) == n
        if not fresh:
            grad = np.zeros_like(theta)
            self.loss_and_grad(theta, x[batch], y[batch], grad)
            if not full:
                self.loss_value(theta, x, y)
        zs, acts = self.kept_all
        dzs, das = self.kept_backward
        z_out, yhat = zs[-1], acts[-1]
        yb = y if full else y[batch]
        out_da = None
        if not self.network.fused:
            out_da = self.loss_fn.dloss_dyhat(yhat if full else yhat[batch], yb, yb.size)

        def on_all_points(rows: Array | None) -> Array | None:
            if full or rows is None:
                return rows
            spread = np.zeros((n, *rows.shape[1:]))
            spread[batch] = rows
            return spread

        layers = [
            (z, a, on_all_points(dz), on_all_points(da))
            for z, a, dz, da in zip(zs, acts[1:], dzs, [*das[:-1], out_da])
        ]
        loss = self.loss_fn.value(z_out, yhat, y)
        batch_loss = loss if full else self.loss_fn.value(z_out[batch], yhat[batch], yb)
        point_loss = self.loss_fn.elementwise(z_out, yhat, y).sum(axis=1)
        return RecordValues(loss, batch_loss, point_loss, layers, grad.copy())


def all_finite(loss: float, grad: Array) -> bool:
    """True when the loss and every gradient entry are finite, mostly in one BLAS call.

    grad·grad is finite only if every entry is, and vdot (unlike sum or dot)
    never warns; when it overflows the exact test decides.
    """
    if not math.isfinite(loss):
        return False
    return math.isfinite(np.vdot(grad, grad)) or bool(np.isfinite(grad).all())
