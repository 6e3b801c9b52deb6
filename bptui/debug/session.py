"""Glue between the app and the debugging features, so app.py stays small.

The app owns one :class:`DebugState`; it judges the user's derivatives once
per state (not once per frame), however often the screen is redrawn, and in
the app on a background thread (:mod:`bptui.debug.grads_live`).  With
``--impl`` it also owns an :class:`ImplSession`: the user's forward/backward
checked at the current state, off the UI thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bptui.debug.gradcheck import CheckRow, gradient_check
from bptui.debug.newest import NewestJob
from bptui.engine.network import Network
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper
from bptui.errors import UserCodeError, one_line

if TYPE_CHECKING:  # loaded with --grads or --impl: each costs every launch otherwise
    from bptui.debug.grads_live import GradsJudge
    from bptui.debug.impl.interface import Layout
    from bptui.debug.impl.live import ImplVerdict
    from bptui.debug.impl.runner import ImplRunner
    from bptui.debug.usergrads import UserGradResult, UserGrads


#: A result's diagnosis kind while its judgement is under way (see :func:`is_pending`).
PENDING_KIND = "pending"
#: How long the launch and the gradient check screen wait for a judgement.
WAIT_SECONDS = 60.0


def is_pending(result: UserGradResult) -> bool:
    """Is this result a placeholder, its judgement still under way?"""
    return result.diagnosis.kind == PENDING_KIND


class DebugState:
    """The user's derivatives (if any), judged at the stepper's current state.

    Without ``background`` each state is judged when first asked for, on the
    caller's thread (the tests and scripts).  With it (the app) a
    :class:`~bptui.debug.grads_live.GradsJudge` judges on its own thread, and
    until the answer for *this* state is there each result says "checking…"
    (:func:`is_pending`): a slow ``d_`` function costs no step its time.
    Assign :attr:`stepper` to follow another run; judgements are kept per state.
    """

    def __init__(
        self, stepper: Stepper, user_grads: UserGrads | None, *, background: bool = False
    ) -> None:
        self.stepper = stepper
        self.user_grads = user_grads
        self._key: Hashable | None = None
        self._results: dict[str, UserGradResult] = {}
        self._reported: set[str] = set()
        #: The last record seen, its α and its state key (a frame asks several times).
        self._seen: tuple[StepRecord, float, Hashable] | None = None
        self.judge: GradsJudge | None = None
        if background and user_grads is not None:
            from bptui.debug.grads_live import GradsJudge

            self.judge = GradsJudge(user_grads)

    def results(self) -> dict[str, UserGradResult]:
        """The user's values judged at the current state (cached per state).

        In the background, "checking…" results until this state's judgement arrives.
        """
        if self.user_grads is None:
            return {}
        key, record = self._state()
        if self.judge is not None and record.finite:
            judged = self.judge.known(key)
            if judged is not None:
                return judged
            self.judge.want(key, record, self.stepper.learning_rate)
        if key != self._key:
            self._key = key
            if not record.finite:
                self._results = self._not_evaluated(record)
            elif self.judge is not None:
                self._results = self._pending(record)
            else:
                with np.errstate(all="ignore"):
                    self._results = self.user_grads.evaluate(record, self.stepper.learning_rate)
        return self._results

    def results_now(self, seconds: float = WAIT_SECONDS) -> dict[str, UserGradResult]:
        """The current state's judgement, waited for (launch, the gradient check screen)."""
        results = self.results()
        if self.judge is None or not any(is_pending(r) for r in results.values()):
            return results
        key, _ = self._state()
        return self.judge.wait_for(key, seconds) or results

    @property
    def pending(self) -> bool:
        """Is the current state's judgement still to come?"""
        return any(is_pending(r) for r in self.results().values())

    def _state(self) -> tuple[Hashable, StepRecord]:
        """The current state's key and record (the key kept while the record is the same)."""
        from bptui.debug.grads_live import state_key

        record, rate = self.stepper.record(), self.stepper.learning_rate
        seen = self._seen
        if seen is None or seen[0] is not record or seen[1] != rate:
            seen = self._seen = (record, rate, state_key(self.stepper))
        return seen[2], record

    def close(self) -> None:
        """Stop the background judge (the app's end); nothing to do without one."""
        if self.judge is not None:
            self.judge.close()

    def _pending(self, record: StepRecord) -> dict[str, UserGradResult]:
        """Every function's result while its judgement at this state is under way."""
        from bptui.debug.usergrads import Diagnosis, UserGradResult

        assert self.user_grads is not None
        why = Diagnosis(PENDING_KIND, "checking…")
        grads = record.grads
        return {
            f.param: UserGradResult(f.param, f.name, None, grads[f.param], math.nan, None, why)
            for f in self.user_grads.functions
        }

    def _not_evaluated(self, record: StepRecord) -> dict[str, UserGradResult]:
        """A diverged state: keep the column, evaluate nothing."""
        from bptui.debug.usergrads import Diagnosis, UserGradResult

        assert self.user_grads is not None
        why = Diagnosis("skipped", "not evaluated: the loss or a gradient is not finite")
        grads = record.grads
        return {
            f.param: UserGradResult(f.param, f.name, None, grads[f.param], math.nan, None, why)
            for f in self.user_grads.functions
        }

    def values(self) -> dict[str, float]:
        """name → the user's number, for the parameters pane's "yours" column."""
        return {n: r.user for n, r in self.results().items() if r.user is not None}

    def new_errors(self) -> list[str]:
        """Errors of the user's functions not yet reported (each is shown once)."""
        fresh = []
        for result in self.results().values():
            if result.error and result.error not in self._reported:
                self._reported.add(result.error)
                fresh.append(result.error)
        return fresh

    def gradient_check(self) -> list[CheckRow]:
        """Backprop vs central differences at the current record, on its batch."""
        return check_record(self.stepper.record())


def check_record(
    record: StepRecord, progress: Callable[[int, int], None] | None = None
) -> list[CheckRow]:
    """The gradient check of one record, on copies (a worker thread may run it)."""
    batch = record.batch
    theta, grad = record.theta.copy(), record.grad.copy()
    x, y = record.x[batch].copy(), record.y[batch].copy()
    with np.errstate(all="ignore"):
        return gradient_check(record.network, theta, x, y, grad, progress)


@dataclass(frozen=True)
class _ImplJob:
    """One state to check: copies taken on the UI thread, so a run may go on meanwhile."""

    step: int
    theta: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def key(self) -> tuple[int, bytes]:
        return self.step, self.theta.tobytes()


class ImplSession:
    """The user's implementation (``--impl FILE``) checked at the state the app shows.

    One worker process runs the user's code (its time limit holds: an endless
    loop costs that check, never the UI).  :meth:`want` is called on the UI
    thread for every frame and only notes the newest state; :meth:`checks`,
    run on one background thread at a time, checks the newest state noted
    until none is left, so a fast run skips states instead of queueing them.
    A file that fails at some state gives that state's one-line error; the
    next check starts a fresh worker.
    """

    def __init__(self, path: str, network: Network) -> None:
        self.path = path
        self.network = network
        self.latest: ImplVerdict | None = None
        self._jobs: NewestJob[_ImplJob] = NewestJob()
        self._runner: ImplRunner | None = None
        self._layout: Layout | None = None

    @classmethod
    def open(cls, path: str, stepper: Stepper) -> ImplSession:
        """Start the worker and check the stepper's state now; a broken file is UserCodeError."""
        session = cls(path, stepper.network)
        verdict = session.check_now(session._job(stepper), strict=True)
        session.latest = verdict
        return session

    @staticmethod
    def _job(stepper: Stepper) -> _ImplJob:
        return _ImplJob(stepper.step, stepper.theta.copy(), stepper.x.copy(), stepper.y.copy())

    def current(self, stepper: Stepper) -> bool:
        """Is the latest verdict of the stepper's state?"""
        latest = self.latest
        return (
            latest is not None
            and latest.step == stepper.step
            and latest.state == stepper.theta.tobytes()
        )

    def want(self, stepper: Stepper) -> bool:
        """Note the stepper's state for checking; True when a checking thread must start."""
        if self.current(stepper):
            return False
        job = self._job(stepper)
        return self._jobs.offer(job.key, job)

    def checks(self) -> Iterator[ImplVerdict]:
        """Check each newest noted state until none is left (one thread at a time)."""
        while (taken := self._jobs.take()) is not None:
            verdict = self.check_now(taken[1])
            self.latest = verdict
            yield verdict

    def check_now(self, job: _ImplJob, *, strict: bool = False) -> ImplVerdict:
        """The user's code run at one state and judged; ``strict`` raises a broken file."""
        from bptui.debug.impl.check import compare, run_user_code, start_runner
        from bptui.debug.impl.live import ImplVerdict
        from bptui.debug.impl.reference import build_reference

        try:
            if self._runner is None:
                self._runner = start_runner(self.path)
                self._runner.info  # noqa: B018 -- waits for the import (a broken one raises)
            ref = build_reference(self.network, job.theta, job.x, job.y)
            if self._layout is None:
                self._layout, answer = run_user_code(self._runner, ref, self.path)
            else:
                answer = self._runner.run(*ref.inputs(self._layout))
                if answer.error:
                    raise UserCodeError(answer.error)
            title = f"{self.path} at step {job.step}"
            check = compare(answer, ref, self._layout, self.path, title)
        except UserCodeError as e:
            self.close()
            if strict:
                raise
            return ImplVerdict(self.path, job.step, job.theta.tobytes(), error=one_line(str(e)))
        return ImplVerdict(self.path, job.step, job.theta.tobytes(), check=check)

    def close(self, now: bool = False) -> None:
        """End the worker (``now``: at once, the app closing); the next check starts a fresh one."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.worker.end(now)
