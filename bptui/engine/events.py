"""Edits as events: a change made during a run is a dated entry in its history.

An :class:`Event` of step k is applied before update k + 1, so a run is its
scenario plus its events, and replaying both reproduces it bit for bit.
Here live what an edit may name and how a value is checked; the stepper
applies them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.network import Network
from bptui.engine.optimizers import SETTINGS, number_text, setting_problem
from bptui.errors import BadInput

#: Every kind of edit, in the order the docs list them.
KINDS = ("learning_rate", "param", "x", "y", "trainable", "optimizer")

#: The names an "optimizer" event may carry.
OPTIMIZER_FIELDS = ("optimizer", *SETTINGS)

_POINT = re.compile(r"^([xy])\[(\d+)(?:,\s*(\d+))?\]$")


class EditError(BadInput):
    """An edit bptui refuses; the message names the field and the problem, nothing changed."""


@dataclass(frozen=True)
class Event:
    """One edit at one step: ``old`` and ``new`` are plain JSON values."""

    step: int
    kind: str
    name: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        """The event as the trace writes it."""
        return {
            "step": self.step,
            "kind": self.kind,
            "name": self.name,
            "old": self.old,
            "new": self.new,
        }


def finite_number(field: str, value: Any, what: str = "a finite number") -> float:
    """``value`` as a float, or an EditError naming ``field`` (text, bool, inf and nan refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EditError(f"{field} must be {what}, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise EditError(f"{field} must be {what}, got a number too large") from None
    if not math.isfinite(number):
        raise EditError(f"{field} must be {what}, got {number_text(number)}")
    return number


def point_of(name: str, kind: str, shape: tuple[int, int]) -> tuple[int, int]:
    """(point, column) of ``x[2]`` or ``x[2,0]`` in data of ``shape``; EditError when out of range."""
    match = _POINT.match(name)
    if match is None or match.group(1) != kind:
        raise EditError(
            f"{name!r} is not a data value name: write {kind}[point] or {kind}[point,column]"
        )
    point = int(match.group(2))
    rows, columns = shape
    if match.group(3) is None:
        if columns != 1:
            raise EditError(f"{name}: {kind} has {columns} columns, write {kind}[{point},column]")
        column = 0
    else:
        column = int(match.group(3))
    if point >= rows:
        raise EditError(f"{name}: there are {rows} points (0…{rows - 1})")
    if column >= columns:
        raise EditError(f"{name}: {kind} has {columns} columns (0…{columns - 1})")
    return point, column


def checked_value(
    kind: str, name: str, new: Any, network: Network, x: np.ndarray, y: np.ndarray
) -> Any:
    """``new`` as an event of ``kind`` on ``name`` stores it, or EditError saying what is wrong.

    One check for live edits and a file's ``[[event]]`` tables; ``x`` and
    ``y`` are the data the event would change (a ``y`` must stay a target
    the loss can take).
    """
    if kind == "learning_rate":
        what = "a positive finite number"
        rate = finite_number("learning_rate", new, what)
        if rate <= 0:
            raise EditError(f"learning_rate must be {what}, got {number_text(rate)}")
        return rate
    if kind == "param":
        if name not in network.param_index:
            known = ", ".join(network.param_names[:12])
            more = "…" if len(network.param_names) > 12 else ""
            raise EditError(f"no parameter named {name!r} (this network has {known}{more})")
        return finite_number(name, new)
    if kind in ("x", "y"):
        return _data_value(kind, name, new, network, x if kind == "x" else y)
    if kind == "trainable":
        return _trainable_value(new, network)
    if kind == "optimizer":
        if name not in OPTIMIZER_FIELDS:
            raise EditError(
                f"{name!r} is not an optimizer setting (one of {', '.join(OPTIMIZER_FIELDS)})"
            )
        problem = setting_problem(name, new)
        if problem:
            raise EditError(f"{name} {problem}")
        return new if name == "optimizer" else float(new)
    raise EditError(f"unknown edit kind {kind!r} (one of {', '.join(KINDS)})")


def _data_value(kind: str, name: str, new: Any, network: Network, data: np.ndarray) -> float:
    point = point_of(name, kind, data.shape)
    value = finite_number(name, new)
    if kind == "y":
        loss = fn.LOSSES[network.arch.loss]
        candidate = data.copy()
        candidate[point] = value
        if loss.bad_target(candidate) is not None:
            shown = number_text(value)
            if loss.name == "bce":
                raise EditError(f"{name} = {shown} is outside [0, 1], which bce needs")
            raise EditError(f"{name} = {shown}: {loss.name} targets must {loss.target_rule}")
    return value


def _trainable_value(new: Any, network: Network) -> list[str]:
    if not isinstance(new, (list, tuple)) or any(not isinstance(v, str) for v in new):
        raise EditError(f"trainable must be a list of parameter names, got {new!r}")
    for v in new:
        if v not in network.param_index:
            raise EditError(f"trainable: no parameter named {v!r}")
    if len(set(new)) != len(new):
        raise EditError("trainable: a parameter is listed twice")
    chosen = set(new)
    return [n for n in network.param_names if n in chosen]
