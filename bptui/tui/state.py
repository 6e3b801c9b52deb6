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
        selected_param=selected_param,
        selected_point=selected_point,
        running=running,
        user_grads=user_grads or {},
        previous_grad=previous_grad,
        speed=speed,
        walked=stepper.walked,
        user_results=user_results or {},
    )
