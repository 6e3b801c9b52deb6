"""The chain rule, factor by factor: what backprop multiplies for each parameter.

A parameter's gradient is Σ over points of the product of its factors; the
chain pane and the trace show those factors, which of them backprop reuses
from an earlier chain, and how many derivatives backprop evaluates compared
with writing every chain from scratch.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.network import Network, ParamInfo

if TYPE_CHECKING:
    from bptui.engine.record import StepRecord

Array = np.ndarray


class Factor(NamedTuple):
    """One factor of a parameter's chain, with one value per data point.

    ``first_use`` is the parameter whose chain needed this factor first in
    backward order; every later chain *reuses* it.  ``computed_in`` is the
    backward phase (layer number) that computes it.  A named tuple, not a
    frozen dataclass: a trace makes a few dozen a step, at a third of the cost.
    """

    symbol: str
    formula: str
    values: Array
    first_use: str
    computed_in: int
    reused: bool = False


def _times(*terms: str) -> str:
    """Join formula terms with ·, dropping factors of 1 and bracketing sums.

    ``1 − h1.1²`` times ``x1`` is ``(1 − h1.1²)·x1``: without the brackets the
    text would mean 1 − h1.1²·x1, another number.
    """
    kept = [t for t in terms if t != "1"]
    if len(kept) <= 1:
        return kept[0] if kept else "1"
    return "·".join(bracketed(t) for t in kept)


def bracketed(term: str) -> str:
    """``term`` in brackets when a +, − or / outside any bracket would read wrong next to ·."""
    depth = 0
    for i, ch in enumerate(term):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "+−-/" and i > 0:
            return f"({term})"
    return term


#: One factor of a chain before its numbers: (what its values are, symbol,
#: formula, computed_in, first_use).  The key names a shared piece: ("loss",
#: row), ("edge", layer, row), ("summed", layer, row), or a parameter's own
#: ("local", is a weight, layer, row, col).
_Step = tuple[tuple, str, str, int, str]

#: Each network's chain plans by (values per point, points): they depend on
#: the network and the batch's size only, so every record of a run shares them.
_PLANS: weakref.WeakKeyDictionary[Network, dict[tuple[int, int], _ChainPlan]] = (
    weakref.WeakKeyDictionary()
)


def _plan_of(network: Network, count: int, points: int) -> _ChainPlan:
    plans = _PLANS.get(network)
    if plans is None:
        plans = _PLANS[network] = {}
    plan = plans.get((count, points))
    if plan is None:
        plan = plans[(count, points)] = _ChainPlan(network, count, points)
    return plan


class _ChainPlan:
    """The shape of each parameter's chain, its texts and which pieces it shares; no numbers.

    The chain of a parameter feeding node i of layer l is the chain of the node
    it flows into, as long as that layer has a single node (so the article's
    ∂Loss/∂b1 = ∂Loss/∂green · ∂green/∂blue · ∂blue/∂b1), and otherwise the
    summed ∂Loss/∂node that backprop already holds.  Then the local ∂node/∂θ.

    Who uses a piece first needs no values: backward order visits the output
    layer first and, per node, its bias first, so every piece attached to a
    node (its loss factor, its edge, its summed ∂Loss/∂node) is first used by
    that node's bias.  Built once per network and batch size, each chain when
    first asked for, so a record pays only for its numbers.
    """

    def __init__(self, network: Network, count: int, points: int) -> None:
        self.net = network
        self.count = count
        self.points = points
        self._chains: dict[str, list[_Step]] = {}
        self._upstream: dict[tuple[int, int], list[_Step]] = {}

    def chain(self, name: str) -> list[_Step]:
        """KeyError for a name that is no parameter's, as a Mapping's lookup."""
        steps = self._chains.get(name)
        if steps is None:
            p = self.net.params[self.net.param_index[name]]
            steps = self._chains[name] = [*self.upstream(p.layer, p.row), self._local(p)]
        return steps

    def _bias_name(self, layer: int, row: int) -> str:
        return self.net.param_names[self.net.bias_slices[layer - 1].start + row]

    def name(self, layer: int, row: int) -> str:
        return self.net.node_names[layer][row]

    def upstream(self, layer: int, row: int) -> list[_Step]:
        """Factors from the loss down to node (layer, row), planned once per node.

        A node below a single-node layer extends that node's chain, so a run
        of single-node layers is planned from its top down: each chain finds
        the one above it already planned, however deep the network.
        """
        key = (layer, row)
        if key not in self._upstream:
            run = [key]
            while run[-1][0] < self.net.depth and self.net.layers[run[-1][0] + 1] == 1:
                above = (run[-1][0] + 1, 0)
                if above in self._upstream:
                    break
                run.append(above)
            for node in reversed(run):
                self._upstream[node] = self._plan_upstream(*node)
        return self._upstream[key]

    def _plan_upstream(self, layer: int, row: int) -> list[_Step]:
        L = self.net.depth
        owner = self._bias_name(layer, row)
        if layer == L:
            return [(("loss", row), *self._loss_text(row), L, owner)]
        if self.net.layers[layer + 1] == 1:
            edge = (("edge", layer, row), *self._edge_text(layer, row), layer + 1, owner)
            return [*self.upstream(layer + 1, 0), edge]
        node = self.name(layer, row)
        names = self.net.node_names[layer + 1]
        span = names[0] if len(names) == 1 else f"{names[0]}…{names[-1]}"
        formula = f"Σₖ ∂Loss/∂z_k · w(k←{node}), k = {span}"
        return [(("summed", layer, row), f"∂Loss/∂{node}", formula, layer + 1, owner)]

    def _local(self, p: ParamInfo) -> _Step:
        return (
            ("local", p.kind == "W", p.layer, p.row, p.col),
            *self._local_text(p),
            p.layer,
            p.name,
        )

    def _loss_text(self, row: int) -> tuple[str, str]:
        """The output node's loss factor: ∂Loss/∂node, or ∂Loss/∂z_node for a fused output."""
        node = self.name(self.net.depth, row)
        if self.net.fused:
            formula = fn.dloss_dz_formula(
                self.net.loss_fn,
                self.net.output_fn,
                node,
                self._target(row),
                self.count,
                self.points,
            )
            return (f"∂Loss/∂z_{node}", formula)
        formula = self.net.loss_fn.dyhat_text(node, self._target(row), self.count)
        return (f"∂Loss/∂{node}", formula)

    def _target(self, row: int) -> str:
        """The name of output ``row``'s target: ``y``, or ``y2`` among several outputs."""
        return "y" if self.net.layers[-1] == 1 else f"y{row + 1}"

    def _edge_text(self, layer: int, row: int) -> tuple[str, str]:
        """∂next/∂node for the single node of layer+1."""
        node, nxt_name = self.name(layer, row), self.name(layer + 1, 0)
        weight = self._weight_name(layer + 1, 0, row)
        return self._slope_times_text(layer + 1, nxt_name, node, weight)

    def _local_text(self, p: ParamInfo) -> tuple[str, str]:
        """∂node/∂θ (or ∂z_node/∂θ for a fused output)."""
        node = self.name(p.layer, p.row)
        source = self.name(p.layer - 1, p.col) if p.kind == "W" else "1"
        return self._slope_times_text(p.layer, node, p.name, source)

    def _slope_times_text(self, layer: int, node: str, wrt: str, source: str) -> tuple[str, str]:
        """Symbol and formula of ∂node/∂wrt = slope of ``node`` (in ``layer``) · ``source``.

        A fused output's factor is ∂z_node/∂wrt = source: the slope is in the loss factor.
        """
        if layer == self.net.depth and self.net.fused:
            return (f"∂z_{node}/∂{wrt}", source)
        if layer == self.net.depth:
            slope_text = self.net.output_fn.slope_text(node)
        else:
            slope_text = self.net.hidden.formula(node)
        return (f"∂{node}/∂{wrt}", _times(slope_text, source))

    def _weight_name(self, layer: int, row: int, col: int) -> str:
        start = self.net.weight_slices[layer - 1].start
        return self.net.param_names[start + row * self.net.layers[layer - 1] + col]


class ChainBuilder(Mapping[str, list[Factor]]):
    """Each parameter's chain of factors with one record's numbers, built when first asked for.

    Like backprop itself, the builder computes each shared piece once: a
    node's upstream factors and a layer's activation slope are memoized, and
    the chains' shapes and texts come from the network's :class:`_ChainPlan`.
    That lets the TUI pay only for the chain it shows, and a trace little
    more than the numbers for all of them.
    """

    def __init__(self, record: StepRecord, batch_size: int) -> None:
        self.record = record
        self.net = record.network
        self.count = batch_size * record.y.shape[1]
        self.points = batch_size
        self._plan = _plan_of(self.net, self.count, self.points)
        self._chains: dict[str, list[Factor]] = {}
        self._values: dict[tuple, Array] = {}
        self._slopes: dict[int, Array] = {}

    def __getitem__(self, name: str) -> list[Factor]:
        chain = self._chains.get(name)
        if chain is None:
            values, compute = self._values, self._compute
            chain = self._chains[name] = [
                Factor(
                    symbol,
                    formula,
                    values[key] if key in values else compute(key),
                    first,
                    computed_in,
                    first != name,
                )
                for key, symbol, formula, computed_in, first in self._plan.chain(name)
            ]
        return chain

    def __iter__(self) -> Iterator[str]:
        return iter(self.net.param_names)

    def __len__(self) -> int:
        return self.net.size

    def all_chains(self) -> dict[str, list[Factor]]:
        return {name: self[name] for name in self.net.param_names}

    def _compute(self, key: tuple) -> Array:
        """The values of one piece of a plan (see :data:`_Step`), kept for the chains that share it."""
        rec, net = self.record, self.net
        fused_output = net.fused
        kind = key[0]
        if kind == "loss":
            lay = rec.layers[net.depth - 1]
            values = lay.dz[:, key[1]] if fused_output else lay.da[:, key[1]]
        elif kind == "edge":
            _, layer, row = key
            w = rec.layers[layer].W[0, row]
            if layer + 1 == net.depth and fused_output:
                values = np.full(rec.x.shape[0], w)
            else:
                values = self._slope(layer + 1)[:, 0] * w
        elif kind == "summed":
            _, layer, row = key
            lay, nxt = rec.layers[layer - 1], rec.layers[layer]
            values = lay.da[:, row] if lay.da is not None else nxt.dz @ nxt.W[:, row]
        else:
            _, weight, layer, row, col = key
            if weight:
                inputs = rec.x if layer == 1 else rec.layers[layer - 2].a
                values = inputs[:, col]
            else:
                values = np.ones(rec.x.shape[0])
            if not (layer == net.depth and fused_output):
                values = self._slope(layer)[:, row] * values
        self._values[key] = values
        return values

    def _slope(self, layer: int) -> Array:
        """∂a/∂z of every node of a (non-fused) layer, computed once per record."""
        if layer not in self._slopes:
            lay = self.record.layers[layer - 1]
            if layer < self.net.depth:
                self._slopes[layer] = self.net.hidden.derivative(lay.z, lay.a)
            else:
                self._slopes[layer] = self.net.output_fn.slope(lay.a)
        return self._slopes[layer]


def derivative_counts(layers: tuple[int, ...]) -> DerivativeCounts:
    """Distinct derivatives backprop evaluates versus every chain from scratch.

    Backprop: one ∂Loss/∂output per output node, one ∂next/∂node per edge
    between non-input layers, one local ∂node/∂θ per parameter.  From
    scratch: every parameter walks every path from its node to the loss.
    For the article this is 4 + 6 = 10 versus 18.
    """
    widths = layers
    depth = len(layers) - 1
    per_layer_backprop = {}
    for l in range(depth, 0, -1):
        params = widths[l] * widths[l - 1] + widths[l]
        upstream = widths[l] if l == depth else widths[l] * widths[l + 1]
        per_layer_backprop[l] = upstream + params
    # paths[l][i]: number of paths from node i of layer l to any output node;
    # edges[l][i]: total number of edges along those paths.
    paths = [1] * widths[depth]
    edges = [0] * widths[depth]
    per_layer_scratch = {}
    for l in range(depth, 0, -1):
        cost = sum(e + 2 * p for p, e in zip(paths, edges))
        per_layer_scratch[l] = cost * (widths[l - 1] + 1)
        total_paths, total_edges = sum(paths), sum(edges)
        paths = [total_paths] * widths[l - 1]
        edges = [total_edges + total_paths] * widths[l - 1]
    return DerivativeCounts(per_layer_backprop, per_layer_scratch)


@dataclass(frozen=True)
class DerivativeCounts:
    """Derivative evaluations per layer (keyed by layer, output layer first)."""

    backprop_by_layer: dict[int, int]
    scratch_by_layer: dict[int, int]

    @property
    def backprop(self) -> int:
        return sum(self.backprop_by_layer.values())

    @property
    def scratch(self) -> int:
        return sum(self.scratch_by_layer.values())
