"""``--impl``: the user's tensors judged per backward layer, and one parameter beside backprop.

Rendered at the top of the chain pane, as ``--grads``' verdict is: what the
user came to see is never below the fold.  The layers are listed in the order
backprop (and ``bptui check --impl``) walks them, output layer first; each
tensor is ✓ (agrees), ✗ (the first that differs, with its likely cause) or ·
(not judged: computed from the wrong one, or a tensor bptui does not have).
Then the selected parameter: the user's entry of dW or db beside backprop's
∂Loss/∂θ and their ratio.  Everything shown was computed in the debug layer,
at the step the verdict names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from bptui.debug.impl.agree import AGREES, DIFFERS
from bptui.tui.format import fmt_precise, fmt_value, typographic

if TYPE_CHECKING:
    from bptui.debug.impl.check import TensorVerdict
    from bptui.debug.impl.live import ImplShown, ParamComparison

WRONG = "bold red"
RIGHT = "bold green"


def _mark(verdict: TensorVerdict) -> tuple[str, str]:
    if verdict.status == AGREES:
        return f"✓ {verdict.name.key}", "green"
    if verdict.status == DIFFERS:
        return f"✗ {verdict.name.key}", WRONG
    return f"· {verdict.name.key}", "dim"


def _title(shown: ImplShown) -> Text:
    verdict = shown.verdict
    text = Text.assemble(
        ("your implementation", "bold"), f" ({Path(verdict.path).name}) at step {verdict.step}"
    )
    if not shown.current:
        text.append("  (checking this step…)", style="dim")
    return text


def layer_lines(shown: ImplShown) -> list[Text]:
    """Forward, then one line per backward layer (output first), then the first wrong cause."""
    verdict = shown.verdict
    lines = [_title(shown)]
    if verdict.error is not None:
        return [*lines, Text(f"  ✗ {typographic(verdict.error)}", style=WRONG)]
    check = verdict.check
    assert check is not None
    if check.forward is not None:
        lines.append(Text(f"  ✗ {typographic(check.forward)}", style=WRONG))
        return lines
    lines.append(Text.assemble("  forward  ", ("✓ yhat", "green")))
    for layer, verdicts in verdict.by_layer():
        line = Text(f"  layer {layer}  ")
        for i, tensor in enumerate(verdicts):
            line.append("  " * (i > 0))
            line.append(*_mark(tensor))
        lines.append(line)
    wrong = verdict.first_wrong
    if wrong is None:
        lines.append(Text("  every tensor you return agrees with backprop", style=RIGHT))
        return lines
    lines.append(Text(f"  ✗ {typographic(wrong.explained)}", style=WRONG))
    if any(v.status != AGREES and v is not wrong for v in check.verdicts):
        lines.append(Text(f"  · not judged: computed from {wrong.name.key}", style="dim"))
    return lines


def param_line(param: ParamComparison) -> Text:
    """``w3: yours dW1[0, 1] = 0.224  backprop 0.0242  ratio 9.28  ✗``."""
    line = Text.assemble((f"{param.name}: ", "bold"))
    if param.yours is None:
        line.append(f"yours: {param.unreadable}", style=WRONG)
    else:
        line.append(f"yours {param.tensor} = ")
        line.append(fmt_value(param.yours), style="bold")
    line.append(f"   backprop ∂Loss/∂{param.name} = ")
    line.append(fmt_value(param.backprop), style="bold")
    if param.agrees:
        return line.append("  ✓ agrees", style=RIGHT)
    if param.ratio is not None:
        line.append(f"   ratio {fmt_precise(param.ratio)}")
    verdict = param.verdict
    why = "  ✗"
    if verdict is not None and verdict.status not in (AGREES, DIFFERS):
        why += " (computed from the first wrong tensor)"
    return line.append(why, style=WRONG)


def impl_lines(shown: ImplShown | None) -> list[Text]:
    """Everything ``--impl`` puts at the top of the chain pane (nothing without it)."""
    if shown is None:
        return []
    lines = layer_lines(shown)
    if shown.param is not None:
        lines.append(param_line(shown.param))
    return [*lines, Text("")]
