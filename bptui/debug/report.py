"""Plain-text reports for the CLI (``bptui check``)."""

from __future__ import annotations

from bptui.debug.gradcheck import CheckRow, gradient_check
from bptui.debug.usergrads import UserCodeError, UserGradResult, load_user_grads
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper
from bptui.scenario.model import Scenario


def _user_results(
    stepper: Stepper, record: StepRecord, grads_path: str
) -> dict[str, UserGradResult]:
    """The user's values at this record; a function that fails is bad input (exit 2)."""
    user_grads = load_user_grads(grads_path, stepper.network.param_names)
    try:
        results = user_grads.evaluate(record, stepper.learning_rate)
    finally:
        user_grads.close()
    for result in results.values():
        if result.error is not None:
            raise UserCodeError(f"{grads_path}: {result.error}")
    return results


def _row(r: CheckRow, results: dict[str, UserGradResult]) -> str:
    """One parameter's line of the table, the user's value and verdict beside it."""
    line = f"{r.name:<8}{r.analytic:>16.9g}{r.numeric:>16.9g}{r.rel_error:>12.2e}  {r.verdict:<9}"
    mine = results.get(r.name)
    if mine is not None and mine.user is not None:
        mark = "agrees" if mine.agrees else f"WRONG (rel error {mine.rel_error:.2e})"
        line += f"{mine.user:>16.9g}  {mark}"
    elif results:
        line += f"{'-':>16}"
    if r.near_kink:
        line += "  (relu input near its kink)"
    return line.rstrip()


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


def check_report(scenario: Scenario, grads_path: str | None = None) -> tuple[str, bool]:
    """The gradient-check table at step 0 and whether every parameter agrees.

    With ``grads_path`` the user's ``d_<param>`` values join the table, each
    with a verdict against backprop and, when wrong, the chain factor it is
    consistent with.  A derivative that raises or returns a non-number is bad
    input (:class:`UserCodeError`, exit 2), not a disagreement.
    """
    stepper = Stepper(scenario.training())
    record = stepper.record()
    batch = record.batch
    rows = gradient_check(
        stepper.network, record.theta, record.x[batch], record.y[batch], record.grad
    )
    results = {} if grads_path is None else _user_results(stepper, record, grads_path)

    header = f"{'param':<8}{'backprop':>16}{'numeric':>16}{'rel error':>12}  {'verdict':<9}"
    if results:
        header += f"{'yours':>16}  yours vs backprop"
    lines = [f"Gradient check: {scenario.name}, step 0, loss {record.loss:.10g}", header.rstrip()]
    lines += [_row(r, results) for r in rows]
    ok = all(r.agrees for r in rows)
    bad = [r.name for r in rows if not r.agrees]
    if not record.finite:
        ok = False
        lines.append("the loss or a gradient is not finite at step 0: nothing can be compared")
    else:
        lines.append("all gradients agree" if ok else f"disagree: {', '.join(bad)}")
    if results:
        lines += _user_summary(results)
        ok = ok and all(m.agrees for m in results.values())
    return "\n".join(lines) + "\n", ok
