"""The forward pane: one row per data point, every node's z and activation.

Values of layers the forward phases have not reached yet are pending, so
stepping with ``n`` fills the table left to right.  Wide networks drop the z
columns (activations only) so a 2-8-8-1 net stays one screen wide-ish; the
table scrolls sideways for the rest.  The row cursor is the selected point.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widgets import DataTable

from bptui.tui.fast import drop_stale_renders
from bptui.tui.format import fmt_percent, fmt_value
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
    for i in range(record.x.shape[0]):
        row: dict[str, Text] = {"point": Text(str(i + 1), style="bold")}
        for j, name in enumerate(net.node_names[0]):
            row[f"in:{name}"] = table_cell(fmt_value(float(record.x[i, j]), 4))
        for layer in range(1, net.depth + 1):
            lay = record.layers[layer - 1]
            ready = view.shows_forward(layer)
            for k, name in enumerate(net.node_names[layer]):
                if with_z:
                    row[f"z:{name}"] = (
                        table_cell(fmt_value(float(lay.z[i, k])), "dim italic")
                        if ready
                        else pending_cell()
                    )
                row[f"a:{name}"] = (
                    table_cell(fmt_value(float(lay.a[i, k]))) if ready else pending_cell()
                )
        for k in range(record.y.shape[1]):
            row[f"y:{k}"] = table_cell(fmt_value(float(record.y[i, k]), 4))
        if view.shows_loss:
            share = float(record.point_loss[i])
            percent = 100.0 * share / total if total and np.isfinite(total) else float("nan")
            suffix = f" {fmt_percent(percent)}" if np.isfinite(percent) else ""
            row["loss"] = table_cell(fmt_value(share) + suffix)
        else:
            row["loss"] = pending_cell()
        rows.append(row)
    return rows


class ForwardPane(DataTable):
    """x, z and activation of every node, y and each point's share of the loss."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", fixed_columns=1, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Forward pass"
        self._columns_for: tuple[object, ...] = ()
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
        for i in range(view.record.x.shape[0]):
            self.add_row(*(Text("") for _ in columns), key=f"p{i}")

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
