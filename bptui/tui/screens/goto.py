"""The go-to screen (``g``): asks for a step number and answers with it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class GotoScreen(ModalScreen[int | None]):
    """Asks for a step number; dismisses with it, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: int, reached: int) -> None:
        super().__init__()
        self.current = current
        self.reached = reached

    def compose(self) -> ComposeResult:
        with Vertical(id="goto-box"):
            yield Label(f"Go to step (now {self.current}; reached 0 … {self.reached}):")
            yield Input(placeholder="step number", type="integer", id="goto-input")
            yield Label("enter: go · escape: cancel · past the end: runs there", id="goto-hint")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(int(text) if text.lstrip("-").isdigit() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
