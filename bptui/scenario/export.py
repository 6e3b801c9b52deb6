"""The JSON and CSV trace of SPEC §4: N steps, N+1 records."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper
from bptui.scenario.model import Scenario

Array = np.ndarray


def _clean(value: Any) -> Any:
    """JSON-safe numbers: non-finite values (only in a diverged record) become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _array(values: Array) -> Any:
    return _clean(values.tolist())


def record_to_dict(record: StepRecord) -> dict[str, Any]:
    """One trace record, exactly as SPEC §4 lays it out."""
    return {
        "step": record.step,
        "loss": _clean(record.loss),
        "params": {k: _clean(v) for k, v in record.params.items()},
        "grads": {k: _clean(v) for k, v in record.grads.items()},
        "nodes": {name: _array(values) for name, values in record.nodes.items()},
        "layers": [
            {"W": _array(L.W), "b": _array(L.b), "dW": _array(L.dW), "db": _array(L.db)}
            for L in record.layers
        ],
        "factors": {
            name: [
                {
                    "symbol": f.symbol,
                    "formula": f.formula,
                    "values": _array(f.values),
                    "reused": f.reused,
                    "first_use": f.first_use,
                }
                for f in factors
            ]
            for name, factors in record.factors.items()
        },
    }


def iter_records(scenario: Scenario, steps: int) -> Iterator[StepRecord]:
    """Records 0…steps one at a time, ending early at the first non-finite record.

    Records are built as they are written, so a long trace never holds more
    than one record in memory.
    """
    stepper = Stepper(scenario.training())
    yield stepper.record()
    while stepper.step < steps and stepper.diverged is None:
        stepper.step_once()
        yield stepper.record()


def divergence_step(scenario: Scenario, steps: int) -> int | None:
    """Where a run of ``steps`` steps diverges, found by the cheap plain step."""
    stepper = Stepper(scenario.training())
    if stepper.diverged is None and steps:
        stepper.run(steps)
    return stepper.diverged


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def trace_json(scenario: Scenario, steps: int) -> Iterator[str]:
    """The trace document in chunks, one record per line (greppable, streamable).

    ``diverged`` precedes ``steps`` as in SPEC §4, so a first pass with the
    plain step finds it before the records are built and written.
    """
    yield "{\n"
    yield f' "scenario": {_dump(scenario.to_dict())},\n'
    yield f' "parameters": {_dump(scenario.network().param_names)},\n'
    yield f' "diverged": {_dump(divergence_step(scenario, steps))},\n'
    yield ' "steps": [\n'
    for k, record in enumerate(iter_records(scenario, steps)):
        yield ("  " if k == 0 else ",\n  ") + _dump(record_to_dict(record))
    yield "\n ]\n}\n"


def trace_csv(scenario: Scenario, steps: int) -> Iterator[str]:
    """One CSV row per record: step, loss, parameters, then their gradients."""
    names = scenario.network().param_names
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "loss", *names, *(f"d{n}" for n in names)])
    for r in iter_records(scenario, steps):
        writer.writerow(
            [r.step, repr(r.loss), *map(repr, r.theta.tolist()), *map(repr, r.grad.tolist())]
        )
        yield out.getvalue()
        out.seek(0)
        out.truncate()
