"""Gradient descent as a walk through phases, with cheap time travel.

A step is: update, forward layer by layer, loss, backward layer by layer
(output first).  The resting state of step N ("done") has everything of
record N computed; ``next_phase`` walks into step N+1 one phase at a time.

History keeps a checkpoint of the parameters and the optimizer state every
``CHECKPOINT_EVERY`` steps plus the loss of every step; any earlier state is
rebuilt by replaying from the nearest checkpoint, applying the run's events
(edits, bptui/engine/events.py) on the way, which is bit-for-bit
deterministic.  A million steps of the article net cost a few megabytes.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ParamSpec, Protocol, TypeVar

import numpy as np

from bptui.engine import optimizers
from bptui.engine.compiled import CompiledStep, compilable
from bptui.engine.events import Event, checked_value, point_of
from bptui.engine.fast import FastStep, all_finite
from bptui.engine.network import Network
from bptui.engine.optimizers import (
    Optimizer,
    UpdateTerm,
    new_state,
    penalty,
)
from bptui.engine.record import StepRecord, record_from_values

Array = np.ndarray

CHECKPOINT_EVERY = 64
#: At most this many steps in one call of the generated code: its lists of
#: losses and checkpoints stay small however long the run.
FUSED_CHUNK = 4096

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
    """An append-only float64 table of rows 0…size−1 that doubles its capacity.

    With ``keep`` set it holds only its last ``keep`` rows (a stepper without
    history): rows before ``offset`` are dropped, so its memory stays constant.
    """

    def __init__(self, width: int, keep: int | None = None) -> None:
        capacity = 64 if keep is None else max(64, 2 * keep)
        self.data = np.empty((capacity, width)) if width else np.empty(capacity)
        self.size = 0
        self.keep = keep
        #: The row data[0] holds (0 unless rows were dropped).
        self.offset = 0

    def append(self, row: Array | float) -> None:
        if self.size - self.offset == len(self.data):
            if self.keep is None:
                self.data = np.concatenate([self.data, np.empty_like(self.data)])
            else:  # move the last ``keep`` rows to the front, dropping the rest
                self.data[: self.keep] = self.data[len(self.data) - self.keep :]
                self.offset = self.size - self.keep
        self.data[self.size - self.offset] = row
        self.size += 1

    def truncate(self, size: int) -> None:
        if size < self.offset:
            raise IndexError(
                f"row {size} is no longer held (this table keeps rows from {self.offset})"
            )
        self.size = min(self.size, size)

    def at(self, index: int) -> Array:
        """Row ``index`` (a float for a table of width 0)."""
        if not self.offset <= index < self.size:
            raise IndexError(f"row {index} is not held (rows {self.offset}…{self.size - 1})")
        return self.data[index - self.offset]

    def put(self, index: int, row: Array | float) -> None:
        self.at(index)  # the same bounds
        self.data[index - self.offset] = row

    def view(self) -> Array:
        """Every row, 0…size−1; IndexError once a table that keeps few has dropped some."""
        if self.offset:
            raise IndexError(
                f"rows 0…{self.offset - 1} are no longer held (a stepper without history)"
            )
        return self.data[: self.size]


#: A stop condition gets (stepper, loss, grad) after each step of a run and
#: returns None to carry on or a reason (one sentence) to stop on that step.
StopCheck = Callable[["Stepper", float, Array], "str | None"]


class GradientUnavailable(Exception):
    """An :class:`UpdateGradient` could not give its gradient; ``str()`` is one line saying why.

    The run stops at the step whose update needed it (:attr:`Stepper.halted`),
    as it stops at a divergence; nothing else is raised out of a step.
    """


class UpdateGradient(Protocol):
    """The gradient an update descends instead of backprop's (e.g. a learner's own derivatives).

    Called with θ, the batch the update descends (its x and y), the step and
    backprop's gradient there; returns a new array of θ's shape.  It must be a
    deterministic function of those, since replaying history calls it again;
    :class:`GradientUnavailable` when it has no answer.  It may have
    ``symbols``: parameter name → how the update phase names the value it
    gives there (default ∂Loss/∂<name>, which it no longer is).
    """

    def __call__(self, theta: Array, x: Array, y: Array, step: int, backprop: Array) -> Array: ...


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
    optimizer: Optimizer = Optimizer()
    #: Edits that belong to the scenario (a saved session), in step order.
    events: tuple[Event, ...] = ()
    #: What the updates descend instead of backprop's gradient (None: backprop's).
    #: Loss, records and ``grad`` stay backprop's, the true ones.
    gradient: UpdateGradient | None = None


class _Setup:
    """What an edit can change besides θ: the data, α, the trainable set, the optimizer.

    Arrays are replaced on an edit, never written into, so a copy of a setup
    (a replay's) may share them.
    """

    def __init__(self, training: Training) -> None:
        self.network = training.network
        n = training.x.shape[0]
        size = training.batch_size
        if size and size < n:
            self.batches = [np.arange(s, min(s + size, n)) for s in range(0, n, size)]
        else:
            self.batches = [np.arange(n)]
        self.learning_rate = training.learning_rate
        self.optimizer = training.optimizer
        self.trainable = training.trainable
        self.set_data(training.x, training.y)
        self.set_trainable(training.trainable)

    def copy(self) -> _Setup:
        return copy.copy(self)  # shallow: arrays are replaced on an edit, never written into

    def set_data(self, x: Array, y: Array) -> None:
        self.x, self.y = x, y
        self.batch_data = [(x[b], y[b]) for b in self.batches]

    def set_trainable(self, names: tuple[str, ...] | None) -> None:
        self.trainable = names
        mask = np.ones(self.network.size)
        if names is not None:
            mask[:] = 0.0
            for name in names:
                mask[self.network.param_index[name]] = 1.0
        self.mask = mask
        self.train = np.flatnonzero(mask)
        self.scale = self.learning_rate * mask

    def apply(self, event: Event) -> None:
        """The setup after ``event`` (θ and optimizer state are the stepper's to change)."""
        kind = event.kind
        if kind == "learning_rate":
            self.learning_rate = float(event.new)
            self.scale = self.learning_rate * self.mask
        elif kind in ("x", "y"):
            data = (self.x if kind == "x" else self.y).copy()
            data[point_of(event.name, kind, data.shape)] = event.new
            if kind == "x":
                self.set_data(data, self.y)
            else:
                self.set_data(self.x, data)
        elif kind == "trainable":
            self.set_trainable(tuple(event.new))
        elif kind == "optimizer":
            field = "name" if event.name == "optimizer" else event.name
            self.optimizer = replace(self.optimizer, **{field: event.new})


def _apply_to_state(event: Event, network: Network, theta: Array, state: Array) -> None:
    """What ``event`` does to θ and the optimizer state: a new value, or a fresh optimizer."""
    if event.kind == "param":
        theta[network.param_index[event.name]] = event.new
    elif event.kind == "optimizer" and event.name == "optimizer":
        state[:] = 0.0  # another optimizer starts from nothing, as a new torch one would


class Stepper:
    """Owns the parameters of one training and moves them through time.

    History is one line: the scenario's events plus the edits made so far,
    and the furthest step reached.  A position on it is a step and how many
    of the line's events are applied, so stepping back across an edit shows
    the state before it, and stepping forward again redoes it.
    """

    def __init__(self, training: Training, history: bool = True) -> None:
        self.training = training
        #: False for a run that only goes forward (a trace): the loss tables and
        #: checkpoints keep their last rows only, so memory stays constant, and
        #: steps before the last checkpoint cannot be revisited.
        self.history = history
        self.network: Network = training.network
        self.phases = phases_for(self.network.depth)
        self._phase_order = tuple(self.phases)
        self._initial_setup = _Setup(training)
        self.setup = self._initial_setup
        n = training.x.shape[0]
        # Small nets step as generated scalar Python, larger ones as numpy;
        # one choice for run, replay and records alike, so time travel is exact.
        compiled = compilable(self.network, n)
        self.fast: FastStep | CompiledStep = (
            CompiledStep(self.network) if compiled else FastStep(self.network)
        )
        self._fresh = False  # did the last step run at self.theta, into self.grad?
        self.has_test = training.x_test is not None and training.y_test is not None
        self.initial = training.initial.copy()
        self.stop_reason: str | None = None
        #: Why the update from the current step could not be made (the training's
        #: ``gradient`` failed here); the run stands at this step, like a divergence.
        self.halted: str | None = None
        #: The line an edit made in the past replaced: (its events, its furthest step).
        self.last_branch: tuple[tuple[Event, ...], int] | None = None
        self.reset()

    # --------------------------------------------------- what edits change
    @property
    def x(self) -> Array:
        return self.setup.x

    @property
    def y(self) -> Array:
        return self.setup.y

    @property
    def learning_rate(self) -> float:
        return self.setup.learning_rate

    @property
    def optimizer(self) -> Optimizer:
        return self.setup.optimizer

    @property
    def trainable_mask(self) -> Array:
        return self.setup.mask

    @property
    def batches(self) -> list[Array]:
        return self.setup.batches

    @property
    def batch_data(self) -> list[tuple[Array, Array]]:
        return self.setup.batch_data

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event of the current history line, those ahead of the current step too."""
        return tuple(self._line)

    @property
    def has_future(self) -> bool:
        """True when history holds more than this position (steps or edits ahead of it).

        An edit here would start a new line, leaving the old one in
        :attr:`last_branch`.
        """
        return self._applied < len(self._line) or self.step < self.furthest

    def keep_events(self) -> None:
        """Make the applied events part of this run's scenario, so reset (R) keeps them.

        A fork is its parent's scenario plus the events up to the fork and its
        one change: that, not step 0 of the parent, is where it starts.
        """
        self.training = replace(self.training, events=self.applied_events)

    @property
    def applied_events(self) -> tuple[Event, ...]:
        """The events applied at the current position (what a saved session replays)."""
        return tuple(self._line[: self._applied])

    # ------------------------------------------------------------ state
    @_quiet
    def reset(self) -> None:
        """Back to step 0 of the scenario: its own events kept, live edits dropped."""
        self._line: list[Event] = list(self.training.events)
        self._applied = 0
        self.furthest = 0
        self.last_branch = None
        self.setup = self._initial_setup
        self.theta = self.initial.copy()
        self.state = new_state(self.network.size)
        self.grad = np.zeros(self.network.size)
        self.step = 0
        self._rest()
        self.previous_theta: Array | None = None
        keep = None if self.history else 2
        self.checkpoints = _GrowingArray(self.network.size, keep)
        #: The optimizer state at each checkpoint held (from ``checkpoints.offset``);
        #: None where it is all zeros (plain SGD).
        self.state_checkpoints: list[Array | None] = []
        self._checkpoint()
        self.losses = _GrowingArray(0, keep)
        self.batch_losses = _GrowingArray(0, keep)
        self.test_losses = _GrowingArray(0, keep)
        self.diverged: int | None = None
        self.stop_reason = None
        self.halted = None
        self._record: StepRecord | None = None
        self._terms_cache: tuple[tuple[int, int, int], list[UpdateTerm]] | None = None
        self._apply_events_here()
        loss = self._loss_and_grad(self.theta, 0)
        self._append_losses(loss)
        self._check_finite(loss)

    def _checkpoint(self, theta: Array | None = None) -> None:
        """Keep θ (default: the current one) and the optimizer state as the next checkpoint."""
        theta = self.theta if theta is None else theta
        state = self.state
        dropped = self.checkpoints.offset
        self.checkpoints.append(theta)
        del self.state_checkpoints[: self.checkpoints.offset - dropped]
        self.state_checkpoints.append(state.copy() if state.any() else None)

    def _keep_checkpoints(self, count: int) -> None:
        """Drop the checkpoints from number ``count`` on (history the state left)."""
        self.checkpoints.truncate(count)
        del self.state_checkpoints[count - self.checkpoints.offset :]

    def _append_losses(self, loss: float) -> None:
        self.losses.append(loss)
        if len(self.setup.batches) > 1:
            self.batch_losses.append(self._batch_loss)
        if self.has_test:
            self.test_losses.append(self._test_loss)

    def _truncate_losses(self, size: int) -> None:
        for table in (self.losses, self.batch_losses, self.test_losses):
            table.truncate(size)

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
        return float(self.losses.at(self.step))

    @property
    def loss_history(self) -> Array:
        return self.losses.view()

    @property
    def batch_loss_history(self) -> Array | None:
        """The loss of the batch each update descended (None for full batch: it is the loss)."""
        return self.batch_losses.view() if len(self.batches) > 1 else None

    @property
    def test_loss_history(self) -> Array | None:
        """The loss on the held-out points at every step (None without a test set)."""
        return self.test_losses.view() if self.has_test else None

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
            record = record_from_values(
                self.network, self.theta, self.x, self.y, batch, self.step, values
            )
            opt = self.optimizer
            record.optimizer = opt
            if not opt.plain:
                record.optimizer_state = self.state.copy()
            if opt.penalized:
                with np.errstate(all="ignore"):
                    record.penalty = penalty(opt, self.theta)
            if self.has_test:
                record.test_loss = float(self.test_losses.at(self.step))
            self._record = record
        return self._record

    # ------------------------------------------------------- the history
    def _events_through(self, step: int) -> int:
        """How many events of the line fall at or before ``step``."""
        return sum(1 for e in self._line if e.step <= step)

    def _apply_events_here(self) -> None:
        """Apply the line's events of the current step not applied yet (no recompute)."""
        line = self._line
        while self._applied < len(line) and line[self._applied].step == self.step:
            event = line[self._applied]
            if event.old is None:  # a scenario file's event: what it changes is known now
                event = line[self._applied] = replace(event, old=self._old_value(event))
            self._apply(event, self.theta, self.state)
            self._applied += 1

    def _old_value(self, event: Event) -> Any:
        """The value ``event`` replaces, at the current position."""
        setup = self.setup
        if event.kind == "learning_rate":
            return setup.learning_rate
        if event.kind == "param":
            return float(self.theta[self.network.param_index[event.name]])
        if event.kind in ("x", "y"):
            data = setup.x if event.kind == "x" else setup.y
            return float(data[point_of(event.name, event.kind, data.shape)])
        if event.kind == "trainable":
            current = setup.trainable
            return list(current) if current is not None else list(self.network.param_names)
        field = "name" if event.name == "optimizer" else event.name
        return getattr(setup.optimizer, field)

    def _apply(self, event: Event, theta: Array, state: Array) -> None:
        if event.kind != "param":
            if self.setup is self._initial_setup:  # the scenario's own is never changed
                self.setup = self.setup.copy()
            self.setup.apply(event)
        _apply_to_state(event, self.network, theta, state)

    def _replay(self, step: int, applied: int) -> tuple[Array, Array, _Setup, int]:
        """(θ, state, setup) at ``step`` with the first ``applied`` events, by replay."""
        base = min(step // CHECKPOINT_EVERY, self.checkpoints.size - 1)
        start = base * CHECKPOINT_EVERY
        theta = self.checkpoints.at(base).copy()
        held = self.state_checkpoints[base - self.checkpoints.offset]
        state = new_state(self.network.size) if held is None else held.copy()
        setup = self._initial_setup.copy()
        line = self._line
        index = 0
        while index < len(line) and line[index].step < start:
            if line[index].kind != "param":
                setup.apply(line[index])
            index += 1
        grad = np.zeros_like(theta)
        for s in range(start, step + 1):
            while index < len(line) and line[index].step == s and (s < step or index < applied):
                if line[index].kind != "param":
                    setup.apply(line[index])
                _apply_to_state(line[index], self.network, theta, state)
                index += 1
            if s < step:
                self._descend(theta, grad, state, setup, s)
        return theta, state, setup, index

    @_quiet
    def theta_at(self, step: int) -> Array:
        """θ at ``step`` as history holds it (every event of that step applied)."""
        if not 0 <= step < self.losses.size:
            raise IndexError(f"step {step} has not been reached (0…{self.losses.size - 1})")
        if step == self.step:
            return self.theta.copy()
        return self._replay(step, self._events_through(step))[0]

    # --------------------------------------------------------- the math
    def _loss_and_grad(self, theta: Array, step: int) -> float:
        """Loss of all points, gradient of step's batch into ``self.grad``."""
        setup = self.setup
        if self.has_test:  # first: the loss_value below keeps its arrays for the record
            self._test_loss = self.fast.loss_value(
                theta, self.training.x_test, self.training.y_test
            )
        xb, yb = setup.batch_data[step % len(setup.batch_data)]
        loss = self._batch_loss = self.fast.loss_and_grad(theta, xb, yb, self.grad)
        if len(setup.batch_data) > 1:
            loss = self.fast.loss_value(theta, setup.x, setup.y)
        self._fresh = True
        return loss

    def _descent_gradient(self, theta: Array, grad: Array, setup: _Setup, step: int) -> Array:
        """What the update from ``step`` descends: backprop's ``grad``, or the training's own.

        GradientUnavailable (one line, naming the step) when the training's
        gradient has no answer there.
        """
        hook = self.training.gradient
        if hook is None:
            return grad
        xb, yb = setup.batch_data[step % len(setup.batch_data)]
        try:
            with np.errstate(all="ignore"):
                descent = np.asarray(
                    hook(theta.copy(), xb, yb, step, grad.copy()), dtype=np.float64
                )
        except GradientUnavailable as e:
            raise GradientUnavailable(f"stopped at step {step}: {e}") from None
        if descent.shape != grad.shape:
            raise GradientUnavailable(
                f"stopped at step {step}: the update gradient has shape {descent.shape}, "
                f"not {grad.shape}"
            )
        return descent

    @staticmethod
    def _update(setup: _Setup, theta: Array, grad: Array, state: Array) -> None:
        """θ ← θ − α·∂Loss/∂θ, or the optimizer's update (penalties included)."""
        opt = setup.optimizer
        if opt.plain:
            theta -= setup.scale * grad
        else:
            optimizers.apply(opt, setup.learning_rate, setup.train, theta, grad, state)

    def _descend(self, theta: Array, grad: Array, state: Array, setup: _Setup, step: int) -> None:
        """One update for the batch of ``step`` (replay path)."""
        xb, yb = setup.batch_data[step % len(setup.batch_data)]
        self._fresh = False  # the step's kept arrays are now those of a replayed theta
        self.fast.loss_and_grad(theta, xb, yb, grad)
        self._update(setup, theta, self._descent_gradient(theta, grad, setup, step), state)

    def _check_finite(self, loss: float) -> bool:
        """False (and mark the step diverged) when the loss or a gradient is not finite."""
        if all_finite(loss, self.grad):
            return True
        self.diverged = self.step
        return False

    def _advance(self) -> float:
        """Apply one update and compute the new loss and gradient.

        GradientUnavailable, with nothing changed, when the training's own
        gradient fails here.
        """
        descent = self._descent_gradient(self.theta, self.grad, self.setup, self.step)
        self.previous_theta = self.theta.copy()
        self._update(self.setup, self.theta, descent, self.state)
        self.step += 1
        self.furthest = max(self.furthest, self.step)
        if self.step % CHECKPOINT_EVERY == 0:
            self._keep_checkpoints(self.step // CHECKPOINT_EVERY)
            self._checkpoint()
        self._apply_events_here()
        self._truncate_losses(self.step)
        loss = self._loss_and_grad(self.theta, self.step)
        self._append_losses(loss)
        self._record = None
        self._terms_cache = None
        return loss

    def _try_advance(self) -> float | None:
        """:meth:`_advance`, or None when the training's gradient failed (the run halts here)."""
        try:
            loss = self._advance()
        except GradientUnavailable as e:
            self.halted = self.stop_reason = str(e)
            return None
        self._clear_halt()
        return loss

    def _clear_halt(self) -> None:
        if self.halted is not None and self.stop_reason == self.halted:
            self.stop_reason = None
        self.halted = None

    def _recompute_here(self) -> None:
        """Loss, gradient and record of the current position, after an edit or a redo."""
        self.diverged = None
        self._clear_halt()
        self._terms_cache = None
        loss = self._loss_and_grad(self.theta, self.step)
        self.losses.put(self.step, loss)
        if len(self.setup.batches) > 1:
            self.batch_losses.put(self.step, self._batch_loss)
        if self.has_test:
            self.test_losses.put(self.step, self._test_loss)
        self._record = None
        self._check_finite(loss)

    def _catch_up(self) -> None:
        """Redo the events of this step that a step back had undone, before moving on."""
        before = self._applied
        self._apply_events_here()
        if self._applied != before:
            self._recompute_here()

    # ------------------------------------------------------- operations
    def _require_steppable(self) -> None:
        if self.diverged is not None:
            raise DivergedError(f"diverged at step {self.diverged}: go back (b) or reset (R) first")

    @_quiet
    def next_phase(self) -> Phase:
        """Compute one more phase; from "done" this applies the next update."""
        if self.done:
            self._catch_up()
            self._require_steppable()
        self.walked = True
        if self.done:
            loss = self._try_advance()
            if loss is None:
                return self.phase
            self.phase_index = 0
            self._check_finite(loss)
        else:
            self.phase_index += 1
        return self.phase

    @_quiet
    def step_once(self) -> None:
        """One whole step; from a partial step, finish it instead."""
        if self.done:
            self._catch_up()
            self._require_steppable()
            loss = self._try_advance()
            if loss is not None:
                self._check_finite(loss)
        self._rest()

    def _fused_room(self, wanted: int) -> int:
        """How many of ``wanted`` steps may be taken in one fused loop (0: none).

        Only plain SGD on backprop's gradient, one batch, no test set, and never across a
        step that has events: those steps go through :meth:`_advance`.
        """
        setup = self.setup
        if not (
            self.training.gradient is None
            and setup.optimizer.plain
            and len(setup.batches) == 1
            and not self.has_test
        ):
            return 0
        if self._applied < len(self._line):
            wanted = min(wanted, self._line[self._applied].step - self.step - 1)
        return max(wanted, 0)

    @_quiet
    def run(self, count: int, stop: StopCheck | None = None) -> int:
        """Up to ``count`` whole steps; stops on divergence, when ``stop`` gives a reason,
        or when the training's own gradient fails (:attr:`halted`).

        Returns how many steps were taken; the reason, if any, is
        ``stop_reason``.  This is the flat-out path: no record is built and
        numpy's error state is set once for the batch.
        """
        self._catch_up()
        self._require_steppable()
        self.stop_reason = None
        if not self.done:
            self._rest()
        taken = 0
        while taken < count:
            room = self._fused_room(min(count - taken - 1, FUSED_CHUNK)) if stop is None else 0
            if room > 0:
                run_fused = (
                    self._run_generated if isinstance(self.fast, CompiledStep) else self._run_numpy
                )
                done, finite = run_fused(room)
                taken += done
                if not finite:
                    break
                continue
            loss = self._try_advance()
            if loss is None:
                break
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
        x, y = self.setup.batch_data[0]
        losses, checkpoints, theta, grad, finite = fast.run_steps(
            self.theta.tolist(),
            self.grad.tolist(),
            self.setup.scale.tolist(),
            fast.rows(x, y),
            y.size,
            y.shape[0],
            count,
            CHECKPOINT_EVERY,
            self.step,
        )
        start = self.step
        self._truncate_losses(start + 1)
        for loss in losses:
            self.losses.append(loss)
        first = start // CHECKPOINT_EVERY + 1  # the first checkpoint these steps reach
        if checkpoints:
            self._keep_checkpoints(first)
            for theta_k in checkpoints:  # plain SGD: the state does not move
                self._checkpoint(np.array(theta_k))
        self.theta[:] = theta
        self.grad[:] = grad
        self._arrive(start + len(losses), finite, fresh=False)
        return len(losses), finite

    def _run_numpy(self, count: int) -> tuple[int, bool]:
        """``count`` steps of :meth:`_advance`'s lines on the numpy path, in one tight loop.

        What a plain step does besides the math (a copy of θ for
        ``previous_theta``, the tables' truncation, the event and halt checks)
        is a fifth of a mid-sized net's step; the fused room has none of it to
        do.  The same calls in the same order, so the same bits.
        """
        theta, grad, scale = self.theta, self.grad, self.setup.scale
        x, y = self.setup.batch_data[0]
        loss_and_grad, append, checkpoint_every = (
            self.fast.loss_and_grad,
            self.losses.append,
            CHECKPOINT_EVERY,
        )
        self._truncate_losses(self.step + 1)
        step, finite, taken = self.step, True, 0
        while taken < count:
            theta -= scale * grad
            step += 1
            taken += 1
            if step % checkpoint_every == 0:
                self.step = step
                self._keep_checkpoints(step // checkpoint_every)
                self._checkpoint()
            loss = loss_and_grad(theta, x, y, grad)
            append(loss)
            if not all_finite(loss, grad):
                finite = False
                break
        self._batch_loss = loss
        self._arrive(step, finite, fresh=True)
        return taken, finite

    def _arrive(self, step: int, finite: bool, fresh: bool) -> None:
        """Stand at ``step`` after a fused loop's steps; ``fresh``: its arrays are θ's own.

        A diverged step gets the ``previous_theta`` a plain step would have kept,
        by replay (which leaves the kept arrays a replayed θ's, so not fresh).
        """
        self.step = step
        self.furthest = max(self.furthest, step)
        self._record = None
        self._terms_cache = None
        self._fresh = fresh
        if not finite:
            self.diverged = step
            self.previous_theta = self.theta_at(step - 1)

    @_quiet
    def goto(self, step: int, stop: StopCheck | None = None) -> None:
        """Go to step ``step`` (every event of it applied): back in history, or forward by running."""
        if step < 0:
            raise ValueError("step must be 0 or more")
        if step <= self.losses.size - 1 and step <= self.step:
            self._jump(step, self._events_through(step))
        elif step > self.step:
            self._catch_up()
            if self.diverged is not None:
                raise DivergedError(f"diverged at step {self.diverged}: cannot go past it")
            self.run(step - self.step, stop)
        self._rest()

    @_quiet
    def back(self) -> bool:
        """Undo the last edit of this step if there is one, else one step back.

        From a partial step: back to the step it started from.
        """
        if self._applied > self._events_through(self.step - 1):
            self._jump(self.step, self._applied - 1)
            return True
        if self.step == 0:
            return False  # step 0 is always done: a walk begins with update 1
        self._jump(self.step - 1, self._events_through(self.step - 1))
        return True

    def _jump(self, step: int, applied: int) -> None:
        """Move to ``step`` with the first ``applied`` events of the line, by replay."""
        self.theta, self.state, self.setup, self._applied = self._replay(step, applied)
        self.step = step
        self._truncate_losses(step + 1)
        self._keep_checkpoints(step // CHECKPOINT_EVERY + 1)
        self.previous_theta = self.theta_at(step - 1) if step > 0 else None
        self.stop_reason = None
        self._recompute_here()
        self._rest()

    # ------------------------------------------------------------ edits
    @_quiet
    def edit(self, kind: str, name: str, new: Any) -> Event:
        """Change something at the current step, as an event of the history.

        The current record is recomputed at once at the edited state.  An
        edit made after stepping back starts a new line: the old one (its
        events and furthest step) is left in :attr:`last_branch`.  On
        :class:`EditError` nothing changes.
        """
        event = self._validated(kind, name, new)
        if self.has_future:
            self.last_branch = (tuple(self._line), self.furthest)
            del self._line[self._applied :]
            self.furthest = self.step
        else:
            self.last_branch = None
        self._line.append(event)
        self._apply(event, self.theta, self.state)
        self._applied += 1
        self._recompute_here()
        self._rest()
        return event

    def _validated(self, kind: str, name: str, new: Any) -> Event:
        """The event ``kind``/``name`` → ``new`` would be, or EditError saying what is wrong."""
        value = checked_value(kind, name, new, self.network, self.x, self.y)
        canonical = kind if kind in ("learning_rate", "trainable") else name
        event = Event(self.step, kind, canonical, None, value)
        return replace(event, old=self._old_value(event))

    # ---------------------------------------------------- the update phase
    @_quiet
    def update_terms(self, index: int) -> list[UpdateTerm]:
        """The pieces of the last update (record step − 1 → step) of parameter ``index``.

        g, the penalty term if any, the optimizer's state pieces, the step Δθ
        and θ old → new; empty at step 0.
        """
        if self.step == 0:
            return []
        key = (self.step, self._applied, index)
        if self._terms_cache is not None and self._terms_cache[0] == key:
            return self._terms_cache[1]
        before = self.step - 1
        theta, state, setup, _ = self._replay(before, self._events_through(before))
        grad = np.zeros_like(theta)
        xb, yb = setup.batch_data[before % len(setup.batch_data)]
        self._fresh = False
        self.fast.loss_and_grad(theta, xb, yb, grad)
        try:
            grad = self._descent_gradient(theta, grad, setup, before)
        except GradientUnavailable:
            return []  # cannot happen once the update was made: the gradient is deterministic
        terms = optimizers.update_terms(
            setup.optimizer,
            setup.learning_rate,
            self.network.param_names[index],
            float(theta[index]),
            float(grad[index]),
            (float(state[0, index]), float(state[1, index]), float(state[2, index])),
            bool(setup.mask[index]),
            getattr(self.training.gradient, "symbols", {}).get(self.network.param_names[index]),
        )
        self._terms_cache = (key, terms)
        return terms
