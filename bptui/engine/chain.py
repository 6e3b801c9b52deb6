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
from typing import TYPE_CHECKING

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.network import Network, ParamInfo

if TYPE_CHECKING:
    from bptui.engine.record import StepRecord

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


#: A factor before its reuse mark: (symbol, formula, values, computed_in, first_use).
_Piece = tuple[str, str, Array, int, str]

#: Each network's factor texts, (symbol, formula) by factor: they depend on the
#: network (and the batch's size) only, so every record of a run shares them.
_TEXTS: weakref.WeakKeyDictionary[Network, dict[tuple, tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def _texts_of(network: Network) -> dict[tuple, tuple[str, str]]:
    texts = _TEXTS.get(network)
    if texts is None:
        texts = _TEXTS[network] = {}
    return texts


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
        self._texts = _texts_of(self.net)

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
        """Factors from the loss down to node (layer, row), built once per node.

        A node below a single-node layer extends that node's chain, so a run
        of single-node layers is built from its top down: each chain finds
        the one above it already built, however deep the network.
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
                self._upstream[node] = self._build_upstream(*node)
        return self._upstream[key]

    def _build_upstream(self, layer: int, row: int) -> list[_Piece]:
        rec = self.record
        L = self.net.depth
        lay = rec.layers[layer - 1]
        owner = self._bias_name(layer, row)
        if layer == L:
            symbol, formula = self._loss_text(row)
            values = lay.dz[:, row] if self.net.fused else lay.da[:, row]
            return [(symbol, formula, values, L, owner)]
        nxt = rec.layers[layer]
        if self.net.layers[layer + 1] == 1:
            return [*self.upstream(layer + 1, 0), self.edge(layer, row)]
        key = ("summed", layer, row)
        if key not in self._texts:
            node = self.name(layer, row)
            names = self.net.node_names[layer + 1]
            span = names[0] if len(names) == 1 else f"{names[0]}…{names[-1]}"
            formula = f"Σₖ ∂Loss/∂z_k · w(k←{node}), k = {span}"
            self._texts[key] = (f"∂Loss/∂{node}", formula)
        symbol, formula = self._texts[key]
        values = lay.da[:, row] if lay.da is not None else nxt.dz @ nxt.W[:, row]
        return [(symbol, formula, values, layer + 1, owner)]

    def _loss_text(self, row: int) -> tuple[str, str]:
        """The output node's loss factor: ∂Loss/∂node, or ∂Loss/∂z_node for a fused output."""
        key = ("loss", row, self.count, self.points)
        if key not in self._texts:
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
                self._texts[key] = (f"∂Loss/∂z_{node}", formula)
            else:
                formula = self.net.loss_fn.dyhat_text(node, self._target(row), self.count)
                self._texts[key] = (f"∂Loss/∂{node}", formula)
        return self._texts[key]

    def _target(self, row: int) -> str:
        """The name of output ``row``'s target: ``y``, or ``y2`` among several outputs."""
        return "y" if self.net.layers[-1] == 1 else f"y{row + 1}"

    def edge(self, layer: int, row: int) -> _Piece:
        """∂next/∂node for the single node of layer+1."""
        rec = self.record
        w = rec.layers[layer].W[0, row]
        owner = self._bias_name(layer, row)
        symbol, formula = self._edge_text(layer, row)
        if layer + 1 == self.net.depth and self.net.fused:
            return (symbol, formula, np.full(rec.x.shape[0], w), layer + 1, owner)
        slope = self._slope(layer + 1)[:, 0]
        return (symbol, formula, slope * w, layer + 1, owner)

    def _edge_text(self, layer: int, row: int) -> tuple[str, str]:
        node, nxt_name = self.name(layer, row), self.name(layer + 1, 0)
        weight = self._weight_name(layer + 1, 0, row)
        return self._slope_times_text(("edge", layer, row), layer + 1, nxt_name, node, weight)

    def local(self, p: ParamInfo) -> _Piece:
        """∂node/∂θ (or ∂z_node/∂θ for a fused output)."""
        rec = self.record
        if p.kind == "W":
            inputs = rec.x if p.layer == 1 else rec.layers[p.layer - 2].a
            input_values = inputs[:, p.col]
        else:
            input_values = np.ones(rec.x.shape[0])
        symbol, formula = self._local_text(p)
        if p.layer == self.net.depth and self.net.fused:
            return (symbol, formula, input_values, p.layer, p.name)
        slope = self._slope(p.layer)[:, p.row]
        return (symbol, formula, slope * input_values, p.layer, p.name)

    def _local_text(self, p: ParamInfo) -> tuple[str, str]:
        node = self.name(p.layer, p.row)
        source = self.name(p.layer - 1, p.col) if p.kind == "W" else "1"
        return self._slope_times_text(("local", p.name), p.layer, node, p.name, source)

    def _slope_times_text(
        self, key: tuple[object, ...], layer: int, node: str, wrt: str, source: str
    ) -> tuple[str, str]:
        """Symbol and formula of ∂node/∂wrt = slope of ``node`` (in ``layer``) · ``source``.

        A fused output's factor is ∂z_node/∂wrt = source: the slope is in the
        loss factor.  Kept per key, since the texts depend on the network only.
        """
        if key not in self._texts:
            if layer == self.net.depth and self.net.fused:
                self._texts[key] = (f"∂z_{node}/∂{wrt}", source)
            else:
                if layer == self.net.depth:
                    slope_text = self.net.output_fn.slope_text(node)
                else:
                    slope_text = self.net.hidden.formula(node)
                self._texts[key] = (f"∂{node}/∂{wrt}", _times(slope_text, source))
        return self._texts[key]

    def _slope(self, layer: int) -> Array:
        """∂a/∂z of every node of a (non-fused) layer, computed once per record."""
        if layer not in self._slopes:
            lay = self.record.layers[layer - 1]
            if layer < self.net.depth:
                self._slopes[layer] = self.net.hidden.derivative(lay.z, lay.a)
            else:
                self._slopes[layer] = self.net.output_fn.slope(lay.a)
        return self._slopes[layer]

    def _weight_name(self, layer: int, row: int, col: int) -> str:
        start = self.net.weight_slices[layer - 1].start
        return self.net.param_names[start + row * self.net.layers[layer - 1] + col]


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
