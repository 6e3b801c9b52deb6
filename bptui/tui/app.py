"""The bptui app: keys, phases, running, time travel and the five panes.

State lives here (the stepper, the selected parameter and point, the run
timer); panes only render.  After every change the app builds one
:class:`~bptui.tui.state.View` and hands it to every pane's ``show``.  Running
uses a timer that takes a batch of steps per tick and renders once, so the UI
never blocks for more than a frame and at most ~30 frames are drawn a second.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Label, Static

from bptui.debug.session import DebugState
from bptui.engine.stepper import DivergedError, Stepper
from bptui.engine.watches import Watch, stop_on
from bptui.scenario.loading import load_builtin
from bptui.scenario.model import Scenario
from bptui.tui.format import fmt_value
from bptui.tui.state import View, view_of
from bptui.tui.widgets.chain import ChainPane
from bptui.tui.widgets.diagram import NetworkDiagram
from bptui.tui.widgets.forward import ForwardPane
from bptui.tui.widgets.loss_plot import LossPane
from bptui.tui.widgets.parameters import ParametersPane
from bptui.tui.widgets.status import Banner, StatusBar

if TYPE_CHECKING:
    from bptui.tui.widgets.help import HelpTab

#: Run speeds in steps per second; 0 means flat out.
SPEEDS: tuple[int, ...] = (1, 2, 5, 10, 30, 100, 300, 1000, 0)
DEFAULT_SPEED = SPEEDS.index(100)
#: Never draw more often than this while running.
FRAME_SECONDS = 1 / 30
#: Flat out, each frame spends this long stepping before it draws.
FLAT_OUT_BUDGET = 0.015
FLAT_OUT_CHUNK = 64

#: Pane ids in the order of the keys 1–5.
PANES: tuple[tuple[str, str], ...] = (
    ("diagram", "Diagram"),
    ("params", "Parameters"),
    ("forward", "Forward"),
    ("chain", "Chain"),
    ("loss", "Loss"),
)

#: (action, title, help) for the command palette; every key action is here.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("step", "Step", "One whole gradient-descent step (finishes a partial one)"),
    ("next_phase", "Next phase", "Compute the next phase: update, forward, loss, backward"),
    ("run", "Run / pause", "Keep stepping, or pause"),
    ("faster", "Run faster", "Next speed up to flat out"),
    ("slower", "Run slower", "Next speed down to one step a second"),
    ("back", "Back one step", "Time travel: the state one step earlier"),
    ("goto", "Go to step…", "Jump to a step number (forward runs there)"),
    ("reset", "Reset", "Back to step 0 of the scenario"),
    ("point(1)", "Next data point", "Show the next data point in the diagram"),
    ("point(-1)", "Previous data point", "Show the previous data point in the diagram"),
    ("param(1)", "Next parameter", "Explain the next parameter in the chain pane"),
    ("param(-1)", "Previous parameter", "Explain the previous parameter in the chain pane"),
    ("toggle_log", "Loss: log scale", "Toggle a logarithmic loss axis"),
    ("toggle_fit", "Loss: fit view", "Data and the network's curve (one-input nets)"),
    ("help", "Help", "Keys and panes explained"),
    ("gradcheck", "Gradient check", "Backprop vs central differences (and your derivatives)"),
    ("watches", "Watches", "Breakpoints for a run: list, add, remove"),
)


def speed_label(index: int) -> str:
    speed = SPEEDS[index]
    return "flat out" if speed == 0 else f"{speed} step/s" if speed == 1 else f"{speed} steps/s"


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


class BptuiApp(App[None]):
    """The stepper: one scenario, five panes, keys from SPEC §5."""

    CSS_PATH = "app.tcss"
    TITLE = "bptui"
    HORIZONTAL_BREAKPOINTS = [(0, "-w-tiny"), (60, "-w-compact"), (130, "-w-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-h-tiny"), (18, "-h-compact"), (34, "-h-wide")]

    BINDINGS = [
        Binding("s,space", "step", "Step", tooltip="One whole gradient-descent step"),
        Binding("n", "next_phase", "Phase", tooltip="Next phase: update, forward, loss, backward"),
        Binding("r", "run", "Run", tooltip="Run or pause"),
        Binding("plus,equals_sign", "faster", "Faster", show=False),
        Binding("minus,underscore", "slower", "Slower", show=False),
        Binding("b", "back", "Back"),
        Binding("g", "goto", "Go to"),
        Binding("R", "reset", "Reset"),
        Binding("right_square_bracket,p", "point(1)", "Next point", show=False),
        Binding("left_square_bracket", "point(-1)", "Previous point", show=False),
        Binding("full_stop", "param(1)", "Next parameter", show=False),
        Binding("comma", "param(-1)", "Previous parameter", show=False),
        Binding("l", "toggle_log", "Log", show=False),
        Binding("f", "toggle_fit", "Fit", show=False),
        Binding("c", "gradcheck", "Check", tooltip="Gradient check at this step"),
        Binding("w", "watches", "Watches", tooltip="Stop a run when a condition holds"),
        Binding("1", "pane(1)", "Diagram", show=False),
        Binding("2", "pane(2)", "Parameters", show=False),
        Binding("3", "pane(3)", "Forward", show=False),
        Binding("4", "pane(4)", "Chain", show=False),
        Binding("5", "pane(5)", "Loss", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        scenario: Scenario,
        *,
        user_grads: Any = None,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.scenario = scenario
        self.stepper = Stepper(scenario.training())
        self.user_grads = user_grads
        self.debug_state = DebugState(self.stepper, user_grads)
        #: The watches a run stops on: the scenario's, then as the watches screen leaves them.
        self.watches: list[Watch] = list(scenario.watches)
        self.preferred_size = size
        self.selected_param: str = self._default_param()
        self.selected_point = 0
        self.running = False
        self.speed_index = DEFAULT_SPEED
        self.compact_pane = 1
        self.view: View | None = None
        self._timer: Timer | None = None
        self._step_debt = 0.0
        self._goto_target: int | None = None
        self._previous_grad: np.ndarray | None = None
        self.frames = 0
        self._run_id = 0
        self._bindings_can_step = (True, True)

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Banner(id="banner")
        yield Static(id="pane-tabs")
        with Container(id="panes"):
            yield NetworkDiagram(id="diagram", classes="pane")
            yield LossPane(id="loss", classes="pane")
            yield ParametersPane(id="params", classes="pane")
            yield ChainPane(id="chain", classes="pane")
            yield ForwardPane(id="forward", classes="pane")
        yield Static(
            "bptui needs a terminal of at least 60 × 18 characters.\n"
            "Please enlarge the terminal (or press q to quit).",
            id="too-small",
        )
        yield Footer(compact=True)

    def on_resize(self, event: events.Resize) -> None:
        """Narrow terminals drop the palette hint so every footer key fits."""
        self.query_one(Footer).show_command_palette = event.size.width >= 100

    def on_mount(self) -> None:
        self.title = f"bptui · {self.scenario.name}"
        self.query_one("#diagram").border_title = "Network"
        self.query_one("#loss").border_title = "Loss"
        self._show_compact_pane()
        self.refresh_view()
        params = self.query_one(ParametersPane)
        params.select(self.selected_param)
        params.focus()
        self._announce_user_grads()
        # Everything built so far (imports, widgets) lives as long as the app:
        # keep it out of later full collections, so they stay short.
        gc.freeze()

    def run_test(self, *args: Any, size: tuple[int, int] | None = None, **kwargs: Any) -> Any:
        """Like App.run_test, defaulting to the size given to :func:`make_app`."""
        return super().run_test(*args, size=size or self.preferred_size or (80, 24), **kwargs)

    # ------------------------------------------------------------- state
    def _default_param(self) -> str:
        """The parameter the chain pane opens on.

        With ``--grads``, the first of the user's derivatives that disagrees
        (that is what they came to see); otherwise b1, the article's example,
        when it sits near the top of the table, else w1.
        """
        results = self.debug_state.results()
        wrong = [name for name, result in results.items() if not result.agrees]
        if wrong:
            return wrong[0]
        if results:
            return next(iter(results))
        net = self.stepper.network
        return "b1" if net.weight_count <= 8 else net.param_names[0]

    def _announce_user_grads(self) -> None:
        """One line on launch with ``--grads``: which derivatives disagree."""
        results = self.debug_state.results()
        if not results or any(r.error for r in results.values()):
            return  # broken functions have their own message already
        wrong = [r for r in results.values() if not r.agrees and r.user is not None]
        if not wrong:
            self.notify(
                f"All {len(results)} of your derivatives agree with backprop.",
                title="your derivatives",
                timeout=6,
            )
            return
        first = wrong[0]
        self.notify(
            f"d_{first.name} = {fmt_value(first.user)} but backprop says "
            f"{fmt_value(first.backprop)}"
            + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "")
            + ". The chain pane shows which factor yours is consistent with. "
            "Training follows backprop, not your values.",
            title="your derivatives disagree",
            severity="warning",
            timeout=12,
        )

    def user_grad_values(self) -> dict[str, float]:
        """The user's own derivatives at the current record ("yours" column).

        Hook for ``--grads``: evaluate ``self.user_grads`` at the current
        parameters and return name → value; empty means no column.
        """
        for error in self.debug_state.new_errors():
            self.notify(error, title="your derivatives", severity="error", timeout=10)
        return self.debug_state.values()

    def build_view(self) -> View:
        return view_of(
            self.stepper,
            scenario_name=self.scenario.name,
            selected_param=self.selected_param,
            selected_point=self.selected_point,
            running=self.running,
            user_grads=self.user_grad_values(),
            previous_grad=self._previous_grad,
            speed=(
                speed_label(self.speed_index)
                if self._goto_target is None
                else f"going to step {self._goto_target}"
            ),
            user_results=self.debug_state.results(),
        )

    def refresh_view(self) -> None:
        """Build one View of the current state and let every pane draw it.

        A diverged state is full of inf and nan; showing it must not warn.
        """
        with np.errstate(all="ignore"):
            view = self.build_view()
            self.view = view
            for widget in (
                self.query_one(StatusBar),
                self.query_one(Banner),
                self.query_one(NetworkDiagram),
                self.query_one(ParametersPane),
                self.query_one(ForwardPane),
                self.query_one(ChainPane),
                self.query_one(LossPane),
            ):
                widget.show(view)
        self.frames += 1
        # The Footer rebuilds itself on every refresh_bindings(): only when dimming changes.
        can_step = (self.stepper.can_step, self.stepper.diverged is None)
        if can_step != self._bindings_can_step:
            self._bindings_can_step = can_step
            self.refresh_bindings()

    def _allowed(self, action: str) -> bool:
        """The one rule for moving on while diverged (b and R always work).

        Step and next phase may finish a phase walk that ran into the
        divergence; run and going forward may not move at all.
        """
        if action in ("step", "next_phase"):
            return self.stepper.can_step
        if action in ("run", "goto"):
            return self.stepper.diverged is None
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Dim (in the Footer) what :meth:`_allowed` refuses."""
        return True if action == "goto" or self._allowed(action) else None

    def _refuse(self, action: str) -> bool:
        """Say why and refuse when :meth:`_allowed` says no."""
        if self._allowed(action):
            return False
        self.notify(
            f"Diverged at step {self.stepper.diverged}: press b to go back or R to reset.",
            severity="warning",
        )
        return True

    # ----------------------------------------------------------- actions
    def action_step(self) -> None:
        """One whole step, or finish the partial one."""
        self.pause()
        if self._refuse("step"):
            return
        try:
            self.stepper.step_once()
        except DivergedError:
            pass
        self.refresh_view()

    def action_next_phase(self) -> None:
        """One phase further: update, forward layer by layer, loss, backward."""
        self.pause()
        if self._refuse("next_phase"):
            return
        if self.stepper.done:
            self._previous_grad = self.stepper.grad.copy()
        try:
            self.stepper.next_phase()
        except DivergedError:
            pass
        self.refresh_view()

    def action_back(self) -> None:
        """One step back in time (also the way out of a divergence)."""
        self.pause()
        if not self.stepper.back():
            self.notify("Already at step 0.", timeout=2)
        self.refresh_view()

    def action_reset(self) -> None:
        self.pause()
        self.stepper.reset()
        self._previous_grad = None
        self.refresh_view()

    def action_goto(self) -> None:
        self.pause()
        reached = len(self.stepper.loss_history) - 1
        self.push_screen(GotoScreen(self.stepper.step, reached), self.goto)

    def goto(self, step: int | None) -> None:
        """Go to ``step``: back through history at once, forward by running there."""
        if step is None:
            return
        if step < 0:
            self.notify("A step number is 0 or more.", severity="warning")
            return
        if step <= self.stepper.step:
            self.stepper.goto(step)
            self.refresh_view()
            return
        if self._refuse("goto"):
            return
        self._goto_target = step
        self._start(SPEEDS.index(0))

    def action_run(self) -> None:
        """Run or pause."""
        if self.running:
            self.pause()
            return
        if self._refuse("run"):
            return
        self._goto_target = None
        self._start(self.speed_index)

    def action_faster(self) -> None:
        self._set_speed(min(self.speed_index + 1, len(SPEEDS) - 1))

    def action_slower(self) -> None:
        self._set_speed(max(self.speed_index - 1, 0))

    def action_point(self, delta: int) -> None:
        """Select the next or previous data point (the diagram shows its values)."""
        count = self.stepper.x.shape[0]
        self.selected_point = (self.selected_point + delta) % count
        self.refresh_view()

    def action_param(self, delta: int) -> None:
        """Select the next or previous parameter (works while the chain pane is shown alone)."""
        names = self.stepper.network.param_names
        self.selected_param = names[(names.index(self.selected_param) + delta) % len(names)]
        self.query_one(ParametersPane).select(self.selected_param)
        self.refresh_view()

    def action_toggle_log(self) -> None:
        self.query_one(LossPane).toggle_log()

    def action_toggle_fit(self) -> None:
        self.query_one(LossPane).toggle_fit()  # it explains a refusal for several inputs

    def action_pane(self, number: int) -> None:
        """Show pane ``number`` (compact layout) and focus it."""
        self.compact_pane = number
        self._show_compact_pane()
        pane = self.query_one(f"#{PANES[number - 1][0]}")
        if pane.focusable:
            pane.focus()

    def action_help(self) -> None:
        # Imported on first use: Markdown costs ~25 ms of every launch otherwise.
        from bptui.tui.widgets.help import HelpScreen

        self.push_screen(HelpScreen(self.help_tabs()))

    def help_tabs(self) -> list[HelpTab]:
        """Extra help pages (title, widget factory) after "Keys & panes"."""
        from bptui.tui.screens.errata import ErrataPage

        return [("Article errata", ErrataPage)]

    def action_gradcheck(self) -> None:
        """Backprop vs central differences (and the user's values) at this step."""
        from bptui.tui.screens.gradcheck import GradCheckScreen

        self.pause()
        rows = self.debug_state.gradient_check()
        self.push_screen(GradCheckScreen(self.stepper.step, rows, self.debug_state.results()))

    def action_watches(self) -> None:
        """List, add and remove the watches a run stops on."""
        from bptui.tui.screens.watches import WatchesScreen

        self.pause()
        self.push_screen(
            WatchesScreen(self.watches, self.stepper.network.param_names), self._set_watches
        )

    def _set_watches(self, watches: tuple[Watch, ...] | None) -> None:
        """Apply the watches screen's answer."""
        if watches is not None:
            self.watches = list(watches)
        self.refresh_view()

    # ------------------------------------------------------------ running
    def _start(self, speed_index: int) -> None:
        self.running = True
        self._run_id += 1
        self._step_debt = 0.0
        self._start_timer(speed_index)
        self.refresh_view()

    def _start_timer(self, speed_index: int) -> None:
        if self._timer is not None:
            self._timer.stop()
        speed = SPEEDS[speed_index]
        interval = FRAME_SECONDS if speed == 0 else max(1.0 / speed, FRAME_SECONDS)
        self._tick_speed = speed
        self._tick_interval = interval
        self._timer = self.set_interval(interval, self._tick)

    def pause(self) -> None:
        """Stop running now (the timer never fires again)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._goto_target = None
        if self.running:
            self.running = False
            self.refresh_view()

    def _set_speed(self, index: int) -> None:
        self.speed_index = index
        if self.running and self._goto_target is None:
            self._start_timer(index)
        self.refresh_view()

    def _steps_allowed(self, wanted: int) -> int:
        if self._goto_target is None:
            return wanted
        return max(0, min(wanted, self._goto_target - self.stepper.step))

    async def _tick(self) -> None:
        """One frame of running: a batch of steps, then one render."""
        if not self.running:
            return
        run = self._run_id
        try:
            if self._tick_speed == 0:
                await self._run_for(FLAT_OUT_BUDGET, run)
            else:
                self._step_debt += self._tick_speed * self._tick_interval
                count = self._steps_allowed(int(self._step_debt))
                self._step_debt -= int(self._step_debt)
                if count:
                    self.stepper.run(count, stop_on(self.watches))
        except DivergedError:
            pass
        if not self._still_running(run):
            return  # paused (or restarted) by a key while stepping: that key owns the state
        stepper = self.stepper
        finished = self._goto_target is not None and stepper.step >= self._goto_target
        if stepper.diverged is not None or stepper.stop_reason or finished:
            self.pause()
            return
        self.refresh_view()

    def _still_running(self, run: int) -> bool:
        return self.running and run == self._run_id

    async def _run_for(self, seconds: float, run: int) -> None:
        """Flat out: chunks of steps until the frame's budget is spent.

        Between chunks the event loop gets a turn, so a keypress travelling
        from the terminal to its binding is never held up by a whole frame of
        stepping; a pause stops the loop at the next chunk.
        """
        deadline = time.perf_counter() + seconds
        stepper = self.stepper
        stop = stop_on(self.watches)
        while True:
            count = self._steps_allowed(FLAT_OUT_CHUNK)
            if count == 0:
                return
            taken = stepper.run(count, stop)
            if taken < count or stepper.diverged is not None or stepper.stop_reason:
                return
            if time.perf_counter() >= deadline:
                return
            await asyncio.sleep(0)
            if not self._still_running(run):
                return

    # ------------------------------------------------------------ events
    @on(DataTable.RowHighlighted, "#params")
    def _param_selected(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != event.data_table.cursor_row:
            return  # stale: the cursor moved on (e.g. the mount's row 0 before b1)
        name = event.row_key.value
        if name and name != self.selected_param:
            self.selected_param = name
            self.refresh_view()

    @on(DataTable.RowHighlighted, "#forward")
    def _point_selected(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != event.data_table.cursor_row:
            return
        if event.cursor_row != self.selected_point and event.cursor_row >= 0:
            self.selected_point = event.cursor_row
            self.refresh_view()

    def _show_compact_pane(self) -> None:
        for number, (pane_id, _) in enumerate(PANES, start=1):
            self.query_one(f"#{pane_id}").set_class(number == self.compact_pane, "-shown")
        tabs = "  ".join(
            f"[reverse] {n} {title} [/]" if n == self.compact_pane else f" {n} {title} "
            for n, (_, title) in enumerate(PANES, start=1)
        )
        self.query_one("#pane-tabs", Static).update(tabs)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the keys, by name, in the command palette."""
        yield from super().get_system_commands(screen)
        for action, title, help_text in COMMANDS:
            yield SystemCommand(title, help_text, partial(self.run_action, action))


def make_app(
    scenario: Scenario | None = None,
    *,
    user_grads: Any = None,
    size: tuple[int, int] | None = None,
) -> BptuiApp:
    """The app on ``scenario`` (the article by default); shared by the CLI and tests."""
    return BptuiApp(scenario or load_builtin("article"), user_grads=user_grads, size=size)
