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

from bptui.engine.optimizers import SETTINGS, number_text
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
