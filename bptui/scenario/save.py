"""A session as a scenario file: the scenario's start plus the edits made, replayable.

:func:`scenario_toml` writes the network, the training (its optimizer
included), the data, step 0's parameters as ``[[init.layers]]``, the events
applied so far as ``[[event]]`` tables and the watches.  Loading the file and
going to the session's step reproduces the session bit for bit: every value
is written as the shortest text that reads back as the same float.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from bptui.engine.optimizers import SETTINGS, Optimizer
from bptui.engine.stepper import Stepper
from bptui.engine.watches import Watch
from bptui.scenario import datasets
from bptui.scenario.model import Scenario

Array = np.ndarray


def _value(value: Any) -> str:
    """One TOML value: floats as Python's repr (exact), strings JSON-quoted (valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"cannot save the non-finite number {number!r}")
        return repr(number)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, np.ndarray):
        return _value(value.tolist())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} in a scenario file")


def _table(lines: list[str], header: str, values: dict[str, Any]) -> None:
    lines.append("")
    lines.append(header)
    lines.extend(f"{key} = {_value(v)}" for key, v in values.items() if v is not None)


def _data(scenario: Scenario) -> dict[str, Any]:
    """[data]: how generated points were made, else the points (test points put back)."""
    origin = scenario.data_origin
    if "generate" in origin:
        return dict(origin)
    x, y = scenario.x, scenario.y
    if scenario.x_test is None or scenario.y_test is None or "test_fraction" not in origin:
        return {"x": x, "y": y}
    # The split is chosen by seed among all points: write them all back in their places.
    n = x.shape[0] + scenario.x_test.shape[0]
    test = np.zeros(n, dtype=bool)
    test[datasets.held_out(n, origin["test_fraction"], origin["seed"])] = True
    all_x = np.empty((n, x.shape[1]))
    all_y = np.empty((n, y.shape[1]))
    all_x[~test], all_x[test] = x, scenario.x_test
    all_y[~test], all_y[test] = y, scenario.y_test
    return {
        "x": all_x,
        "y": all_y,
        "seed": origin["seed"],
        "test_fraction": origin["test_fraction"],
    }


def _training(scenario: Scenario) -> dict[str, Any]:
    training: dict[str, Any] = {
        "learning_rate": scenario.learning_rate,
        "seed": scenario.seed,
        "batch_size": scenario.batch_size,
        "trainable": list(scenario.trainable) if scenario.trainable is not None else None,
    }
    opt = scenario.optimizer
    if opt != Optimizer():
        training["optimizer"] = opt.name
        training.update({key: getattr(opt, key) for key in SETTINGS})
    return training


def _watch_table(watch: Watch) -> dict[str, Any]:
    fields = {f.name: getattr(watch, f.name) for f in dataclasses.fields(watch)}
    return {"kind": watch.kind, **fields}


def scenario_toml(
    scenario: Scenario, stepper: Stepper, watches: Sequence[Watch] | None = None
) -> str:
    """A scenario file that reproduces ``stepper``'s session (load it, go to its step).

    ``watches`` default to the scenario's; the TUI passes the ones it holds.
    """
    arch = scenario.arch
    net = stepper.network
    lines = [f"name = {_value(scenario.name)}"]
    lines.append(f"description = {_value(f'{scenario.name}, saved at step {stepper.step}')}")
    _table(
        lines,
        "[network]",
        {
            "layers": list(arch.layers),
            "activation": arch.activation,
            "output_activation": arch.output_activation,
            "loss": arch.loss,
            "node_names": list(arch.node_names) if arch.node_names is not None else None,
        },
    )
    _table(lines, "[training]", _training(scenario))
    _table(lines, "[data]", _data(scenario))
    for W, b in net.views(stepper.initial):
        _table(lines, "[[init.layers]]", {"W": W, "b": b})
    for event in stepper.applied_events:
        values = {"step": event.step, "kind": event.kind, "name": event.name, "new": event.new}
        _table(lines, "[[event]]", values)
    for watch in scenario.watches if watches is None else watches:
        _table(lines, "[[watch]]", _watch_table(watch))
    return "\n".join(lines) + "\n"
