"""The status line and the divergence banner.

``Step N`` and ``Loss …`` (at least four significant digits) are always
visible: the status line is the one place that guarantees it, so it never
scrolls and never hides (except below the minimum terminal size, where
nothing else shows either).  A narrow terminal gets abbreviations, never
omissions: every part (phase, loss, α, run state) keeps a short form, and only
the scenario's name gives way, cut with an ellipsis.

Glyphs are the ones DejaVu Sans Mono and Liberation Mono both draw (a
browser's monospace font under ``bptui serve`` lacks ⏸ U+23F8): ■ paused,
► running.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import Static

from bptui.tui.format import fmt_loss, fmt_plain
from bptui.tui.state import View

SEPARATOR = (" │ ", "dim")
RUNNING = "►"
PAUSED = "■"
#: The shortest a scenario name is cut to before it is left out entirely.
MIN_NAME = 4
#: The widest the name may be at any terminal width (a 70-character name is cut).
MAX_NAME = 32
#: The name keeps this many characters before the other parts are abbreviated.
NAME_BEFORE_ABBREVIATING = 12
#: How much each part is abbreviated, from the full words to the shortest.
LEVELS = 3


def phase_label(view: View, level: int = 0) -> str:
    """The phase just computed; ``done`` for a record reached by a whole move.

    A walk with ``n`` ends on its last phase, so that one is named too
    (``backward layer 1 · done``) rather than skipped.  From ``level`` 1 on,
    ``bwd L1`` / ``fwd L2``.
    """
    phase = view.phase
    label = phase.label
    if level and phase.kind in ("forward", "backward"):
        label = f"{'fwd' if phase.kind == 'forward' else 'bwd'} L{phase.layer}"
    if view.done:
        return f"{label} · done" if view.walked else "done"
    return label


def loss_text(view: View, level: int = 0) -> Text:
    """``Loss 3.066789``; while the new loss is pending, the last known one."""
    if view.shows_loss:
        return Text.assemble(("Loss ", "bold"), (fmt_loss(view.record.loss), "bold"))
    known = view.step - 1
    value = float(view.loss_history[known]) if known >= 0 else view.record.loss
    pending = ("· new loss pending", "dim") if level == 0 else ("pending", "dim")
    text = Text.assemble(("Loss ", "bold"), (fmt_loss(value), "bold"))
    if level < 2:
        text.append(f" (step {known}) ")
        text.append(*pending)
    else:
        text.append(f" (step {known})", "dim")
    return text


def run_text(view: View, level: int = 0) -> Text:
    """``► running · 30 steps/s`` / ``■ paused``; at level 2 the glyph (and a target)."""
    glyph = RUNNING if view.running else PAUSED
    speed = view.speed or ""
    if level < 2:
        words = f"{glyph} {'running' if view.running else 'paused'}"
        if speed and level == 0:
            words += f" · {speed}"
        elif speed.startswith("going to step") and level == 1:
            words += f" · to {speed.rsplit(' ', 1)[-1]}"
    else:
        words = glyph
        if speed.startswith("going to step"):
            words += f" →{speed.rsplit(' ', 1)[-1]}"
    return Text(words, style="" if view.running else "dim")


def run_name_text(name: str, level: int = 0) -> Text:
    """``run α 0.1`` (one of several runs; ``{`` ``}`` switch), cut shorter at each level."""
    room = (40, 16, 10)[level]
    shown = _fit_name(clean_name(name), room) or name[:room]
    return Text(f"run {shown}" if level < 2 else shown, style="bold magenta")


def clean_name(name: str) -> str:
    """The scenario's name on one line: control characters (a newline) become spaces."""
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in name)
    return " ".join(cleaned.split())


def _fit_name(name: str, room: int) -> str:
    """``name`` within ``room`` cells (and :data:`MAX_NAME`), cut with …; empty if too tight."""
    room = min(room, MAX_NAME)
    if cell_len(name) <= room:
        return name
    if room < MIN_NAME:
        return ""
    cut = Text(name)
    cut.truncate(room, overflow="ellipsis")
    return cut.plain


def _joined(parts: list[Text]) -> Text:
    text = Text(" ")
    for i, part in enumerate(parts):
        if i:
            text.append(*SEPARATOR)
        text.append_text(part)
    return text


def status_text(view: View, width: int | None = None) -> Text:
    """Scenario │ Step N │ phase │ Loss │ α │ run state, abbreviated to fit ``width``.

    The least abbreviated form whose fixed parts fit wins; the name takes what
    is left.  ``Step N`` and ``Loss …`` are in every form.
    """
    name = clean_name(view.scenario_name)
    for level in range(LEVELS):
        parts = [
            Text(f"Step {view.step}", style="bold"),
            Text(phase_label(view, level)),
            loss_text(view, level),
            Text(f"α {fmt_plain(view.learning_rate)}"),
            run_text(view, level),
        ]
        if view.optimizer_name != "sgd" and level < 2:
            parts[3] = Text(f"{view.optimizer_name} α {fmt_plain(view.learning_rate)}")
        if view.run_name:
            parts.insert(0, run_name_text(view.run_name, level))
        fixed = _joined(parts)
        wanted = fixed.cell_len + len(SEPARATOR[0]) + min(cell_len(name), NAME_BEFORE_ABBREVIATING)
        if width is None or wanted <= width:
            break
    gap = len(SEPARATOR[0])
    room = MAX_NAME if width is None else width - fixed.cell_len - gap
    shown = _fit_name(name, room)
    return _joined([Text(shown, style="bold"), *parts]) if shown else fixed


class QuietStatic(Static):
    """A Static set again only when its text changes: each update lays the screen out."""

    _text: str | Text | None = None
    #: False where the CSS fixes the widget's size, so new text cannot move
    #: anything: the update repaints the line without laying the screen out.
    RELAYOUT = True

    def say(self, text: str | Text) -> None:
        if text != self._text:
            self._text = text
            self.update(text, layout=self.RELAYOUT)


class StatusBar(QuietStatic):
    """One line at the top: where we are in training and what the loss is."""

    RELAYOUT = False  # one row the screen's width (app.tcss): a running step repaints it only

    _view: View | None = None

    def show(self, view: View) -> None:
        self._view = view
        self.set_class(view.running, "-running")
        self.say(status_text(view, self.size.width or self.app.size.width))

    def on_resize(self, event: events.Resize) -> None:
        """A new width chooses a new abbreviation level."""
        if self._view is not None:
            self.say(status_text(self._view, event.size.width))


def banner_text(view: View) -> str | None:
    """What the banner says, or None when there is nothing to warn about."""
    if view.diverged is not None:
        return (
            f"⚠ Diverged at step {view.diverged}: the loss or a gradient is no longer a finite "
            "number (learning rate too large?). Press b to step back, R to reset."
        )
    if view.halted:  # "stopped at step 3: your d_b3 … raised …"
        said = view.halted.rstrip(".")
        return f"⚠ {said[:1].upper()}{said[1:]}. Press b to step back, R to reset."
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
