"""What one step records: node values, loss, gradients and chain-rule factors.

A :class:`StepRecord` is everything the TUI shows and the JSON trace holds for
one state of the parameters.  It is rebuilt on demand from a parameter
snapshot, so history never stores it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.network import DerivativeCounts, Network, ParamInfo

Array = np.ndarray


@dataclass(frozen=True)
class Factor:
    """One factor of a parameter's chain, with one value per data point.

    ``first_use`` is the parameter whose chain needed this factor first in
    backward order; every later chain *reuses* it.  ``computed_in`` is the
    backward phase (layer number) that computes it.
    """

    symbol: str
    formula: str
    values: Array
    first_use: str
    computed_in: int
    reused: bool = False


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
        return self.network.derivative_counts()

    def chain_product(self, name: str) -> Array:
        """Per-point product of a parameter's factors; sums to its gradient."""
        product = np.ones(self.x.shape[0])
        for factor in self.factors[name]:
            product = product * factor.values
        return product


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
    products still sum to the batch gradient.
    """
    n = x.shape[0]
    batch = np.arange(n) if batch is None else np.asarray(batch)
    with np.errstate(all="ignore"):
        zs, acts = network.forward(theta, x)
        z_out, yhat = zs[-1], acts[-1]
        loss = fn.loss_value(network.loss, network.output, z_out, yhat, y)
        point_loss = fn.loss_elementwise(network.loss, z_out, yhat, y).sum(axis=1)

        # The usual full batch needs no copies (y[batch] would repeat the rows).
        full = len(batch) == n and np.array_equal(batch, np.arange(n))
        yb, zb, pb = (y, z_out, yhat) if full else (y[batch], z_out[batch], yhat[batch])
        batch_loss = loss if full else fn.loss_value(network.loss, network.output, zb, pb, yb)

        def on_all_points(rows: Array) -> Array:
            """Batch rows placed among all points; the others get 0."""
            if full:
                return rows
            spread = np.zeros((n, *rows.shape[1:]))
            spread[batch] = rows
            return spread

        delta = on_all_points(network.output_delta(zb, pb, yb))
        out_da = (
            None if network.fused else on_all_points(fn.dloss_dyhat(network.loss, pb, yb, yb.size))
        )

        grad = np.zeros(network.size)
        deltas = network.backward(theta, zs, acts, delta, grad)
        views = network.layer_views(theta)
        grad_views = network.layer_views(grad)
        layers = []
        for l in range(network.depth):
            W, _, b = views[l]
            dW, _, db = grad_views[l]
            if l == network.depth - 1:
                da = out_da
            else:
                da = deltas[l + 1] @ views[l + 1][0]
            layers.append(
                LayerRecord(W.copy(), b.copy(), dW, db, zs[l], acts[l + 1], deltas[l], da)
            )
        record = StepRecord(
            network=network,
            step=step,
            theta=theta.copy(),
            grad=grad,
            loss=loss,
            batch_loss=batch_loss,
            x=x,
            y=y,
            batch=batch,
            layers=layers,
            point_loss=point_loss,
        )
        record.factors = ChainBuilder(record, batch_size=len(batch))
    return record


def _times(*terms: str) -> str:
    """Join formula terms with ·, dropping factors of 1."""
    kept = [t for t in terms if t != "1"]
    return "·".join(kept) if kept else "1"


#: A factor before its reuse mark: (symbol, formula, values, computed_in, first_use).
_Piece = tuple[str, str, Array, int, str]


class ChainBuilder(Mapping[str, list[Factor]]):
    """Each parameter's chain of factors, built when first asked for.

    The chain of a parameter feeding node i of layer l is the chain of the node
    it flows into, as long as that layer has a single node (so the article's
    ∂Loss/∂b1 = ∂Loss/∂green · ∂green/∂blue · ∂blue/∂b1), and otherwise the
    summed ∂Loss/∂node that backprop already holds.  Then the local ∂node/∂θ.

    Like backprop itself, the builder computes each shared piece once: a
    node's upstream chain and a layer's activation slope are memoized.  Who
    uses a piece first needs no values: backward order visits the output
    layer first and, per node, its bias first, so every piece attached to a
    node (its loss factor, its edge, its summed ∂Loss/∂node) is first used by
    that node's bias.  That lets the TUI pay only for the chain it shows.
    """

    def __init__(self, record: StepRecord, batch_size: int) -> None:
        self.record = record
        self.net = record.network
        self.count = batch_size * record.y.shape[1]
        self.points = batch_size
        self._chains: dict[str, list[Factor]] = {}
        self._upstream: dict[tuple[int, int], list[_Piece]] = {}
        self._slopes: dict[int, Array] = {}

    def __getitem__(self, name: str) -> list[Factor]:
        if name not in self._chains:
            p = self.net.params[self.net.param_index[name]]
            self._chains[name] = [
                Factor(symbol, formula, values, first, computed_in, first != name)
                for symbol, formula, values, computed_in, first in self.chain(p)
            ]
        return self._chains[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.net.param_names)

    def __len__(self) -> int:
        return self.net.size

    def all_chains(self) -> dict[str, list[Factor]]:
        return {name: self[name] for name in self.net.param_names}

    def _bias_name(self, layer: int, row: int) -> str:
        return self.net.param_names[self.net.bias_slices[layer - 1].start + row]

    def name(self, layer: int, row: int) -> str:
        return self.net.node_names[layer][row]

    def chain(self, p: ParamInfo) -> list[_Piece]:
        return [*self.upstream(p.layer, p.row), self.local(p)]

    def upstream(self, layer: int, row: int) -> list[_Piece]:
        """Factors from the loss down to node (layer, row), built once per node."""
        key = (layer, row)
        if key not in self._upstream:
            self._upstream[key] = self._build_upstream(layer, row)
        return self._upstream[key]

    def _build_upstream(self, layer: int, row: int) -> list[_Piece]:
        rec, node = self.record, self.name(layer, row)
        L = self.net.depth
        lay = rec.layers[layer - 1]
        owner = self._bias_name(layer, row)
        if layer == L:
            if self.net.fused:
                formula = fn.dloss_dz_formula(
                    self.net.loss, self.net.output, node, self.count, self.points
                )
                return [(f"∂Loss/∂z_{node}", formula, lay.dz[:, row], L, owner)]
            formula = fn.dloss_dyhat_formula(self.net.loss, node, self.count)
            return [(f"∂Loss/∂{node}", formula, lay.da[:, row], L, owner)]
        nxt = rec.layers[layer]
        if self.net.layers[layer + 1] == 1:
            return [*self.upstream(layer + 1, 0), self.edge(layer, row)]
        names = self.net.node_names[layer + 1]
        span = names[0] if len(names) == 1 else f"{names[0]}…{names[-1]}"
        formula = f"Σₖ ∂Loss/∂z_k · w(k←{node}), k = {span}"
        values = lay.da[:, row] if lay.da is not None else nxt.dz @ nxt.W[:, row]
        return [(f"∂Loss/∂{node}", formula, values, layer + 1, owner)]

    def edge(self, layer: int, row: int) -> _Piece:
        """∂next/∂node for the single node of layer+1."""
        rec, node = self.record, self.name(layer, row)
        nxt_name = self.name(layer + 1, 0)
        nxt = rec.layers[layer]
        weight = self._weight_name(layer + 1, 0, row)
        w = nxt.W[0, row]
        n = rec.x.shape[0]
        owner = self._bias_name(layer, row)
        if layer + 1 == self.net.depth:
            if self.net.fused:
                return (f"∂z_{nxt_name}/∂{node}", weight, np.full(n, w), layer + 1, owner)
            slope_text = fn.output_derivative_formula(self.net.output, nxt_name)
        else:
            slope_text = self.net.hidden.formula(nxt_name)
        slope = self._slope(layer + 1)[:, 0]
        return (f"∂{nxt_name}/∂{node}", _times(slope_text, weight), slope * w, layer + 1, owner)

    def local(self, p: ParamInfo) -> _Piece:
        """∂node/∂θ (or ∂z_node/∂θ for a fused output)."""
        rec = self.record
        node = self.name(p.layer, p.row)
        n = rec.x.shape[0]
        if p.kind == "W":
            source = self.name(p.layer - 1, p.col)
            inputs = rec.x if p.layer == 1 else rec.layers[p.layer - 2].a
            input_values = inputs[:, p.col]
        else:
            source = "1"
            input_values = np.ones(n)
        if p.layer == self.net.depth:
            if self.net.fused:
                return (f"∂z_{node}/∂{p.name}", source, input_values, p.layer, p.name)
            slope_text = fn.output_derivative_formula(self.net.output, node)
        else:
            slope_text = self.net.hidden.formula(node)
        slope = self._slope(p.layer)[:, p.row]
        return (
            f"∂{node}/∂{p.name}",
            _times(slope_text, source),
            slope * input_values,
            p.layer,
            p.name,
        )

    def _slope(self, layer: int) -> Array:
        """∂a/∂z of every node of a (non-fused) layer, computed once per record."""
        if layer not in self._slopes:
            lay = self.record.layers[layer - 1]
            if layer < self.net.depth:
                self._slopes[layer] = self.net.hidden.derivative(lay.z, lay.a)
            else:
                self._slopes[layer] = fn.output_slope(self.net.output, lay.a)
        return self._slopes[layer]

    def _weight_name(self, layer: int, row: int, col: int) -> str:
        start = self.net.weight_slices[layer - 1].start
        return self.net.param_names[start + row * self.net.layers[layer - 1] + col]
