"""Plain-text reports for the CLI (``bptui check``)."""

from __future__ import annotations

from bptui.debug.gradcheck import (
    AGREE_REL,
    CANNOT_TELL,
    CANNOT_TELL_WHY,
    CheckRow,
    gradient_check,
)
from bptui.debug.usergrads import UserCodeError, UserGradResult, load_user_grads
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper
from bptui.errors import UsageError
from bptui.scenario.model import Scenario


def _user_results(
    stepper: Stepper, record: StepRecord, grads_path: str
) -> dict[str, UserGradResult]:
    """The user's values at this record; a function that fails is bad input (exit 2)."""
    user_grads = load_user_grads(grads_path, stepper.network)
    try:
        results = user_grads.evaluate(record, stepper.learning_rate)
    finally:
        user_grads.close()
    for result in results.values():
        if result.error is not None:
            raise UserCodeError(f"{grads_path}: {result.error}")
    return results


#: What a user's function printed is shown up to this many lines of this many characters.
PRINTED_LINES = 12
PRINTED_WIDTH = 160


def _rel_text(rel: float | None) -> str:
    """A relative error, or — where none is meaningful (both values below what can be seen)."""
    return f"{'—':>12}" if rel is None else f"{rel:>12.2e}"


def _row(r: CheckRow) -> str:
    """One parameter's line of the backprop-vs-numeric table."""
    line = (
        f"{r.name:<8}{r.analytic:>16.9g}{r.numeric:>16.9g}"
        f"{_rel_text(r.meaningful_rel_error)}  {r.verdict:<9}"
    )
    if r.near_kink:
        line += "  (relu input near its kink)"
    if r.verdict == CANNOT_TELL:
        line += f"  ({CANNOT_TELL_WHY})"
    return line.rstrip()


def _user_row(m: UserGradResult) -> str:
    """One of the user's derivatives against backprop."""
    rel = m.rel_error
    if m.agrees and rel is not None and rel > AGREE_REL:
        rel = None  # agreeing within the absolute floor: the ratio of two ~0s means nothing
    mark = "agrees" if m.agrees else "WRONG"
    row = f"{m.name:<8}{m.user:>16.9g}{m.backprop:>16.9g}{_rel_text(rel)}  {mark}"
    # An entry of a d_W / d_b function: which one, as the user indexes it.
    return row if m.function == f"d_{m.name}" else f"{row:<67}{m.function}"


def _printed(m: UserGradResult) -> list[str]:
    """What the user's function printed on the real call, labelled, indented and bounded."""
    if not m.output:
        return []
    lines = m.output.rstrip("\n").split("\n")
    shown = [
        "    " + (line if len(line) <= PRINTED_WIDTH else line[:PRINTED_WIDTH] + "…")
        for line in lines[:PRINTED_LINES]
    ]
    if len(lines) > PRINTED_LINES:
        shown.append(f"    … ({len(lines) - PRINTED_LINES} more lines)")
    return [f"{m.function} printed:", *shown]


def _user_section(
    results: dict[str, UserGradResult], grads_path: str, names: list[str]
) -> list[str]:
    """The user's file against backprop: a table, what was printed, each diagnosis, the verdict."""
    header = f"{'param':<8}{'yours':>16}{'backprop':>16}{'rel error':>12}  verdict"
    if any(m.function != f"d_{m.name}" for m in results.values()):
        header = f"{header:<67}function"
    lines = ["", f"Your derivatives ({grads_path}) vs backprop:", header]
    lines += [_user_row(results[name]) for name in names if name in results]
    missing = [name for name in names if name not in results]
    if missing:
        lines.append(f"not in your file: {', '.join(missing)}")
    for m in results.values():
        lines += _printed(m)
    return lines + _user_summary(results)


def _user_summary(results: dict[str, UserGradResult]) -> list[str]:
    """A line per wrong derivative with its diagnosis, and the count."""
    wrong = [m for m in results.values() if not m.agrees]
    lines = [
        f"✗ {m.function}: yours {m.user:.8g}, backprop {m.backprop:.8g}, "
        f"numeric {m.numeric:.8g} — {m.diagnosis.message}"
        for m in wrong
    ]
    if wrong:
        lines.append(
            f"your derivatives disagree: {', '.join(m.name for m in wrong)} "
            f"({len(results) - len(wrong)} of {len(results)} agree)"
        )
    else:
        lines.append(f"all {len(results)} of your derivatives agree with backprop")
    return lines


def _numeric_verdict(rows: list[CheckRow], finite: bool, labelled: bool, step: int = 0) -> str:
    """The last line of the backprop-vs-numeric section."""
    if not finite:
        return f"the loss or a gradient is not finite at step {step}: nothing can be compared"
    bad = [r.name for r in rows if not r.agrees]
    verdict = "all gradients agree" if not bad else f"disagree: {', '.join(bad)}"
    return f"backprop vs numeric: {verdict}" if labelled else verdict


def check_report(
    scenario: Scenario, grads_path: str | None = None, step: int = 0
) -> tuple[str, bool]:
    """The gradient-check table at ``step`` and whether every parameter agrees.

    A bug may hide at step 0 (a relu that is still all positive, a bias
    still zero), so ``step`` replays that many updates first, the scenario's
    events included; a step past a divergence is bad input (exit 2) saying
    where the run diverged.

    With ``grads_path`` a second, labelled section judges the user's
    ``d_<param>`` values against backprop, each wrong one with the chain
    factor it is consistent with; its verdict is the report's last line.  A
    derivative that raises or returns a non-number is bad input
    (:class:`UserCodeError`, exit 2), not a disagreement.
    """
    stepper = Stepper(scenario.training())
    if step and stepper.diverged is None:
        stepper.run(step)  # stops where the run diverges
    if stepper.step != step:
        raise UsageError(
            f"--step {step}: the run diverges at step {stepper.diverged}, "
            f"so step {step} is never reached"
        )
    record = stepper.record()
    batch = record.batch
    rows = gradient_check(
        stepper.network, record.theta, record.x[batch], record.y[batch], record.grad
    )
    results = {} if grads_path is None else _user_results(stepper, record, grads_path)

    header = f"{'param':<8}{'backprop':>16}{'numeric':>16}{'rel error':>12}  {'verdict':<9}"
    lines = [f"Gradient check: {scenario.name}, step {step}, loss {record.loss:.10g}"]
    if grads_path is not None:
        lines.append("Backprop vs numeric (central differences):")
    lines += [header.rstrip(), *(_row(r) for r in rows)]
    lines.append(_numeric_verdict(rows, record.finite, grads_path is not None, step))
    ok = record.finite and all(r.agrees for r in rows)
    if grads_path is not None:
        lines += _user_section(results, grads_path, stepper.network.param_names)
        ok = ok and all(m.agrees for m in results.values())
    return "\n".join(lines) + "\n", ok
