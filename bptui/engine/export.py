"""The JSON and CSV trace of SPEC §4: N steps, N+1 records."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import numpy as np

from bptui.engine.scenario import Scenario
from bptui.engine.stepper import Stepper
from bptui.engine.trace import StepRecord

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


def run_trace(scenario: Scenario, steps: int) -> tuple[list[StepRecord], int | None]:
    """Records 0…steps, stopping early at the first non-finite record."""
    stepper = Stepper(scenario)
    records = [stepper.record()]
    while stepper.step < steps and stepper.diverged is None:
        stepper.step_once()
        records.append(stepper.record())
    return records, stepper.diverged


def trace_json(scenario: Scenario, steps: int) -> str:
    """The trace document, one record per line so long traces stay greppable."""
    records, diverged = run_trace(scenario, steps)

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)

    body = ",\n  ".join(dump(record_to_dict(r)) for r in records)
    return (
        "{\n"
        f' "scenario": {dump(scenario.to_dict())},\n'
        f' "parameters": {dump(scenario.network().param_names)},\n'
        f' "diverged": {dump(diverged)},\n'
        f' "steps": [\n  {body}\n ]\n'
        "}\n"
    )


def trace_csv(scenario: Scenario, steps: int) -> str:
    records, _ = run_trace(scenario, steps)
    names = scenario.network().param_names
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "loss", *names, *(f"d{n}" for n in names)])
    for r in records:
        writer.writerow(
            [r.step, repr(r.loss), *map(repr, r.theta.tolist()), *map(repr, r.grad.tolist())]
        )
    return out.getvalue()
