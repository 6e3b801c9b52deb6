"""Glue between the app and the debugging features, so app.py stays small.

The app owns one :class:`DebugState`; it evaluates the user's derivatives once
per state (not once per frame), however often the screen is redrawn.
"""

from __future__ import annotations

import math

import numpy as np

from bptui.debug.gradcheck import CheckRow, gradient_check
from bptui.debug.usergrads import Diagnosis, UserGradResult, UserGrads
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper


class DebugState:
    """The user's derivatives (if any), judged at the stepper's current state."""

    def __init__(self, stepper: Stepper, user_grads: UserGrads | None) -> None:
        self.stepper = stepper
        self.user_grads = user_grads
        self._key: tuple[int, bytes] | None = None
        self._results: dict[str, UserGradResult] = {}
        self._reported: set[str] = set()

    def results(self) -> dict[str, UserGradResult]:
        """The user's values judged at the current state (cached per state)."""
        if self.user_grads is None:
            return {}
        stepper = self.stepper
        key = (stepper.step, stepper.theta.tobytes())
        if key != self._key:
            self._key = key
            record = stepper.record()
            if not record.finite:
                self._results = self._not_evaluated(record)
            else:
                with np.errstate(all="ignore"):
                    self._results = self.user_grads.evaluate(record, stepper.learning_rate)
        return self._results

    def _not_evaluated(self, record: StepRecord) -> dict[str, UserGradResult]:
        """A diverged state: keep the column, evaluate nothing."""
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
        record = self.stepper.record()
        batch = record.batch
        with np.errstate(all="ignore"):
            return gradient_check(
                record.network, record.theta, record.x[batch], record.y[batch], record.grad
            )
