"""The JSON and CSV trace (docs/trace.md): N steps, N+1 records."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import orjson

from bptui.engine.optimizers import state_dict
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper, Training
from bptui.scenario.model import Scenario

Array = np.ndarray


#: orjson writes numpy arrays itself (as their float64 repr, the shortest
#: string that reads back to the same bits) and non-finite numbers as null.
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _contiguous(value: Any) -> Array:
    """A strided array (a node's column) as the contiguous copy orjson can write."""
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _dump(value: Any) -> str:
    """Strict JSON, UTF-8 as it is (∂ and − unescaped), non-finite numbers as null."""
    return orjson.dumps(value, default=_contiguous, option=_JSON_OPTIONS).decode("utf-8")


def _named(names: list[str], values: Array) -> dict[str, float]:
    return dict(zip(names, values.tolist()))


def record_to_dict(record: StepRecord) -> dict[str, Any]:
    """One trace record, as docs/trace.md lays it out (arrays stay numpy: orjson writes them).

    ``optimizer``, ``penalty`` and ``test_loss`` are there only when the run
    has them, so a plain-SGD trace reads as it always did.
    """
    names = record.network.param_names
    out = {
        "step": record.step,
        "loss": record.loss,
        "batch": record.batch.tolist(),
        "params": _named(names, record.theta),
        "grads": _named(names, record.grad),
        "nodes": record.nodes,
        "layers": [{"W": L.W, "b": L.b, "dW": L.dW, "db": L.db} for L in record.layers],
        "factors": {
            name: [
                {
                    "symbol": f.symbol,
                    "formula": f.formula,
                    "values": f.values,
                    "reused": f.reused,
                    "first_use": f.first_use,
                }
                for f in factors
            ]
            for name, factors in record.factors.items()
        },
    }
    if record.test_loss is not None:
        out["test_loss"] = record.test_loss
    if record.optimizer_state is not None:
        out["optimizer"] = state_dict(record.optimizer, names, record.optimizer_state)
    if record.penalty is not None:
        out["penalty"] = _named(names, record.penalty)
    return out


def _forward_stepper(scenario: Scenario, training: Training | None) -> Stepper:
    """A stepper of ``training`` (default: the scenario's) that keeps no history.

    A trace only goes forward, so its memory stays the same over a million steps.
    """
    return Stepper(scenario.training() if training is None else training, history=False)


def _stands(stepper: Stepper, steps: int) -> bool:
    """Has the trace's run ended: the last step, a divergence, or an update it could not make?"""
    return stepper.step >= steps or stepper.diverged is not None or stepper.halted is not None


def iter_records(
    scenario: Scenario,
    steps: int,
    stepper: Stepper | None = None,
    training: Training | None = None,
) -> Iterator[StepRecord]:
    """Records 0…steps one at a time, ending early at the first non-finite record
    (or where the training's own update gradient failed: ``stepper.halted``).

    Records are built as they are written, so a long trace never holds more
    than one record in memory.  A ``stepper`` given is the one stepped (its
    events are then known, old values included); else one of ``training``
    (default: the scenario's).
    """
    if stepper is None:
        stepper = _forward_stepper(scenario, training)
    yield stepper.record()
    while not _stands(stepper, steps):
        stepper.step_once()
        if stepper.halted is None:
            yield stepper.record()


def divergence_step(scenario: Scenario, steps: int, training: Training | None = None) -> int | None:
    """Where a run of ``steps`` steps diverges, found by the cheap plain step."""
    stepper = _forward_stepper(scenario, training)
    if stepper.diverged is None and steps:
        stepper.run(steps)
    return stepper.diverged


def trace_json(
    scenario: Scenario,
    steps: int,
    training: Training | None = None,
    about: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """The trace document in chunks, one record per line (greppable, streamable).

    ``diverged`` precedes ``steps`` as docs/trace.md orders it, so a first pass with the
    plain step finds it before the records are built and written.  ``training``
    replaces the scenario's (a run on the learner's own derivatives); ``about``
    adds top-level fields after ``parameters`` saying so.  A run whose update
    gradient failed ends with ``"stopped": {"step", "reason"}``.
    """
    yield "{\n"
    yield f' "scenario": {_dump(scenario.to_dict())},\n'
    yield f' "parameters": {_dump(scenario.network().param_names)},\n'
    for key, value in (about or {}).items():
        yield f" {_dump(key)}: {_dump(value)},\n"
    yield f' "diverged": {_dump(divergence_step(scenario, steps, training))},\n'
    yield ' "steps": [\n'
    stepper = _forward_stepper(scenario, training)
    for k, record in enumerate(iter_records(scenario, steps, stepper)):
        yield ("  " if k == 0 else ",\n  ") + _dump(record_to_dict(record))
    yield "\n ]"
    events = [event.to_dict() for event in stepper.applied_events]
    if events:  # only then: a trace without edits stays as it always was
        yield f',\n "events": {_dump(events)}'
    if stepper.halted is not None:
        stopped = {"step": stepper.step, "reason": stepper.halted}
        yield f',\n "stopped": {_dump(stopped)}'
    yield "\n}\n"


def trace_csv(scenario: Scenario, steps: int, training: Training | None = None) -> Iterator[str]:
    """One CSV row per record: step, loss, parameters, then their gradients.

    The row holds only what the plain step computes (its loss, theta and
    gradient are the record's, bit for bit), so no record is built.  Numbers
    are written by orjson, as in the JSON trace: the shortest text that reads
    back to the same bits, 30× faster than ``repr``; a row with a non-finite
    number (the last of a diverged run) by ``repr``, since orjson writes those as null.
    """
    names = scenario.network().param_names
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(
        ["step", "loss", *names, *(f"d{n}" for n in names)]
    )
    yield out.getvalue()
    stepper = _forward_stepper(scenario, training)
    while True:
        yield _csv_row(stepper)
        if _stands(stepper, steps):
            return
        stepper.step_once()
        if stepper.halted is not None:
            return


def _csv_row(stepper: Stepper) -> str:
    """``step,loss,θ…,∂…`` of the stepper's current step, one line."""
    numbers = np.concatenate(([stepper.loss], stepper.theta, stepper.grad))
    if not np.isfinite(numbers).all():  # inf and nan: repr writes them readably
        return f"{stepper.step},{','.join(map(repr, numbers.tolist()))}\n"
    return f"{stepper.step},{_dump(numbers)[1:-1]}\n"
