"""The lesson panel: one stop's title and text under the live app.

It only shows what the lesson app hands it (the stop and where it stands in
the lesson); moving the run to the stop is the app's job.  The text is
Markdown and scrolls when it is longer than the panel.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from bptui.scenario.lesson import Stop
from bptui.tui.format import plain


def stop_caption(index: int, count: int) -> str:
    """``stop 3 of 6 · → next · ← back``: where the lesson stands and the keys that move it."""
    keys = []
    if index + 1 < count:
        keys.append("→ next")
    if index > 0:
        keys.append("← back")
    if index + 1 == count:
        keys.append("last stop")
    return " · ".join([f"stop {index + 1} of {count}", *keys])


class LessonPanel(VerticalScroll):
    """A scrolling Markdown panel; its border says the stop's title and position."""

    # Not scoped: the rules below follow the screen's size classes (-h-wide, -w-tiny).
    SCOPED_CSS = False
    DEFAULT_CSS = """
    LessonPanel {
        height: 9;
        border: round $secondary;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text;
        padding: 0 1;
        scrollbar-size: 1 1;
    }
    LessonPanel:focus {
        border: round $accent;
    }
    Screen.-h-wide LessonPanel {
        height: 12;
    }
    Screen.-w-tiny LessonPanel, Screen.-h-tiny LessonPanel {
        display: none;
    }
    LessonPanel Markdown {
        margin: 0;
        padding: 0;
    }
    """

    def compose(self) -> ComposeResult:
        yield Markdown(id="lesson-text")

    async def show(self, stop: Stop, index: int, count: int) -> None:
        """Show ``stop``, the ``index``-th (0-based) of ``count``, from its top."""
        self.border_title = plain(stop.title)  # the lesson's words, never markup
        self.border_subtitle = stop_caption(index, count)
        await self.query_one(Markdown).update(stop.text)
        self.scroll_home(animate=False)
