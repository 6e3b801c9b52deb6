"""What every pane renders from: one immutable snapshot of the stepper.

Widgets get a :class:`View` and never touch the stepper or compute
gradients; the app builds a View after each state change and hands it out.
``shows_forward/shows_loss/shows_backward`` answer "has this value been
computed yet in the current phase walk?" by asking the engine's
:class:`~bptui.engine.stepper.PhaseWalk`, which alone knows the phase order,
so every pane draws pending values the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bptui.engine.network import Network
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Phase, PhaseWalk, Stepper

PENDING = "·····"


@dataclass(frozen=True)
class Curve:
    """One line of the loss pane when it overlays several: a run's loss, test loss or batch loss."""

    label: str
    losses: np.ndarray
    #: The run's place in the list of runs (its colour).
    run: int
    #: "train" (the data loss), "test" (held-out points) or "batch" (the mini-batch's loss).
    kind: str = "train"
    current: bool = False


@dataclass(frozen=True)
class Comparison:
    """Another run's parameters and gradient at this step, for the parameters pane's differences.

    The compared run follows the current one's step (``LiveEdits.follow_compared``);
    ``theta`` and ``grad`` are None when it stands elsewhere, stopped by a
    divergence or its own failed gradient at step ``at``, or still ``moving``
    there (its updates wait for the user's file: bptui/tui/follow.py).
    """

    name: str
    step: int
    theta: np.ndarray | None
    grad: np.ndarray | None
    at: int
    moving: bool = False


@dataclass(frozen=True)
class View:
    """A read-only picture of the stepper for one frame."""

    scenario_name: str
    record: StepRecord
    step: int
    #: How far the phase walk through this step has got (the engine's phase order).
    walk: PhaseWalk
    learning_rate: float
    loss_history: np.ndarray
    previous_theta: np.ndarray | None
    trainable_mask: np.ndarray
    diverged: int | None
    stop_reason: str | None = None
    #: Why the run could not update past this step (its own update gradient failed), or None.
    halted: str | None = None
    selected_param: str | None = None
    selected_point: int = 0
    running: bool = False
    user_grads: dict[str, float] = field(default_factory=dict)
    #: ∂Loss/∂θ of the previous record: the gradient the "update" phase applies.
    previous_grad: np.ndarray | None = None
    #: Run speed as the status line shows it, e.g. "30 steps/s" or "flat out".
    speed: str = ""
    #: The last move was one phase (``n``), not a whole step, jump or reset.
    walked: bool = False
    #: ``--grads``: name → UserGradResult (yours, backprop, numeric, diagnosis).
    user_results: Mapping[str, Any] = field(default_factory=dict)
    #: ``--impl``: the user's implementation as last checked (an ImplShown), or None.
    impl: Any = None
    #: The pieces of the selected parameter's last update (the engine's UpdateTerms).
    update_terms: tuple[Any, ...] = ()
    optimizer_name: str = "sgd"
    #: θ ← θ − α·∂Loss/∂θ exactly (plain sgd, no penalty): the parameters pane's −α·g is the step.
    optimizer_plain: bool = True
    #: The current run's name when there are several (the status line says it).
    run_name: str = ""
    #: Every line the loss pane overlays (empty: the one loss curve of loss_history).
    curves: tuple[Curve, ...] = ()
    #: The run the parameters pane compares with (None: one run).
    compare: Comparison | None = None

    @property
    def network(self) -> Network:
        return self.record.network

    @property
    def phase(self) -> Phase:
        """The phase just computed."""
        return self.walk.phase

    @property
    def done(self) -> bool:
        return self.walk.done

    def shows_forward(self, layer: int) -> bool:
        """Are the values of layer ``layer`` (1-based; 0 = inputs) computed yet?"""
        return self.walk.forward_computed(layer)

    @property
    def shows_loss(self) -> bool:
        return self.walk.loss_computed

    def shows_backward(self, layer: int) -> bool:
        """Are the gradients of layer ``layer``'s parameters computed yet?"""
        return self.walk.backward_computed(layer)

    def active_layer(self) -> tuple[str, int]:
        """The phase just computed, for highlighting (kind, layer)."""
        return self.phase.kind, self.phase.layer

    def is_trainable(self, name: str) -> bool:
        return bool(self.trainable_mask[self.network.param_index[name]])


def view_of(
    stepper: Stepper,
    *,
    scenario_name: str = "",
    selected_param: str | None = None,
    selected_point: int = 0,
    running: bool = False,
    user_grads: dict[str, float] | None = None,
    previous_grad: np.ndarray | None = None,
    speed: str = "",
    user_results: Mapping[str, Any] | None = None,
    impl: Any = None,
    runs: Any = None,
    compare_index: int | None = None,
    moving: Stepper | None = None,
) -> View:
    """Snapshot the stepper (builds the full record of the current step)."""
    return View(
        scenario_name=scenario_name,
        record=stepper.record(),
        step=stepper.step,
        walk=stepper.walk,
        learning_rate=stepper.learning_rate,
        loss_history=stepper.loss_history,
        previous_theta=stepper.previous_theta,
        trainable_mask=stepper.trainable_mask,
        diverged=stepper.diverged,
        stop_reason=stepper.stop_reason,
        halted=stepper.halted,
        selected_param=selected_param,
        selected_point=selected_point,
        running=running,
        user_grads=user_grads or {},
        previous_grad=previous_grad,
        speed=speed,
        walked=stepper.walked,
        user_results=user_results or {},
        impl=impl,
        **(
            run_fields(stepper, runs, selected_param, compare_index, running, moving)
            if runs is not None
            else {}
        ),
    )


def last_update_terms(stepper: Stepper, selected_param: str | None) -> tuple[Any, ...]:
    """The selected parameter's last update, piece by piece (none at step 0)."""
    net = stepper.network
    if stepper.step == 0 or selected_param not in net.param_index:
        return ()
    return tuple(stepper.update_terms(net.param_index[selected_param]))


def loss_curves(stepper: Stepper, runs: Any) -> tuple[Curve, ...]:
    """Every run's loss, then the current run's test and batch losses, when there is more than one line."""
    curves: list[Curve] = []
    every = list(runs.runs) if runs is not None else []
    for index, run in enumerate(every):
        current = run.stepper is stepper
        curves.append(Curve(run.name, run.stepper.loss_history, index, "train", current))
    place = next((c.run for c in curves if c.current), 0)
    if not curves:
        curves.append(Curve("loss", stepper.loss_history, 0, "train", True))
    test = stepper.test_loss_history
    if test is not None and len(test):
        curves.append(Curve("test", test, place, "test", True))
    batch = stepper.batch_loss_history
    if batch is not None and len(batch) and len(stepper.batches) > 1:
        curves.append(Curve("batch", batch, place, "batch", True))
    if len(curves) == 1:
        return ()  # one curve: the pane's own loss plot
    if len(every) > 1:
        curves = [replace_label(c, every[c.run].name) for c in curves]
    return tuple(curves)


def replace_label(curve: Curve, run_name: str) -> Curve:
    """``test`` and ``batch`` lines say whose they are once there are several runs."""
    if curve.kind == "train":
        return curve
    return Curve(f"{run_name} {curve.kind}", curve.losses, curve.run, curve.kind, curve.current)


def comparison(
    runs: Any, stepper: Stepper, compare_index: int | None, moving: Stepper | None = None
) -> Comparison | None:
    """The run to compare with, at this run's step (None with one run or none chosen).

    ``moving``: a run another thread is moving, of which nothing but its step is read.
    """
    if runs is None or compare_index is None or not 0 <= compare_index < len(runs.runs):
        return None
    other = runs.runs[compare_index]
    if other.stepper is stepper:
        return None
    theirs, step = other.stepper, stepper.step
    if theirs is moving:
        return Comparison(other.name, step, None, None, theirs.step, moving=True)
    if theirs.step != step:
        return Comparison(other.name, step, None, None, theirs.step)
    record = theirs.record()  # cached by that run until it moves
    return Comparison(other.name, step, record.theta, record.grad, step)


def run_fields(
    stepper: Stepper,
    runs: Any,
    selected_param: str | None,
    compare_index: int | None,
    running: bool = False,
    moving: Stepper | None = None,
) -> dict[str, Any]:
    """The View's fields that come from the optimizer and the runs.

    The update's pieces are left out while running: they replay the step
    before from a checkpoint, and a frame that flies past needs none.
    """
    several = len(runs.runs) > 1
    return {
        "update_terms": () if running else last_update_terms(stepper, selected_param),
        "optimizer_name": stepper.optimizer.name,
        "optimizer_plain": stepper.optimizer.plain,
        "run_name": runs.current.name if several else "",
        "curves": loss_curves(stepper, runs),
        "compare": comparison(runs, stepper, compare_index, moving) if several else None,
    }
