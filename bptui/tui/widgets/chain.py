"""The chain-rule pane: one parameter's gradient taken apart.

With ``--grads`` the pane opens with the verdict on the user's derivative
(yours vs backprop, and which factor is wrong), so it is on screen at any
size; with ``--impl``, with the user's tensors judged per backward layer and
the selected parameter's entry of their dW or db beside backprop's (the
table then adds their per-point dZ·input beside backprop's product).  Then, for the selected parameter, it prints the chain (∂Loss/∂b1 = ∂Loss/∂green ·
∂green/∂blue · ∂blue/∂b1), one line per factor with its formula and whether
backprop reused it, then a table with one row per data point: the factor
values, their product, and the sum of the products, which is the gradient.
Rows are points (not factors) because chains are short and data sets are not.
Every value comes from the record's factors; nothing here differentiates.
"""

from __future__ import annotations

import math

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from bptui.engine.chain import Factor
from bptui.engine.network import ParamInfo
from bptui.tui.format import fmt_column, fmt_point_x, fmt_value, typographic
from bptui.tui.state import PENDING, View
from bptui.tui.widgets.comparison import comparison_lines
from bptui.tui.widgets.impl import impl_lines


def chain_equation(name: str, factors: list[Factor]) -> Text:
    """``∂Loss/∂b1 = ∂Loss/∂green · ∂green/∂blue · ∂blue/∂b1``."""
    text = Text(f"∂Loss/∂{name}", style="bold")
    text.append(" = ")
    for i, factor in enumerate(factors):
        if i:
            text.append(" · ")
        text.append(factor.symbol, style="bold cyan")
    return text


def factor_lines(factors: list[Factor]) -> list[Text]:
    """``symbol = formula`` per factor; reused ones get a second line saying from where."""
    width = max(len(f.symbol) for f in factors)
    lines: list[Text] = []
    for factor in factors:
        line = Text.assemble(
            ("  " + factor.symbol.ljust(width), "cyan"), f" = {typographic(factor.formula)}"
        )
        where = f"   (backward layer {factor.computed_in})"
        if not factor.reused and len(line) + len(where) <= 64:
            line.append(where, style="dim")
        lines.append(line)
        if factor.reused:
            lines.append(
                Text(
                    f"   ↻ reused — first computed for {factor.first_use} "
                    f"in backward layer {factor.computed_in}",
                    style="green",
                )
            )
    return lines


def point_label(view: View, i: int) -> str:
    x = view.record.x[i]
    if x.shape[0] == 1:
        return f"x={fmt_point_x(float(x[0]))}"
    return f"#{i + 1}"


def counts_text(view: View) -> Text:
    """Derivatives backprop evaluates (per layer, output first) vs from scratch."""
    counts = view.record.counts
    layers = list(counts.backprop_by_layer)

    def terms(by_layer: dict[int, int]) -> str:
        shown = [str(by_layer[l]) if view.shows_backward(l) else "?" for l in layers]
        if len(shown) == 1:
            return shown[0]
        joined = " + ".join(shown)
        return joined if "?" in shown else f"{joined} = {sum(by_layer.values())}"

    return Text.assemble(
        ("derivatives: ", "bold"),
        ("backprop ", ""),
        (terms(counts.backprop_by_layer), "bold green"),
        ("  vs  from scratch ", ""),
        (terms(counts.scratch_by_layer), "bold yellow"),
    )


def values_table(view: View, name: str, factors: list[Factor]) -> Table:
    """One row per point: inputs, factor values, product; then the sum."""
    record = view.record
    info = param_info(view, name)
    complete = view.shows_backward(info.layer)
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("point", no_wrap=True)
    for factor in factors:
        table.add_column(Text(factor.symbol), justify="right", no_wrap=True, style="")
    table.add_column("product", justify="right", no_wrap=True)
    yours = _impl_points(view, name)
    if yours is not None:
        table.add_column(Text(yours[0]), justify="right", no_wrap=True)

    in_batch = np.zeros(record.x.shape[0], dtype=bool)
    in_batch[record.batch] = True
    # One style per column (fixed or scientific), chosen from the column's extremes.
    columns = [fmt_column(factor.values) for factor in factors]
    products = fmt_column(record.chain_product(name))
    for i in range(record.x.shape[0]):
        label = point_label(view, i) + ("" if in_batch[i] else " ⊘")
        cells: list[RenderableType] = [Text(label, style="" if in_batch[i] else "dim")]
        for factor, column in zip(factors, columns):
            if view.shows_backward(factor.computed_in):
                cells.append(Text(column[i]))
            else:
                cells.append(Text(PENDING, style="dim"))
        cells.append(Text(products[i], style="bold") if complete else Text(PENDING, style="dim"))
        if yours is not None:
            cells.append(Text(yours[1][i], style=yours[2][i]))
        table.add_row(*cells)
    return table


def _impl_points(view: View, name: str) -> tuple[str, list[str], list[str]] | None:
    """``--impl``: the column of the user's per-point values (header, cells, styles).

    Only when the verdict is of the state on screen and the step used every
    point (the user's backward sees all points as one batch).
    """
    shown = view.impl
    param = shown.param if shown is not None and shown.current else None
    if param is None or param.points is None or param.name != name:
        return None
    if len(view.record.batch) != view.record.x.shape[0]:
        return None
    assert param.points_agree is not None
    styles = ["green" if agrees else "bold red" for agrees in param.points_agree]
    return param.points_label, fmt_column(param.points), styles


def sum_line(view: View, name: str) -> Text:
    """Σ of the per-point products next to the gradient, with a ✓ when equal."""
    info = param_info(view, name)
    if not view.shows_backward(info.layer):
        return Text(
            f"Σ products = {PENDING}   ∂Loss/∂{name}: after backward layer {info.layer}",
            style="dim",
        )
    total = float(np.sum(view.record.chain_product(name)))
    grad = float(view.record.grad[info.index])
    agree = math.isclose(total, grad, rel_tol=1e-9, abs_tol=1e-12)
    return Text.assemble(
        ("Σ products = ", "bold"),
        (fmt_value(total), "bold"),
        "   ",
        (f"∂Loss/∂{name} = ", "bold"),
        (fmt_value(grad), "bold"),
        ("  ✓ equal" if agree else "  ✗ differ", "bold green" if agree else "bold red"),
    )


def param_info(view: View, name: str) -> ParamInfo:
    return view.network.params[view.network.param_index[name]]


def chain_renderable(view: View) -> RenderableType:
    """Everything the pane shows for the view's selected parameter."""
    name = view.selected_param
    if name is None or name not in view.record.factors:
        return Text("Select a parameter in the parameters pane.", style="dim")
    factors = view.record.factors[name]
    verdict = comparison_lines(
        view.user_results, name, view.shows_backward(param_info(view, name).layer)
    )
    parts: list[RenderableType] = [
        *impl_lines(view.impl),
        *verdict,
        chain_equation(name, factors),
        *factor_lines(factors),
    ]
    if not view.is_trainable(name):
        parts.append(Text("❄ frozen: its gradient is computed but never applied", style="dim"))
    parts += [Text(""), values_table(view, name, factors)]
    if len(view.record.batch) < view.record.x.shape[0]:
        parts.append(Text("⊘ not in this step's mini-batch: contributes 0", style="dim"))
    parts += [sum_line(view, name), Text(""), counts_text(view)]
    return Group(*parts)


class ChainPane(VerticalScroll):
    """The chain rule of the selected parameter, factor by factor and point by point."""

    def __init__(
        self, *, above: Widget | None = None, below: Widget | None = None, **kwargs: object
    ) -> None:
        """``above`` and ``below`` the chain: the app's update sections, composed with it
        (mounted later, they laid the screen out again after the first frame)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "Chain rule"
        self._body = Static(id="chain-body")
        self._above, self._below = above, below

    def compose(self):  # type: ignore[no-untyped-def]
        if self._above is not None:
            yield self._above
        yield self._body
        if self._below is not None:
            yield self._below

    def show(self, view: View) -> None:
        if view.selected_param:
            self.border_title = f"Chain rule · ∂Loss/∂{view.selected_param}"
        self._body.update(chain_renderable(view))
