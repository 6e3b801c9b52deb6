"""A compared run whose updates call the user's code follows on a thread of its own.

With ``--train-with-yours`` the run "your backward" (or "yours") descends
what the user's file returns, one call into its sandbox per update, and it
follows the current run's step (``LiveEdits.follow_compared``).  A file that
takes seconds a call would make every key that moves backprop's run wait for
those calls.  A :class:`Follower` moves that run instead, off the UI thread:
only the newest step asked for is kept (a :class:`~bptui.debug.newest.NewestJob`),
the app is told as the run moves, and while it moves the app reads nothing
of it that a move changes (its record, its comparison) and does not let the
keys take it over.

The run's loss curve is still drawn while it moves: its loss table only
grows as it steps forward, and a jump back shortens it before it refills, so
a frame sees at worst a curve one step out of date.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from bptui.debug.newest import NewestJob
from bptui.engine.stepper import DivergedError, Stepper
from bptui.errors import one_line


def calls_user_code(stepper: Stepper) -> bool:
    """Does this run's update ask the user's file (``--train-with-yours``)?"""
    return stepper.training.gradient is not None


class Follower:
    """Moves one run at a time to the newest step asked for, on a daemon thread."""

    def __init__(self) -> None:
        #: Keyed (the run, the step it goes to).
        self._jobs: NewestJob[None] = NewestJob()
        #: Called on the follower's thread as the run moves (the app posts itself a message).
        self.on_moved: Callable[[], None] | None = None
        #: The last move's failure, one line (a bug of ours: the user's own failures halt the run).
        self.error: str | None = None

    def want(self, stepper: Stepper, step: int) -> None:
        """Move ``stepper`` to ``step`` soon; replaces a move asked for and not yet begun."""
        if self._jobs.offer((stepper, step), None):
            threading.Thread(target=self._follow, name="bptui-follow", daemon=True).start()

    def moving(self, stepper: Stepper) -> bool:
        """Is ``stepper`` being moved, or about to be (then nothing of it may be read)?"""
        jobs = self._jobs
        with jobs.lock:
            return any(
                key is not None and key[0] is stepper for key in (jobs.working_on, jobs.waiting)
            )

    def _follow(self) -> None:
        taken = self._jobs.take()
        while taken is not None:
            stepper, step = taken[0]  # type: ignore[misc]
            try:
                with np.errstate(all="ignore"):
                    self._move(stepper, step)
            except DivergedError:
                pass  # it stands at its divergence, as the app shows
            except Exception as error:  # noqa: BLE001 -- said once, and the run stays usable
                self.error = one_line(f"{type(error).__name__}: {error}")
            taken = self._jobs.take()  # first: told, the app sees whether it still moves
            self._tell()

    def _move(self, stepper: Stepper, step: int) -> None:
        """Forward one update at a time (each shown, a newer target taken between them);
        back at once (a replay: the file's answers are kept, time travel calls it no more)."""
        if step < stepper.step:
            stepper.goto(step)
            return
        while stepper.step < step and stepper.halted is None and stepper.diverged is None:
            stepper.goto(stepper.step + 1)
            if self._jobs.waiting is not None:
                return  # a newer target: the loop takes it
            if stepper.step != step:
                self._tell()

    def _tell(self) -> None:
        if self.on_moved is not None:
            try:
                self.on_moved()
            except RuntimeError:  # the app's loop has closed meanwhile
                pass
