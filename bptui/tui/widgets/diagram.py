"""The network diagram pane: nodes, edges and their current values.

The network is drawn left to right on a character canvas sized to the widget,
like TensorFlow Playground: an edge's colour is the sign of its weight (blue
positive, orange negative) and its brightness the weight's size relative to
the largest |w|.  Nodes show their name, their value for the selected data
point and their bias.  The layout degrades gracefully with the space it gets:
values move under names, labels drop, and a layer too tall to draw collapses
into one summary node, so any network draws in any pane without breaking.

What the labels carry is the pane's *mode* (the app's ``v`` key): values,
gradients, or both.  A gradient is ∂Loss/∂θ on an edge or bias and, on a
node, ∂Loss/∂node for the selected data point, each shown once the backward
phase that computes it has run (pending before).  The selected parameter's
chain is drawn as paths from the loss back to it, in the chain pane's
colour; clicking a node, bias or edge label selects that parameter.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from bptui.tui.format import fmt_inputs, fmt_precise, fmt_short
from bptui.tui.state import PENDING, View

#: Colour of a positive and a negative weight at full magnitude (RGB).
POSITIVE_RGB = (64, 160, 255)
NEGATIVE_RGB = (255, 128, 32)
#: Where a weight of magnitude 0 starts: a dark grey that still shows the line.
FAINT_RGB = (78, 78, 78)
NEUTRAL = Style(color="rgb(128,128,128)")
DIM = Style(dim=True)
ACTIVE = Style(bold=True, reverse=True)
HEADER = Style(color="rgb(170,170,170)")
#: Node names that are colours are drawn in that colour (the article's
#: blue/orange/green nodes).
NAMED_COLOURS = {
    "blue": "rgb(90,150,255)",
    "orange": "rgb(255,150,40)",
    "green": "rgb(80,200,100)",
    "red": "rgb(240,80,80)",
    "purple": "rgb(180,110,230)",
    "yellow": "rgb(230,210,60)",
    "pink": "rgb(255,130,190)",
    "cyan": "rgb(60,210,220)",
}
NAME_STYLE = Style(bold=True)
#: The chain pane's colour for the factors of a chain (its ``bold cyan``).
CHAIN_STYLE = Style(color="cyan", bold=True)
#: The selected parameter's own label.
SELECTED_STYLE = Style(color="cyan", bold=True, reverse=True)
#: ``--impl``: the mark on the first layer whose tensor of the user's is wrong.
WRONG_STYLE = Style(color="rgb(240,80,80)", bold=True)

#: What the labels show, in the order ``v`` cycles through them.
DIAGRAM_MODES = ("both", "values", "gradients")

# Node label modes, richest first: "name value ∂ / bias" on two lines; name,
# value, gradient and bias on short lines; "name value ∂" only; "name value"
# (or "name ∂") only; the name only.
MODES = ("wide", "tall", "compact", "lean", "names")
#: What a mode loses: node values matter more than edge labels.
MODE_LOSS = {"wide": 0, "tall": 0, "compact": 1, "lean": 2, "names": 3}
#: Beyond this many edges in one gap, bare names (w17, w18, …) only add noise.
MAX_SHORT_LABELS = 8
#: What a crossbar with bare names (w17, w18, …) lost: more than a gradient, less than a label.
BARE = 3
#: A crossbar takes a richer label form only if every other gap keeps this many columns.
CROSSBAR_OTHER_GAP = 16
#: A crossbar's junction of a source line (left, right) and a bus (up, down), by which arms it has.
JUNCTIONS = {
    (True, True, True, True): "┼",
    (True, True, True, False): "┤",
    (False, True, True, True): "┬",
    (False, True, True, False): "┐",
    (True, False, True, True): "┴",
    (True, False, True, False): "┘",
    (True, True, False, True): "├",
    (False, True, False, True): "┌",
    (True, False, False, True): "└",
    (False, False, True, True): "─",
    (False, False, True, False): "─",
    (False, False, False, True): "─",
}


def crossbar_width(diagram: _Drawing, layer: int, form: int) -> int:
    """Columns a crossbar into ``layer`` takes with label form ``form``.

    A lead-in, then per target a slot "─label─┼" (the label padded to the
    widest), then the run to the targets.
    """
    labels = diagram.crossbar_forms(layer)[form]
    width = max(len(label) for label in labels)
    return 4 + diagram.net.layers[layer] * (width + 3)


def weight_style(value: float, largest: float, *, strong: bool = False) -> Style:
    """Blue for positive, orange for negative; brighter the larger |value|."""
    if not math.isfinite(value):
        return Style(color="rgb(200,60,200)", bold=True)
    magnitude = min(abs(value) / largest, 1.0) if largest > 0 else 0.0
    full = POSITIVE_RGB if value >= 0 else NEGATIVE_RGB
    mix = 0.25 + 0.75 * magnitude
    r, g, b = (round(f + (c - f) * mix) for f, c in zip(FAINT_RGB, full))
    return Style(color=f"rgb({r},{g},{b})", bold=strong or magnitude >= 0.5)


#: A run of styled text: one line of a node block, a label.
Segments = list[tuple[str, Style]]


@dataclass
class _Node:
    """One drawn node (or the summary of a collapsed layer)."""

    layer: int
    lines: list[Segments]
    rows: range | None = None  # node indices a summary stands for
    #: the parameter a click on the node selects: its bias
    param: str | None = None
    x: int = 0
    y: int = 0

    @property
    def width(self) -> int:
        return max(sum(len(s) for s, _ in line) for line in self.lines)

    @property
    def first_width(self) -> int:
        return sum(len(s) for s, _ in self.lines[0])


@dataclass
class _Edge:
    """One drawn edge between two node boxes, with its label."""

    source: _Node
    target: _Node
    style: Style
    #: the labels to try, richest first; a label is one or more rows
    labels: list[tuple[str, ...]]
    short_label: str | None  # "w1"
    order: float
    label_style: Style = field(default_factory=Style)
    param: str | None = None
    path: list[tuple[int, int, str]] = field(default_factory=list)
    label_from: int = 0


class _Canvas:
    """A grid of characters and styles that becomes one Rich Text."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[Style | None]] = [[None] * width for _ in range(height)]
        self.taken = [[False] * width for _ in range(height)]
        #: where each parameter is written: (x, y, length, name), for clicks and tests
        self.targets: list[tuple[int, int, int, str]] = []
        #: every edge label written: (x, y, length)
        self.labels: list[tuple[int, int, int]] = []
        #: each weight's line style (the chain's colour when on the selected chain)
        self.line_styles: dict[str, Style] = {}

    def put(self, x: int, y: int, char: str, style: Style | None) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.chars[y][x] = char
            self.styles[y][x] = style

    def write(self, x: int, y: int, segments: Segments, reserve: bool) -> None:
        for text, style in segments:
            for char in text:
                self.put(x, y, char, style)
                if reserve and 0 <= x < self.width and 0 <= y < self.height:
                    self.taken[y][x] = True
                x += 1

    def reserve(self, x: int, y: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.taken[y][x] = True

    def free(self, x: int, y: int, length: int, pad: int = 1) -> bool:
        if not 0 <= y < self.height or x < 0 or x + length > self.width:
            return False
        low, high = max(0, x - pad), min(self.width, x + length + pad)
        return not any(self.taken[y][low:high])

    def param_at(self, x: int, y: int) -> str | None:
        """The parameter written at cell (x, y), if any."""
        for left, row, length, name in self.targets:
            if row == y and left <= x < left + length:
                return name
        return None

    def runs(self, row: int) -> list[tuple[str, Style | None]]:
        """One row as (text, style) runs of equal style."""
        chars, styles = self.chars[row], self.styles[row]
        runs = []
        start = 0
        for col in range(1, self.width + 1):
            if col == self.width or styles[col] is not styles[start]:
                runs.append(("".join(chars[start:col]), styles[start]))
                start = col
        return runs

    def strips(self, base: Style) -> list[Strip]:
        """One Strip per row, every style laid over the widget's own."""
        out = []
        for row in range(self.height):
            segments = [
                Segment(text, base + style if style is not None else base)
                for text, style in self.runs(row)
            ]
            out.append(Strip(segments, self.width))
        return out

    def text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for row in range(self.height):
            if row:
                out.append("\n")
            for text, style in self.runs(row):
                out.append(text, style)
        return out


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int, str]]:
    """Cells of a straight line, each with a box character for its direction."""
    points = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx = 1 if x0 < x1 else -1
    sy = 1 if y0 < y1 else -1
    err = dx + dy
    x, y = x0, y0
    while True:
        points.append((x, y))
        if x == x1 and y == y1:
            break
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x += sx
        if e2 <= dx:
            err += dx
            y += sy
    cells = []
    for i, (x, y) in enumerate(points):
        if i + 1 < len(points):
            nx, ny = points[i + 1]
            if ny == y:
                char = "─"
            elif nx == x:
                char = "│"
            else:
                char = "╲" if (ny - y) * (nx - x) > 0 else "╱"
        else:
            char = "─"
        cells.append((x, y, char))
    return cells


class _Crowding:
    """Which cells the lines of a gap's edges pass through, and how many lines each."""

    def __init__(self, edges: list[_Edge]) -> None:
        self.own = [{(x, y) for x, y, _ in edge.path} for edge in edges]
        self.count: Counter[tuple[int, int]] = Counter(cell for cells in self.own for cell in cells)

    def clearance(self, i: int, x: int, top: int, width: int, height: int) -> int:
        """Rows (0, 1, or 2 meaning "2 or more") between a label of edge ``i`` and any other line."""
        own, count = self.own[i], self.count
        for distance in (0, 1):
            rows = range(top, top + height) if distance == 0 else (top - 1, top + height)
            for row in rows:
                for col in range(x, x + width):
                    if count[col, row] - ((col, row) in own) > 0:
                        return distance
        return 2


class _Layout:
    """Positions of every node and edge for one mode and canvas size.

    With ``crossbar``, each dense gap (more edges than straight lines can
    carry labels for) is drawn as a crossbar instead: every source's line runs
    flat to the right, every target has a vertical bus, and each weight's
    label sits on its source's line just before its target's bus, so no label
    is ever on a crossing.  ``crossbars`` maps such a gap (its target layer)
    to the label form used; ``ports`` gives each of its targets the row its
    bus turns into (a row of the node block no source line uses).
    """

    def __init__(
        self, diagram: _Drawing, mode: str, collapse: bool, crossbar: bool = False
    ) -> None:
        self.d = diagram
        self.mode = mode
        self.collapsed: set[int] = set()
        self.layers: list[list[_Node]] = []
        self.crossbar = crossbar
        self.crossbars: dict[int, int] = {}
        self.ports: dict[int, list[int]] = {}
        self.ok = self._place(collapse)

    def _place(self, collapse: bool) -> bool:
        d = self.d
        top, bottom = d.graph_top, d.graph_bottom
        avail = bottom - top
        widths = d.view.network.layers
        for layer, count in enumerate(widths):
            need = count * len(d.node(layer, 0, self.mode).lines) + (count - 1) * self.gap
            if need <= avail:
                nodes = [d.node(layer, i, self.mode) for i in range(count)]
            else:
                if not collapse or count == 1:
                    return False
                nodes = [d.summary(layer, self.mode)]
                self.collapsed.add(layer)
                if len(nodes[0].lines) > avail:
                    return False
            self.layers.append(nodes)
        column_widths = [max(n.width for n in nodes) for nodes in self.layers]
        spare = d.width - sum(column_widths)
        gaps = len(self.layers) - 1
        if gaps == 0 or spare < gaps * 4:
            return False
        widths = self._gap_widths(spare, gaps)
        if widths is None:
            return False
        x = 0
        for layer, nodes in enumerate(self.layers):
            # Inputs hug the left edge, outputs the right; the rest share the room.
            if layer == len(self.layers) - 1:
                x = d.width - column_widths[layer]
            for node in nodes:
                node.x = x
            if layer < gaps:
                x += column_widths[layer] + widths[layer]
            self._stack(nodes, top, avail)
        return self._place_ports()

    def _gap_widths(self, spare: int, gaps: int) -> list[int] | None:
        """Each gap's columns: equal, or a crossbar's own need and the rest shared.

        A crossbar takes the richest label form that leaves every other gap
        room for labels (:data:`CROSSBAR_OTHER_GAP`), else the barest that fits.
        """
        if not self.crossbar:
            return [spare // gaps] * gaps
        dense = [l for l in range(1, gaps + 1) if self.d.dense_gap(l, self.collapsed)]
        if not dense:
            return None
        others = gaps - len(dense)
        forms = min(len(self.d.crossbar_forms(l)) for l in dense)
        for form in [*range(forms), None]:
            if form is None:
                return None
            needs = {l: crossbar_width(self.d, l, form) for l in dense}
            rest = spare - sum(needs.values())
            if rest >= 0 and others == 0:
                break
            if others and rest // others >= (CROSSBAR_OTHER_GAP if form < forms - 1 else 4):
                break
        self.crossbars = dict.fromkeys(dense, form)
        share = rest // others if others else 0
        return [needs.get(l, share) for l in range(1, gaps + 1)]

    def _place_ports(self) -> bool:
        """Each crossbar target's row for its bus: its first row no source line is on."""
        for layer in self.crossbars:
            source_rows = {node.y for node in self.layers[layer - 1]}
            ports = []
            for node in self.layers[layer]:
                free = [y for y in range(node.y, node.y + len(node.lines)) if y not in source_rows]
                if not free:
                    return False
                ports.append(free[0])
            self.ports[layer] = ports
        return True

    @property
    def gap(self) -> int:
        return 0 if self.mode in ("compact", "lean", "names") else 1

    def _stack(self, nodes: list[_Node], top: int, avail: int) -> None:
        """Spread the blocks evenly over the rows, at least ``gap`` apart."""
        count = len(nodes)
        heights = [len(n.lines) for n in nodes]
        extra = avail - sum(heights) - (count - 1) * self.gap
        y = top
        for i, (node, height) in enumerate(zip(nodes, heights)):
            node.y = y + round(extra * (2 * i + 1) / (2 * count))
            y += height + self.gap


def _joined(*parts: tuple[str, Style] | None) -> Segments:
    """The parts that are there, one space apart."""
    out: Segments = []
    for part in parts:
        if part is not None:
            if out:
                out.append((" ", Style()))
            out.append(part)
    return out


class _Drawing:
    """Everything that turns one View and one size into a Text."""

    def __init__(
        self, view: View, width: int, height: int, highlight: bool = True, mode: str = "both"
    ) -> None:
        self.view = view
        self.width = width
        self.height = height
        self.net = view.network
        self.record = view.record
        self.point = min(max(view.selected_point, 0), self.record.x.shape[0] - 1)
        self.theta = self.record.theta
        weights = self.theta[: self.net.weight_count]
        finite = np.abs(weights[np.isfinite(weights)])
        self.largest = float(finite.max()) if finite.size else 1.0
        kind, layer = view.active_layer()
        self.active_kind = kind if highlight and not view.running else ""
        self.active_layer = layer
        self.show_values = mode in ("both", "values")
        self.show_grads = mode in ("both", "gradients")
        #: the update phase shows every parameter's old → new value
        self.updating = kind == "update" and not view.done and view.previous_theta is not None
        #: "both" adds gradients once the backward pass has begun; "gradients"
        #: shows them pending before that
        self.show_grads = mode == "gradients" or (
            mode == "both" and view.shows_backward(self.net.depth)
        )
        selected = view.selected_param
        self.selected = selected if selected in self.net.param_index else None
        self.chain = self.net.params[self.net.param_index[selected]] if self.selected else None
        #: ``--impl``: the layer of the user's first wrong tensor (marked ✗), and its name
        self.wrong_layer, self.wrong_what = self._wrong(view)
        self.show_header = height >= 6
        self.show_legend = height >= 8
        self.graph_top = 1 if self.show_header else 0
        self.graph_bottom = height - (1 if self.show_legend else 0)

    @staticmethod
    def _wrong(view: View) -> tuple[int | None, str]:
        shown = view.impl
        if shown is None:
            return None, ""
        verdict = shown.verdict
        first = verdict.first_wrong
        what = "yhat (forward)" if first is None else first.name.key
        return verdict.first_wrong_layer, what

    def marked(self, layer: int, lines: list[Segments]) -> list[Segments]:
        """A node's lines, with ✗ before its name when its layer is the first wrong one."""
        if layer != self.wrong_layer:
            return lines
        return [[("✗", WRONG_STYLE), *lines[0]], *lines[1:]]

    # --------------------------------------------------------------- chain
    def node_on_chain(self, layer: int, row: int | None) -> bool:
        """Is the node on a path from the selected parameter to the loss?"""
        p = self.chain
        if p is None:
            return False
        return layer > p.layer or (layer == p.layer and row in (None, p.row))

    def edge_on_chain(self, layer: int, source: int | None) -> bool:
        """Is an edge into ``layer`` from node ``source`` (None: a summary) on the chain?"""
        p = self.chain
        if p is None:
            return False
        return layer > p.layer + 1 or (layer == p.layer + 1 and source in (None, p.row))

    # --------------------------------------------------------------- nodes
    def node_active(self, layer: int) -> bool:
        if self.active_kind == "forward":
            return layer == self.active_layer
        if self.active_kind == "loss":
            return layer == self.net.depth
        return False

    def params_active(self, layer: int) -> bool:
        if self.active_kind == "backward":
            return layer == self.active_layer
        return self.active_kind == "update"

    def name_style(self, name: str, layer: int, on_chain: bool = False) -> Style:
        style = NAME_STYLE + Style(color=NAMED_COLOURS.get(name.lower()))
        if on_chain:
            style += Style(underline=True)
        return style + ACTIVE if self.node_active(layer) else style

    def value_text(self, layer: int, values: np.ndarray) -> tuple[str, Style] | None:
        if not self.show_values and layer > 0:
            return None
        if not self.view.shows_forward(layer):
            return PENDING, DIM
        return fmt_short(float(values[self.point])), Style()

    def node_grad(self, layer: int, row: int) -> tuple[str, Style] | None:
        """∂Loss/∂node for the selected point (∂Loss/∂z where the output is fused)."""
        if not self.show_grads or layer == 0:
            return None
        # ∂Loss/∂node of a hidden layer is computed by the backward phase above it
        if not self.view.shows_backward(min(layer + 1, self.net.depth)):
            return f"∂{PENDING}", DIM
        lay = self.record.layers[layer - 1]
        values, mark = (lay.da, "∂") if lay.da is not None else (lay.dz, "∂z ")
        style = CHAIN_STYLE if self.node_on_chain(layer, row) else Style()
        return mark + fmt_short(float(values[self.point, row])), style

    def node(self, layer: int, row: int, mode: str) -> _Node:
        name = self.net.node_names[layer][row]
        head = (name, self.name_style(name, layer, self.node_on_chain(layer, row)))
        value = self.value_text(layer, self.record.nodes[name])
        grad = self.node_grad(layer, row)
        bias = self.bias_parts(layer, row) if layer > 0 and mode in ("wide", "tall") else []
        lines: list[Segments]
        if mode == "names":
            lines = [[head]]
        elif mode == "lean":
            lines = [_joined(head, value or grad)]
        elif mode == "tall" and value and (grad or layer == 0):
            lines = [_joined(head, value), *([[grad]] if grad else []), *([b] for b in bias)]
        elif mode == "tall":
            lines = [[head], *([part] for part in (value, grad) if part), *([b] for b in bias)]
        else:
            lines = [_joined(head, value, grad)]
            if bias:
                lines.append(_joined(*bias))
        param = self.bias_name(layer, row) if layer > 0 else None
        return _Node(layer, self.marked(layer, lines), param=param)

    def bias_name(self, layer: int, row: int) -> str:
        return self.net.param_names[self.net.bias_slices[layer - 1].start + row]

    def bias_parts(self, layer: int, row: int) -> list[tuple[str, Style]]:
        """The bias's label: value (or old → new) and gradient, as the mode asks."""
        index = self.net.bias_slices[layer - 1].start + row
        name = self.net.param_names[index]
        value = float(self.theta[index])
        style = weight_style(value, self.largest)
        if self.params_active(layer):
            style = style + ACTIVE
        if name == self.selected:
            style = SELECTED_STYLE
        if self.updating:
            return [(f"{name} {self.old_to_new(index)}", style)]
        grad = self.grad_text(index, layer)
        if not self.show_values:
            return [(f"{name} {grad}", style)]
        parts = [(f"{name} {fmt_short(value)}", style)]
        if self.show_grads:
            parts.append((grad, CHAIN_STYLE if name == self.selected else style))
        return parts

    def old_to_new(self, index: int) -> str:
        assert self.view.previous_theta is not None
        old = fmt_short(float(self.view.previous_theta[index]))
        return f"{old}→{fmt_short(float(self.theta[index]))}"

    def grad_text(self, index: int, layer: int) -> str:
        """``∂−0.997``: ∂Loss/∂θ once backward computed layer ``layer``, else pending."""
        if not self.view.shows_backward(layer):
            return f"∂{PENDING}"
        return f"∂{fmt_short(float(self.record.grad[index]))}"

    def summary(self, layer: int, mode: str) -> _Node:
        names = self.net.node_names[layer]
        count = len(names)
        on_chain = self.node_on_chain(layer, None)
        head = (f"{names[0]}…{names[-1]} ({count})", self.name_style("", layer, on_chain))
        lines = [[head]]
        if mode in ("wide", "tall"):
            if self.view.shows_forward(layer):
                values = np.array([self.record.nodes[n][self.point] for n in names])
                low, high = float(np.nanmin(values)), float(np.nanmax(values))
                lines.append([(f"{fmt_short(low)}…{fmt_short(high)}", Style())])
            else:
                lines.append([(PENDING, DIM)])
        return _Node(layer, self.marked(layer, lines), rows=range(count))

    # --------------------------------------------------------------- edges
    def edges(self, layout: _Layout, layer: int) -> list[_Edge]:
        """Edges from layer-1 into layer (layer is 1-based)."""
        sources, targets = layout.layers[layer - 1], layout.layers[layer]
        n_in = self.net.layers[layer - 1]
        start = self.net.weight_slices[layer - 1].start
        active = self.params_active(layer)
        edges = []
        for t, target in enumerate(targets):
            for s, source in enumerate(sources):
                if source.rows is not None or target.rows is not None:
                    on_chain = self.edge_on_chain(layer, None if source.rows else s)
                    style = CHAIN_STYLE + DIM if on_chain else NEUTRAL + DIM
                    edges.append(_Edge(source, target, style, [], None, -1.0))
                    continue
                edges.append(self.edge(source, target, start + t * n_in + s, layer, active))
        return edges

    def edge(self, source: _Node, target: _Node, index: int, layer: int, active: bool) -> _Edge:
        """One labelled edge: weight ``index`` into ``layer``."""
        name = self.net.param_names[index]
        value = float(self.theta[index])
        style = weight_style(value, self.largest, strong=active)
        label_style = style + ACTIVE if active else style
        order = abs(value) if math.isfinite(value) else math.inf
        if active:
            order += 1e300
        p = self.net.params[index]
        if name == self.selected or self.edge_on_chain(layer, p.col):
            style, order = CHAIN_STYLE, math.inf  # drawn over every other line
        if name == self.selected:
            label_style = SELECTED_STYLE
        return _Edge(
            source, target, style, self.edge_labels(index, layer), name, order, label_style, name
        )

    def edge_labels(self, index: int, layer: int) -> list[tuple[str, ...]]:
        """What the mode and phase say about weight ``index``, richest first."""
        name = self.net.param_names[index]
        value = fmt_short(float(self.theta[index]))
        if self.updating:
            assert self.view.previous_theta is not None
            old = fmt_short(float(self.view.previous_theta[index]))
            return [(f"{name} {old}→{value}",), (f"{name} {old}", f"→{value}")]
        grad = self.grad_text(index, layer)
        if self.show_values and self.show_grads:
            # with no room for both, the value (the parameters pane has the gradient)
            return [(f"{name} {value} {grad}",), (f"{name} {value}", grad), (f"{name} {value}",)]
        if self.show_grads:
            return [(f"{name} {grad}",), (name, grad)]
        return [(f"{name} {value}",)]

    # ------------------------------------------------------------ crossbars
    def dense_gap(self, layer: int, collapsed: set[int]) -> bool:
        """A gap into ``layer`` with more edges than rows for straight lines' labels (a crossbar's)."""
        if layer in collapsed or layer - 1 in collapsed:
            return False
        return self.too_many_labels(self.net.layers[layer - 1] * self.net.layers[layer])

    def crossbar_forms(self, layer: int) -> list[list[str]]:
        """The one-row label forms of the gap's weights, richest first, bare names last."""
        cache: dict[int, list[list[str]]] = self.__dict__.setdefault("_forms", {})
        if layer not in cache:
            n_in, n_out = self.net.layers[layer - 1], self.net.layers[layer]
            start = self.net.weight_slices[layer - 1].start
            per_edge = []
            for index in range(start, start + n_in * n_out):
                one_row = [label[0] for label in self.edge_labels(index, layer) if len(label) == 1]
                per_edge.append([*one_row, self.net.param_names[index]])
            count = min(len(forms) for forms in per_edge)
            cache[layer] = [[forms[k] for forms in per_edge] for k in range(count - 1)] + [
                [forms[-1] for forms in per_edge]
            ]
        return cache[layer]

    def paint_crossbar(self, canvas: _Canvas, layout: _Layout, layer: int) -> int:
        """Draw the crossbar into ``layer``; returns what it lost: 0 nothing, 1 the gradients
        (or values), 3 all but the names (still every edge labelled, unlike 2)."""
        sources, targets = layout.layers[layer - 1], layout.layers[layer]
        form = layout.crossbars[layer]
        labels = self.crossbar_forms(layer)[form]
        width = max(len(label) for label in labels)
        slot = width + 3
        x0 = sources[0].x + max(node.width for node in sources) + 2
        buses = [x0 + t * slot + width + 2 for t in range(len(targets))]
        ports = layout.ports[layer]
        rows = [node.y for node in sources]
        spans = [(min(*rows, port), max(*rows, port)) for port in ports]
        edges = self.edges(layout, layer)  # target-major: edges[t * len(sources) + s]
        bus_styles = [
            CHAIN_STYLE
            if any(edges[t * len(sources) + s].style is CHAIN_STYLE for s in range(len(sources)))
            else NEUTRAL
            for t in range(len(targets))
        ]
        for t, (bus, (top, bottom)) in enumerate(zip(buses, spans)):
            for y in range(top, bottom + 1):
                canvas.put(bus, y, "│", bus_styles[t])
            up, down = ports[t] > top, ports[t] < bottom
            canvas.put(bus, ports[t], JUNCTIONS[up, down, False, True], bus_styles[t])
            for x in range(bus + 1, targets[t].x - 1):
                crossed = any(
                    b == x and spans[k][0] <= ports[t] <= spans[k][1] for k, b in enumerate(buses)
                )
                if not crossed:
                    canvas.put(x, ports[t], "─", bus_styles[t])
        for s, source in enumerate(sources):
            y = source.y
            lead = NEUTRAL
            for x in range(source.x + source.first_width + 1, x0):
                canvas.put(x, y, "─", lead)
            for t, bus in enumerate(buses):
                edge = edges[t * len(sources) + s]
                left = x0 + t * slot
                text = labels[t * len(sources) + s]
                canvas.put(left, y, "─", edge.style)
                canvas.write(left + 1, y, [(text, edge.label_style)], reserve=False)
                for x in range(left + 1 + len(text), bus):
                    canvas.put(x, y, "─", edge.style)
                top, bottom = spans[t]
                arms = (y > top, y < bottom, True, t < len(buses) - 1)
                canvas.put(bus, y, JUNCTIONS[arms], bus_styles[t])
                canvas.labels.append((left + 1, y, len(text)))
                if edge.param is not None:
                    canvas.targets.append((left + 1, y, len(text), edge.param))
                    canvas.line_styles[edge.param] = edge.style
        if form == 0:
            return 0
        return BARE if form == len(self.crossbar_forms(layer)) - 1 else 1

    def route(self, edge: _Edge) -> None:
        """A straight line from the right of the source block to the target.

        The line leaves the source's name row; where a lower line of the block
        (value or bias) is wider, it first runs flat past it.
        """
        source, target = edge.source, edge.target
        start = source.x + source.first_width + 1
        clear = source.x + source.width + 1
        end = target.x - 2
        if end < clear:
            edge.path, edge.label_from = [], clear
            return
        lead = [(x, source.y, "─") for x in range(start, clear)]
        edge.path = lead + _line(clear, source.y, end, target.y)
        edge.label_from = clear + 1

    def place_labels(
        self, canvas: _Canvas, edges: list[_Edge], labels: list[tuple[str, ...] | None]
    ) -> bool:
        """Put each edge's label on its line without overlaps (all or nothing)."""
        taken = [row[:] for row in canvas.taken]
        crowding = _Crowding(edges)
        spots = []
        for i, (edge, label) in enumerate(zip(edges, labels)):
            spot = None if label is None else self._spot(canvas, edge, label, crowding, i)
            if spot is None or label is None:
                canvas.taken = taken
                return False
            x, y = spot
            width = max(len(line) for line in label)
            for k in range(len(label)):
                for col in range(x, x + width):
                    canvas.taken[y + k][col] = True
            spots.append((x, y, label, edge))
        for x, y, label, edge in spots:
            for k, line in enumerate(label):
                canvas.write(x, y + k, [(line, edge.label_style)], reserve=False)
                canvas.labels.append((x, y + k, len(line)))
                if edge.param is not None:
                    canvas.targets.append((x, y + k, len(line), edge.param))
        return True

    @staticmethod
    def _spot(
        canvas: _Canvas, edge: _Edge, label: tuple[str, ...], crowding: _Crowding, index: int
    ) -> tuple[int, int] | None:
        """A free place for the label's top row, one of its rows on its edge's line.

        Where lines cross or meet a label could belong to either, so among
        the free places the one farthest (up to 2 rows) from every other
        edge wins, and then the one nearest the middle.
        """
        width = max(len(line) for line in label)
        path = [cell for cell in edge.path if cell[0] >= edge.label_from]
        low, high = edge.label_from, path[-1][0] - 1 if path else 0
        if high - low + 1 < width:
            return None
        best: tuple[tuple[int, float], tuple[int, int]] | None = None
        for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
            px, py, _ = path[round(t * (len(path) - 1))]
            x = max(low, min(px - width // 2, high - width + 1))
            for top in (py, py - len(label) + 1) if len(label) > 1 else (py,):
                if not all(canvas.free(x, top + k, width) for k in range(len(label))):
                    continue
                clearance = crowding.clearance(index, x, top, width, len(label))
                score = (clearance, -abs(t - 0.5))
                if best is None or score > best[0]:
                    best = (score, (x, top))
        return None if best is None else best[1]

    # ---------------------------------------------------------------- text
    def header(self) -> Segments:
        rec, p = self.record, self.point
        out = [
            (f"point {p + 1}/{rec.x.shape[0]}: ", HEADER),
            (f"x = {fmt_inputs(rec.x[p])}, y = {fmt_inputs(rec.y[p])}", Style()),
        ]
        if self.active_kind == "loss" and self.view.shows_loss:
            out += [("  ", Style()), (f"loss {fmt_precise(rec.loss)}", ACTIVE)]
        return out

    def chain_parts(self) -> list[Segments]:
        """The selected parameter's chain as the chain pane writes it, or a shorter key."""
        name = self.selected
        if name is None or name not in self.record.factors:
            return []
        symbols: Segments = [(f"  ∂Loss/∂{name} = ", NAME_STYLE)]
        for i, factor in enumerate(self.record.factors[name]):
            symbols += [(" · ", Style())] * (i > 0) + [(factor.symbol, CHAIN_STYLE)]
        return [symbols, [(f"  cyan: chain of {name}", CHAIN_STYLE)]]

    def legend(self, values_hidden: bool) -> Segments:
        """Colour key and the selected chain; parts that do not fit whole are left out."""
        parts = [
            [("━━", weight_style(1.0, 1.0)), (" w>0  ", Style())],
            [("━━", weight_style(-1.0, 1.0)), (" w<0  ", Style())],
            [("brighter = larger |w|", HEADER)],
        ]
        if values_hidden:
            parts.append([("  edge values: parameters pane", HEADER)])
        if self.wrong_layer is not None:
            mark = f"✗ your {self.wrong_what} is wrong (layer {self.wrong_layer})  "
            parts.insert(0, [(mark, WRONG_STYLE)])
        out: Segments = []
        used = 0
        for part in parts:
            length = sum(len(t) for t, _ in part)
            if used + length > self.width:
                break
            out += part
            used += length
        for chain in self.chain_parts():  # the first that fits
            length = sum(len(t) for t, _ in chain)
            if used + length <= self.width:
                return out + chain
        return out

    def draw(self) -> _Canvas:
        """Try the layouts richest first; keep the best, stopping once none after it can win.

        Nodes matter more than edge labels (:data:`MODE_LOSS`), so a mode that
        loses more of the nodes is tried only while the best so far lost edge
        labels it might keep; where a gap is dense, each mode is also tried
        with crossbars (every edge labelled, no label on a crossing).  Layers
        collapse only when no layout fits without.
        """
        sizes = self.net.layers
        hopeless = sum(
            1 for l in range(1, len(sizes)) if self.too_many_labels(sizes[l - 1] * sizes[l])
        )
        best = self._best_uncollapsed(hopeless) or self._best_collapsed(hopeless)
        if best is None:
            canvas = _Canvas(self.width, self.height)
            message = "enlarge the pane to see the network"
            canvas.write(0, 0, [(message if len(message) <= self.width else "…", DIM)], False)
            return canvas
        return best

    def _best_uncollapsed(self, hopeless: int) -> _Canvas | None:
        # score: (collapsed layers, MODE_LOSS, unlabelled gaps, bare-name gaps, gaps without ∂, rank)
        best: tuple[tuple[int, ...], _Canvas] | None = None
        dense = any(self.dense_gap(l, set()) for l in range(1, len(self.net.layers)))
        for rank, mode in enumerate(MODES):
            for crossbar in (True, False) if dense else (False,):
                layout = _Layout(self, mode, False, crossbar)
                if not layout.ok:
                    continue
                canvas, unlabelled, bare, partial = self.paint(layout)
                score = (0, MODE_LOSS[mode], unlabelled, bare, partial, rank)
                if best is None or score < best[0]:
                    best = (score, canvas)
                if crossbar and unlabelled == 0:
                    break  # straight lines leave a dense gap unlabelled: they cannot win
            if best is not None and self._nothing_later_wins(best[0], rank, hopeless, dense):
                break
        return None if best is None else best[1]

    def _best_collapsed(self, hopeless: int) -> _Canvas | None:
        best: tuple[tuple[int, ...], _Canvas] | None = None
        for rank, mode in enumerate(MODES):
            layout = _Layout(self, mode, True)
            if not layout.ok:
                continue
            canvas, unlabelled, bare, partial = self.paint(layout)
            score = (len(layout.collapsed), MODE_LOSS[mode], unlabelled, bare, partial, rank)
            if best is None or score < best[0]:
                best = (score, canvas)
            if score[2:5] == (hopeless, 0, 0) and score[:2] == (0, 0):
                break  # nothing collapses fewer layers or labels more
        return None if best is None else best[1]

    @staticmethod
    def _nothing_later_wins(best: tuple[int, ...], rank: int, hopeless: int, dense: bool) -> bool:
        """Can no mode after ``rank`` beat ``best`` (it keeps more of the nodes, or all labels)?"""
        if rank + 1 >= len(MODES):
            return True
        if best[1] < MODE_LOSS[MODES[rank + 1]]:
            return True
        floor = 0 if dense else hopeless  # crossbars label every edge of a dense gap
        return best[2:5] == (floor, 0, 0)

    def too_many_labels(self, edges: int) -> bool:
        """More labels than rows to put them in: not worth trying."""
        return edges > self.graph_bottom - self.graph_top

    def paint(self, layout: _Layout) -> tuple[_Canvas, int, int, int]:
        """Draw one layout; returns the canvas and how many edge gaps lost their labels, kept
        bare names only (crossbars) and lost their gradients."""
        canvas = _Canvas(self.width, self.height)
        if self.show_header:
            canvas.write(0, 0, self.header(), reserve=True)
        self.paint_nodes(canvas, layout)
        gaps = []
        for layer in range(1, len(layout.layers)):
            if layer in layout.crossbars:
                continue
            edges = self.edges(layout, layer)
            for edge in edges:
                self.route(edge)
            gaps.append(edges)
        for edge in sorted((e for edges in gaps for e in edges), key=lambda e: e.order):
            if edge.param is not None:
                canvas.line_styles[edge.param] = edge.style
            for x, y, char in edge.path:
                if 0 <= y < canvas.height and not canvas.taken[y][x]:
                    canvas.put(x, y, char, edge.style)
        losses = [self.label_gap(canvas, edges) for edges in gaps]
        losses += [self.paint_crossbar(canvas, layout, layer) for layer in layout.crossbars]
        unlabelled, bare, partial = losses.count(2), losses.count(BARE), losses.count(1)
        if self.show_legend:
            legend = self.legend(unlabelled > 0 or bare > 0)
            canvas.write(0, self.height - 1, legend, reserve=False)
        return canvas, unlabelled, bare, partial

    @staticmethod
    def paint_nodes(canvas: _Canvas, layout: _Layout) -> None:
        """Every node's lines, with a blank cell kept around them so labels never touch."""
        for nodes in layout.layers:
            for node in nodes:
                for dy, line in enumerate(node.lines):
                    length = sum(len(t) for t, _ in line)
                    canvas.write(node.x, node.y + dy, line, reserve=True)
                    canvas.reserve(node.x - 1, node.y + dy)
                    canvas.reserve(node.x + length, node.y + dy)
                    if node.param is not None:
                        canvas.targets.append((node.x, node.y + dy, length, node.param))

    def label_gap(self, canvas: _Canvas, edges: list[_Edge]) -> int:
        """Label the edges of one gap, richest labels first.

        Returns what the gap lost: 0 nothing, 1 the gradients (a label's third
        form, the value alone), 2 the labels (bare names at most).
        """
        if edges and not edges[0].labels:
            return 0  # edges of a collapsed layer carry no labels
        if self.too_many_labels(len(edges)):
            return 2
        for kind in range(len(edges[0].labels)):
            if self.place_labels(canvas, edges, [edge.labels[kind] for edge in edges]):
                return min(kind // 2, 1)
        if len(edges) <= MAX_SHORT_LABELS:
            short = [(e.short_label,) if e.short_label else None for e in edges]
            self.place_labels(canvas, edges, short)
        return 2


class NetworkDiagram(Widget):
    """The network of the current View, drawn to fit the pane.

    Drawn with Textual's line API: the canvas becomes one Strip per row
    directly, which costs a fraction of laying out a Rich Text every frame.
    """

    DEFAULT_CSS = """
    NetworkDiagram { height: 1fr; width: 1fr; }
    """

    class ParameterClicked(Message):
        """A node, bias or edge label was clicked: explain that parameter."""

        def __init__(self, parameter: str) -> None:
            super().__init__()
            self.parameter = parameter

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.view: View | None = None
        self.highlight = False
        #: what the labels show: one of :data:`DIAGRAM_MODES`
        self.mode = DIAGRAM_MODES[0]
        self._canvas: _Canvas | None = None
        self._strips: list[Strip] | None = None

    def show(self, view: View) -> None:
        """Take a new snapshot and redraw.

        The phase just computed is highlighted while a phase walk (``n``) is
        under way, including its last phase; a state reached by a whole step,
        a reset or time travel has nothing "just computed" to point at.
        """
        previous = self.view
        same_step = previous is not None and previous.step == view.step
        if not view.done:
            self.highlight = True
        elif same_step and previous.walk == view.walk:
            pass  # same state (e.g. another point selected): keep the highlight
        else:
            self.highlight = same_step and not previous.done
        self.view = view
        self._canvas = self._strips = None
        self.refresh()

    def set_mode(self, mode: str) -> None:
        """Show values, gradients or both (one of :data:`DIAGRAM_MODES`)."""
        if mode not in DIAGRAM_MODES:
            raise ValueError(f"unknown diagram mode {mode!r}")
        self.mode = mode
        self._canvas = self._strips = None
        self.refresh()

    def on_resize(self) -> None:
        self._canvas = self._strips = None
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        canvas = self.canvas()
        if offset is None or canvas is None:
            return
        name = canvas.param_at(offset.x, offset.y)
        if name is not None:
            self.post_message(self.ParameterClicked(name))

    def where(self, name: str) -> tuple[int, int] | None:
        """Where parameter ``name`` is written (content offset of its label), if it is."""
        canvas = self.canvas()
        for x, y, _, param in canvas.targets if canvas else ():
            if param == name:
                return x, y
        return None

    def canvas(self) -> _Canvas | None:
        """The drawing for the current view and size (cached until either changes)."""
        view = self.view
        width, height = self.size.width, self.size.height
        if view is None or width <= 0 or height <= 0:
            return None
        if self._canvas is None or (self._canvas.width, self._canvas.height) != (width, height):
            self._canvas = _Drawing(view, width, height, self.highlight, self.mode).draw()
            self._strips = None
        return self._canvas

    def render(self) -> Text:
        """The drawing as one Rich Text (what the strips show; used by tests)."""
        canvas = self.canvas()
        return Text("") if canvas is None else canvas.text()

    def render_line(self, y: int) -> Strip:
        canvas = self.canvas()
        if canvas is None or y >= canvas.height:
            return Strip.blank(self.size.width, self.rich_style)
        if self._strips is None:
            self._strips = canvas.strips(self.rich_style)
        return self._strips[y]


def drawing(
    view: View, width: int, height: int, *, highlight: bool = True, mode: str = "both"
) -> _Canvas:
    """The canvas of ``view`` (text, label places and click targets), for tests and tools."""
    return _Drawing(view, width, height, highlight, mode).draw()


def draw(
    view: View, width: int, height: int, *, highlight: bool = True, mode: str = "both"
) -> Text:
    """The diagram of ``view`` on a ``width`` × ``height`` canvas."""
    return drawing(view, width, height, highlight=highlight, mode=mode).text()
