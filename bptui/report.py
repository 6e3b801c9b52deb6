"""Plain-text reports for the CLI (``bptui check``)."""

from __future__ import annotations

from bptui.engine.gradcheck import gradient_check
from bptui.engine.scenario import Scenario
from bptui.engine.stepper import Stepper


def check_report(scenario: Scenario, grads_path: str | None = None) -> tuple[str, bool]:
    """The gradient-check table at step 0 and whether every parameter agrees."""
    stepper = Stepper(scenario)
    record = stepper.record()
    batch = record.batch
    rows = gradient_check(
        stepper.network, record.theta, record.x[batch], record.y[batch], record.grad
    )
    lines = [
        f"Gradient check: {scenario.name}, step 0, loss {record.loss:.10g}",
        f"{'param':<8}{'backprop':>16}{'numeric':>16}{'rel error':>12}  verdict",
    ]
    for r in rows:
        kink = "  (relu input near its kink)" if r.near_kink else ""
        lines.append(
            f"{r.name:<8}{r.analytic:>16.9g}{r.numeric:>16.9g}{r.rel_error:>12.2e}  {r.verdict}{kink}"
        )
    ok = all(r.agrees for r in rows)
    bad = [r.name for r in rows if not r.agrees]
    lines.append("all gradients agree" if ok else f"disagree: {', '.join(bad)}")
    return "\n".join(lines) + "\n", ok
