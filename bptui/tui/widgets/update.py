"""The update phase taken apart: how the optimizer moved the selected parameter.

The chain pane shows how a gradient is made; this shows what the optimizer
did with it in the last update: each piece of its state (the penalty term,
velocity, m, v, m̂, v̂, the square average, the step α multiplies) as
``symbol = formula = value``,
ending in θ old → new.  Under plain gradient descent that is g, α·g and
θ old → new.  The pieces and their numbers are the engine's
(``Stepper.update_terms``, carried by the View); this only lays them out.

It sits in the chain pane: above the chain while the phase walk (``n``) is
at the update (the new gradient is still pending there), below it once the
step is whole; the rest of a walk is about the new gradient, and at step 0
there has been no update, so there it is hidden.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.text import Text
from textual.widgets import Static

from bptui.engine.optimizers import number_text
from bptui.tui.format import fmt_value, typographic
from bptui.tui.state import View


def term_value(symbol: str, value: object) -> str:
    """A number as the formulas below it write it; an update count as a whole number.

    The formulas hold their numbers to six significant digits
    (:func:`number_text`), so the values do too: m = 0.000707353 on one line
    is the 0.000707353 in m̂'s formula on the next, where the fixed six
    decimals of the other panes would print 0.000707 (or a column-wide
    scientific style 7.07e−04, and −1.80e−01 for θ).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if symbol == "t" and float(value).is_integer():
            return str(int(value))
        return number_text(float(value))
    return typographic(str(value))


def is_plain_number(formula: str) -> bool:
    """A formula that is only a number (``−0.239875``) says nothing its value does not."""
    try:
        float(formula.replace("−", "-"))
    except ValueError:
        return False
    return True


def update_heading(view: View) -> Text:
    """``Update 3 of w1 · adam: 0.516655 → 0.526473``: which update, by what, old → new."""
    name = view.selected_param or ""
    text = Text.assemble(("Update ", "bold"), (str(view.step), "bold"), " of ")
    text.append(name, style="bold")
    text.append(f" · {view.optimizer_name}", style="bold magenta")
    if view.previous_theta is not None and name in view.network.param_index:
        index = view.network.param_index[name]
        old, new = float(view.previous_theta[index]), float(view.record.theta[index])
        text.append(f": {fmt_value(old)} → {fmt_value(new)}")
    return text


def _padded(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal cells (m̂ is two characters but one cell)."""
    return text + " " * max(0, width - cell_len(text))


def update_lines(view: View) -> list[Text]:
    """``symbol = formula = value`` per term, symbols and formulas in aligned columns."""
    terms = view.update_terms
    symbol_width = max(cell_len(term.symbol) for term in terms)
    formulas = ["" if is_plain_number(t.formula) else typographic(t.formula) for t in terms]
    formula_width = max(cell_len(f) for f in formulas)
    lines = []
    for term, formula in zip(terms, formulas):
        line = Text.assemble(("  " + _padded(term.symbol, symbol_width), "magenta"), " = ")
        if formula:
            line.append(_padded(formula, formula_width) + " = ")
        line.append(term_value(term.symbol, term.value), style="bold")
        lines.append(line)
    return lines


def update_renderable(view: View) -> RenderableType | None:
    """The section for the view, or None where there is no update to show."""
    if view.step == 0 or not view.update_terms or not view.selected_param:
        return None
    parts: list[RenderableType] = [update_heading(view), *update_lines(view)]
    if not view.is_trainable(view.selected_param):
        parts.append(Text("  ❄ frozen: the optimizer leaves it as it was", style="dim"))
    return Group(*parts)


def update_first(view: View) -> bool:
    """The update goes above the chain while the walk stands at it, below once the step is whole."""
    return view.phase.kind == "update" and not view.done


class UpdateSection(Static):
    """One of the two places the update is drawn in the chain pane (above or below the chain)."""

    DEFAULT_CSS = """
    UpdateSection { height: auto; display: none; }
    UpdateSection.-above { margin-bottom: 1; }
    UpdateSection.-below { margin-top: 1; }
    """

    def __init__(self, *, above: bool, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.above = above
        self.set_class(above, "-above")
        self.set_class(not above, "-below")

    def show(self, view: View) -> None:
        renderable = update_renderable(view)
        # Mid walk (forward, loss, backward) the pane is about the new gradient: no update.
        place = True if update_first(view) else False if view.done else None
        here = renderable is not None and place == self.above
        self.display = here
        if here:
            assert renderable is not None
            self.update(renderable)
