"""Training with the learner's own backward: ``--impl FILE --train-with-yours``.

:class:`YourBackward` is the engine's :class:`~bptui.engine.stepper.UpdateGradient`
made from an ``--impl`` file: at each update it runs the user's ``forward``
and ``backward`` on the update's batch in the file's worker process (the
check's sandbox: time limit, copies, captured output) and descends the
``dW<l>``/``db<l>`` they return, read into bptui's parameter vector with the
layout the check detects (:func:`~bptui.debug.impl.check.run_user_code`) and
the TUI's reading of one tensor (:mod:`~bptui.debug.impl.live`).  Every
parameter descends the user's value: a backward must return them all.

A raise, an overrun, a wrong shape or a non-finite entry stops the run at that
step with one line naming the file; the next state asked starts a fresh
worker.  Answers are kept by state, so replaying history (``b``, ``g``) gets
the very numbers the run descended without asking the worker again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

import numpy as np

from bptui.debug.impl.check import run_user_code, start_runner
from bptui.debug.impl.interface import Layout, user_tensors
from bptui.debug.impl.live import _engine, _key_of, _user_index
from bptui.debug.impl.reference import Reference, build_reference
from bptui.debug.impl.runner import ImplRunner
from bptui.debug.usergrads.yours import KEPT_STATES, KeptAnswers
from bptui.engine.network import Network, ParamInfo
from bptui.engine.runs import Runs
from bptui.engine.stepper import CHECKPOINT_EVERY, GradientUnavailable, Stepper, Training
from bptui.errors import UserCodeError, one_line

Array = np.ndarray

#: The name of the run that descends the user's backward, beside "backprop".
RUN_NAME = "your backward"
#: At most this much memory of kept gradients…
KEPT_BYTES = 64 << 20
#: …but room for a replay from one checkpoint to the next and back.
REPLAY_STATES = 2 * CHECKPOINT_EVERY + 2


class YourBackward:
    """θ → the gradient an update descends: the user's backward, every parameter."""

    def __init__(self, path: str, network: Network) -> None:
        self.path = path
        self.network = network
        self._runner: ImplRunner | None = None
        self._layout: Layout | None = None
        #: The user's key of each layer's W and b gradient ("dW1" or "W1"), once seen.
        self._keys: dict[tuple[str, int], str] = {}
        #: Whole gradients are kept, so a big net keeps fewer (never less than a replay needs).
        self._kept = KeptAnswers(
            max(REPLAY_STATES, min(KEPT_STATES, KEPT_BYTES // (8 * network.size)))
        )
        #: Worker round-trips made (one per state not seen before).
        self.calls = 0
        #: Where and why the last state asked had no gradient (None: it had one).
        self.failure: str | None = None

    @property
    def layout(self) -> Layout | None:
        """The layout the user's forward was detected (or declared) in; None before a call."""
        return self._layout

    @property
    def covered(self) -> list[str]:
        """Every parameter: the user's backward gives them all."""
        return list(self.network.param_names)

    @property
    def uncovered(self) -> list[str]:
        return []

    @property
    def symbols(self) -> Mapping[str, str]:
        """How the update phase names each gradient: the user's tensor and entry, ``your dW1[0, 1]``."""
        return _Symbols(self)

    def symbol(self, name: str) -> str | None:
        """One parameter's name in the update phase (None before the layout is known)."""
        layout = self._layout
        index = self.network.param_index.get(name)
        if layout is None or index is None:
            return None
        info = self.network.params[index]
        key = self._keys.get((info.kind, info.layer), f"d{info.kind}{info.layer}")
        return f"your {key}{_user_index(info, layout)}"

    def __call__(self, theta: Array, x: Array, y: Array, step: int, backprop: Array) -> Array:
        gradient = self._kept.answer(theta, x, y, step, lambda: self._ask(theta, x, y, step))
        return gradient.copy()

    def _ask(self, theta: Array, x: Array, y: Array, step: int) -> Array:
        """The user's gradient at this state: one forward + backward in the worker."""
        try:
            gradient = self.gradient_at(theta, x, y)
        except UserCodeError as e:
            why = one_line(str(e))
            self.failure = f"stopped at step {step}: {why}"  # as the stepper says it
            raise GradientUnavailable(why) from None
        self.failure = None
        return gradient

    def gradient_at(self, theta: Array, x: Array, y: Array) -> Array:
        """The user's backward at θ on (x, y), as a parameter vector; UserCodeError if it fails."""
        ref = build_reference(self.network, theta.copy(), x, y)
        try:
            runner = self._started()
            self.calls += 1
            if self._layout is None:
                self._layout, answer = run_user_code(runner, ref, self.path)
            else:
                answer = runner.run(*ref.inputs(self._layout))
                if answer.error:
                    raise UserCodeError(answer.error)
            return self._parameters(answer.grads, ref)
        except UserCodeError:
            self.close()  # a stuck or broken worker is not asked again
            raise

    def detect(self, theta: Array, x: Array, y: Array) -> Layout:
        """Start the worker and find the file's layout, as the check does; UserCodeError if the
        file cannot be imported or run at all (bad input, exit 2 — a wrong gradient is not)."""
        if self._layout is None:
            ref = build_reference(self.network, theta.copy(), x, y)
            try:
                self._layout, _ = run_user_code(self._started(), ref, self.path)
            except UserCodeError:
                self.close()
                raise
        return self._layout

    def _started(self) -> ImplRunner:
        """The worker, started (again, after a failure) and past importing the file."""
        if self._runner is None:
            self._runner = start_runner(self.path)
            self._runner.info  # noqa: B018 -- waits for the import (a broken one raises)
        return self._runner

    def _parameters(self, grads: dict[str, Array], ref: Reference) -> Array:
        """``dW<l>``/``db<l>`` read into the engine's θ order; a wrong shape or value refused."""
        user_tensors(grads, self.network.depth, self.path)  # every dW, db there, none clashing
        assert self._layout is not None
        layers = []
        for l in range(1, self.network.depth + 1):
            weight = self._tensor(grads, ref.dW[l - 1], self._first(l, "W"))
            bias = self._tensor(grads, ref.db[l - 1], self._first(l, "b"))
            layers.append((weight, bias))
        return self.network.pack(layers)

    def _first(self, layer: int, kind: str) -> ParamInfo:
        """The first parameter of a layer's W or b (its layer and kind name the tensor)."""
        slices = self.network.weight_slices if kind == "W" else self.network.bias_slices
        return self.network.params[slices[layer - 1].start]

    def _tensor(self, grads: dict[str, Array], correct: Array, info: ParamInfo) -> Array:
        """One of the user's gradients in the engine's shape, or the line saying why not."""
        layout = self._layout
        assert layout is not None
        key = _key_of(grads, info)
        assert key is not None  # user_tensors found it
        self._keys[info.kind, info.layer] = key
        values = _engine(grads[key], correct.shape, info.kind, layout)
        if values is None:
            expected = layout.weight(correct) if info.kind == "W" else layout.bias(correct)
            raise UserCodeError(
                f"{self.path}: backward's {key} has shape {grads[key].shape}; "
                f"{info.kind}{info.layer}'s is {expected.shape} (samples as {layout.name})"
            )
        bad = ~np.isfinite(grads[key])
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise UserCodeError(
                f"{self.path}: backward's {key}{list(at)} is {grads[key][at]}, not a finite number"
            )
        return values

    def close(self, now: bool = False) -> None:
        """End the worker (``now``: at once, the app closing); the next state starts a fresh one."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.worker.end(now)


def training_with_your_backward(training: Training, path: str) -> Training:
    """``training`` whose updates descend the user's backward (losses and records stay true).

    The file is run once here, at the start on all the data, as ``bptui check
    --impl`` runs it: a file that cannot be imported or run is bad input now;
    gradients it cannot descend (a wrong shape, a NaN) stop the run instead.
    """
    yours = YourBackward(path, training.network)
    yours.detect(training.initial, training.x, training.y)
    return replace(training, gradient=yours)


def runs_with_your_backward(training: Training, yours: Training) -> Runs:
    """The two runs of ``--impl FILE --train-with-yours``: "backprop", then "your backward"."""
    runs = Runs(Stepper(training), name="backprop")
    runs.add(RUN_NAME, yours)
    return runs


class _Symbols(Mapping[str, str]):
    """The update phase's names, one made when asked: a big net has many parameters."""

    def __init__(self, yours: YourBackward) -> None:
        self.yours = yours

    def __getitem__(self, name: str) -> str:
        symbol = self.yours.symbol(name)
        if symbol is None:
            raise KeyError(name)
        return symbol

    def __iter__(self) -> Iterator[str]:
        if self.yours.layout is None:
            return iter(())
        return iter(self.yours.network.param_names)

    def __len__(self) -> int:
        return 0 if self.yours.layout is None else self.yours.network.size
