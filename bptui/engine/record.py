"""What one step records: node values, loss, gradients and chain-rule factors.

A :class:`StepRecord` is everything the TUI shows and the JSON trace holds for
one state of the parameters.  It is rebuilt on demand from a parameter
snapshot, so history never stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from bptui.engine.chain import ChainBuilder, DerivativeCounts, Factor, derivative_counts
from bptui.engine.network import Network
from bptui.engine.optimizers import Optimizer

Array = np.ndarray


@dataclass
class LayerRecord:
    """One layer's parameters, values and derivatives (rows are data points)."""

    W: Array
    b: Array
    dW: Array
    db: Array
    z: Array
    a: Array
    dz: Array
    da: Array | None  # ∂Loss/∂a; None where the output is fused (softmax, sigmoid+bce)


@dataclass
class StepRecord:
    """The full state of one step: record k is the state before update k+1."""

    network: Network
    step: int
    theta: Array
    grad: Array
    loss: float
    batch_loss: float
    x: Array
    y: Array
    batch: Array
    layers: list[LayerRecord]
    point_loss: Array
    factors: Mapping[str, list[Factor]] = field(default_factory=dict)
    #: The optimizer of the next update and its state after the last one
    #: ((3, n): update counts, then its moments; None for plain SGD, which keeps none).
    optimizer: Optimizer = Optimizer()
    optimizer_state: Array | None = None
    #: weight_decay·θ + l1·sign(θ) per parameter, when a penalty is set.
    penalty: Array | None = None
    #: The loss on the held-out points, when there are any.
    test_loss: float | None = None

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.loss) and np.isfinite(self.grad).all())

    @property
    def params(self) -> dict[str, float]:
        return self.network.param_dict(self.theta)

    @property
    def grads(self) -> dict[str, float]:
        return self.network.param_dict(self.grad)

    @cached_property
    def nodes(self) -> dict[str, Array]:
        """Node name → activation per data point, inputs included."""
        out: dict[str, Array] = {}
        columns = [self.x] + [layer.a for layer in self.layers]
        for names, values in zip(self.network.node_names, columns):
            for i, name in enumerate(names):
                out[name] = values[:, i]
        return out

    @cached_property
    def pre_activations(self) -> dict[str, Array]:
        """Node name → z per data point (non-input nodes)."""
        out: dict[str, Array] = {}
        for names, layer in zip(self.network.node_names[1:], self.layers):
            for i, name in enumerate(names):
                out[name] = layer.z[:, i]
        return out

    @property
    def yhat(self) -> Array:
        return self.layers[-1].a

    @property
    def counts(self) -> DerivativeCounts:
        return derivative_counts(self.network.layers)

    def chain_product(self, name: str) -> Array:
        """Per-point product of a parameter's factors; sums to its gradient."""
        product = np.ones(self.x.shape[0])
        for factor in self.factors[name]:
            product = product * factor.values
        return product


@dataclass
class RecordValues:
    """What one record needs from its step: losses, each layer's arrays, the gradient.

    ``layers`` holds (z, a, ∂Loss/∂z, ∂Loss/∂a) per layer with one row per
    data point (0 outside the batch); ∂Loss/∂a of a fused output is None.
    The stepper hands over the arrays its step computed, so a record never
    recomputes them and always shows the very bits the update used.
    """

    loss: float
    batch_loss: float
    point_loss: Array
    layers: list[tuple[Array, Array, Array, Array | None]]
    grad: Array


def build_record(
    network: Network,
    theta: Array,
    x: Array,
    y: Array,
    batch: Array | None = None,
    step: int = 0,
) -> StepRecord:
    """Forward on every point, backward on the batch (all points by default).

    Points outside the batch get a zero ∂Loss/∂z: the batch loss does not
    depend on them, so their factors are honestly zero and the per-point
    products still sum to the batch gradient.  This is the readable
    reference, on :class:`Network`'s own forward and backward.
    """
    n = x.shape[0]
    # The usual full batch needs no copies (y[batch] would repeat the rows).
    full = batch is None or (len(batch) == n and np.array_equal(batch, np.arange(n)))
    batch = np.arange(n) if batch is None else np.asarray(batch)
    with np.errstate(all="ignore"):
        zs, acts = network.forward(theta, x)
        z_out, yhat = zs[-1], acts[-1]
        loss_fn = network.loss_fn
        loss = loss_fn.value(z_out, yhat, y)
        point_loss = loss_fn.elementwise(z_out, yhat, y).sum(axis=1)

        yb, zb, pb = (y, z_out, yhat) if full else (y[batch], z_out[batch], yhat[batch])
        batch_loss = loss if full else loss_fn.value(zb, pb, yb)

        def on_all_points(rows: Array) -> Array:
            """Batch rows placed among all points; the others get 0."""
            if full:
                return rows
            spread = np.zeros((n, *rows.shape[1:]))
            spread[batch] = rows
            return spread

        delta = on_all_points(network.output_delta(zb, pb, yb))
        out_da = None if network.fused else on_all_points(loss_fn.dloss_dyhat(pb, yb, yb.size))

        grad = np.zeros(network.size)
        dzs, das = network.backward(theta, zs, acts, delta, grad)
        das[-1] = out_da
        values = RecordValues(loss, batch_loss, point_loss, list(zip(zs, acts[1:], dzs, das)), grad)
        return record_from_values(network, theta, x, y, batch, step, values)


def record_from_values(
    network: Network,
    theta: Array,
    x: Array,
    y: Array,
    batch: Array,
    step: int,
    values: RecordValues,
) -> StepRecord:
    """The record of ``theta`` from values already computed (by the step or the reference)."""
    snapshot = theta.copy()
    params = network.views(snapshot)  # the record's own copy: later steps cannot move it
    layers = [
        LayerRecord(W, b, dW, db, z, a, dz, da)
        for (W, b), (dW, db), (z, a, dz, da) in zip(
            params, network.views(values.grad), values.layers
        )
    ]
    record = StepRecord(
        network=network,
        step=step,
        theta=snapshot,
        grad=values.grad,
        loss=values.loss,
        batch_loss=values.batch_loss,
        x=x,
        y=y,
        batch=batch,
        layers=layers,
        point_loss=values.point_loss,
    )
    with np.errstate(all="ignore"):
        record.factors = ChainBuilder(record, batch_size=len(batch))
    return record
