"""Gradient descent as a walk through phases, with cheap time travel.

A step is: update, forward layer by layer, loss, backward layer by layer
(output first).  The resting state of step N ("done") has everything of
record N computed; ``next_phase`` walks into step N+1 one phase at a time.

History keeps a parameter checkpoint every ``CHECKPOINT_EVERY`` steps plus the
loss of every step; any earlier state is rebuilt by replaying from the nearest
checkpoint, which is bit-for-bit deterministic.  A million steps of the article
net cost a few megabytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np

from bptui.engine.compiled import CompiledStep, compilable
from bptui.engine.fast import FastStep, all_finite
from bptui.engine.network import Network
from bptui.engine.record import StepRecord, record_from_values

Array = np.ndarray

CHECKPOINT_EVERY = 64

P = ParamSpec("P")
R = TypeVar("R")


def _quiet(operation: Callable[P, R]) -> Callable[P, R]:
    """Run a public operation with numpy's float warnings off.

    A diverging run must be *shown* (inf and nan in the panes), not crash or
    warn; the finite check after every step is what notices divergence.
    Internal helpers assume their caller holds this state.
    """

    @functools.wraps(operation)
    def quietly(*args: P.args, **kwargs: P.kwargs) -> R:
        with np.errstate(all="ignore"):
            return operation(*args, **kwargs)

    return quietly


@dataclass(frozen=True)
class Phase:
    """One phase of a step: kind is update, forward, loss or backward."""

    kind: str
    layer: int = 0

    @property
    def label(self) -> str:
        if self.kind in ("forward", "backward"):
            return f"{self.kind} layer {self.layer}"
        return self.kind


def phases_for(depth: int) -> list[Phase]:
    """The phases of one step of a ``depth``-layer network, in the order they run."""
    return (
        [Phase("update")]
        + [Phase("forward", l) for l in range(1, depth + 1)]
        + [Phase("loss")]
        + [Phase("backward", l) for l in range(depth, 0, -1)]
    )


@dataclass(frozen=True)
class PhaseWalk:
    """How far the walk through one step has got, in the engine's phase order.

    ``index`` is the phase just computed; at the last phase every value of the
    record is computed ("done").  Callers ask :meth:`computed` (or its
    forward / loss / backward shorthands) rather than compare indexes, so the
    phase order is known here only.
    """

    phases: tuple[Phase, ...]
    index: int

    @classmethod
    def at(cls, depth: int, index: int | None = None) -> PhaseWalk:
        """The walk of a ``depth``-layer step after phase ``index`` (None: done)."""
        phases = tuple(phases_for(depth))
        return cls(phases, len(phases) - 1 if index is None else index)

    @property
    def phase(self) -> Phase:
        """The phase just computed."""
        return self.phases[self.index]

    @property
    def done(self) -> bool:
        return self.index == len(self.phases) - 1

    def position(self, phase: Phase) -> int:
        """Where ``phase`` runs in the step (0 = update); ValueError if it never does."""
        try:
            return self.phases.index(phase)
        except ValueError:
            raise ValueError(f"a step has no phase {phase.label!r}") from None

    def computed(self, phase: Phase) -> bool:
        """Has ``phase`` of the current step been computed yet?"""
        return self.position(phase) <= self.index  # done is the last index

    def forward_computed(self, layer: int) -> bool:
        """Are the values of layer ``layer`` computed (1-based; 0, the inputs, always are)?"""
        return layer == 0 or self.computed(Phase("forward", layer))

    @property
    def loss_computed(self) -> bool:
        return self.computed(Phase("loss"))

    def backward_computed(self, layer: int) -> bool:
        """Are the gradients of layer ``layer``'s parameters computed?"""
        return self.computed(Phase("backward", layer))


class DivergedError(RuntimeError):
    """Raised when stepping is asked of a diverged state."""


class _GrowingArray:
    """An append-only float64 table that doubles its capacity."""

    def __init__(self, width: int) -> None:
        self.data = np.empty((64, width)) if width else np.empty(64)
        self.size = 0

    def append(self, row: Array | float) -> None:
        if self.size == len(self.data):
            self.data = np.concatenate([self.data, np.empty_like(self.data)])
        self.data[self.size] = row
        self.size += 1

    def truncate(self, size: int) -> None:
        self.size = min(self.size, size)

    def view(self) -> Array:
        return self.data[: self.size]


#: A stop condition gets (stepper, loss, grad) after each step of a run and
#: returns None to carry on or a reason (one sentence) to stop on that step.
StopCheck = Callable[["Stepper", float, Array], "str | None"]


@dataclass(frozen=True)
class Training:
    """What to train and how: a network, its data, its start and its descent.

    Plain values only, so the engine needs no file format: the scenario layer
    builds one of these from a TOML file, a test builds one by hand.
    """

    network: Network
    x: Array
    y: Array
    initial: Array
    learning_rate: float
    batch_size: int = 0
    trainable: tuple[str, ...] | None = None
    #: Held-out points: never descended, their loss is tracked beside the training loss.
    x_test: Array | None = None
    y_test: Array | None = None


class Stepper:
    """Owns the parameters of one training and moves them through time."""

    def __init__(self, training: Training) -> None:
        self.training = training
        self.network: Network = training.network
        self.phases = phases_for(self.network.depth)
        self._phase_order = tuple(self.phases)
        self.x = training.x
        self.y = training.y
        self.learning_rate = training.learning_rate
        n = self.x.shape[0]
        size = training.batch_size
        if size and size < n:
            self.batches = [np.arange(s, min(s + size, n)) for s in range(0, n, size)]
        else:
            self.batches = [np.arange(n)]
        self.batch_data = [(self.x[b], self.y[b]) for b in self.batches]
        # Small nets step as generated scalar Python, larger ones as numpy;
        # one choice for run, replay and records alike, so time travel is exact.
        compiled = compilable(self.network, n)
        self.fast: FastStep | CompiledStep = (
            CompiledStep(self.network) if compiled else FastStep(self.network)
        )
        self._fresh = False  # did the last step run at self.theta, into self.grad?
        mask = np.ones(self.network.size)
        if training.trainable is not None:
            mask[:] = 0.0
            for name in training.trainable:
                mask[self.network.param_index[name]] = 1.0
        self.trainable_mask = mask
        self._scale = self.learning_rate * mask
        self.initial = training.initial.copy()
        self.stop_reason: str | None = None
        self.reset()

    # ------------------------------------------------------------ state
    @_quiet
    def reset(self) -> None:
        """Back to step 0, every phase of record 0 computed."""
        self.theta = self.initial.copy()
        self.grad = np.zeros(self.network.size)
        self.step = 0
        self._rest()
        self.previous_theta: Array | None = None
        self.checkpoints = _GrowingArray(self.network.size)
        self.checkpoints.append(self.theta)
        self.losses = _GrowingArray(0)
        self.diverged: int | None = None
        self.stop_reason = None
        self._record: StepRecord | None = None
        loss = self._loss_and_grad(self.theta, 0)
        self.losses.append(loss)
        self._check_finite(loss)

    def _rest(self) -> None:
        """Every phase of the current record computed, reached by a whole move."""
        self.phase_index = len(self.phases) - 1
        self.walked = False

    @property
    def phase(self) -> Phase:
        return self.phases[self.phase_index]

    @property
    def walk(self) -> PhaseWalk:
        """Where the current step's phase walk stands (immutable, for a view)."""
        return PhaseWalk(self._phase_order, self.phase_index)

    @property
    def done(self) -> bool:
        """True when every phase of the current record has been computed."""
        return self.phase_index == len(self.phases) - 1

    @property
    def loss(self) -> float:
        return float(self.losses.data[self.step])

    @property
    def loss_history(self) -> Array:
        return self.losses.view()

    @property
    def can_step(self) -> bool:
        """Step or walk on: always, except past a fully shown diverged step.

        A walk that ran into a divergence may still finish its phases, so the
        non-finite forward, loss and backward of that step can be seen.
        """
        return self.diverged is None or not self.done

    def batch_for(self, step: int) -> Array:
        """Points whose loss the update after record ``step`` descends."""
        return self.batches[step % len(self.batches)]

    def record(self) -> StepRecord:
        """The full record of the current step (cached until the state moves)."""
        if self._record is None:
            batch = self.batch_for(self.step)
            values = self.fast.record_values(
                self.theta, self.x, self.y, batch, self.grad, self._fresh
            )
            self._record = record_from_values(
                self.network, self.theta, self.x, self.y, batch, self.step, values
            )
        return self._record

    @_quiet
    def theta_at(self, step: int) -> Array:
        if not 0 <= step < self.losses.size:
            raise IndexError(f"step {step} has not been reached (0…{self.losses.size - 1})")
        if step == self.step:
            return self.theta.copy()
        base = step // CHECKPOINT_EVERY
        theta = self.checkpoints.data[base].copy()
        grad = np.zeros_like(theta)
        for s in range(base * CHECKPOINT_EVERY, step):
            self._descend(theta, grad, s)
        return theta

    # --------------------------------------------------------- the math
    def _loss_and_grad(self, theta: Array, step: int) -> float:
        """Loss of all points, gradient of step's batch into ``self.grad``."""
        xb, yb = self.batch_data[step % len(self.batch_data)]
        loss = self.fast.loss_and_grad(theta, xb, yb, self.grad)
        if len(self.batch_data) > 1:
            loss = self.fast.loss_value(theta, self.x, self.y)
        self._fresh = True
        return loss

    def _descend(self, theta: Array, grad: Array, step: int) -> None:
        """θ ← θ − α·∂Loss/∂θ for the batch of ``step`` (replay path)."""
        xb, yb = self.batch_data[step % len(self.batch_data)]
        self._fresh = False  # the step's kept arrays are now those of a replayed theta
        self.fast.loss_and_grad(theta, xb, yb, grad)
        theta -= self._scale * grad

    def _check_finite(self, loss: float) -> bool:
        """False (and mark the step diverged) when the loss or a gradient is not finite."""
        if all_finite(loss, self.grad):
            return True
        self.diverged = self.step
        return False

    def _advance(self) -> float:
        """Apply one update and compute the new loss and gradient."""
        self.previous_theta = self.theta.copy()
        self.theta -= self._scale * self.grad
        self.step += 1
        if self.step % CHECKPOINT_EVERY == 0:
            self.checkpoints.truncate(self.step // CHECKPOINT_EVERY)
            self.checkpoints.append(self.theta)
        self.losses.truncate(self.step)
        loss = self._loss_and_grad(self.theta, self.step)
        self.losses.append(loss)
        self._record = None
        return loss

    # ------------------------------------------------------- operations
    def _require_steppable(self) -> None:
        if self.diverged is not None:
            raise DivergedError(f"diverged at step {self.diverged}: go back (b) or reset (R) first")

    @_quiet
    def next_phase(self) -> Phase:
        """Compute one more phase; from "done" this applies the next update."""
        if self.done:
            self._require_steppable()
        self.walked = True
        if self.done:
            loss = self._advance()
            self.phase_index = 0
            self._check_finite(loss)
        else:
            self.phase_index += 1
        return self.phase

    @_quiet
    def step_once(self) -> None:
        """One whole step; from a partial step, finish it instead."""
        if self.done:
            self._require_steppable()
            self._check_finite(self._advance())
        self._rest()

    @_quiet
    def run(self, count: int, stop: StopCheck | None = None) -> int:
        """Up to ``count`` whole steps; stops on divergence or when ``stop`` gives a reason.

        Returns how many steps were taken; the reason, if any, is
        ``stop_reason``.  This is the flat-out path: no record is built and
        numpy's error state is set once for the batch.
        """
        self._require_steppable()
        self.stop_reason = None
        if not self.done:
            self._rest()
        taken = 0
        fused = stop is None and isinstance(self.fast, CompiledStep) and len(self.batches) == 1
        while taken < count:
            if fused and count - taken > 1:
                done, finite = self._run_generated(count - taken - 1)
                taken += done
                if not finite:
                    break
                continue
            loss = self._advance()
            taken += 1
            finite = self._check_finite(loss)
            # The diverged step is asked too, so a non-finite watch can name it.
            if stop is not None:
                self.stop_reason = stop(self, loss, self.grad)
                if self.stop_reason:
                    break
            if not finite:
                break
        self._rest()
        return taken

    def _run_generated(self, count: int) -> tuple[int, bool]:
        """``count`` steps in one call of the generated code; (steps taken, all finite).

        The same lines as ``count`` calls of :meth:`_advance`, so the same bits,
        without numpy between steps.  The last step of a run always goes
        through :meth:`_advance`, which keeps ``previous_theta``.
        """
        fast: CompiledStep = self.fast  # type: ignore[assignment]
        x, y = self.batch_data[0]
        losses, checkpoints, theta, grad, finite = fast.run_steps(
            self.theta.tolist(),
            self.grad.tolist(),
            self._scale.tolist(),
            fast.rows(x, y),
            y.size,
            y.shape[0],
            count,
            CHECKPOINT_EVERY,
            self.step,
        )
        start = self.step
        self.losses.truncate(start + 1)
        for loss in losses:
            self.losses.append(loss)
        first = start // CHECKPOINT_EVERY + 1  # the first checkpoint these steps reach
        if checkpoints:
            self.checkpoints.truncate(first)
            for theta_k in checkpoints:
                self.checkpoints.append(np.array(theta_k))
        self.step = start + len(losses)
        self.theta[:] = theta
        self.grad[:] = grad
        self._record = None
        self._fresh = False
        if not finite:
            self.diverged = self.step
            self.previous_theta = self.theta_at(self.step - 1)
        return len(losses), finite

    @_quiet
    def goto(self, step: int, stop: StopCheck | None = None) -> None:
        """Go to step ``step``: back in history, or forward by running."""
        if step < 0:
            raise ValueError("step must be 0 or more")
        if step <= self.losses.size - 1 and step <= self.step:
            self._jump_back(step)
        elif step > self.step:
            if self.diverged is not None:
                raise DivergedError(f"diverged at step {self.diverged}: cannot go past it")
            self.run(step - self.step, stop)
        self._rest()

    @_quiet
    def back(self) -> bool:
        """One step back (from a partial step: back to the step it started from)."""
        if self.step == 0:
            return False  # step 0 is always done: a walk begins with update 1
        self._jump_back(self.step - 1)
        return True

    def _jump_back(self, step: int) -> None:
        self.theta = self.theta_at(step)
        self.step = step
        self.losses.truncate(step + 1)
        self.checkpoints.truncate(step // CHECKPOINT_EVERY + 1)
        self.previous_theta = self.theta_at(step - 1) if step > 0 else None
        self.diverged = None
        self.stop_reason = None
        loss = self._loss_and_grad(self.theta, step)
        self.losses.data[step] = loss
        self._record = None
        self._check_finite(loss)
        self._rest()
