"""Running: whole steps at a chosen speed, drawn at most ~30 times a second.

A :class:`Run` knows how many steps one frame owes and takes them; the app
drives it from one exclusive worker (``BptuiApp._run_frames``) that
draws after every frame and is cancelled to pause.  Flat out, a frame steps
in chunks and lets the event loop in between chunks, so a keypress (pause)
is answered within a frame.  How long it steps adapts (:meth:`Run.flat_out_budget`):
each frame, from the start of its stepping to the start of the next,
should last :data:`FLAT_OUT_FRAME_SECONDS`, so whatever the painting leaves
goes to stepping.  On a small net painting is most of a frame, and a fixed
budget left steps on the table while frames/s stayed far above what the eye
follows.

At frame-rate speeds the tables (parameters, forward, chain, update) are
drawn at most :data:`SLOW_PANE_SECONDS` apart (:meth:`Run.slow_panes_due`):
they are most of a frame's painting, and numbers that change 30 times a
second cannot be read anyway.  The status line, diagram and loss pane draw
every frame, and pausing draws everything at once.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

from bptui.engine.stepper import Stepper, StopCheck

#: Run speeds in steps per second; 0 means flat out.
SPEEDS: tuple[int, ...] = (1, 2, 5, 10, 30, 100, 300, 1000, 0)
DEFAULT_SPEED = SPEEDS.index(100)
FLAT_OUT = SPEEDS.index(0)
#: Never draw more often than this while running.
FRAME_SECONDS = 1 / 30
#: Flat out, a frame (stepping, then painting) aims to last this long…
FLAT_OUT_FRAME_SECONDS = 1 / 15
#: …and steps at least this long, however slow the painting.
FLAT_OUT_BUDGET = 0.015
FLAT_OUT_CHUNK = 64
#: While running at frame rate, the tables redraw at most this often (seconds).
SLOW_PANE_SECONDS = 0.5


def speed_label(index: int) -> str:
    """``1 step/s``, ``30 steps/s`` or ``flat out``."""
    speed = SPEEDS[index]
    return "flat out" if speed == 0 else f"{speed} step/s" if speed == 1 else f"{speed} steps/s"


@dataclass
class Run:
    """One run: the stepper, what stops it, its speed and (going to a step) its target."""

    stepper: Stepper
    stop: StopCheck | None
    speed_index: int
    target: int | None = None
    #: Steps owed but not yet taken (a slow speed owes a fraction per frame).
    debt: float = 0.0
    _last: float = field(default_factory=time.perf_counter)
    #: When the tables are next due (see :meth:`slow_panes_due`).
    _slow_panes_at: float = -math.inf
    #: Flat out: seconds of stepping per frame, adapted frame by frame.
    budget: float = FLAT_OUT_BUDGET

    @property
    def interval(self) -> float:
        """Seconds between frames: one step per frame when slow, else the frame rate."""
        speed = SPEEDS[self.speed_index]
        return FRAME_SECONDS if speed == 0 else max(1.0 / speed, FRAME_SECONDS)

    @property
    def finished(self) -> bool:
        """Diverged, stopped by a watch, or at the target step."""
        stepper = self.stepper
        reached = self.target is not None and stepper.step >= self.target
        return stepper.diverged is not None or bool(stepper.stop_reason) or reached

    def slow_panes_due(self, now: float | None = None) -> bool:
        """Should this frame draw the tables too?  Every frame below frame rate.

        Above it, once per :data:`SLOW_PANE_SECONDS`; the frames between
        leave the tables as they were (the pause redraws them current).
        """
        if self.interval > FRAME_SECONDS:
            return True
        now = time.perf_counter() if now is None else now
        if now < self._slow_panes_at:
            return False
        self._slow_panes_at = now + SLOW_PANE_SECONDS
        return True

    def allowed(self, wanted: int) -> int:
        """``wanted`` steps, fewer when that would pass the target."""
        if self.target is None:
            return wanted
        return max(0, min(wanted, self.target - self.stepper.step))

    def flat_out_budget(self, frame_seconds: float) -> float:
        """The next flat-out frame's stepping time, after one of ``frame_seconds``.

        The stepping grows by what the last frame came in under
        :data:`FLAT_OUT_FRAME_SECONDS` and shrinks by what it ran over, so
        after a few frames stepping plus painting fill the frame; half the
        error is corrected at a time, which rides out one slow paint.
        """
        error = FLAT_OUT_FRAME_SECONDS - frame_seconds
        self.budget = min(max(self.budget + error / 2, FLAT_OUT_BUDGET), FLAT_OUT_FRAME_SECONDS)
        return self.budget

    async def frame(self) -> None:
        """Wait for the next frame, then take the steps it owes."""
        flat_out = SPEEDS[self.speed_index] == 0
        # Flat out there is no wait for a frame boundary: the last frame paints
        # in the loop's turn here, and the stepping time keeps the frame's length.
        await asyncio.sleep(0 if flat_out else self._until_next_frame())
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        if flat_out:
            await self._flat_out(now + self.flat_out_budget(elapsed))
            return
        self.debt += SPEEDS[self.speed_index] * min(elapsed, self.interval * 2)
        count = self.allowed(int(self.debt))
        self.debt -= int(self.debt)
        if count:
            self.stepper.run(count, self.stop)

    def _until_next_frame(self) -> float:
        """Seconds to the next frame; a frame that overran waits for the following one.

        Like Textual's timers, a late frame skips to the next boundary rather
        than starting at once, so the screen always gets time to paint.
        """
        late = time.perf_counter() - self._last
        interval = self.interval
        return interval - late if late < interval else interval - late % interval

    async def _flat_out(self, deadline: float) -> None:
        """Chunks of steps until ``deadline``, the event loop getting a turn between them."""
        stepper = self.stepper
        while True:
            count = self.allowed(FLAT_OUT_CHUNK)
            if count == 0:
                return
            taken = stepper.run(count, self.stop)
            if taken < count or self.finished or time.perf_counter() >= deadline:
                return
            await asyncio.sleep(0)
