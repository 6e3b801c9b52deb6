"""The go-to screen (``g``): asks for a step number and answers with it.

The input accepts digits only, through a restrict pattern that a regex engine
checks in linear time (Textual's ``type="integer"`` pattern backtracks
exponentially: 26 digits and a letter froze the UI for seconds).  A number
beyond :data:`MAX_STEP` is refused in the dialog, and the answer is given
once: a second Enter (key repeat, paste) after the dismissal is ignored.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

#: The largest step number the dialog accepts (a run there takes hours already).
MAX_STEP = 1_000_000_000
#: Digits the input takes: one more than MAX_STEP has, so a too-big number can be refused in words.
MAX_DIGITS = len(str(MAX_STEP)) + 1


class GotoScreen(ModalScreen[int | None]):
    """Asks for a step number; dismisses with it, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: int, reached: int) -> None:
        super().__init__()
        self.current = current
        self.reached = reached
        self._answered = False

    def compose(self) -> ComposeResult:
        with Vertical(id="goto-box"):
            yield Label(f"Go to step (now {self.current}; reached 0 … {self.reached}):")
            yield Input(
                placeholder="step number",
                restrict=r"[0-9]*",
                max_length=MAX_DIGITS,
                id="goto-input",
            )
            yield Label("enter: go · escape: cancel · past the end: runs there", id="goto-hint")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text.isdigit() and int(text) > MAX_STEP:
            self.query_one("#goto-hint", Label).update(
                f"{int(text):,} is too far: a step number is at most {MAX_STEP:,}."
            )
            return
        self._answer(int(text) if text.isdigit() else None)

    def action_cancel(self) -> None:
        self._answer(None)

    def _answer(self, step: int | None) -> None:
        """Dismiss once: keys queued behind the first Enter find the dialog already gone."""
        if self._answered:
            return
        self._answered = True
        self.dismiss(step)
