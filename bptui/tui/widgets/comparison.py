"""The user's derivative beside backprop's and the numeric one, with the diagnosis.

Rendered at the top of the chain pane for the selected parameter: the verdict
(yours vs backprop, which factor is wrong) is what ``--grads`` came to show,
so it is never below the fold; the chain and its table follow and show the
factor named.  What the user's function printed on the real call follows the
verdict, labelled and bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from bptui.tui.format import fmt_error, fmt_list, fmt_value, typographic

if TYPE_CHECKING:  # only with --grads: the judging side is a tenth of a launch
    from bptui.debug.usergrads import UserGradResult

#: At most this many lines of what a ``d_`` function printed, each at most this wide.
PRINTED_LINES = 6
PRINTED_WIDTH = 100


def _values(values: float | Sequence[float]) -> str:
    if isinstance(values, (int, float)):
        return fmt_value(float(values))
    return fmt_list(values)


def _printable(line: str) -> str:
    """One printed line made safe for a pane: tabs and control characters become spaces."""
    cleaned = "".join(c if c.isprintable() else " " for c in line.expandtabs(4))
    return cleaned if len(cleaned) <= PRINTED_WIDTH else cleaned[: PRINTED_WIDTH - 1] + "…"


def printed_lines(result: UserGradResult) -> list[Text]:
    """``d_b3 printed:`` and the first lines of the function's output, if it printed any."""
    output = result.output.rstrip()
    if not output.strip():
        return []
    lines = output.splitlines()
    shown = [Text(f"  │ {_printable(line)}", style="dim") for line in lines[:PRINTED_LINES]]
    if len(lines) > PRINTED_LINES:
        shown.append(Text(f"  │ … {len(lines) - PRINTED_LINES} more lines", style="dim"))
    return [Text(f"{result.function} printed:", style="bold"), *shown]


def comparison_lines(
    results: Mapping[str, UserGradResult], name: str | None, ready: bool = True
) -> list[Text]:
    """Lines for the selected parameter: yours vs backprop vs numeric, then why.

    ``ready`` is False while the phase walk has not reached this gradient yet.
    The lines end with a blank one, to stand apart from the chain below.
    """
    if name is None or name not in results or not ready:
        return []
    result = results[name]
    return [*_verdict_lines(result), *printed_lines(result), Text("")]


def _verdict_lines(result: UserGradResult) -> list[Text]:
    lines: list[Text] = []
    if result.error is not None:
        error = typographic(result.error)
        lines.append(Text.assemble(("yours: ", "bold"), (f"✗ {error}", "bold red")))
        return lines
    if result.user is None:
        message = typographic(result.diagnosis.message)
        lines.append(Text(f"yours ({result.function}): {message}", style="dim"))
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
    lines.append(Text(f"  {typographic(diagnosis.message)}", style="red"))
    if diagnosis.factor and diagnosis.implied is not None and diagnosis.correct is not None:
        lines.append(
            Text(
                f"  implied {_values(diagnosis.implied)}  ·  correct {_values(diagnosis.correct)}",
                style="dim",
            )
        )
    lines.append(Text("  (training follows backprop, not yours)", style="dim"))
    return lines
