"""``[[watch]]`` tables: read and validate watches for the engine.

The scenario file's tables and the TUI's watch form both go through
:func:`make_watch`, so the file format and the form accept exactly the same
things.  Indexes in errors are 0-based, as in ``watch[0].value``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bptui.engine.watches import (
    AtStep,
    GradAbove,
    GradBelow,
    GradBound,
    LossRises,
    NonFinite,
    ParamCrosses,
    Watch,
)
from bptui.errors import ScenarioError

#: kind → (class, required keys, optional keys)
KINDS: dict[str, tuple[type[Watch], tuple[str, ...], tuple[str, ...]]] = {
    "loss_rises": (LossRises, (), ()),
    "grad_above": (GradAbove, ("value",), ("param",)),
    "grad_below": (GradBelow, ("value",), ("param",)),
    "nonfinite": (NonFinite, (), ()),
    "at_step": (AtStep, ("step",), ()),
    "param_crosses": (ParamCrosses, ("param", "value"), ()),
}

#: What each kind means, for the TUI's form and the docs.
KIND_HELP: dict[str, str] = {
    "loss_rises": "stop when the loss goes up",
    "grad_above": "stop when some |gradient| exceeds value (exploding)",
    "grad_below": "stop when every |gradient| falls below value (vanishing)",
    "nonfinite": "stop when the loss or a gradient becomes inf / nan",
    "at_step": "stop at step N",
    "param_crosses": "stop when parameter passes through value",
}


def _number(value: Any, where: str, cls: type[Watch], param_names: Sequence[str]) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where}: must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ScenarioError(f"{where}: must be finite, got {value!r}")
    if issubclass(cls, GradBound) and value <= 0:
        raise ScenarioError(f"{where}: a gradient bound must be positive, got {value!r}")
    return float(value)


def _step(value: Any, where: str, cls: type[Watch], param_names: Sequence[str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(f"{where}: must be a whole number of at least 1, got {value!r}")
    return value


def _param(value: Any, where: str, cls: type[Watch], param_names: Sequence[str]) -> str:
    if value not in param_names:
        raise ScenarioError(
            f"{where}: no parameter named {value!r} (this network has {', '.join(param_names)})"
        )
    return value


#: key → its check: (value, "watch[i].key", watch class, parameter names) → the value to use.
FIELDS: dict[str, Callable[[Any, str, type[Watch], Sequence[str]], Any]] = {
    "value": _number,
    "step": _step,
    "param": _param,
}


def _kind(table: Mapping[str, Any], key: str) -> str:
    """The table's kind, checked against :data:`KINDS`."""
    if not isinstance(table, Mapping):
        raise ScenarioError(f"{key}: must be a table with a kind")
    kind = table.get("kind")
    if kind is None:
        raise ScenarioError(f"{key}.kind: missing (one of {', '.join(KINDS)})")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ScenarioError(f"{key}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def make_watch(table: Mapping[str, Any], param_names: Sequence[str], key: str = "watch") -> Watch:
    """One watch from a ``[[watch]]`` table; errors name ``key`` and the field."""
    kind = _kind(table, key)
    cls, required, optional = KINDS[kind]
    allowed = ("kind", *required, *optional)
    for k in table:
        if k not in allowed:
            expected = ", ".join(allowed)
            raise ScenarioError(f"{key}.{k}: unknown key for kind {kind!r} (expected {expected})")
    for k in required:
        if k not in table:
            raise ScenarioError(f"{key}.{k}: missing (kind {kind!r} needs {', '.join(required)})")
    args = {
        k: FIELDS[k](table[k], f"{key}.{k}", cls, param_names)
        for k in (*required, *optional)
        if k in table
    }
    return cls(**args)


def parse_watches(
    tables: Sequence[Mapping[str, Any]], param_names: Sequence[str], where: str = ""
) -> list[Watch]:
    """Validate ``[[watch]]`` tables; errors read ``FILE: watch[i].key: problem``."""
    prefix = f"{where}: " if where else ""
    watches = []
    for i, table in enumerate(tables):
        try:
            watches.append(make_watch(table, param_names, f"watch[{i}]"))
        except ScenarioError as e:
            raise ScenarioError(f"{prefix}{e}") from None
    return watches
