"""Watches: conditional breakpoints for a training run, as plain objects.

A watch is called after every step of a run with ``(stepper, loss, grad)``;
it returns ``None`` to carry on or a reason — one sentence naming the watch
and the numbers that fired it — to stop the run on that very step.
:func:`stop_on` turns a list of watches into the ``stop`` argument of
:meth:`Stepper.run`.  Reading them from ``[[watch]]`` tables is the scenario
layer's job (:mod:`bptui.scenario.watches`).

The kinds, as a ``[[watch]]`` table writes them::

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from bptui.engine.stepper import Stepper, StopCheck

Array = np.ndarray


def _g(value: float) -> str:
    return f"{value:.6g}"


@dataclass(frozen=True)
class Watch:
    """Base of every watch: a kind, a description and a check."""

    #: The ``kind`` of the ``[[watch]]`` table that makes this watch.
    kind: ClassVar[str] = ""
    #: The description, filled in from the watch's fields: "at step {step}".
    description_format: ClassVar[str] = ""

    @property
    def description(self) -> str:
        """The watch in a few words, as a stop reason starts: "watch <description>: …"."""
        return self.description_format.format(**vars(self))

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
    """The loss went up on this step."""

    kind = "loss_rises"
    description_format = "loss rises"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        if stepper.step == 0:
            return None
        before = float(stepper.loss_history[stepper.step - 1])
        if loss > before:
            return f"loss went up {_g(before)} → {_g(loss)} on step {stepper.step}"
        return None


@dataclass(frozen=True)
class GradBound(Watch):
    """A bound on the largest |∂Loss/∂θ| of the trainable parameters (or of ``param``).

    A subclass says which side of the bound fires (:meth:`beyond`) and how
    its description and reason read.
    """

    value: float
    param: str | None = None
    #: The description's comparison and what it compares without ``param``.
    symbol: ClassVar[str] = ""
    every: ClassVar[str] = ""
    #: What happened to the gradient, as the reason says it.
    verb: ClassVar[str] = ""

    @property
    def description(self) -> str:
        return f"{self.what(self.every)} {self.symbol} {_g(self.value)}"

    def beyond(self, size: float) -> bool:
        raise NotImplementedError

    def culprit(self, name: str) -> str:
        """The gradient the reason names, ``name`` being the parameter of the largest."""
        raise NotImplementedError

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        largest = self.largest(stepper, grad)
        if largest is None or not self.beyond(largest[1]):
            return None
        name, size = largest
        return (
            f"{self.culprit(name)} = {_g(size)} {self.verb} {_g(self.value)} on step {stepper.step}"
        )

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
class GradAbove(GradBound):
    """Exploding: some trainable |∂Loss/∂θ| (or the one of ``param``) above value."""

    kind = "grad_above"
    symbol = ">"
    every = "|gradient|"
    verb = "exploded past"

    def beyond(self, size: float) -> bool:
        return size > self.value

    def culprit(self, name: str) -> str:
        return f"|∂Loss/∂{name}|"


@dataclass(frozen=True)
class GradBelow(GradBound):
    """Vanishing: every trainable |∂Loss/∂θ| (or the one of ``param``) below value.

    Every, not any: single components pass through 0 all the time while
    training goes well; a gradient has vanished when all of it is tiny.
    """

    kind = "grad_below"
    symbol = "<"
    every = "every |gradient|"
    verb = "vanished below"

    def beyond(self, size: float) -> bool:
        return size < self.value

    def culprit(self, name: str) -> str:
        return self.what(f"the largest |gradient| (∂Loss/∂{name})")


@dataclass(frozen=True)
class NonFinite(Watch):
    """The loss, a gradient or a parameter became inf or nan."""

    kind = "nonfinite"
    description_format = "non-finite value"

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
    """Stop when step ``step`` is reached."""

    step: int
    kind = "at_step"
    description_format = "at step {step}"

    def check(self, stepper: Stepper, loss: float, grad: Array) -> str | None:
        if stepper.step == self.step:
            return f"reached step {self.step} (loss {_g(loss)})"
        return None


@dataclass(frozen=True)
class ParamCrosses(Watch):
    """Parameter ``param`` passed through ``value`` (either way) on this step."""

    param: str
    value: float
    kind = "param_crosses"
    description_format = "{param} crosses {value:.6g}"

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


def stop_on(watches: Sequence[Watch]) -> StopCheck | None:
    """The first watch that fires stops the run (None: nothing to watch)."""
    if not watches:
        return None
    held = tuple(watches)

    def first_reason(stepper: Stepper, loss: float, grad: Array) -> str | None:
        for watch in held:
            reason = watch(stepper, loss, grad)
            if reason:
                return reason
        return None

    return first_reason
