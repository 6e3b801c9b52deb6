"""The user's derivative beside backprop's and the numeric one, with the diagnosis.

Rendered under the chain pane's table for the selected parameter, so the
factor a wrong value is consistent with sits right below that factor's column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from bptui.debug.usergrads import UserGradResult
from bptui.tui.format import fmt_error, fmt_value


def _values(values: float | Sequence[float]) -> str:
    if isinstance(values, (int, float)):
        return fmt_value(float(values))
    return "[" + ", ".join(fmt_value(float(v), 4) for v in values) + "]"


def comparison_lines(
    results: Mapping[str, UserGradResult], name: str | None, ready: bool = True
) -> list[Text]:
    """Lines for the selected parameter: yours vs backprop vs numeric, then why.

    ``ready`` is False while the phase walk has not reached this gradient yet.
    """
    if name is None or name not in results or not ready:
        return []
    result = results[name]
    lines = [Text("")]
    if result.error is not None:
        lines.append(Text.assemble(("yours: ", "bold"), (f"✗ {result.error}", "bold red")))
        return lines
    if result.user is None:
        lines.append(Text(f"yours ({result.function}): {result.diagnosis.message}", style="dim"))
        return lines
    verdict = (
        ("✓ agrees", "bold green")
        if result.agrees
        else (f"✗ wrong (rel error {fmt_error(result.rel_error, 2)})", "bold red")
    )
    lines.append(
        Text.assemble(
            (f"yours ({result.function}) = ", "bold"),
            (fmt_value(result.user), "bold"),
            "  ",
            verdict,
        )
    )
    lines.append(
        Text(
            f"backprop = {fmt_value(result.backprop)}   numeric = {fmt_value(result.numeric)}",
            style="dim",
        )
    )
    if result.agrees:
        return lines
    diagnosis = result.diagnosis
    if diagnosis.factor:
        lines.append(Text.assemble(("✗ the factor: ", "bold red"), (diagnosis.factor, "bold cyan")))
    lines.append(Text(f"  {diagnosis.message}", style="red"))
    if diagnosis.factor and diagnosis.implied is not None and diagnosis.correct is not None:
        lines.append(
            Text(
                f"  implied {_values(diagnosis.implied)}  ·  correct {_values(diagnosis.correct)}",
                style="dim",
            )
        )
    return lines
