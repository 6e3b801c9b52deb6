"""``bptui --impl FILE``: the check of one state, in the shape the TUI shows it.

The TUI re-checks the user's code as the run moves (each check is of one
state: a step number and its parameters).  An :class:`ImplVerdict` is that
check read three ways: each tensor's verdict by backward layer, the first
wrong layer for the diagram, and for any parameter the user's value beside
backprop's (:meth:`ImplVerdict.param`).  It is computed here, in the debug
layer, so the panes only render it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bptui.debug.gradcheck import close
from bptui.debug.impl.agree import AFTER, AGREES, DIFFERS, close_entries
from bptui.debug.impl.check import ImplCheck, TensorVerdict
from bptui.debug.impl.interface import Layout
from bptui.debug.impl.reference import Reference
from bptui.engine.network import Network, ParamInfo

Array = np.ndarray


@dataclass(frozen=True)
class ParamComparison:
    """One parameter: the user's ∂Loss/∂θ (None: not readable) beside backprop's."""

    name: str
    tensor: str  # the user's key and entry, e.g. "dW2[1, 0]"
    yours: float | None
    backprop: float
    verdict: TensorVerdict | None  # of the tensor it sits in
    #: per point, the user's dZ times the input the parameter multiplies (None without dZ)
    points: Array | None = None
    points_label: str = ""
    #: per point, whether the user's value agrees with backprop's (the project's one rule)
    points_agree: Array | None = None
    #: why ``yours`` is None: "dW2 has shape (1, 2); W2's is (2, 1)"
    unreadable: str = ""

    @property
    def agrees(self) -> bool:
        return self.yours is not None and close(self.yours, self.backprop)

    @property
    def ratio(self) -> float | None:
        """yours / backprop, when both are numbers and backprop is not 0."""
        if self.yours is None or self.backprop == 0 or not np.isfinite(self.yours):
            return None
        return self.yours / self.backprop


@dataclass(frozen=True)
class ImplVerdict:
    """The user's implementation checked at one state (``step``), or the line saying why not."""

    path: str
    step: int
    state: bytes  # the parameters it was checked at (θ's bytes)
    check: ImplCheck | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.check is not None and self.check.ok

    @property
    def first_wrong(self) -> TensorVerdict | None:
        if self.check is None:
            return None
        return next((v for v in self.check.verdicts if v.status == DIFFERS), None)

    @property
    def first_wrong_layer(self) -> int | None:
        """The layer the diagram marks: the wrong tensor's backward layer, the output for yhat."""
        if self.check is None:
            return None
        if self.check.forward is not None:
            return self.check.reference.depth if self.check.reference else None
        wrong = self.first_wrong
        return None if wrong is None else wrong.backward_layer

    def first_wrong_param(self, network: Network) -> str | None:
        """A parameter of the first wrong layer (its first weight), for the chain pane to open on."""
        layer = self.first_wrong_layer
        if layer is None or not 1 <= layer <= network.depth:
            return None
        return network.param_names[network.weight_slices[layer - 1].start]

    def headline(self) -> str:
        """One short line for a notice: the first wrong tensor, or that everything agrees."""
        if self.error is not None:
            return self.error
        check = self.check
        assert check is not None
        if check.forward is not None:
            return f"Your forward's yhat is wrong at step {self.step}: the chain pane says how."
        wrong = self.first_wrong
        if wrong is None:
            agreeing = sum(1 for v in check.verdicts if v.status == AGREES)
            return f"All {agreeing} of your tensors agree with backprop at step {self.step}."
        return (
            f"Your {wrong.name.key} is the first wrong tensor (backward layer "
            f"{wrong.backward_layer}, step {self.step}). Why: the top of the chain pane."
        )

    def by_layer(self) -> list[tuple[int, list[TensorVerdict]]]:
        """The verdicts grouped by the backward layer that computes them, output layer first."""
        groups: dict[int, list[TensorVerdict]] = {}
        for verdict in self.check.verdicts if self.check else []:
            groups.setdefault(verdict.backward_layer, []).append(verdict)
        return sorted(groups.items(), key=lambda item: -item[0])

    def tensor(self, key: str) -> TensorVerdict | None:
        for verdict in self.check.verdicts if self.check else []:
            if verdict.name.key == key:
                return verdict
        return None

    def param(self, network: Network, name: str) -> ParamComparison | None:
        """The user's value of parameter ``name``'s gradient beside backprop's, at this state."""
        check = self.check
        if check is None or check.forward is not None or check.reference is None:
            return None
        assert check.answer is not None and check.layout is not None
        info = network.params[network.param_index[name]]
        ref, layout, grads = check.reference, check.layout, check.answer.grads
        key = _key_of(grads, info)
        if key is None:
            return None
        correct = ref.dW[info.layer - 1] if info.kind == "W" else ref.db[info.layer - 1]
        entry = (info.row, info.col) if info.kind == "W" else (info.row,)
        backprop = float(correct[entry])
        mine = _engine(grads[key], correct.shape, info.kind, layout)
        yours = None if mine is None else float(mine[entry])
        points, label = _points(check, info)
        expected = layout.weight(correct) if info.kind == "W" else layout.bias(correct)
        unreadable = (
            ""
            if yours is not None
            else f"{key} has shape {grads[key].shape}; {info.kind}{info.layer}'s is {expected.shape}"
        )
        agree = None if points is None else close_entries(points, _correct_points(ref, info))
        return ParamComparison(
            name,
            f"{key}{_user_index(info, layout)}",
            yours,
            backprop,
            self.tensor(key),
            points,
            label,
            agree,
            unreadable,
        )


def _key_of(grads: dict[str, Array], info: ParamInfo) -> str | None:
    for key in (f"d{info.kind}{info.layer}", f"{info.kind}{info.layer}"):
        if key in grads:
            return key
    return None


def _user_index(info: ParamInfo, layout: Layout) -> str:
    """Where the parameter's entry sits in the user's array (their layout)."""
    if info.kind == "W":
        at = (info.col, info.row) if layout.rows else (info.row, info.col)
        return f"[{at[0]}, {at[1]}]"
    return f"[{info.row}]" if layout.rows else f"[{info.row}, 0]"


def _engine(values: Array, shape: tuple[int, ...], kind: str, layout: Layout) -> Array | None:
    """The user's dW or db in the engine's (out, in) / (out,) shape, or None when it is
    not the layout's shape (a transpose or a keepdims slip is the cause's to name)."""
    if kind == "W":
        expected = shape[::-1] if layout.rows else shape
        if values.shape != expected:
            return None
        return values.T if layout.rows else values
    expected_b = shape if layout.rows else (shape[0], 1)
    return values.reshape(shape) if values.shape == expected_b else None


def _correct_points(ref: Reference, info: ParamInfo) -> Array:
    """Backprop's per-point share of the parameter's gradient (dZ times its input)."""
    column = ref.dz[info.layer - 1][:, info.row]
    return column if info.kind == "b" else column * ref.a[info.layer - 1][:, info.col]


def _points(check: ImplCheck, info: ParamInfo) -> tuple[Array | None, str]:
    """Per point, the user's dZ of the layer times the input the parameter multiplies."""
    ref, layout = check.reference, check.layout
    assert ref is not None and layout is not None and check.answer is not None
    key = f"dZ{info.layer}"
    dz = check.answer.grads.get(key)
    shape = layout.per_point(ref.dz[info.layer - 1]).shape
    if dz is None or dz.shape != shape:
        return None, ""
    per_point = dz if layout.rows else dz.T
    column = per_point[:, info.row]
    if info.kind == "b":
        return column.copy(), f"your {key}"
    prev = "X" if info.layer == 1 else f"A{info.layer - 1}"
    return column * ref.a[info.layer - 1][:, info.col], f"your {key}·{prev}"


@dataclass(frozen=True)
class ImplShown:
    """What one frame shows of ``--impl``: the latest verdict, whether it is of the state
    on screen, and the selected parameter's comparison (of the verdict's state)."""

    verdict: ImplVerdict
    current: bool
    param: ParamComparison | None = None


def impl_shown(
    verdict: ImplVerdict | None, network: Network, current: bool, selected: str | None
) -> ImplShown | None:
    """The frame's ImplShown (None without ``--impl``)."""
    if verdict is None:
        return None
    ok_name = selected is not None and selected in network.param_index
    param = verdict.param(network, selected) if ok_name else None
    return ImplShown(verdict, current, param)


__all__ = [
    "AFTER",
    "AGREES",
    "DIFFERS",
    "ImplShown",
    "ImplVerdict",
    "ParamComparison",
    "impl_shown",
]
