"""The watches screen (``w``): the run's breakpoints, listed, added and removed.

The screen edits its own copy of the list and answers with it when closed
(``dismiss``); the app applies the answer.  The form goes through
:func:`bptui.scenario.watches.make_watch`, so it accepts exactly what a
``[[watch]]`` table in a scenario file accepts and reports the same errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from bptui.engine.watches import Watch
from bptui.errors import ScenarioError
from bptui.scenario.watches import KIND_HELP, KINDS, make_watch
from bptui.tui.format import plain


def form_table(kind: str, amount: str, param: str) -> dict[str, Any]:
    """The ``[[watch]]`` table the form describes (text fields parsed as TOML would)."""
    table: dict[str, Any] = {"kind": kind}
    _, required, optional = KINDS[kind]
    keys = (*required, *optional)
    amount, param = amount.strip(), param.strip()
    if "step" in keys and amount:
        try:
            table["step"] = int(amount)
        except ValueError:
            table["step"] = amount
    if "value" in keys and amount:
        try:
            table["value"] = float(amount)
        except ValueError:
            table["value"] = amount
    if "param" in keys and param:
        table["param"] = param
    return table


class WatchesScreen(ModalScreen[tuple[Watch, ...]]):
    """List, add and remove watches; escape closes and answers with the edited list."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("delete,d", "remove", "Remove selected"),
    ]

    def __init__(self, watches: Sequence[Watch], param_names: Sequence[str]) -> None:
        super().__init__()
        self.watches = list(watches)
        self.param_names = list(param_names)

    def compose(self) -> ComposeResult:
        with Vertical(id="watches-box"):
            yield Static(
                "Watches — a run (r) stops on the step one fires   (escape closes)",
                id="watches-title",
            )
            yield DataTable(id="watches-table", cursor_type="row", zebra_stripes=False)
            with Horizontal(id="watches-form"):
                yield Select(
                    [(kind, kind) for kind in KINDS],
                    value="loss_rises",
                    allow_blank=False,
                    id="watch-kind",
                )
                yield Input(placeholder="value/step", id="watch-amount")
                yield Input(placeholder="param", id="watch-param")
                yield Button("Add", id="watch-add", variant="primary")
                yield Button("Remove", id="watch-remove")
            yield Label(KIND_HELP["loss_rises"], id="watch-message")

    def on_mount(self) -> None:
        table = self.query_one("#watches-table", DataTable)
        table.add_column("#", key="index", width=3)
        table.add_column("watch", key="watch", width=34)
        table.add_column("kind", key="kind", width=14)
        self.refresh_table()

    def action_close(self) -> None:
        self.dismiss(tuple(self.watches))

    def refresh_table(self) -> None:
        table = self.query_one("#watches-table", DataTable)
        table.clear()
        if not self.watches:
            table.add_row("", Text("no watches: add one below", style="dim"), "")
        for i, watch in enumerate(self.watches):
            table.add_row(str(i + 1), watch.description, watch.kind, key=str(i))

    def _message(self, text: str, error: bool = False) -> None:
        label = self.query_one("#watch-message", Label)
        label.update(plain(text))  # it may quote what the user typed
        label.set_class(error, "-error")

    @on(Select.Changed, "#watch-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        kind = str(event.value)
        _, required, optional = KINDS.get(kind, (None, (), ()))
        needs = ", ".join(f"{k}" for k in required) or "nothing"
        extra = f" (optional: {', '.join(optional)})" if optional else ""
        self._message(f"{KIND_HELP.get(kind, '')} — needs {needs}{extra}")

    @on(Button.Pressed, "#watch-add")
    @on(Input.Submitted)
    def add(self) -> None:
        """Add the watch the form describes, or say what is wrong with it."""
        kind = str(self.query_one("#watch-kind", Select).value)
        amount = self.query_one("#watch-amount", Input).value
        param = self.query_one("#watch-param", Input).value
        try:
            watch = make_watch(form_table(kind, amount, param), self.param_names, kind)
        except ScenarioError as e:
            self._message(f"✗ {e}", error=True)
            return
        self.watches.append(watch)
        self.refresh_table()
        self._message(f"✓ added: {watch.description}")

    @on(Button.Pressed, "#watch-remove")
    def action_remove(self) -> None:
        """Remove the highlighted watch."""
        table = self.query_one("#watches-table", DataTable)
        index = table.cursor_row
        if not self.watches or not 0 <= index < len(self.watches):
            self._message("nothing to remove", error=True)
            return
        removed = self.watches.pop(index)
        self.refresh_table()
        self._message(f"removed: {removed.description}")
