"""Training with the learner's own derivatives: ``--grads FILE --train-with-yours``.

:class:`YourDerivatives` is the engine's :class:`~bptui.engine.stepper.UpdateGradient`
made from a ``--grads`` file: at each update it calls every ``d_`` function of
the file once, in one round-trip to the file's worker process (the same
sandbox and time limit as the check), and puts the user's numbers where
backprop's would be.  Parameters the file has no function for keep backprop's
value.  A function that raises, returns no number or overruns stops the run at
that step with the sandbox's one-line reason.

Answers are kept by state, so replaying history (``b``, ``g``) gets the very
numbers the run descended without asking the worker again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from bptui.debug.usergrads.context import values_of
from bptui.debug.usergrads.judge import UserGrads
from bptui.engine.network import Network
from bptui.engine.record import build_record
from bptui.engine.runs import Runs
from bptui.engine.stepper import GradientUnavailable, Stepper, Training

Array = np.ndarray

#: The name of the run that descends the user's derivatives, beside "backprop".
RUN_NAME = "your derivatives"
#: How many states' answers are kept: more than one checkpoint interval's replay.
KEPT_STATES = 1024


class KeptAnswers:
    """The user's answers by state, the last ``size`` kept, one question at a time.

    Stepping back and forward replays history, and a replay must descend the
    very answers given before (time travel stays exact and asks nothing new).
    Runs sharing a file (a fork copies its parent's) may ask from two threads,
    the app's and the follower's (bptui/tui/follow.py): the lock keeps their
    calls into the one worker apart.
    """

    def __init__(self, size: int = KEPT_STATES) -> None:
        self.size = size
        self._kept: OrderedDict[bytes, Array] = OrderedDict()
        self._lock = threading.Lock()

    def answer(
        self, theta: Array, x: Array, y: Array, step: int, ask: Callable[[], Array]
    ) -> Array:
        """The answer kept for this state, or ``ask()``'s, kept."""
        key = _state_key(theta, x, y, step)
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                found = self._kept[key] = ask()
                if len(self._kept) > self.size:
                    self._kept.popitem(last=False)
            else:
                self._kept.move_to_end(key)
            return found


class YourDerivatives:
    """θ → the gradient an update descends: the user's ``d_`` values, backprop's elsewhere."""

    def __init__(
        self, user_grads: UserGrads, network: Network, learning_rate: float | None = None
    ) -> None:
        self.user_grads = user_grads
        self.network = network
        self.learning_rate = learning_rate
        self._indexes = [network.param_index[f.param] for f in user_grads.functions]
        self._called = list(dict.fromkeys(f.function for f in user_grads.functions))
        #: How the update phase names each covered parameter's gradient: the user's function.
        self.symbols = {f.param: f"your {f.name}" for f in user_grads.functions}
        self._kept = KeptAnswers()
        #: Worker round-trips made (one per state not seen before).
        self.calls = 0
        #: Where and why the last state asked had no gradient (None: it had one).
        self.failure: str | None = None

    def close(self, now: bool = False) -> None:
        """End the file's worker (``now``: at once, the app closing)."""
        self.user_grads.sandbox.close(now)

    @property
    def covered(self) -> list[str]:
        """The parameters whose update uses the user's value, in the network's order."""
        return list(self.user_grads.params)

    @property
    def uncovered(self) -> list[str]:
        """The parameters without a function of the user's: their update uses backprop's."""
        mine = set(self.user_grads.params)
        return [name for name in self.network.param_names if name not in mine]

    def __call__(self, theta: Array, x: Array, y: Array, step: int, backprop: Array) -> Array:
        values = self._kept.answer(theta, x, y, step, lambda: self._ask(theta, x, y, step))
        gradient = np.array(backprop, dtype=np.float64)
        gradient[self._indexes] = values
        return gradient

    def _ask(self, theta: Array, x: Array, y: Array, step: int) -> Array:
        """The user's value of every covered parameter at this state: one worker round-trip."""
        record = build_record(self.network, theta, x, y, step=step)
        state = values_of(record, self.learning_rate)
        self.calls += 1
        outcomes = self.user_grads.sandbox.run([(name, state) for name in self._called])
        by_function = dict(zip(self._called, outcomes))
        values = np.empty(len(self._indexes))
        for k, function in enumerate(self.user_grads.functions):
            value, why = function.value(by_function[function.function])
            if value is None:
                why = f"your {why}"  # the sandbox's reason starts with the function's name
                self.failure = f"stopped at step {step}: {why}"  # as the stepper says it
                raise GradientUnavailable(why)
            values[k] = value
        self.failure = None
        return values


def _state_key(theta: Array, x: Array, y: Array, step: int) -> bytes:
    """One state's identity: θ's bits, the step and a digest of the batch's data."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (x, y):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return (
        np.ascontiguousarray(theta, dtype=np.float64).tobytes() + step.to_bytes(8) + digest.digest()
    )


def training_with_yours(training: Training, user_grads: UserGrads) -> Training:
    """``training`` whose updates descend the user's derivatives (losses and records stay true)."""
    return replace(
        training,
        gradient=YourDerivatives(user_grads, training.network, training.learning_rate),
    )


def runs_with_yours(training: Training, yours: Training) -> Runs:
    """The two runs of ``--train-with-yours``: "backprop" (``training``), then "your derivatives"."""
    runs = Runs(Stepper(training), name="backprop")
    runs.add(RUN_NAME, yours)
    return runs


def covered_line(training: Training) -> str:
    """Which parameters the user's run descends by their functions, and which by backprop's."""
    yours = training.gradient
    if not isinstance(yours, YourDerivatives):
        return "every update descends backprop's gradient"
    mine = ", ".join(yours.covered)
    rest = yours.uncovered
    if not rest:
        return f"the {RUN_NAME} run descends your {mine}"
    return f"the {RUN_NAME} run descends your {mine}; {', '.join(rest)} use backprop's (no d_ function)"
