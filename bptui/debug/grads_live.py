"""``--grads`` judged off the UI thread: a slow ``d_`` function never slows a step.

Judging the user's derivatives at one state calls each function once, and a
wrong one again at up to ten probe states: with a function that takes 1.9 s
that is seconds, and the app would wait for it on every step.  A
:class:`GradsJudge` does that work on a thread of its own.  The app asks for
the state it shows (:meth:`GradsJudge.want`, on every frame); only the newest
state asked for is kept, so a run going flat out skips states instead of
queueing them; a judgement is kept under the state it was asked for, and the
app shows it only while that state is the one on screen.

The judge has its own sandbox (worker process), so its calls never interleave
with those of ``--train-with-yours``, which asks the user's file for each
update on the UI thread.  Its thread is a daemon and closing kills the worker
at once, so quitting never waits for the user's code.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

import numpy as np

from bptui.debug.newest import NewestJob
from bptui.debug.usergrads.judge import UserGrads
from bptui.debug.usergrads.sandbox import Sandbox
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper

if TYPE_CHECKING:
    from bptui.debug.usergrads import UserGradResult
    from bptui.debug.worker import Worker

#: Judgements kept (the states most recently judged): stepping back shows one at once.
KEPT_STATES = 16

Results = dict[str, "UserGradResult"]


def state_key(stepper: Stepper) -> tuple[Hashable, ...]:
    """What a judgement depends on: the step, θ, the data, the batch and α."""
    record = stepper.record()
    return (
        stepper.step,
        record.theta.tobytes(),
        record.x.tobytes(),
        record.y.tobytes(),
        np.asarray(record.batch).tobytes(),
        float(stepper.learning_rate),
    )


class _ClosableSandbox(Sandbox):
    """A sandbox that, once closed, calls nothing and starts no new worker."""

    closed = False

    def _live_worker(self) -> Worker | str:
        if self.closed:
            return "is not called: bptui is closing"
        return super()._live_worker()

    def shut(self) -> None:
        """Close at once: a worker busy in the user's code would not read "stop"."""
        self.closed = True
        self.close(now=True)


class GradsJudge:
    """The user's derivatives judged on a background thread, newest state first."""

    def __init__(self, user_grads: UserGrads) -> None:
        self._sandbox = _ClosableSandbox(user_grads.path, user_grads.sandbox.source)
        self.user_grads = UserGrads(user_grads.path, user_grads.functions, self._sandbox)
        #: Called on the judge's thread after each judgement (the app posts itself a message).
        self.on_judged: Callable[[], None] | None = None
        self._lock = threading.Condition()  # re-entrant: the jobs share it
        self._jobs: NewestJob[tuple[StepRecord, float]] = NewestJob(self._lock)
        self._judged: OrderedDict[Hashable, Results] = OrderedDict()
        #: How many states have been judged (a test counts them: no queue grows).
        self.judgements = 0

    @property
    def busy(self) -> bool:
        """Is a judgement under way (or one waiting for its turn)?"""
        return self._jobs.busy

    def known(self, key: Hashable) -> Results | None:
        """The judgement of this state, if it has one."""
        with self._lock:
            return self._judged.get(key)

    def want(self, key: Hashable, record: StepRecord, learning_rate: float) -> None:
        """Note a state to judge; it replaces any state noted and not yet started."""
        with self._lock:
            if self._sandbox.closed or key in self._judged:
                return
            if not self._jobs.offer(key, (record, learning_rate)):
                return
        threading.Thread(target=self._judge_all, name="bptui-grads-judge", daemon=True).start()

    def wait_for(self, key: Hashable, seconds: float) -> Results | None:
        """The judgement of ``key`` once it is there (None after ``seconds``)."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while key not in self._judged and not self._sandbox.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)
            return self._judged.get(key)

    def _judge_all(self) -> None:
        """Judge the newest noted state until none is left (one thread at a time)."""
        while True:
            with self._lock:
                job = self._jobs.take()
                if job is None:
                    return
                if self._sandbox.closed:
                    self._jobs.stop()
                    return
                key, (record, learning_rate) = job
            with np.errstate(all="ignore"):
                results = self.user_grads.evaluate(record, learning_rate)
            with self._lock:
                if self._sandbox.closed:
                    self._jobs.stop()
                    return
                self._judged[key] = results
                while len(self._judged) > KEPT_STATES:
                    self._judged.popitem(last=False)
                self.judgements += 1
                self._lock.notify_all()
            if self.on_judged is not None:
                try:
                    self.on_judged()
                except RuntimeError:  # the app's loop has closed meanwhile
                    pass

    def close(self) -> None:
        """Stop judging and end the worker at once (a judgement under way is dropped)."""
        with self._lock:
            self._sandbox.shut()
            self._jobs.stop()
            self._lock.notify_all()
