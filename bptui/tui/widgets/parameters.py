"""The parameters pane: every θ with its value, gradient, step and last change.

The row cursor is the parameter selector for the chain pane (the app listens
to ``DataTable.RowHighlighted``; row keys are parameter names).  Cells are
updated in place with fixed column widths, so a frame while running costs a
few hundred cheap assignments and the cursor never jumps.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from rich.text import Text
from textual.widgets import DataTable

from bptui.debug.gradcheck import close
from bptui.debug.session import is_pending
from bptui.tui.fast import drop_stale_renders
from bptui.tui.format import (
    column_is_scientific,
    fmt_in_column,
    fmt_plain,
    fmt_signed_in_column,
)
from bptui.tui.state import PENDING, View

COLUMNS = (
    ("name", "θ", 5),
    ("value", "value", 21),
    ("grad", "∂Loss/∂θ", 10),
    ("step", "−α·∂Loss/∂θ", 11),
    ("change", "Δθ", 10),
)
USER_COLUMN = ("yours", "yours", 12)
#: Beside another run (forks, ``{`` ``}``): this run minus that one, at this step.
COMPARE_COLUMNS = (("theta_vs", "θ − other", 11), ("grad_vs", "∂ − other", 10))
NUMERIC_COLUMN = ("numeric", "numeric", 10)
#: The rows the table holds at once: a window of the parameters around the selected one.
#: A DataTable of 100,000 rows took 28 s to build and 5 s a frame ([1, 314, 314, 1]);
#: a window costs the same however big the net, and moving past its edge moves it.
WINDOW = 200


def table_cell(text: str, style: str = "") -> Text:
    """A right-aligned number cell, as both data-table panes draw them."""
    return Text(text, style=style, justify="right")


def pending_cell() -> Text:
    """A value the current phase walk has not computed yet."""
    return table_cell(PENDING, "dim")


def column_styles(view: View) -> dict[str, bool]:
    """Whether each number column is scientific, chosen from every row's numbers.

    One style per column (``format.fmt_column``'s rule), though the pane fills
    its cells row by row: ``0.049671`` never stands above ``−1.76e−04``.
    """
    record, old = view.record, view.previous_theta
    theta, grad = record.theta, record.grad
    updating = view.phase.kind == "update" and not view.done and old is not None
    numbers: dict[str, list[object]] = {"value": [theta], "change": []}
    if updating:
        numbers["value"].append(old)
        numbers["grad"] = [] if view.previous_grad is None else [view.previous_grad]
        numbers["step"] = [theta - old]
    else:
        numbers["grad"] = [grad]
        numbers["step"] = [-view.learning_rate * grad]
    if old is not None:
        numbers["change"] = [theta - old]
    numbers["yours"] = [list(view.user_grads.values())]
    theirs = view.compare
    if theirs is not None and theirs.theta is not None and theirs.grad is not None:
        numbers["theta_vs"] = [theta - theirs.theta]
        numbers["grad_vs"] = [grad - theirs.grad]
    numbers["numeric"] = [[r.numeric for r in view.user_results.values()]]
    return {
        key: any(column_is_scientific(np.ravel(part)) for part in parts)  # type: ignore[arg-type]
        for key, parts in numbers.items()
    }


def parameter_cells(
    view: View, name: str, styles: dict[str, bool] | None = None
) -> dict[str, Text]:
    """The cells of one parameter's row for this view (column key → text).

    ``styles`` is :func:`column_styles` of the view (computed when not given).
    """
    styles = column_styles(view) if styles is None else styles
    net = view.network
    index = net.param_index[name]
    info = net.params[index]
    trainable = view.is_trainable(name)
    frozen_style = "" if trainable else "dim"
    value = float(view.record.theta[index])
    updating = view.phase.kind == "update" and not view.done
    cells: dict[str, Text] = {
        "name": Text(name if trainable else f"❄ {name}", style=frozen_style or "bold"),
    }
    old = None if view.previous_theta is None else float(view.previous_theta[index])

    if updating and old is not None:
        cells["value"] = Text.assemble(
            (fmt_in_column(old, styles["value"]), "dim"),
            " → ",
            (fmt_in_column(value, styles["value"]), "bold"),
            justify="right",
        )
        used = None if view.previous_grad is None else float(view.previous_grad[index])
        cells["grad"] = (
            table_cell(fmt_in_column(used, styles["grad"]), "italic")
            if used is not None
            else pending_cell()
        )
        cells["step"] = table_cell(
            fmt_signed_in_column(value - old, styles["step"]), "bold" if trainable else "dim"
        )
    else:
        cells["value"] = table_cell(fmt_in_column(value, styles["value"]), frozen_style)
        if view.shows_backward(info.layer):
            grad = float(view.record.grad[index])
            cells["grad"] = table_cell(fmt_in_column(grad, styles["grad"]), frozen_style)
            if trainable and not view.optimizer_plain:
                cells["step"] = table_cell(view.optimizer_name, "dim")  # its pieces: the chain pane
            elif trainable:
                step = -view.learning_rate * grad
                cells["step"] = table_cell(fmt_signed_in_column(step, styles["step"]))
            else:
                cells["step"] = table_cell("frozen", "dim")
        else:
            cells["grad"] = pending_cell()
            cells["step"] = pending_cell()

    if old is None:
        cells["change"] = table_cell("—", "dim")
    else:
        change = value - old
        text = fmt_signed_in_column(change, styles["change"])
        cells["change"] = table_cell(text, "dim" if change == 0 else "")

    cells.update(user_cells(view, name, styles))
    cells.update(compare_cells(view, name, styles))
    return cells


def compare_cells(view: View, name: str, styles: dict[str, bool]) -> dict[str, Text]:
    """Beside another run: this run's θ and ∂Loss/∂θ minus that run's at this step."""
    theirs = view.compare
    if theirs is None:
        return {}
    if theirs.theta is None or theirs.grad is None:
        return {"theta_vs": table_cell("—", "dim"), "grad_vs": table_cell("—", "dim")}
    index = view.network.param_index[name]
    cells = {}
    for key, ours, other in (
        ("theta_vs", view.record.theta, theirs.theta),
        ("grad_vs", view.record.grad, theirs.grad),
    ):
        difference = float(ours[index]) - float(other[index])
        if key == "grad_vs" and not view.shows_backward(view.network.params[index].layer):
            cells[key] = pending_cell()
        elif difference == 0.0:
            cells[key] = table_cell("0", "dim")  # the very same bits
        else:
            cells[key] = table_cell(fmt_signed_in_column(difference, styles[key]))
    return cells


def user_cells(view: View, name: str, styles: dict[str, bool]) -> dict[str, Text]:
    """``--grads``: the "numeric" and "yours" cells of one parameter (none without it)."""
    cells: dict[str, Text] = {}
    index = view.network.param_index[name]
    result = view.user_results.get(name)
    checking = result is not None and is_pending(result)  # this state's judgement is on its way
    ready = view.shows_backward(view.network.params[index].layer) and not checking
    if view.user_results:
        if result is None:
            cells["numeric"] = table_cell("—", "dim")
        elif not ready:
            cells["numeric"] = pending_cell()
        else:
            cells["numeric"] = table_cell(fmt_in_column(result.numeric, styles["numeric"]), "dim")
    if not (view.user_grads or view.user_results):
        return cells
    yours = view.user_grads.get(name)
    if result is not None and result.error is not None:
        cells["yours"] = table_cell("error ✗", "bold red")
    elif yours is None and not checking:
        cells["yours"] = table_cell("—", "dim")
    elif not ready or yours is None:
        cells["yours"] = pending_cell()
    elif not close(yours, float(view.record.grad[index])):  # the one rule of agreement
        cells["yours"] = table_cell(f"{fmt_in_column(yours, styles['yours'])} ✗", "bold red")
    else:
        cells["yours"] = table_cell(f"{fmt_in_column(yours, styles['yours'])} ✓", "green")
    return cells


def cell_signature(cell: Text) -> tuple[object, ...]:
    """What a cell looks like (Text equality ignores the base style)."""
    return (cell.plain, str(cell.style), tuple(cell.spans))


class ParametersPane(DataTable):
    """θ, value, ∂Loss/∂θ, −α·∂Loss/∂θ and Δ since the previous step."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Parameters"
        self._names: tuple[str, ...] = ()
        #: Every parameter of the net; ``_names`` is the window of them the table holds.
        self._all: tuple[str, ...] = ()
        self._start = 0
        self._view: View | None = None
        self._with_user_column = False
        self._comparing = False
        self._plain = True
        self._keys: set[str] = set()
        self._shown: dict[tuple[str, str], tuple[object, ...]] = {}

    def _build(self, view: View) -> None:
        self.clear(columns=True)
        self._shown.clear()
        columns = list(COLUMNS)
        if self._with_user_column:
            if view.user_results:
                # --grads: the pane compares gradients; step and Δ make room for
                # yours and numeric beside backprop's ∂Loss/∂θ.
                columns = [c for c in columns if c[0] not in ("step", "change")]
                columns += [USER_COLUMN, NUMERIC_COLUMN]
            else:
                columns.append(USER_COLUMN)
        elif self._comparing:
            # beside another run: the differences take the place of step and Δ
            columns = [c for c in columns if c[0] not in ("step", "change")]
            columns += list(COMPARE_COLUMNS)
        self._keys = {key for key, _, _ in columns}
        for key, label, width in columns:
            justify = "left" if key == "name" else "right"
            if key == "step" and not self._plain:
                label = "next step"  # another optimizer's step is not −α·∂Loss/∂θ
            self.add_column(Text(label, justify=justify), key=key, width=width)
        self._all = tuple(view.network.param_names)
        self._start = max(0, min(self._start, len(self._all) - WINDOW))
        self._names = self._all[self._start : self._start + WINDOW]
        for name in self._names:
            self.add_row(*(Text("") for _ in columns), key=name)

    def show(self, view: View) -> None:
        with_user = bool(view.user_grads or view.user_results)
        self._view = view
        if view.selected_param in self._all and view.selected_param not in self._names:
            self._start = self._window_start(view.selected_param)
            self._all = ()  # rebuild the window around the selected parameter
        plain = view.optimizer_plain
        comparing = view.compare is not None
        if (
            self._all != tuple(view.network.param_names)
            or with_user != self._with_user_column
            or plain != self._plain
            or comparing != self._comparing
        ):
            self._with_user_column = with_user
            self._comparing = comparing
            self._plain = plain
            self._build(view)
            if view.selected_param:  # the rebuilt table's cursor is on row 0
                self.select(view.selected_param)
        self.border_subtitle = self._subtitle(view) + self._window_note()
        styles = column_styles(view)
        changed = False
        for name in self._names:
            for key, cell in parameter_cells(view, name, styles).items():
                if key not in self._keys:
                    continue
                signature = cell_signature(cell)
                if self._shown.get((name, key)) != signature:
                    self._shown[(name, key)] = signature
                    self.update_cell(name, key, cell)
                    changed = True
        if changed:
            drop_stale_renders(self)

    @staticmethod
    def _subtitle(view: View) -> str:
        theirs = view.compare
        if theirs is not None and theirs.moving:  # said with --grads' columns shown too
            return f"other: {theirs.name} catching up (step {theirs.at})"
        if theirs is not None and not (view.user_grads or view.user_results):
            if theirs.theta is None:
                return f"other: {theirs.name} stopped at step {theirs.at}"
            return f"other = {theirs.name}, at step {view.step} too"
        if view.phase.kind == "update" and not view.done and not view.optimizer_plain:
            return f"update by {view.optimizer_name}: old → new (its pieces: the chain pane)"
        if view.phase.kind == "update" and not view.done:
            return f"update: θ ← θ − {fmt_plain(view.learning_rate)}·∂Loss/∂θ  (old → new)"
        return "↑↓ selects the parameter for the chain"

    def select(self, name: str) -> None:
        """Put the cursor on ``name`` (which selects it for the chain pane).

        A parameter outside the window moves the window there first.
        """
        if name not in self._names and name in self._all and self._view is not None:
            self.show(dataclasses.replace(self._view, selected_param=name))
        if name in self._names:
            self.move_cursor(row=self._names.index(name))

    def _window_start(self, name: str) -> int:
        """The window's first row with ``name`` in its middle."""
        return max(0, min(self._all.index(name) - WINDOW // 2, len(self._all) - WINDOW))

    def _window_note(self) -> str:
        if len(self._all) <= WINDOW:
            return ""
        first, last = self._start + 1, self._start + len(self._names)
        return f" · rows {first:,}–{last:,} of {len(self._all):,}"

    def _move_to(self, index: int) -> None:
        """Select the parameter at ``index`` among all of them (past the window's edges too)."""
        if self._all:
            self.select(self._all[max(0, min(index, len(self._all) - 1))])

    def _cursor_index(self) -> int:
        return self._start + max(self.cursor_row, 0)

    def action_cursor_down(self) -> None:
        if self.cursor_row >= len(self._names) - 1:
            self._move_to(self._cursor_index() + 1)
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self._move_to(self._cursor_index() - 1)
        else:
            super().action_cursor_up()

    def action_page_down(self) -> None:
        self._move_to(self._cursor_index() + max(1, self.scrollable_content_region.height - 1))

    def action_page_up(self) -> None:
        self._move_to(self._cursor_index() - max(1, self.scrollable_content_region.height - 1))

    def action_scroll_top(self) -> None:
        self._move_to(0)

    def action_scroll_bottom(self) -> None:
        self._move_to(len(self._all) - 1)
