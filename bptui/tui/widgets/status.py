"""The status line and the divergence banner.

SPEC §5 fixes that ``Step N`` and ``Loss …`` are always visible; the status
line is the one place that guarantees it, so it never scrolls and never hides
(except below the minimum terminal size, where nothing else shows either).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from bptui.tui.format import fmt_loss, fmt_plain
from bptui.tui.state import View

SEPARATOR = (" │ ", "dim")


def phase_label(view: View) -> str:
    """The phase just computed; ``done`` for a record reached by a whole move.

    A walk with ``n`` ends on its last phase, so that one is named too
    (``backward layer 1 · done``) rather than skipped.
    """
    if view.done:
        return f"{view.phase.label} · done" if view.walked else "done"
    return view.phase.label


def loss_text(view: View) -> Text:
    """``Loss 3.066789``; while the new loss is pending, the last known one."""
    if view.shows_loss:
        return Text.assemble(("Loss ", "bold"), (fmt_loss(view.record.loss), "bold"))
    known = view.step - 1
    value = float(view.loss_history[known]) if known >= 0 else view.record.loss
    return Text.assemble(
        ("Loss ", "bold"),
        (fmt_loss(value), "bold"),
        (f" (step {known}) ", ""),
        ("· new loss pending", "dim"),
    )


def status_text(view: View) -> Text:
    """Scenario │ Step N │ phase │ Loss │ α │ run state."""
    run = "▶ running" if view.running else "⏸ paused"
    if view.speed:
        run += f" · {view.speed}"
    parts = [
        Text(view.scenario_name, style="bold"),
        Text(f"Step {view.step}", style="bold"),
        Text(phase_label(view)),
        loss_text(view),
        Text(f"α {fmt_plain(view.learning_rate)}"),
        Text(run, style="dim" if not view.running else ""),
    ]
    text = Text(" ")
    for i, part in enumerate(parts):
        if i:
            text.append(*SEPARATOR)
        text.append_text(part)
    return text


class StatusBar(Static):
    """One line at the top: where we are in training and what the loss is."""

    def show(self, view: View) -> None:
        self.set_class(view.running, "-running")
        self.update(status_text(view))


def banner_text(view: View) -> str | None:
    """What the banner says, or None when there is nothing to warn about."""
    if view.diverged is not None:
        return (
            f"⚠ Diverged at step {view.diverged}: the loss or a gradient is no longer a finite "
            "number (learning rate too large?). Press b to step back, R to reset."
        )
    if view.stop_reason:
        return f"⚑ Paused by a watch at step {view.step}: {view.stop_reason}"
    return None


class Banner(Static):
    """A red line under the status when training diverged (or a watch fired)."""

    def show(self, view: View) -> None:
        message = banner_text(view)
        self.set_class(message is not None, "-visible")
        self.set_class(view.diverged is not None, "-diverged")
        if message is not None:
            self.update(message)
