"""The forward pane: one row per data point, every node's z and activation.

Values of layers the forward phases have not reached yet are pending, so
stepping with ``n`` fills the table left to right.  Wide networks drop the z
columns (activations only) so a 2-8-8-1 net stays one screen wide-ish; the
table scrolls sideways for the rest, a whole column at a time with the point
column fixed, so a number is never cut at its left (``049671`` for
``0.049671``, or a minus scrolled away).  Each column is written in one number
style.  The row cursor is the selected point.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import DataTable

from bptui.tui.fast import drop_stale_renders
from bptui.tui.format import fmt_column, fmt_percent
from bptui.tui.state import View
from bptui.tui.widgets.parameters import pending_cell, table_cell

#: Show z columns only when the network has at most this many non-input nodes.
MAX_NODES_WITH_Z = 4
VALUE_WIDTH = 10


def shows_z(view: View) -> bool:
    return sum(view.network.layers[1:]) <= MAX_NODES_WITH_Z


def forward_columns(view: View) -> list[tuple[str, str]]:
    """(key, label) of every column, in order."""
    net = view.network
    columns = [("point", "#")]
    columns += [(f"in:{name}", name) for name in net.node_names[0]]
    with_z = shows_z(view)
    last = net.depth
    for layer in range(1, last + 1):
        for name in net.node_names[layer]:
            if with_z:
                columns.append((f"z:{name}", f"z_{name}"))
            label = name if layer < last or name.startswith("ŷ") else f"{name} = ŷ"
            columns.append((f"a:{name}", label))
    outputs = net.node_names[last]
    if len(outputs) == 1:
        columns.append(("y:0", "y"))
    else:
        columns += [(f"y:{k}", f"y{k + 1}") for k in range(len(outputs))]
    columns.append(("loss", "loss share"))
    return columns


def forward_rows(view: View) -> list[dict[str, Text]]:
    """Every data point's cells (column key → text), pending where not computed."""
    net, record = view.network, view.record
    rows: list[dict[str, Text]] = []
    with_z = shows_z(view)
    total = float(np.sum(record.point_loss))
    # One number style per column, chosen from the column's extremes.
    text: dict[str, list[str]] = {}
    for j, name in enumerate(net.node_names[0]):
        text[f"in:{name}"] = fmt_column(record.x[:, j], 4)
    for layer in range(1, net.depth + 1):
        lay = record.layers[layer - 1]
        for k, name in enumerate(net.node_names[layer]):
            if with_z:
                text[f"z:{name}"] = fmt_column(lay.z[:, k])
            text[f"a:{name}"] = fmt_column(lay.a[:, k])
    for k in range(record.y.shape[1]):
        text[f"y:{k}"] = fmt_column(record.y[:, k], 4)
    shares = fmt_column(record.point_loss)
    for i in range(record.x.shape[0]):
        row: dict[str, Text] = {"point": Text(str(i + 1), style="bold")}
        for key, column in text.items():
            layer = _layer_of(view, key)
            if layer is not None and not view.shows_forward(layer):
                row[key] = pending_cell()
            else:
                row[key] = table_cell(column[i], "dim italic" if key.startswith("z:") else "")
        if view.shows_loss:
            share = float(record.point_loss[i])
            percent = 100.0 * share / total if total and np.isfinite(total) else float("nan")
            suffix = f" {fmt_percent(percent)}" if np.isfinite(percent) else ""
            row["loss"] = table_cell(shares[i] + suffix)
        else:
            row["loss"] = pending_cell()
        rows.append(row)
    return rows


def _layer_of(view: View, key: str) -> int | None:
    """The layer a z or activation column belongs to; None for inputs and targets."""
    if not key.startswith(("z:", "a:")):
        return None
    name = key[2:]
    return next(i for i, names in enumerate(view.network.node_names) if name in names)


class ForwardPane(DataTable):
    """x, z and activation of every node, y and each point's share of the loss."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", fixed_columns=1, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Forward pass"
        self._columns_for: tuple[object, ...] = ()
        #: The last column's own width (:meth:`_align_far_right` may widen it).
        self._last_width = 0
        self._keys: list[str] = []
        self._shown: dict[tuple[int, str], tuple[object, ...]] = {}

    def _build(self, view: View) -> None:
        self.clear(columns=True)
        self._shown.clear()
        columns = forward_columns(view)
        self._keys = [key for key, _ in columns]
        for key, label in columns:
            if key == "point":
                width = 3
            elif key == "loss":
                width = 15
            else:
                width = max(len(label), VALUE_WIDTH if not key.startswith(("in:", "y:")) else 7)
            justify = "left" if key == "point" else "right"
            self.add_column(Text(label, justify=justify), key=key, width=width)
            self._last_width = width
        for i in range(view.record.x.shape[0]):
            self.add_row(*(Text("") for _ in columns), key=f"p{i}")
        self._align_far_right()

    def _column_starts(self) -> list[int]:
        """scroll_x values at which a scrolled column begins exactly at the left."""
        starts = [0]
        for column in self.ordered_columns[self.fixed_columns :]:
            starts.append(starts[-1] + column.get_render_width(self))
        return [x for x in starts if x < self.max_scroll_x] + [self.max_scroll_x]

    def on_resize(self) -> None:
        self._align_far_right()

    def _align_far_right(self) -> None:
        """Widen the last column so that the far-right scroll position starts a column.

        Scrolled fully right, the table's left edge would otherwise fall inside
        a column and cut its numbers (``994143`` for ``0.994143``); the extra
        width is blank space after the last column.
        """
        columns = self.ordered_columns
        if len(columns) <= self.fixed_columns or not self.scrollable_content_region:
            return
        last = columns[-1]
        fixed = sum(c.get_render_width(self) for c in columns[: self.fixed_columns])
        room = self.scrollable_content_region.width - fixed  # what the scrolled columns get
        starts = [0]
        for column in columns[self.fixed_columns : -1]:
            starts.append(starts[-1] + column.get_render_width(self))
        natural = starts[-1] + 2 * self.cell_padding + self._last_width
        overflow = natural - room  # how far the table scrolls at most
        pad = 0 if overflow <= 0 else min(s for s in starts + [natural] if s >= overflow) - overflow
        if last.width != self._last_width + pad:
            last.width = self._last_width + pad
            self._require_update_dimensions = True  # the DataTable re-measures on idle
            self.refresh()

    def scroll_right(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        """→ and the wheel move to the next column's start, not one cell on."""
        starts = self._column_starts()
        after = [x for x in starts if x > self.scroll_x]
        self.scroll_to(x=after[0] if after else starts[-1], animate=False)

    def scroll_left(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        """← and the wheel move to the previous column's start."""
        before = [x for x in self._column_starts() if x < self.scroll_x]
        self.scroll_to(x=before[-1] if before else 0, animate=False)

    def show(self, view: View) -> None:
        identity = (id(view.network), view.record.x.shape)
        if identity != self._columns_for:
            self._columns_for = identity
            self._build(view)
        self.border_subtitle = self._subtitle(view)
        changed = False
        for i, row in enumerate(forward_rows(view)):
            for key, cell in row.items():
                signature = (cell.plain, str(cell.style))
                if self._shown.get((i, key)) != signature:
                    self._shown[(i, key)] = signature
                    self.update_cell(f"p{i}", key, cell)
                    changed = True
        if changed:
            drop_stale_renders(self)
        if self.cursor_row != view.selected_point:
            self.move_cursor(row=view.selected_point)

    @staticmethod
    def _subtitle(view: View) -> str:
        loss = view.network.loss
        if not shows_z(view):
            return f"activations only (wide net) · loss {loss}"
        return f"loss {loss} · [ ] selects the point"
