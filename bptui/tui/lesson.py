"""``bptui lesson``: the app with a lesson panel, → and ← moving through the stops.

:class:`LessonApp` is the ordinary app (every key still works between stops)
plus a panel at the bottom that shows the current stop's title and text.  A
stop puts the run where its text needs it: its step (or, for a stop with a
phase, that phase of that step, walked to one phase at a time as ``n`` does),
and its parameter and data point selected.  Going to a stop always rebuilds
that state, whatever was pressed since.

→ and ← are bound on the app with priority, so they work whichever pane has
the focus (the tables give up scrolling sideways with the arrows while a
lesson runs).  While another screen is open (help, go to, the palette) they
belong to that screen: the help screen pages with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from bptui.engine.stepper import DivergedError
from bptui.scenario.lesson import Lesson, Stop
from bptui.tui import keys
from bptui.tui.app import BptuiApp
from bptui.tui.widgets.lesson_panel import LessonPanel

#: The lesson's own keys: app-level with priority, so a focused table cannot take them.
LESSON_BINDINGS = [
    Binding("right", "lesson_stop(1)", "Next stop", show=False, priority=True, key_display="→",
            tooltip="Next stop — the lesson's next stop: its step, selection and text"),
    Binding("left", "lesson_stop(-1)", "Back a stop", show=False, priority=True, key_display="←",
            tooltip="Previous stop — back to the lesson's previous stop"),
]  # fmt: skip


class LessonApp(BptuiApp):
    """The app on a lesson's scenario, showing one stop at a time."""

    BINDINGS = [*LESSON_BINDINGS, *BptuiApp.BINDINGS]

    def __init__(self, lesson: Lesson, *, size: tuple[int, int] | None = None) -> None:
        super().__init__(lesson.scenario, size=size)
        self.lesson = lesson
        #: The stop shown (0-based).
        self.stop_index = 0

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Footer):
                yield LessonPanel(id="lesson")
            yield widget

    def on_mount(self) -> None:
        # Textual runs this before BptuiApp.on_mount (which draws the first view): after it.
        self.call_later(self._begin)

    def _begin(self) -> None:
        self.title = f"bptui · {self.lesson.title}"
        self.show_stop(0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The stop keys belong to any screen opened over the app (help pages with ←/→)."""
        if action == "lesson_stop":
            return len(self.screen_stack) == 1
        return super().check_action(action, parameters)

    def action_lesson_stop(self, delta: int) -> None:
        target = self.stop_index + delta
        if not 0 <= target < len(self.lesson.stops):
            where = "last" if delta > 0 else "first"
            self.notify(f"This is the {where} stop of the lesson.", timeout=3)
        self.show_stop(max(0, min(target, len(self.lesson.stops) - 1)))

    def show_stop(self, index: int) -> None:
        """Go to stop ``index``: its step and phase, its selection, its text."""
        self.stop_index = index
        stop = self.lesson.stops[index]
        try:
            self._reach(stop)
        except DivergedError as e:  # the lesson file was checked; this is a safety net
            self.notify(str(e), severity="warning")
        if stop.param is not None:
            self.selected_param = stop.param
        if stop.point is not None:
            self.selected_point = stop.point
        self._show_text(stop, index)

    def _reach(self, stop: Stop) -> None:
        """The run at the stop: its step, or the step before and phases walked with ``n``."""
        if stop.phase is None:
            self._move(partial(self.stepper.goto, stop.step))
            return
        self._move(partial(self.stepper.goto, stop.step - 1))
        for _ in range(len(self.stepper.phases) + 1):  # one step's phases at most
            if self.stepper.step == stop.step and self.stepper.phase == stop.phase:
                return
            self.action_next_phase()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The app's commands, then the two stop moves (the palette runs them by name)."""
        yield from super().get_system_commands(screen)
        for binding in LESSON_BINDINGS:
            title, _, what = (binding.tooltip or "").partition(keys.TITLE_SEPARATOR)
            help_text = f"{what[:1].upper()}{what[1:]} (key: {binding.key_display})"
            yield SystemCommand(title, help_text, partial(self.run_action, binding.action))

    @work(exclusive=True, group="lesson-text")
    async def _show_text(self, stop: Stop, index: int) -> None:
        await self.query_one(LessonPanel).show(stop, index, len(self.lesson.stops))


def make_lesson_app(lesson: Lesson, *, size: tuple[int, int] | None = None) -> LessonApp:
    """The lesson app on ``lesson`` (shared by the CLI and tests)."""
    return LessonApp(lesson, size=size)
