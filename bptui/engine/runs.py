"""Runs side by side: forks of a run with one change, and futures an edit replaced.

Every run is its own :class:`Stepper` on the same scenario; a fork at step k
holds the events of its parent up to k plus its one change, and continues at
k + 1, so the runs' steps line up for comparing.  An edit made after
stepping back keeps the old future as a run named "before <change>", rebuilt
by replaying its events (cheap: one run of the plain step).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from bptui.engine.events import EditError, Event
from bptui.engine.optimizers import number_text
from bptui.engine.stepper import DivergedError, Stepper, Training
from bptui.errors import BadInput

#: The most runs held at once: each is a full history, and the panes must stay readable.
MAX_RUNS = 6

#: How a run's name writes an optimizer setting.
_SETTING_SYMBOLS = {
    "momentum": "μ",
    "beta1": "β1",
    "beta2": "β2",
    "alpha": "rmsprop α",
    "eps": "ε",
    "weight_decay": "weight decay",
    "l1": "L1",
}


class RunsError(BadInput):
    """A run that cannot be made (too many runs, no such run); the message says which."""


def _shown(value: Any) -> str:
    return number_text(value) if isinstance(value, float) else str(value)


def change_label(kind: str, name: str, old: Any, new: Any) -> str:
    """What an edit changes, in a few words: "α 0.5 → 0.05", "adam", "w3 0.2 → 1"."""
    if kind == "learning_rate":
        return f"α {_shown(old)} → {_shown(new)}"
    if kind == "trainable":
        return f"trains {', '.join(new)}" if new else "trains nothing"
    if kind == "optimizer":
        if name == "optimizer":
            return str(new)
        return f"{_SETTING_SYMBOLS.get(name, name)} {_shown(old)} → {_shown(new)}"
    return f"{name} {_shown(old)} → {_shown(new)}"


def event_label(event: Event) -> str:
    return change_label(event.kind, event.name, event.old, event.new)


@dataclass
class Run:
    """One run: a name saying what differs, its stepper, and the watches it stops on.

    Watches are a run's own, so a fork can run with or without one; a new
    run starts with the watches of the run it came from.
    """

    name: str
    stepper: Stepper
    watches: list[Any] = field(default_factory=list)


class Runs:
    """The runs of a session, one of them current (the one the keys step and edit)."""

    def __init__(self, first: Stepper, name: str = "main") -> None:
        self.runs: list[Run] = [Run(name, first)]
        self._current = 0

    @property
    def current(self) -> Run:
        return self.runs[self._current]

    @property
    def index(self) -> int:
        """Where the current run is in :attr:`runs`."""
        return self._current

    def select(self, i: int) -> Run:
        """Make run ``i`` (0-based) the current one."""
        if not 0 <= i < len(self.runs):
            raise RunsError(f"no run {i + 1}: there are {len(self.runs)}")
        self._current = i
        return self.current

    def remove(self, i: int) -> None:
        """Drop run ``i``; the last run cannot go."""
        if len(self.runs) == 1:
            raise RunsError("the only run cannot be closed")
        if not 0 <= i < len(self.runs):
            raise RunsError(f"no run {i + 1}: there are {len(self.runs)}")
        del self.runs[i]
        if self._current > i or self._current == len(self.runs):
            self._current -= 1

    def _room(self, what: str) -> None:
        if len(self.runs) >= MAX_RUNS:
            raise RunsError(
                f"{what} would be run {MAX_RUNS + 1}: at most {MAX_RUNS}, close one first"
            )

    def _unique(self, name: str) -> str:
        taken = {run.name for run in self.runs}
        if name not in taken:
            return name
        k = 2
        while f"{name} ({k})" in taken:
            k += 1
        return f"{name} ({k})"

    def add(self, name: str, training: Training) -> Run:
        """A run of another training beside the others, from its step 0 (not selected).

        For a run that differs in what no edit changes, e.g. updates that
        descend the learner's own derivatives (``Training.gradient``).
        """
        self._room(f"run {name!r}")
        return self._append(name, Stepper(training))

    def _append(self, name: str, stepper: Stepper) -> Run:
        """A new run, named uniquely, with the current run's watches, added last."""
        run = Run(self._unique(name), stepper, list(self.current.watches))
        self.runs.append(run)
        return run

    def fork(self, kind: str, name: str, new: Any) -> Run:
        """A copy of the current run at its current step with one change, added to the runs.

        The fork is not selected; :class:`EditError` (nothing added) when the
        change is refused.
        """
        self._room("a fork")
        parent = self.current.stepper
        twin = Stepper(replace(parent.training, events=parent.applied_events))
        twin.goto(parent.step)
        event = twin.edit(kind, name, new)
        twin.keep_events()
        return self._append(event_label(event), twin)

    def fork_with_seed(self, seed: Any) -> Run:
        """A run whose step-0 parameters are drawn with ``seed``, brought to the current step.

        Another random start cannot begin at step k, so the fork replays the
        current run's events from step 0 on its own parameters, and stands at
        the current run's step (or at its divergence, if it diverges first).
        ``seed`` is refused (:class:`EditError`) unless it is a whole number
        from 0 to 2³² − 1, the scenario file's rule.
        """
        if isinstance(seed, float) and seed.is_integer():
            seed = int(seed)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
            shown = f"'{seed}'" if isinstance(seed, str) else _shown(seed).replace("-", "−")
            raise EditError(f"seed must be a whole number from 0 to 4294967295, got {shown}")
        self._room("a fork")
        parent = self.current.stepper
        initial = parent.network.random_init(seed)
        twin = Stepper(replace(parent.training, initial=initial, events=parent.applied_events))
        try:
            twin.goto(parent.step)
        except DivergedError:
            pass  # it stands at its divergence, as a run does
        twin.keep_events()
        return self._append(f"seed {seed}", twin)

    def edit(self, kind: str, name: str, new: Any) -> Event:
        """Edit the current run; an edit in its past keeps the old future as a run.

        The kept run is named "before <change>" and stands at the furthest
        step the old line had reached.
        """
        stepper = self.current.stepper
        if stepper.has_future:
            self._room("keeping the old future")
        event = stepper.edit(kind, name, new)
        if stepper.last_branch is not None:
            events, furthest = stepper.last_branch
            kept = Stepper(replace(stepper.training, events=events))
            kept.goto(furthest)
            self._append(f"before {event_label(event)}", kept)
        return event
