"""What the edit dialog offers, read from a stepper, and where a saved scenario goes.

The dialog (:mod:`bptui.tui.screens.edit`) shows fields and their values;
this module reads them off the current run's stepper, so the screen never
touches the engine.  Values are written as Python writes a float
(``repr``): what the box shows is exactly the value, so leaving it as it is
changes nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bptui.engine.stepper import Stepper
from bptui.tui.screens.edit import Choice, EditChoices

#: The optimizer's settings, in the order the dialog lists them, with what uses each.
OPTIMIZER_SETTINGS: tuple[tuple[str, str], ...] = (
    ("momentum", "momentum (momentum, nesterov)"),
    ("beta1", "β1 (adam)"),
    ("beta2", "β2 (adam)"),
    ("alpha", "α smoothing (rmsprop)"),
    ("eps", "ε (rmsprop, adam)"),
    ("weight_decay", "weight decay (+ weight_decay·θ)"),
    ("l1", "L1 (+ l1·sign(θ))"),
)


def number_text(value: float) -> str:
    """A float as Python writes it: the shortest text that reads back as the same float."""
    return repr(float(value))


def point_name(kind: str, point: int, column: int, columns: int) -> str:
    """The engine's name of one data value: ``x[2]``, or ``x[2,0]`` with several columns.

    ``point`` and ``column`` count from 0, as the engine's arrays do; the
    dialog's labels count points from 1, as every pane does.
    """
    return f"{kind}[{point}]" if columns == 1 else f"{kind}[{point},{column}]"


def _data_choices(kind: str, values: Any, names: list[str]) -> tuple[Choice, ...]:
    """One field per point and column of x (or y), labelled the way the forward pane heads it."""
    rows, columns = values.shape
    return tuple(
        Choice(
            point_name(kind, i, j, columns),
            f"point {i + 1}: {names[j]}",
            number_text(values[i, j]),
        )
        for i in range(rows)
        for j in range(columns)
    )


def _optimizer_choices(stepper: Stepper) -> tuple[Choice, ...]:
    optimizer = getattr(stepper, "optimizer", None)
    if optimizer is None:
        return ()
    choices = [Choice("optimizer", "optimizer", str(optimizer.name))]
    for name, label in OPTIMIZER_SETTINGS:
        choices.append(Choice(name, label, number_text(getattr(optimizer, name))))
    return tuple(choices)


def edit_choices(stepper: Stepper, run_name: str = "", seed: int | None = None) -> EditChoices:
    """Every field the dialog can change, with the current run's values now.

    ``seed`` (the scenario's) offers a fork another random start.
    """
    net = stepper.network
    trainable = tuple(
        name for name in net.param_names if stepper.trainable_mask[net.param_index[name]]
    )
    params = tuple(
        Choice(
            name,
            name if name in trainable else f"{name} ❄",
            number_text(stepper.theta[net.param_index[name]]),
        )
        for name in net.param_names
    )
    outputs = net.node_names[-1]
    y_names = ["y"] if len(outputs) == 1 else [f"y{k + 1}" for k in range(len(outputs))]
    fields: dict[str, tuple[Choice, ...]] = {
        "learning_rate": (
            Choice("learning_rate", "learning rate α", number_text(stepper.learning_rate)),
        ),
        "param": params,
        "x": _data_choices("x", stepper.x, list(net.node_names[0])),
        "y": _data_choices("y", stepper.y, y_names),
        "trainable": (Choice("trainable", "trainable", ", ".join(trainable)),),
        "optimizer": _optimizer_choices(stepper),
    }
    if seed is not None:
        fields["seed"] = (Choice("seed", "seed", str(seed)),)
    return EditChoices(fields, trainable=trainable, step=stepper.step, run_name=run_name)


def save_path(scenario_path: Path | None, step: int) -> Path:
    """Where ctrl+s writes: beside the scenario file, or ./bptui-saved-<step>.toml for a built-in.

    Beside a file ``net.toml`` it is ``net-saved-<step>.toml``: the scenario
    itself is never overwritten.
    """
    if scenario_path is None:
        return Path.cwd() / f"bptui-saved-{step}.toml"
    return scenario_path.with_name(f"{scenario_path.stem}-saved-{step}.toml")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
