"""``bptui check --impl FILE``: the user's forward, then every tensor in backprop order.

The forward comes first (a wrong yhat makes every gradient after it wrong for
a reason the backward check cannot see).  Then the user's tensors are
compared with the engine's in the order backprop computes them — dZ_L, dW_L,
db_L, dA_{L-1}, dZ_{L-1}, … — and the check stops at the first one that
disagrees: every later one is computed from it, so the first is the one to
fix.  A file that cannot be run is bad input (exit 2), a wrong tensor a
disagreement (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bptui.debug.impl.agree import AFTER, AGREES, DIFFERS, NOT_CHECKED, close_entries, same
from bptui.debug.impl.causes import Suspect, likely_cause
from bptui.debug.impl.interface import (
    COLUMNS,
    ROWS,
    Layout,
    TensorName,
    backprop_order,
    declared_layout,
    ignored_keys,
    user_tensors,
)
from bptui.debug.impl.reference import Reference, build_reference
from bptui.debug.impl.runner import Answer, ImplRunner
from bptui.engine.functions import OUTPUT_ACTIVATIONS
from bptui.engine.stepper import Stepper
from bptui.errors import UserCodeError
from bptui.scenario.loading import read_input_file
from bptui.scenario.model import Scenario

Array = np.ndarray

#: At most this many differing entries are listed for the first wrong tensor.
SHOWN_ENTRIES = 4
#: At most this many lines of what the user's code printed are shown.
SHOWN_PRINTED_LINES = 10


@dataclass
class ImplCheck:
    """The outcome: report lines, whether everything agrees, the first wrong tensor's key."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True
    first_wrong: str | None = None  # "forward" or the user's key
    cause: str | None = None
    #: What the TUI shows: the layout, the forward's problem, each tensor's verdict.
    layout: Layout | None = None
    forward: str | None = None
    verdicts: list[TensorVerdict] = field(default_factory=list)
    reference: Reference | None = None
    answer: Answer | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# ------------------------------------------------------------------ running
def _yhat_problem(answer: Answer, ref: Reference, layout: Layout, forward_at: str) -> str | None:
    """Why forward's answer cannot be compared (raised, refused, wrong shape), or None."""
    if answer.stage == "forward" and answer.error:
        return answer.error
    expected = layout.per_point(ref.a[-1]).shape
    if answer.yhat is None or answer.yhat.shape != expected:
        got = None if answer.yhat is None else answer.yhat.shape
        return (
            f"{forward_at}: forward returned yhat of shape {got}; with samples as "
            f"{layout.name} it must be {expected}"
        )
    return None


def run_user_code(runner: ImplRunner, ref: Reference, path: str) -> tuple[Layout, Answer]:
    """The layout (declared, or the first the forward accepts) and the user's answer."""
    info = runner.info
    declared = declared_layout(info.layout, info.layout_line, path)
    if declared is not None:
        candidates = [Layout(declared, "declared")]
    else:
        candidates = [
            Layout(name, f"detected: your forward takes samples as {name}")
            for name in (ROWS, COLUMNS)
        ]
    problems = []
    for layout in candidates:
        answer = runner.run(*ref.inputs(layout))
        problem = _yhat_problem(answer, ref, layout, info.forward_at)
        if problem is None:
            if answer.error:
                raise UserCodeError(answer.error)
            return layout, answer
        problems.append(problem)
    tried = "" if declared else " (tried samples as rows, then as columns)"
    raise UserCodeError(problems[0] + tried)


# ------------------------------------------------------------------ forward
def _forward_hint(yours: Array, ref: Reference, layout: Layout) -> str:
    """What a wrong yhat equals, when it is something recognisable."""
    z = ref.z[-1]
    if same(yours, layout.per_point(z)):
        return f"; yours equals the output layer's Z: the output activation {ref.network.output} is missing"
    for other in OUTPUT_ACTIVATIONS.values():
        if other.name != ref.network.output and same(yours, layout.per_point(other.value(z))):
            return f"; yours is {other.name}(Z{ref.depth}), but the output activation is {ref.network.output}"
    return ""


def check_forward(yours: Array, ref: Reference, layout: Layout) -> str | None:
    """None when yhat agrees with the engine's output, else the one line saying where not."""
    correct = layout.per_point(ref.a[-1])
    ok = close_entries(yours, correct)
    if ok.all():
        return None
    per_point = ok.all(axis=1) if layout.rows else ok.all(axis=0)
    bad = np.flatnonzero(~per_point)
    first = tuple(np.argwhere(~ok)[0])
    return (
        f"forward: yhat differs from the network's output at {len(bad)} of {ref.points} "
        f"points (first: point {bad[0] + 1}, yours {yours[first]:.6g}, correct "
        f"{correct[first]:.6g}{_forward_hint(yours, ref, layout)}) — the backward check "
        "needs a correct forward"
    )


# ----------------------------------------------------------------- backward
def _entries(yours: Array, correct: Array) -> list[str]:
    """How the first wrong tensor differs: counts, the largest gap, the first entries."""
    if yours.shape != correct.shape:
        return [f"shape {yours.shape}, the correct one is {correct.shape}"]
    wrong = ~close_entries(yours, correct)
    gaps = np.abs(yours - correct)
    worst = tuple(
        int(i) for i in np.unravel_index(np.nanargmax(np.where(wrong, gaps, -1)), gaps.shape)
    )
    lines = [
        f"{np.count_nonzero(wrong)} of {wrong.size} entries differ, the most at "
        f"{list(worst)}: by {gaps[worst]:.6g}"
    ]
    for index in np.argwhere(wrong)[:SHOWN_ENTRIES]:
        at = tuple(int(i) for i in index)
        lines.append(f"  {list(at)}: yours {yours[at]:.6g}, correct {correct[at]:.6g}")
    return lines


def _not_checked(name: TensorName, ref: Reference) -> str:
    return (
        f"  - {name.key}: not checked (with {ref.network.output} and {ref.network.loss} "
        "the engine starts at the logits: dZ is checked instead)"
    )


@dataclass(frozen=True)
class TensorVerdict:
    """One of the user's tensors judged: its name, status and, when it differs, why."""

    name: TensorName
    status: str
    shape: tuple[int, ...] = ()
    cause: str | None = None
    entries: tuple[str, ...] = ()  # how it differs (the report's lines)

    @property
    def explained(self) -> str:
        """``dZ1: <its likely cause>`` (a cause that names its tensor already is left so)."""
        key = self.name.key
        cause = self.cause or "no mistake bptui knows explains it"
        named = cause.startswith((f"{key} ", f"{key}:"))
        return cause if named else f"{key}: {cause}"

    @property
    def backward_layer(self) -> int:
        """The backward phase that computes it: dA_{l-1} is made by layer l's."""
        return self.name.layer + 1 if self.name.kind == "A" else self.name.layer


def judge_backward(
    grads: dict[str, Array], ref: Reference, layout: Layout, path: str
) -> list[TensorVerdict]:
    """Every tensor the user returned, in backprop order; those after the first wrong one
    are AFTER (computed from it, so not judged)."""
    verdicts: list[TensorVerdict] = []
    wrong = False
    for name in backprop_order(user_tensors(grads, ref.depth, path)):
        yours = grads[name.key]
        correct = None if wrong else ref.correct(name.kind, name.layer, layout)
        if wrong:
            verdicts.append(TensorVerdict(name, AFTER, yours.shape))
        elif correct is None:
            verdicts.append(TensorVerdict(name, NOT_CHECKED, yours.shape))
        elif same(yours, correct):
            verdicts.append(TensorVerdict(name, AGREES, yours.shape))
        else:
            cause = likely_cause(Suspect(name, yours, correct, ref, layout))
            entries = tuple(_entries(yours, correct))
            verdicts.append(TensorVerdict(name, DIFFERS, yours.shape, cause, entries))
            wrong = True
    return verdicts


def backward_lines(verdicts: list[TensorVerdict], ref: Reference) -> list[str]:
    """The report's backward section: ✓ per agreeing tensor, the first wrong one in full."""
    lines = ["backward, in backprop order (output first):"]
    for position, verdict in enumerate(verdicts):
        name = verdict.name
        if verdict.status == NOT_CHECKED:
            lines.append(_not_checked(name, ref))
        elif verdict.status == AGREES:
            lines.append(f"  ✓ {name.key} {verdict.shape}")
        elif verdict.status == DIFFERS:
            lines.append(f"  ✗ {name.key}: " + "\n    ".join(verdict.entries))
            lines.append(
                f"    likely cause: {verdict.cause or 'no mistake bptui knows explains it'}"
            )
            rest = len(verdicts) - position - 1
            lines.append(
                f"first wrong tensor: {name.key}"
                + (f" ({rest} after it not checked: they are computed from it)" if rest else "")
            )
            return lines
    checked = sum(1 for v in verdicts if v.status == AGREES)
    lines.append(f"all {checked} of your tensors agree with backprop")
    return lines


def check_backward(
    grads: dict[str, Array], ref: Reference, layout: Layout, path: str
) -> tuple[list[str], TensorName | None, str | None]:
    """Report lines, the first wrong tensor (None: all agree) and its likely cause."""
    verdicts = judge_backward(grads, ref, layout, path)
    wrong = next((v for v in verdicts if v.status == DIFFERS), None)
    lines = backward_lines(verdicts, ref)
    return lines, (wrong.name if wrong else None), (wrong.cause if wrong else None)


# -------------------------------------------------------------------- whole
def _printed(text: str) -> list[str]:
    if not text.strip():
        return []
    shown = text.rstrip("\n").splitlines()
    more = len(shown) - SHOWN_PRINTED_LINES
    lines = ["your code printed:"] + [f"  | {line}" for line in shown[:SHOWN_PRINTED_LINES]]
    return lines + ([f"  | … {more} more lines"] if more > 0 else [])


def start_runner(path: str) -> ImplRunner:
    """The user's file read and its worker started (it imports the file meanwhile)."""
    source = read_input_file(Path(path), "a Python file", UserCodeError)
    return ImplRunner(Path(path), source)


def compare(answer: Answer, ref: Reference, layout: Layout, path: str, title: str) -> ImplCheck:
    """The user's answer judged against the engine's reference: forward first, then backward."""
    result = ImplCheck(
        lines=[title, layout.describe()], layout=layout, reference=ref, answer=answer
    )
    result.forward = check_forward(answer.yhat, ref, layout)
    if result.forward is not None:
        result.lines.append(result.forward)
        result.ok, result.first_wrong = False, "forward"
    else:
        result.lines.append(
            f"forward: yhat agrees with the network's output at all {ref.points} points"
        )
        result.verdicts = judge_backward(answer.grads, ref, layout, path)
        result.lines += backward_lines(result.verdicts, ref)
        wrong = next((v for v in result.verdicts if v.status == DIFFERS), None)
        if wrong is not None:
            result.ok, result.first_wrong, result.cause = False, wrong.name.key, wrong.cause
    if ignored_keys(answer.grads):
        result.lines.append(
            f"not compared (no tensor of that name): {', '.join(ignored_keys(answer.grads))}"
        )
    result.lines += _printed(answer.printed)
    return result


def check_impl(
    path: str, stepper: Stepper, title: str, runner: ImplRunner | None = None
) -> ImplCheck:
    """Run the user's file on the stepper's current parameters and data; compare everything.

    The stepper is only read: the worker gets copies, so whatever the user's
    code does to its arrays leaves bptui's state as it was.  ``runner``: one
    started earlier with :func:`start_runner`, so its start overlaps other work.
    """
    with runner or start_runner(path) as running:
        ref = build_reference(stepper.network, stepper.theta.copy(), stepper.x, stepper.y)
        layout, answer = run_user_code(running, ref, path)
    return compare(answer, ref, layout, path, title)


def impl_report(scenario: Scenario, path: str) -> tuple[str, bool]:
    """The ``bptui check --impl`` text for a scenario's initial parameters, and whether all agree."""
    runner = start_runner(path)  # Python and numpy start in the worker while the net is built
    try:
        stepper = Stepper(scenario.training())
    except BaseException:
        runner.worker.stop()
        raise
    sizes = "-".join(map(str, stepper.network.layers))
    net = stepper.network
    title = (
        f"Implementation check: {path} on {scenario.name} ({sizes}, {net.arch.activation} "
        f"hidden, {net.output} output, {net.loss}), {stepper.x.shape[0]} points, step 0"
    )
    result = check_impl(path, stepper, title, runner)
    return result.text, result.ok
