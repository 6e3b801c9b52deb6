"""The app's live edits, forks, runs and saving (a part of :class:`~bptui.tui.app.BptuiApp`).

Every change goes through the engine's :class:`~bptui.engine.runs.Runs`:
an edit is an event of the current run (``b`` steps back across it; an
edit made in the past keeps the old future as a run of its own), a fork is
a new run from this step with one change.  The dialogs only answer; this
applies the answer, and a refusal reopens the dialog with the engine's
message under the value.

Edits are applied in the app's event handler, between two frames of a run:
the run's worker steps in whole calls of ``Stepper.run``, so an edit never
lands in the middle of a step.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bptui.debug.session import DebugState
from bptui.engine.stepper import DivergedError, Stepper
from bptui.errors import BadInput, one_line
from bptui.tui.editing import edit_choices, save_path, write_atomically
from bptui.tui.follow import Follower, calls_user_code
from bptui.tui.screens.edit import Edit, EditAnswer, EditScreen, EditStart

if TYPE_CHECKING:
    from bptui.engine.runs import Runs
    from bptui.engine.stepper import Stepper

#: The edit dialog's page for each palette command: (title, help, kind).
EDIT_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Edit learning rate…", "Change α from this step on", "learning_rate"),
    ("Edit parameter…", "Set a weight or bias, or freeze it", "param"),
    ("Edit data point x…", "Move a data point's input", "x"),
    ("Edit data point y…", "Change a data point's target", "y"),
    ("Trainable parameters…", "Which parameters train (the rest are frozen)", "trainable"),
    ("Optimizer…", "The optimizer and its settings (momentum, β1, β2, ε, penalties)", "optimizer"),
)
#: Forks the palette offers by name (the F dialog has every kind): (title, help, kind).
FORK_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Fork with another seed…", "A run from another random start, beside this one", "seed"),
)


class LiveEdits:
    """Edits, forks, the current run and ctrl+s: the parts of the app that change a run."""

    runs: Runs
    scenario: Any
    user_grads: Any
    debug_state: DebugState
    compare_index: int | None
    follower: Follower
    selected_param: str
    selected_point: int

    if TYPE_CHECKING:  # the App's, which this class is mixed into

        def notify(self, *args: Any, **kwargs: Any) -> None: ...
        def push_screen(self, *args: Any, **kwargs: Any) -> Any: ...
        def request_redraw(self) -> None: ...
        def pause(self) -> None: ...

    @property
    def stepper(self) -> Stepper:
        """The current run's stepper: everything the panes show and the keys move."""
        return self.runs.current.stepper

    @property
    def watches(self) -> list[Any]:
        """The current run's watches: what ``r`` stops on, what ``w`` edits and ctrl+s saves."""
        return self.runs.current.watches

    @watches.setter
    def watches(self, watches: list[Any]) -> None:
        self.runs.current.watches = list(watches)

    # -------------------------------------------------------- the dialog
    def action_edit(self, kind: str = "") -> None:
        """Open the edit dialog (on the learning rate, or the page ``kind``)."""
        kind = kind or "learning_rate"
        name = self.selected_param if kind == "param" else ""
        if kind in ("x", "y"):
            columns = (self.stepper.x if kind == "x" else self.stepper.y).shape[1]
            name = (
                f"{kind}[{self.selected_point}]"
                if columns == 1
                else f"{kind}[{self.selected_point},0]"
            )
        self._open_edit(EditStart(kind, name), fork=False)

    def edit_parameter(self, name: str) -> None:
        """Enter on a row of the parameters pane: that parameter's value and its trains flag."""
        self._open_edit(EditStart("param", name), fork=False)

    def edit_point(self, point: int, column_key: str) -> None:
        """Enter on the forward pane: that point's x (an input column) or y (a target column)."""
        kind, name = "x", ""
        net = self.stepper.network
        if column_key.startswith("y:"):
            kind, column, columns = "y", int(column_key[2:]), self.stepper.y.shape[1]
        else:
            inputs = list(net.node_names[0])
            wanted = column_key[3:] if column_key.startswith("in:") else inputs[0]
            column, columns = inputs.index(wanted) if wanted in inputs else 0, len(inputs)
        name = f"{kind}[{point}]" if columns == 1 else f"{kind}[{point},{column}]"
        self._open_edit(EditStart(kind, name), fork=False)

    def action_fork(self, kind: str = "") -> None:
        """A new run from this step with one change chosen in the dialog (on page ``kind``)."""
        self._open_edit(EditStart(kind or "learning_rate"), fork=True)

    def _open_edit(self, start: EditStart, *, fork: bool) -> None:
        run_name = self.runs.current.name if self._several_runs else ""
        choices = edit_choices(self.stepper, run_name, self.scenario.seed if fork else None)
        self.push_screen(EditScreen(choices, start, fork=fork), self._edit_answered)

    @property
    def _several_runs(self) -> bool:
        return len(self.runs.runs) > 1

    def _edit_answered(self, answer: EditAnswer | None) -> None:
        """Apply the dialog's answer through the engine; a refusal reopens the dialog saying why."""
        if answer is None or not answer.edits:
            return
        before, count = self.stepper, len(self.runs.runs)
        try:
            if answer.fork:
                said = self._fork(answer.edits[0])
            else:
                for edit in answer.edits:
                    self.runs.edit(edit.kind, edit.name, edit.new)
                said = self._event_words()
                if len(self.runs.runs) > count:
                    kept = self.runs.runs[-1].name
                    said += f" The old future is kept as run {kept} ({{ }} switch runs)."
        except BadInput as error:  # the engine's EditError, or RunsError: too many runs
            again = dataclasses.replace(answer.again, error=one_line(str(error)))
            self._open_edit(again, fork=answer.fork)
            return
        self.notify(said, title="fork" if answer.fork else "edit", timeout=5)
        self.run_changed(before)

    def _fork(self, edit: Edit) -> str:
        """Fork the current run with ``edit`` and make the fork current; the parent is compared."""
        parent = self.runs.index
        if edit.kind == "seed":
            run = self.runs.fork_with_seed(edit.new)
        else:
            run = self.runs.fork(edit.kind, edit.name, edit.new)
        self.runs.select(self.runs.runs.index(run))
        self.compare_index = parent
        return f"New run {run.name} from step {run.stepper.step}, beside {self.runs.runs[parent].name}."

    def _event_words(self) -> str:
        """The last event, in words: ``α 0.5 → 0.1 at step 12 (b undoes it)``."""
        events = self.stepper.events
        if not events:
            return "Edited."
        event = events[-1]
        what = "α" if event.kind == "learning_rate" else event.name
        return f"{what}: {event.old} → {event.new} at step {event.step} (b undoes it)."

    def run_changed(self, before: Stepper) -> None:
        """The current stepper may be another one now: a run going on follows it."""
        run = getattr(self, "run_state", None)
        if run is not None and self.stepper is not before:
            run.stepper = self.stepper
        # --grads judges the state it is given: the edited (or other) one now.
        self.debug_state.stepper = self.stepper
        self.request_redraw()

    # ------------------------------------------------------------ runs
    def action_run_cycle(self, delta: int) -> None:
        """Make the next (or previous) run the current one: it steps, the one before follows."""
        runs = self.runs
        if not self._several_runs:
            self.notify("One run so far: F forks one with a change.", timeout=4)
            return
        self.pause()
        before = self.stepper
        index = runs.index
        target = (index + delta) % len(runs.runs)
        chosen = runs.runs[target]
        if self.follower.moving(chosen.stepper):
            self.notify(
                f"Run {chosen.name} is still catching up (step {chosen.stepper.step}): "
                "your file answers slowly. Try again in a moment.",
                timeout=4,
            )
            return
        runs.select(target)
        self.compare_index = index
        self.notify(f"Run {runs.current.name} (step {self.stepper.step}).", timeout=3)
        self.run_changed(before)

    def follow_compared(self) -> None:
        """The run compared with goes to this run's step, so the two stand side by side.

        The parameters pane's differences and the overlaid loss curves are
        then at one step; only the current run is moved by the keys.  A
        compared run that diverged or halted (its own gradient failed) stays
        where it stopped, and the pane says how far it got.
        """
        theirs, step = self.compared_stepper(), self.stepper.step
        if theirs is None:
            return
        if calls_user_code(theirs):  # its updates wait for the user's file: off the UI thread
            if self.follower.moving(theirs) or not self._stands_still(theirs, step):
                self.follower.want(theirs, step)
            return
        if self._stands_still(theirs, step):
            return
        try:
            theirs.goto(step)
        except DivergedError:
            pass  # it stands at its divergence

    def compared_stepper(self) -> Stepper | None:
        """The run the current one is compared with (None: none, or it is the current one)."""
        index, runs = self.compare_index, self.runs
        if index is None or not 0 <= index < len(runs.runs) or index == runs.index:
            return None
        return runs.runs[index].stepper

    @staticmethod
    def _stands_still(theirs: Stepper, step: int) -> bool:
        """Is the compared run where it should be: at ``step``, or stopped before it?"""
        stuck = theirs.halted is not None or theirs.diverged is not None
        return theirs.step == step or (stuck and step > theirs.step)

    # ------------------------------------------------------------ save
    def action_save(self) -> None:
        """Write the current state as a scenario file that reproduces it (ctrl+s)."""
        from bptui.scenario.save import scenario_toml

        stepper = self.stepper
        path = save_path(scenario_file(self.scenario), stepper.step)
        try:
            write_atomically(path, scenario_toml(self.scenario, stepper, self.watches))
        except OSError as error:
            self.notify(f"Could not save to {path}: {error.strerror or error}", severity="error")
            return
        self.notify(f"Saved step {stepper.step} as {path}", title="save", timeout=8)


def scenario_file(scenario: Any) -> Path | None:
    """The scenario's file, or None for a built-in (or anything not read from a file)."""
    source = getattr(scenario, "source", "")
    if not source or source == "built-in":
        return None
    path = Path(source)
    return path if path.is_file() else None
