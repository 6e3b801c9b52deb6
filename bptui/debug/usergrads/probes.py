"""Probe states: the current state with one target or the parameters nudged.

A candidate mistake is believed only if it reproduces the user's function at
these states too, and the responses to the target probes locate a mistake no
candidate explains (:mod:`.localise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bptui.debug.usergrads.context import values_of
from bptui.engine.record import StepRecord, build_record

Array = np.ndarray

#: Probes nudge a target or a parameter by this much (times 1 + |value|).
PROBE = 0.25
#: The probe that moves every parameter at once moves each by this share of PROBE.
SPREAD = 0.1
#: At most this many points get their own y probe.
MAX_POINT_PROBES = 8


@dataclass(frozen=True)
class ProbeState:
    """One probe state: its record and the values the user's function gets."""

    record: StepRecord
    values: dict[str, Any]


class Probes:
    """The probe states around one record, each built once."""

    def __init__(self, record: StepRecord, learning_rate: float | None) -> None:
        self.record = record
        self.learning_rate = learning_rate
        self._y_states: list[tuple[int, ProbeState]] | None = None
        self._theta_states: dict[str, list[ProbeState]] = {}

    def _state(self, theta: Array, y: Array) -> ProbeState | None:
        rec = self.record
        record = build_record(rec.network, theta, rec.x, y, rec.batch, rec.step)
        if not record.finite:
            return None
        return ProbeState(record, values_of(record, self.learning_rate))

    def y_states(self) -> list[tuple[int, ProbeState]]:
        """(point, state) with that (batch) point's targets nudged, for the first points."""
        if self._y_states is None:
            rec = self.record
            states = []
            for i in rec.batch[:MAX_POINT_PROBES]:
                y = rec.y.copy()
                y[i] = self._nudged_target(y[i])
                state = self._state(rec.theta, y)
                if state is not None:
                    states.append((int(i), state))
            self._y_states = states
        return self._y_states

    def _nudged_target(self, row: Array) -> Array:
        """One point's targets moved by PROBE, staying targets the loss accepts.

        Cross-entropy's targets are probability rows: the row moves a PROBE share
        of its mass to the next class, so the textbook ∂Loss/∂z = ŷ − y (true
        only for rows summing to 1) stays true at the probe.
        """
        if self.record.network.loss_fn.bad_target(row[None, :]) is None and row.size > 1:
            if self.record.network.loss == "cross_entropy":
                return (1.0 - PROBE) * row + PROBE * np.roll(row, 1)
        return row + PROBE * (1.0 + np.abs(row))

    def theta_states(self, param: str) -> list[ProbeState]:
        """The parameter itself nudged, and every parameter nudged a little."""
        if param not in self._theta_states:
            rec = self.record
            k = rec.network.param_index[param]
            theta = rec.theta.copy()
            theta[k] += PROBE * (1.0 + abs(theta[k]))
            spread = rec.theta + SPREAD * PROBE * (1.0 + np.abs(rec.theta)) * np.cos(
                np.arange(rec.theta.size) + 1.0
            )
            states = [self._state(theta, rec.y), self._state(spread, rec.y)]
            self._theta_states[param] = [s for s in states if s is not None]
        return self._theta_states[param]
