"""Watches: conditional breakpoints for a training run.

A watch is checked by :meth:`Stepper.run` after every step with
``(stepper, loss, grad)``; it returns ``None`` to carry on or a reason — one
sentence naming the watch and the numbers that fired it — to stop the run on
that very step.  Watches come from ``[[watch]]`` tables of a scenario file or
from the TUI's watches screen, and both go through :func:`make_watch`, so the
file format and the form accept exactly the same things.

The ``[[watch]]`` format (every table has ``kind``; indexes in errors are 0-based)::

    [[watch]]
    kind = "loss_rises"                  # the loss went up on this step
    [[watch]]
    kind = "grad_above"                  # exploding: some |∂Loss/∂θ| > value
    value = 100.0
    param = "w1"                         # optional: only this parameter
    [[watch]]
    kind = "grad_below"                  # vanishing: every |∂Loss/∂θ| < value
    value = 1e-8                         #   (trainable parameters only)
    param = "w1"                         # optional
    [[watch]]
    kind = "nonfinite"                   # loss or a gradient became inf / nan
    [[watch]]
    kind = "at_step"                     # stop when step N is reached
    step = 50
    [[watch]]
    kind = "param_crosses"               # w1 passed through value (either way)
    param = "w1"
    value = 0.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bptui.engine.scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    from bptui.engine.stepper import Stepper

Array = np.ndarray


def _g(value: float) -> str:
    return f"{value:.6g}"


@dataclass(frozen=True)
class Watch:
    """Base of every watch: a kind, a description and a check."""

    @property
    def kind(self) -> str:
        raise NotImplementedError

    @property
    def description(self) -> str:
        raise NotImplementedError

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        raise NotImplementedError

    def __call__(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        reason = self.check(stepper, loss, grad)
        return None if reason is None else f"watch {self.description}: {reason}"

    def to_dict(self) -> dict[str, Any]:
        """The ``[[watch]]`` table that makes this watch again."""
        fields = {k: v for k, v in vars(self).items() if v is not None}
        return {"kind": self.kind, **fields}


@dataclass(frozen=True)
class LossRises(Watch):
    kind = "loss_rises"  # type: ignore[assignment]

    @property
    def description(self) -> str:
        return "loss rises"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        if stepper.step == 0:
            return None
        before = float(stepper.loss_history[stepper.step - 1])
        if loss > before:
            return f"loss went up {_g(before)} → {_g(loss)} on step {stepper.step}"
        return None


@dataclass(frozen=True)
class _GradBound(Watch):
    """A bound on the largest |∂Loss/∂θ| of the trainable parameters (or of ``param``)."""

    value: float
    param: str | None = None

    def largest(self, stepper: Stepper, grad: Array) -> tuple[str, float] | None:
        net = stepper.network
        if self.param is not None:
            return self.param, abs(float(grad[net.param_index[self.param]]))
        sizes = [
            (name, abs(g))
            for name, g, trains in zip(net.param_names, grad.tolist(), stepper.trainable_mask)
            if trains
        ]
        return max(sizes, key=lambda s: s[1]) if sizes else None

    def what(self, every: str) -> str:
        return f"|∂Loss/∂{self.param}|" if self.param else every


@dataclass(frozen=True)
class GradAbove(_GradBound):
    """Exploding: some trainable |∂Loss/∂θ| (or the one of ``param``) above value."""

    kind = "grad_above"  # type: ignore[assignment]

    @property
    def description(self) -> str:
        return f"{self.what('|gradient|')} > {_g(self.value)}"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        largest = self.largest(stepper, grad)
        if largest is None or not largest[1] > self.value:
            return None
        name, size = largest
        return f"|∂Loss/∂{name}| = {_g(size)} exploded past {_g(self.value)} on step {stepper.step}"


@dataclass(frozen=True)
class GradBelow(_GradBound):
    """Vanishing: every trainable |∂Loss/∂θ| (or the one of ``param``) below value.

    Every, not any: single components pass through 0 all the time while
    training goes well; a gradient has vanished when all of it is tiny.
    """

    kind = "grad_below"  # type: ignore[assignment]

    @property
    def description(self) -> str:
        return f"{self.what('every |gradient|')} < {_g(self.value)}"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        largest = self.largest(stepper, grad)
        if largest is None or not largest[1] < self.value:
            return None
        name, size = largest
        what = self.what(f"the largest |gradient| (∂Loss/∂{name})")
        return f"{what} = {_g(size)} vanished below {_g(self.value)} on step {stepper.step}"


@dataclass(frozen=True)
class NonFinite(Watch):
    kind = "nonfinite"  # type: ignore[assignment]

    @property
    def description(self) -> str:
        return "non-finite value"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        if not math.isfinite(loss):
            return f"the loss is {loss} on step {stepper.step}"
        bad = [
            n for n, g in zip(stepper.network.param_names, grad.tolist()) if not math.isfinite(g)
        ]
        if bad:
            return f"∂Loss/∂{bad[0]} is {grad[stepper.network.param_index[bad[0]]]} on step {stepper.step}"
        bad = [
            n
            for n, t in zip(stepper.network.param_names, stepper.theta.tolist())
            if not math.isfinite(t)
        ]
        if bad:
            return f"{bad[0]} is {stepper.theta[stepper.network.param_index[bad[0]]]} on step {stepper.step}"
        return None


@dataclass(frozen=True)
class AtStep(Watch):
    step: int
    kind = "at_step"  # type: ignore[assignment]

    @property
    def description(self) -> str:
        return f"at step {self.step}"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        if stepper.step == self.step:
            return f"reached step {self.step} (loss {_g(loss)})"
        return None


@dataclass(frozen=True)
class ParamCrosses(Watch):
    param: str
    value: float
    kind = "param_crosses"  # type: ignore[assignment]

    @property
    def description(self) -> str:
        return f"{self.param} crosses {_g(self.value)}"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        if stepper.previous_theta is None:
            return None
        k = stepper.network.param_index[self.param]
        before, after = float(stepper.previous_theta[k]), float(stepper.theta[k])
        if (before - self.value) * (after - self.value) < 0 or (
            after == self.value and before != self.value
        ):
            return f"{self.param} went {_g(before)} → {_g(after)} on step {stepper.step}"
        return None


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


def make_watch(table: Mapping[str, Any], param_names: Sequence[str], key: str = "watch") -> Watch:
    """One watch from a ``[[watch]]`` table; errors name ``key`` and the field."""
    if not isinstance(table, Mapping):
        raise ScenarioError(f"{key}: must be a table with a kind")
    kind = table.get("kind")
    if kind is None:
        raise ScenarioError(f"{key}.kind: missing (one of {', '.join(KINDS)})")
    if kind not in KINDS:
        raise ScenarioError(f"{key}.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    cls, required, optional = KINDS[kind]
    allowed = ("kind", *required, *optional)
    for k in table:
        if k not in allowed:
            expected = ", ".join(allowed)
            raise ScenarioError(f"{key}.{k}: unknown key for kind {kind!r} (expected {expected})")
    for k in required:
        if k not in table:
            raise ScenarioError(f"{key}.{k}: missing (kind {kind!r} needs {', '.join(required)})")
    args: dict[str, Any] = {}
    for k in (*required, *optional):
        if k not in table:
            continue
        value = table[k]
        where = f"{key}.{k}"
        if k == "value":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ScenarioError(f"{where}: must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ScenarioError(f"{where}: must be finite, got {value!r}")
            if kind in ("grad_above", "grad_below") and value <= 0:
                raise ScenarioError(f"{where}: a gradient bound must be positive, got {value!r}")
            args[k] = float(value)
        elif k == "step":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ScenarioError(f"{where}: must be a whole number of at least 1, got {value!r}")
            args[k] = value
        elif k == "param":
            if value not in param_names:
                raise ScenarioError(
                    f"{where}: no parameter named {value!r} (this network has "
                    f"{', '.join(param_names)})"
                )
            args[k] = value
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


def watches_of(scenario: Scenario) -> list[Watch]:
    """The scenario file's watches, ready for ``stepper.watches``."""
    return parse_watches(scenario.watches, scenario.network().param_names, scenario.source)
