"""The bptui app: state, keys, phases, running, time travel and the five panes.

State lives here as typed reactives (the selected parameter and point,
running, the speed, the pane shown in the compact layout, the loss plot's
modes) plus the stepper.  Every change ends in one place,
:meth:`BptuiApp.request_redraw`, which builds one
:class:`~bptui.tui.state.View` per batch of changes and hands it to every
pane's ``show``.  Running is one exclusive worker driving a
:class:`~bptui.tui.runner.Run`: a batch of steps per frame, then one render,
so the UI never blocks for more than a frame and at most ~30 frames are
drawn a second.
"""

from __future__ import annotations

import io
import traceback
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.text import Text
from textual import events, on, work
from textual.actions import ActionParseResult
from textual.app import App, ComposeResult, SystemCommand
from textual.command import CommandPalette
from textual.containers import Container
from textual.dom import DOMNode
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from bptui.debug.session import DebugState, ImplSession, check_record
from bptui.engine.record import StepRecord
from bptui.engine.runs import Runs
from bptui.engine.stepper import Stepper
from bptui.engine.watches import Watch, stop_on
from bptui.errors import BadInput, one_line
from bptui.scenario.loading import load_builtin
from bptui.scenario.model import Scenario
from bptui.tui import keys
from bptui.tui.boundary import fatal_line, save_traceback, survived_line
from bptui.tui.fast import freeze_startup_objects
from bptui.tui.follow import Follower, calls_user_code
from bptui.tui.format import fmt_value
from bptui.tui.keys import PANES
from bptui.tui.live import EDIT_COMMANDS, FORK_COMMANDS, LiveEdits
from bptui.tui.palette import GuardedCommandPalette
from bptui.tui.runner import DEFAULT_SPEED, FLAT_OUT, SPEEDS, Run, speed_label
from bptui.tui.screens.goto import GotoScreen
from bptui.tui.state import View, view_of
from bptui.tui.widgets.chain import ChainPane
from bptui.tui.widgets.diagram import DIAGRAM_MODES, NetworkDiagram
from bptui.tui.widgets.footer import CoalescingFooter
from bptui.tui.widgets.forward import ForwardPane
from bptui.tui.widgets.heatmap import unit_count
from bptui.tui.widgets.loss_plot import STEP_AXES, LossPane
from bptui.tui.widgets.parameters import ParametersPane
from bptui.tui.widgets.status import Banner, QuietStatic, StatusBar
from bptui.tui.widgets.update import UpdateSection

if TYPE_CHECKING:  # the --impl modules load only with --impl
    from bptui.debug.impl.live import ImplShown, ImplVerdict
    from bptui.tui.screens.gradcheck import GradCheckScreen

__all__ = ["SPEEDS", "BptuiApp", "GotoScreen", "make_app", "pane_layout", "shown_panes"]

#: Pane numbers in the grid's order (the DOM order of compose).
GRID_ORDER = (1, 5, 2, 4, 3)
#: Parameters up to which the gradient check runs at once (beyond: in a worker, with progress).
SMALL_CHECK = 2_000
#: What may take the two-pane layout's second place (beside the diagram), in cycling order.
SECOND_PLACE = (4, 5, 2, 3)
#: What may take the three-pane layout's third place (beside the diagram and the chain).
THIRD_PLACE = (2, 3, 5)


def pane_layout(width: int, height: int) -> str:
    """The layout of a terminal size: "five", "three", "two" or "tiny".

    Five panes from 130×34, three from 100×30, two from 60×18, below that the
    enlarge message: the thresholds of the breakpoints, which switch the CSS.
    """
    if width < 60 or height < 18:
        return "tiny"
    if width >= 130 and height >= 34:
        return "five"
    if width >= 100 and height >= 30:
        return "three"
    return "two"


def shown_panes(layout: str, second: int, third: int) -> set[int]:
    """The pane numbers a layout shows: the diagram always, the chain from three panes on."""
    if layout == "five":
        return {1, 2, 3, 4, 5}
    if layout == "three":
        return {1, 4, third} if third else {1, 4}
    return {1, second} if second else {1}


class BptuiApp(App[None], LiveEdits):
    """The stepper: one scenario, its panes laid out by terminal size, keys from keys.py."""

    CSS_PATH = "app.tcss"
    TITLE = "bptui"
    HORIZONTAL_BREAKPOINTS = [(0, "-w-tiny"), (60, "-w-narrow"), (100, "-w-mid"), (130, "-w-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-h-tiny"), (18, "-h-short"), (30, "-h-mid"), (34, "-h-wide")]
    BINDINGS = keys.BINDINGS
    #: A maximized pane keeps the status line, the banner and the keys in view.
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, #status, #banner"

    selected_param: var[str] = var("")
    """The parameter the chain pane explains (the parameters pane's cursor follows it)."""
    selected_point: var[int] = var(0)
    """The data point whose values the diagram shows (the forward pane's cursor row)."""
    running: var[bool] = var(False)
    """A run (``r``, or ``g`` going forward) is stepping."""
    speed_index: var[int] = var(DEFAULT_SPEED)
    """Index into :data:`~bptui.tui.runner.SPEEDS`: the speed ``r`` runs at."""
    compact_pane: var[int] = var(4)
    """The pane (1–5) in the free place of a smaller layout (see :func:`pane_layout`)."""
    log_scale: var[bool] = var(False)
    """The loss plot's y axis is logarithmic (the pane also switches it on a divergence)."""
    diagram_mode: var[str] = var(DIAGRAM_MODES[0])
    """What the diagram's labels show: values and gradients, values, or gradients."""
    fit_view: var[bool] = var(False)
    """The loss pane shows what the net computes: curves (one input) or a heatmap (two)."""
    heatmap_unit: var[int] = var(0)
    """The heatmap's unit: 0 the output, k the k-th hidden unit."""
    step_axis: var[str] = var("all")
    """The loss plot's step axis: "all", "log" or "recent"."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        user_grads: Any = None,
        size: tuple[int, int] | None = None,
        impl: ImplSession | None = None,
        runs: Runs | None = None,
    ) -> None:
        super().__init__()
        self.scenario = scenario
        #: Every run (a fork, or the old future of an edit made in the past); one is current.
        #: ``runs`` given: the session starts with those (--train-with-yours: two).
        self.runs = runs if runs is not None else Runs(Stepper(scenario.training()))
        #: The run the parameters pane compares the current one with (the one before it).
        self.compare_index: int | None = None
        if len(self.runs.runs) > 1:  # --train-with-yours: the other run, side by side
            self.compare_index = 1 if self.runs.index == 0 else 0
        #: Moves a compared run whose updates call the user's file, off the UI thread.
        self.follower = Follower()
        self.follower.on_moved = lambda: self.post_message(FollowerMoved())
        self._follower_errors: set[str] = set()
        self.user_grads = user_grads
        # --grads: judged off the UI thread (a slow d_ costs no step); the launch waits for it.
        self.debug_state = DebugState(self.stepper, user_grads, background=True)
        if self.debug_state.judge is not None:
            self.debug_state.judge.on_judged = lambda: self.post_message(GradsJudged())
            self.debug_state.results_now()
            if not any(calls_user_code(run.stepper) for run in self.runs.runs):
                # The loader's worker: the judge has its own, and no run's update calls it.
                user_grads.sandbox.close()
        #: ``--impl``: the user's forward/backward, re-checked as the state changes.
        self.impl = impl
        self._impl_errors: set[str] = set()
        # The watches a run stops on (each run its own): the scenario's to begin with.
        for run in self.runs.runs:
            run.watches = list(scenario.watches)
        self.preferred_size = size
        self.set_reactive(BptuiApp.selected_param, self._default_param())
        self.view: View | None = None
        #: The run in progress (None while paused).
        self.run_state: Run | None = None
        self._previous_grad: np.ndarray | None = None
        #: Views drawn so far (a test and the benchmark count frames with it).
        self.frames = 0
        #: Notices of internal errors survived so far (each shown once).
        self.internal_errors: list[str] = []
        #: The line left on stderr when the app had to stop (see :meth:`_handle_exception`).
        self.fatal_error_line: str | None = None
        self._redraw_pending = False
        self._bindings_can_step = (True, True)
        #: The three-pane layout's third pane (it keeps its choice while the chain is chosen).
        self._third_pane = 2
        #: The pane ``m`` maximizes (see :meth:`_current_pane`).
        self._chosen_pane: Widget | None = None

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Banner(id="banner")
        yield QuietStatic(id="pane-tabs")
        with Container(id="panes"):
            yield NetworkDiagram(id="diagram", classes="pane")
            yield LossPane(id="loss", classes="pane", after_first_frame=True)
            yield ParametersPane(id="params", classes="pane")
            yield ChainPane(
                id="chain",
                classes="pane",
                above=UpdateSection(above=True, id="update-above"),
                below=UpdateSection(above=False, id="update-below"),
            )
            yield ForwardPane(id="forward", classes="pane")
        yield Static(
            "bptui needs a terminal of at least 60 × 18 characters.\n"
            "Please enlarge the terminal (or press q to quit).",
            id="too-small",
        )
        yield CoalescingFooter(compact=True)

    def on_resize(self, event: events.Resize) -> None:
        """Narrow terminals drop the palette hint so every footer key fits."""
        self.query_one(Footer).show_command_palette = event.size.width >= 100
        self.call_after_refresh(self._arrange_panes)

    def on_mount(self) -> None:
        self.title = f"bptui · {self.scenario.name}"
        self.query_one("#diagram").border_title = "Network"
        self.query_one("#loss").border_title = "Loss"
        self.watch_compact_pane(self.compact_pane)
        self.refresh_view()
        params = self.query_one(ParametersPane)
        params.select(self.selected_param)
        params.focus()
        self._announce_user_grads()
        self._announce_impl()
        freeze_startup_objects()
        self.call_after_refresh(self._release_plot)

    def _release_plot(self, refreshes_left: int = 8) -> None:
        """Let the loss pane plot (and import plotext, ~35 ms) once the first frame is
        painted whole, the Footer's keys too: they come a few refreshes after the rest.

        Polled once per refresh; after ``refreshes_left`` the plot comes anyway.
        """
        if self.query_one(CoalescingFooter).children or refreshes_left == 0:
            self.call_after_refresh(self.query_one(LossPane).allow_plot)  # after its paint
        else:
            self.call_after_refresh(self._release_plot, refreshes_left - 1)

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
        if self.impl is not None and self.impl.latest is not None:
            first = self.impl.latest.first_wrong_param(self.stepper.network)
            if first is not None:
                return first
        if results:
            return next(iter(results))
        net = self.stepper.network
        return "b1" if net.weight_count <= 8 else net.param_names[0]

    def _announce_user_grads(self) -> None:
        """One line on launch with ``--grads``: which derivatives disagree."""
        results = self.debug_state.results()
        if not results or any(r.error for r in results.values()) or self.debug_state.pending:
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
            + ". Why: the top of the chain pane.",
            title="your derivatives disagree",
            severity="warning",
            timeout=5,  # short: it sits over the panes; the chain pane keeps the verdict
        )

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:
        """A notice in plain text: its words may be the user's (an error message, a path)."""
        super().notify(message, markup=markup, **kwargs)

    def user_grad_values(self) -> dict[str, float]:
        """The user's own derivatives at the current record ("yours" column).

        Hook for ``--grads``: evaluate ``self.user_grads`` at the current
        parameters and return name → value; empty means no column.
        """
        for error in self.debug_state.new_errors():
            self.notify(error, title="your derivatives", severity="error", timeout=10)
        return self.debug_state.values()

    def build_view(self) -> View:
        self.follow_compared()
        run = self.run_state
        going = run is not None and run.target is not None
        return view_of(
            self.stepper,
            scenario_name=self.scenario.name,
            selected_param=self.selected_param,
            selected_point=self.selected_point,
            running=self.running,
            user_grads=self.user_grad_values(),
            previous_grad=self._previous_grad,
            speed=f"going to step {run.target}" if going else speed_label(self.speed_index),
            user_results=self.debug_state.results(),
            runs=self.runs,
            compare_index=self.compare_index,
            moving=self._moving_run(),
            impl=self._impl_frame(),
        )

    def _moving_run(self) -> Stepper | None:
        """The compared run, while the follower moves it (the view reads only its step)."""
        theirs = self.compared_stepper()
        return theirs if theirs is not None and self.follower.moving(theirs) else None

    # -------------------------------------------------------------- --impl
    def _impl_frame(self) -> ImplShown | None:
        """The latest check of the user's implementation, and a new one asked for if stale."""
        session = self.impl
        if session is None:
            return None
        from bptui.debug.impl.live import impl_shown

        if session.want(self.stepper):
            self._check_impl(session)
        current = session.current(self.stepper)
        return impl_shown(session.latest, self.stepper.network, current, self.selected_param)

    @work(thread=True, group="impl")
    def _check_impl(self, session: ImplSession) -> None:
        """Check the newest states off the UI thread (the user's code has its time limit)."""
        for verdict in session.checks():
            self.call_from_thread(self._impl_checked, verdict)

    def _impl_checked(self, verdict: ImplVerdict) -> None:
        if verdict.error and verdict.error not in self._impl_errors:
            self._impl_errors.add(verdict.error)
            self.notify(verdict.error, title="your implementation", severity="error", timeout=10)
        self.request_redraw()

    def _announce_impl(self) -> None:
        """One line on launch with ``--impl``: the first wrong tensor, or that all agree."""
        verdict = self.impl.latest if self.impl else None
        if verdict is None or verdict.check is None:
            return
        self.notify(
            verdict.headline(),
            title="your implementation",
            timeout=6,
            severity="information" if verdict.ok else "warning",
        )

    def on_follower_moved(self, _: FollowerMoved) -> None:
        """The compared run got where it was sent (or failed to, said once)."""
        error = self.follower.error
        if error is not None and error not in self._follower_errors:
            self._follower_errors.add(error)
            self.notify(error, title="the compared run", severity="error", timeout=10)
        self.request_redraw()

    def on_grads_judged(self, _: GradsJudged) -> None:
        """A judgement of the user's derivatives arrived: the panes show it if it is this state's."""
        self.request_redraw()

    def on_unmount(self) -> None:
        self.debug_state.close()
        if self.impl is not None:
            self.impl.close(now=True)
        for run in self.runs.runs:  # --train-with-yours: quitting never waits for your file
            close = getattr(run.stepper.training.gradient, "close", None)
            if close is not None:
                close(now=True)

    def request_redraw(self) -> None:
        """The one "state changed" path: draw once after the current handler.

        Several changes in one handler (a pause and a step, say) make one
        frame, drawn when the handler returns.
        """
        if self.view is None or self._redraw_pending:
            return  # not mounted yet (on_mount draws), or already asked for
        self._redraw_pending = True
        self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        self.refresh_view()

    def refresh_view(self, *, tables: bool = True) -> None:
        """Build one View of the current state now and let every pane draw it.

        ``tables=False`` (a running frame between the tables' turns, see
        runner.py) leaves the parameters, forward, chain and update panes as
        they were.  A diverged state is full of inf and nan; showing it must not warn.
        """
        with np.errstate(all="ignore"):
            try:
                view = self.build_view()
            except Exception as error:  # the boundary (boundary.py): keep the last frame
                self.survive("building the view", error)
                return
            self.view = view
            panes: list[Widget] = [
                self.query_one(StatusBar),
                self.query_one(Banner),
                self.query_one(NetworkDiagram),
                self.query_one(LossPane),
            ]
            if tables:
                panes += [self.query_one(ParametersPane), self.query_one(ForwardPane)]
                panes += [self.query_one(ChainPane), *self.query(UpdateSection)]
            for widget in panes:
                self._show_on(widget, view)
        self._sync_plot_modes()
        self.frames += 1
        # The Footer rebuilds itself on every refresh_bindings(): only when dimming changes.
        can_step = (self.stepper.can_step, self.stepper.diverged is None)
        if can_step != self._bindings_can_step:
            self._bindings_can_step = can_step
            self.refresh_bindings()

    def _show_on(self, pane: Widget, view: View) -> None:
        """One pane draws the view; one that fails says so and the others still draw."""
        try:
            pane.show(view)  # type: ignore[attr-defined]
        except Exception as error:  # the boundary (boundary.py)
            self.survive(f"{type(pane).__name__}.show", error)

    def survive(self, where: str, error: Exception) -> None:
        """An exception the session survives: one notice (once per kind), the traceback logged."""
        line = survived_line(where, error)
        self.log.error(line, "".join(traceback.format_exception(error)))
        if line not in self.internal_errors:
            self.internal_errors.append(line)
            self.notify(line, title="bptui", severity="error", timeout=10)

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        """Every key, click and palette command: an exception in one costs a notice only."""
        try:
            return await super().run_action(action, default_namespace, namespaces)
        except Exception as error:  # the boundary (boundary.py)
            name = action if isinstance(action, str) else action[1]
            self.survive(f"the {name} action", error)
            return True

    def _handle_exception(self, error: Exception) -> None:
        """Textual's last resort (its own machinery failed): exit 1 with one line.

        The traceback goes to a file that line names, not a screenful of
        locals on the terminal.
        """
        super()._handle_exception(error)
        if self.fatal_error_line is None:  # the first error is the cause; later ones follow it
            self.fatal_error_line = fatal_line(error, save_traceback(error))
        self.error_console.soft_wrap = True  # one line, however narrow the terminal
        self._exit_renderables[:] = [Text(self.fatal_error_line)]

    # ---------------------------------------------------------- watchers
    def watch_selected_param(self, name: str) -> None:
        self.query_one(ParametersPane).select(name)
        self.request_redraw()

    def watch_selected_point(self) -> None:
        self.request_redraw()

    def watch_running(self) -> None:
        self.request_redraw()

    def watch_speed_index(self, index: int) -> None:
        run = self.run_state
        if run is not None and run.target is None:
            run.speed_index = index
        self.request_redraw()

    def watch_compact_pane(self, number: int) -> None:
        if number in THIRD_PLACE:
            self._third_pane = number
        self._arrange_panes()

    def _arrange_panes(self) -> None:
        """Show the panes the layout of this size holds; the tabs say which (and are clickable)."""
        layout = pane_layout(*self.size)
        shown = shown_panes(layout, self.compact_pane, self._third_pane)
        panes = [self.query_one(f"#{pane_id}") for pane_id, _, _ in PANES]
        for n, pane in enumerate(panes, start=1):
            pane.set_class(n in shown, "-shown")
        # Three panes in a 2×2 grid: the last one (in grid order) takes the whole bottom row.
        last = max(shown, key=lambda n: GRID_ORDER.index(n))
        for n, pane in enumerate(panes, start=1):
            pane.set_class(layout == "three" and n == last, "-span")
        tabs = "  ".join(
            f"[@click=app.pane({n})]"
            + (f"[reverse] {n} {title} [/]" if n in shown else f" {n} {title} ")
            + "[/]"
            for n, (_, title, _) in enumerate(PANES, start=1)
        )
        hint = keys.key_displays("cycle_pane")[0]
        self.query_one("#pane-tabs", QuietStatic).say(f"{tabs}   [dim]{hint}: next pane[/]")

    def watch_log_scale(self, log_scale: bool) -> None:
        self.query_one(LossPane).set_log_scale(log_scale)
        self._sync_plot_modes()

    def watch_fit_view(self, fit_view: bool) -> None:
        self.query_one(LossPane).set_fit_mode(fit_view)  # it explains a refusal
        self._sync_plot_modes()

    def watch_heatmap_unit(self, unit: int) -> None:
        self.query_one(LossPane).set_heatmap_unit(unit)

    def watch_step_axis(self, axis: str) -> None:
        self.query_one(LossPane).set_step_axis(axis)

    def _sync_plot_modes(self) -> None:
        """Take back what the loss pane shows: it refuses a fit, it goes log on a divergence."""
        pane = self.query_one(LossPane)
        self.set_reactive(BptuiApp.log_scale, pane.log_scale)
        self.set_reactive(BptuiApp.fit_view, pane.fit_mode)

    # ------------------------------------------------------ what is allowed
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
        """Dim (in the Footer) and refuse what :meth:`_allowed` refuses.

        Textual asks this before every action however it is started (a key,
        the palette's ``run_action``), so the actions need no guard of their
        own.  ``g`` always opens (going back is allowed); :meth:`goto` checks.
        """
        return True if action == "goto" or self._allowed(action) else None

    # ----------------------------------------------------------- actions
    def _move(self, move: Callable[[], object]) -> None:
        """Pause, move the stepper, redraw."""
        self.pause()
        move()
        self.request_redraw()

    def action_step(self) -> None:
        """One whole step, or finish the partial one."""
        self._move(self.stepper.step_once)

    def action_next_phase(self) -> None:
        """One phase further: update, forward layer by layer, loss, backward."""
        if self.stepper.done:
            self._previous_grad = self.stepper.grad.copy()
        self._move(self.stepper.next_phase)

    def action_back(self) -> None:
        """One step back in time (also the way out of a divergence)."""
        if self.stepper.step == 0:
            self.notify("Already at step 0.", timeout=2)
        self._move(self.stepper.back)

    def action_reset(self) -> None:
        self._previous_grad = None
        self._move(self.stepper.reset)

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
            self._move(partial(self.stepper.goto, step))
            return
        # The one refusal not made by check_action: g opens while diverged
        # (going back is allowed), so only the answer says "forward".
        if not self._allowed("goto"):
            self.notify(
                f"Diverged at step {self.stepper.diverged}: press b to go back or R to reset.",
                severity="warning",
            )
            return
        self._start(FLAT_OUT, target=step)

    def action_run(self) -> None:
        """Run or pause."""
        if self.running:
            self.pause()
        else:
            self._start(self.speed_index)

    def action_faster(self) -> None:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)

    def action_slower(self) -> None:
        self.speed_index = max(self.speed_index - 1, 0)

    def action_point(self, delta: int) -> None:
        """Select the next or previous data point (the diagram shows its values)."""
        self.selected_point = (self.selected_point + delta) % self.stepper.x.shape[0]

    def action_param(self, delta: int) -> None:
        """Select the next or previous parameter (works while the chain pane is shown alone)."""
        names = self.stepper.network.param_names
        self.selected_param = names[(names.index(self.selected_param) + delta) % len(names)]

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale

    def action_diagram_mode(self) -> None:
        """The diagram's next labels: both, values only, gradients only."""
        index = DIAGRAM_MODES.index(self.diagram_mode)
        self.diagram_mode = DIAGRAM_MODES[(index + 1) % len(DIAGRAM_MODES)]

    def watch_diagram_mode(self, mode: str) -> None:
        self.query_one(NetworkDiagram).set_mode(mode)

    def action_toggle_fit(self) -> None:
        self.fit_view = not self.fit_view

    def action_heatmap_unit(self) -> None:
        """The heatmap's next map: the output, then each hidden unit, then the output again."""
        if not self.query_one(LossPane).heatmap_mode:
            self.notify("The heatmap is the fit view (f) of a two-input net.", timeout=4)
            return
        self.heatmap_unit = (self.heatmap_unit + 1) % unit_count(self.view) if self.view else 0

    def action_step_axis(self) -> None:
        """The loss plot's next step axis: all steps, log steps, the recent steps."""
        self.step_axis = STEP_AXES[(STEP_AXES.index(self.step_axis) + 1) % len(STEP_AXES)]

    def action_pane(self, number: int) -> None:
        """Show pane ``number`` (in a smaller layout's free place) and focus it."""
        if number not in shown_panes(pane_layout(*self.size), 0, 0):
            self.compact_pane = number  # the fixed panes stay where they are
        pane = self.query_one(f"#{PANES[number - 1][0]}")
        self._chosen_pane = pane
        if self.screen.maximized is not None:
            pane.ALLOW_MAXIMIZE = True
            self.screen.maximize(pane, container=False)
        if pane.focusable:
            pane.focus()

    def action_cycle_pane(self) -> None:
        """Put the next pane in the free place (two- and three-pane layouts)."""
        places = THIRD_PLACE if pane_layout(*self.size) == "three" else SECOND_PLACE
        current = self._third_pane if places is THIRD_PLACE else self.compact_pane
        following = (
            places[(places.index(current) + 1) % len(places)] if current in places else places[0]
        )
        self.action_pane(following)

    def action_maximize(self) -> None:
        """Maximize the focused pane (or the last one chosen), or restore the layout."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
            return
        pane = self._current_pane()
        pane.ALLOW_MAXIMIZE = True  # the diagram and the loss plot take no focus
        screen.maximize(pane, container=False)

    def _current_pane(self) -> Widget:
        """The pane last chosen (a number key, a click on the bar, the focus), else the diagram."""
        pane = self._chosen_pane
        if pane is None or not pane.has_class("-shown") and pane_layout(*self.size) != "five":
            return self.query_one(NetworkDiagram)
        return pane

    def _pane_holding(self, widget: Widget) -> Widget | None:
        for pane_id, _, _ in PANES:
            pane = self.query_one(f"#{pane_id}")
            if widget is pane or pane in widget.ancestors:
                return pane
        return None

    @on(events.Click)
    def _click_chooses_pane(self, event: events.Click) -> None:
        """Clicking into a pane makes it the one ``m`` maximizes."""
        if isinstance(event.widget, Widget):
            self._chosen_pane = self._pane_holding(event.widget) or self._chosen_pane

    @on(events.DescendantFocus)
    def _focus_chooses_pane(self, event: events.DescendantFocus) -> None:
        """Focus moving into a pane (tab) chooses it, unless a pane that takes no focus was chosen.

        Hiding the focused pane moves the focus on; that is no choice.
        """
        chosen = self._chosen_pane
        if chosen is None or chosen.focusable:
            self._chosen_pane = self._pane_holding(event.widget) or chosen

    def action_help(self) -> None:
        # Imported on first use: Markdown costs ~25 ms of every launch otherwise.
        from bptui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_gradcheck(self) -> None:
        """Backprop vs central differences (and the user's values) at this step."""
        from bptui.tui.screens.gradcheck import GradCheckScreen

        self.pause()
        step, results = self.stepper.step, self.debug_state.results_now()
        record = self.stepper.record()
        if record.theta.size <= SMALL_CHECK:
            self.push_screen(GradCheckScreen(step, check_record(record), results))
            return
        # A big net takes minutes: a worker thread nudges, the screen shows how far.
        screen = GradCheckScreen(step, None, results, total=record.theta.size)
        self.push_screen(screen, lambda _: self.workers.cancel_group(self, "gradcheck"))
        self._check_in_worker(record, screen)

    @work(thread=True, exclusive=True, group="gradcheck")
    def _check_in_worker(self, record: StepRecord, screen: GradCheckScreen) -> None:
        """The gradient check off the UI thread; escape (closing the screen) abandons it."""
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise CheckAbandoned
            self.call_from_thread(screen.show_progress, done, total)

        try:
            rows = check_record(record, progress)
        except CheckAbandoned:
            return
        except Exception as error:  # the boundary (boundary.py)
            self.call_from_thread(self.survive, "the gradient check", error)
            return
        if not worker.is_cancelled:
            self.call_from_thread(screen.show_rows, rows)

    def action_watches(self) -> None:
        """List, add and remove the watches a run stops on."""
        from bptui.tui.screens.watches import WatchesScreen

        self.pause()
        names = self.stepper.network.param_names
        self.push_screen(WatchesScreen(self.watches, names), self._set_watches)

    def _set_watches(self, watches: tuple[Watch, ...] | None) -> None:
        """Apply the watches screen's answer."""
        if watches is not None:
            self.watches = list(watches)
        self.request_redraw()

    def action_export(self) -> None:
        """This step's worked example for the selected parameter, as Markdown.

        Textual delivers it: a file in the downloads folder in a terminal, a
        download in the browser under ``bptui serve``.
        """
        from bptui.debug.worked import export

        step, param = self.stepper.step, self.selected_param
        try:
            text, _ = export(self.scenario, "md", step=step, params=[param])
        except BadInput as e:
            self.notify(one_line(str(e)), title="export", severity="error")
            return
        self.deliver_text(
            io.StringIO(text),
            save_directory=self.export_folder(),
            save_filename=export_filename(self.scenario.name, step, param),
            mime_type="text/markdown",
        )

    def export_folder(self) -> Path:
        """The downloads folder, or the current one where there is none (a bare server)."""
        from platformdirs import user_downloads_path

        downloads = user_downloads_path()
        return downloads if downloads.is_dir() else Path.cwd()

    @on(events.DeliveryComplete)
    def _exported(self, event: events.DeliveryComplete) -> None:
        where = f"saved to {event.path}" if event.path else "downloaded by the browser"
        self.notify(f"Worked example {where}.", title="export", timeout=8)

    @on(events.DeliveryFailed)
    def _export_failed(self, event: events.DeliveryFailed) -> None:
        self.notify(f"Could not save it: {event.exception}", title="export", severity="error")

    # ------------------------------------------------------------ running
    def _start(self, speed_index: int, target: int | None = None) -> None:
        """Start a run (the worker replaces any run still going)."""
        self.run_state = Run(self.stepper, stop_on(self.watches), speed_index, target)
        self.running = True
        self.request_redraw()  # a goto's "going to step N" even when already running
        self._run_frames(self.run_state)

    @work(exclusive=True, group="run")
    async def _run_frames(self, run: Run) -> None:
        """Frame after frame: the steps it owes, then one render; stops when the run finishes.

        Pausing cancels this worker where it waits, so no step is taken
        after the key that paused.
        """
        try:
            while True:
                await run.frame()
                if run.finished:
                    break
                self.refresh_view(tables=run.slow_panes_due())
        except Exception as error:  # the boundary (boundary.py): the run stops, the app goes on
            self.survive("the run", error)
        self.pause()

    def pause(self) -> None:
        """Stop running now (the run's worker never takes another step)."""
        self.workers.cancel_group(self, "run")
        self.run_state = None
        self.running = False

    # ------------------------------------------------------------ events
    @on(NetworkDiagram.ParameterClicked)
    def _diagram_param_clicked(self, event: NetworkDiagram.ParameterClicked) -> None:
        self.selected_param = event.parameter

    @on(DataTable.RowHighlighted, "#params")
    def _param_selected(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != event.data_table.cursor_row:
            return  # stale: the cursor moved on (e.g. the mount's row 0 before b1)
        if event.row_key.value:
            self.selected_param = event.row_key.value

    @on(DataTable.RowSelected, "#params")
    def _param_entered(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click on the highlighted row): edit that parameter."""
        if event.row_key.value:
            self.edit_parameter(event.row_key.value)

    @on(DataTable.RowSelected, "#forward")
    def _point_entered(self, event: DataTable.RowSelected) -> None:
        """Enter on a point: edit its x, or its y where the cursor is on a target column."""
        table = event.data_table
        column = table.ordered_columns[table.cursor_column].key.value or ""
        self.edit_point(event.cursor_row, column)

    @on(DataTable.RowHighlighted, "#forward")
    def _point_selected(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row == event.data_table.cursor_row and event.cursor_row >= 0:
            self.selected_point = event.cursor_row

    def action_command_palette(self) -> None:
        """Textual's palette, guarded against its crashes on fast keys (see palette.py)."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(GuardedCommandPalette(id="--command-palette"))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of BINDINGS by name, in the command palette (with its key)."""
        ours = list(keys.palette_entries())
        titles = {title for _, title, _ in ours}
        for command in super().get_system_commands(screen):
            if command.title not in titles:  # Textual's own Quit: ours says the key
                yield command
        for action, title, help_text in ours:
            yield SystemCommand(title, help_text, partial(self.run_action, action))
        for title, help_text, kind in EDIT_COMMANDS:
            yield SystemCommand(title, help_text, partial(self.action_edit, kind))
        for title, help_text, kind in FORK_COMMANDS:
            yield SystemCommand(title, help_text, partial(self.action_fork, kind))


class GradsJudged(Message):
    """Posted from the --grads judge's thread: a judgement is ready."""


class FollowerMoved(Message):
    """Posted from the follower's thread: the compared run has moved."""


class CheckAbandoned(Exception):
    """The gradient check's screen was closed before the check finished."""


def export_filename(scenario_name: str, step: int, param: str) -> str:
    """``bptui-article-step3-b1.md``: the scenario, step and parameter, safe as a file name."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in scenario_name).strip("-")
    return f"bptui-{safe or 'scenario'}-step{step}-{param}.md"


def make_app(
    scenario: Scenario | None = None,
    *,
    user_grads: Any = None,
    size: tuple[int, int] | None = None,
    impl: ImplSession | None = None,
    runs: Runs | None = None,
) -> BptuiApp:
    """The app on ``scenario`` (the article by default); shared by the CLI and tests."""
    return BptuiApp(
        scenario or load_builtin("article"),
        user_grads=user_grads,
        size=size,
        impl=impl,
        runs=runs,
    )
