"""The help screen's "Article errata" page: each mistake with bptui's numbers."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from bptui.debug.errata import ArticleNumbers, errata

INTRO = (
    "The backpropagation article behind the `article` scenario has mistakes. "
    "bptui computes the right thing; here is each mistake re-enacted beside the correction — every "
    "number below is computed, not copied. Try `bptui check --grads "
    "examples/article_mistake.py` to see bptui catch mistake 3."
)


def errata_renderable(numbers: ArticleNumbers | None = None) -> RenderableType:
    parts: list[RenderableType] = [Text(INTRO, style="italic"), Text("")]
    for e in errata(numbers):
        parts.append(Text(f"{e.number}. {e.title}", style="bold"))
        parts.append(Text.assemble(("   article  ", "red"), e.article))
        parts.append(Text.assemble(("   correct  ", "green"), e.correct))
        if e.numbers:
            table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
            table.add_column("   ", no_wrap=True)
            table.add_column("", no_wrap=True)
            table.add_column("article", style="red")
            table.add_column("correct", style="green")
            for quantity, wrong, right in e.numbers:
                table.add_row("", quantity, wrong, right)
            parts.append(table)
        parts.append(Text(""))
    return Group(*parts)


class ErrataPage(VerticalScroll):
    """The errata, scrollable, for a tab of the help screen."""

    def compose(self) -> ComposeResult:
        yield Static(errata_renderable(), id="errata-body")
