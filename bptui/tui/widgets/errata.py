"""The help screen's "Article errata" page: each mistake with bptui's numbers.

README's table of the article's mistakes is :func:`markdown_table`, made from
the same :func:`~bptui.debug.errata.errata` list the page shows, so the two
cannot drift apart (a test compares README with it).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from bptui.debug.errata import ArticleNumbers, Erratum, errata
from bptui.tui.format import typographic

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
        parts.append(Text.assemble(("   article  ", "red"), typographic(e.article)))
        parts.append(Text.assemble(("   correct  ", "green"), typographic(e.correct)))
        if e.numbers:
            table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
            table.add_column("   ", no_wrap=True)
            table.add_column("", no_wrap=True)
            table.add_column("article", style="red")
            table.add_column("correct", style="green")
            for quantity, wrong, right in e.numbers:
                table.add_row("", quantity, typographic(wrong), typographic(right))
            parts.append(table)
        parts.append(Text(""))
    return Group(*parts)


def _cell(text: str) -> str:
    """Text for one Markdown table cell: typographic minus, no bare ``|``."""
    return typographic(text).replace("|", "\\|")


def _numbers(pairs: list[tuple[str, str]]) -> str:
    shown = [f"{quantity}: {value}" for quantity, value in pairs if value]
    return f" ({'; '.join(shown)})" if shown else ""


def markdown_row(e: Erratum) -> str:
    """``| n | title: the article's version (its numbers) | the correct one (its numbers) |``."""
    article = f"**{e.title}**: {e.article}" + _numbers([(q, w) for q, w, _ in e.numbers])
    correct = e.correct + _numbers([(q, r) for q, _, r in e.numbers])
    return f"| {e.number} | {_cell(article)} | {_cell(correct)} |"


def markdown_table(numbers: ArticleNumbers | None = None) -> str:
    """README's "The article's mistakes" table, generated from the errata page's data."""
    rows = [markdown_row(e) for e in errata(numbers)]
    return "\n".join(["| # | the article | correct (bptui) |", "| --- | --- | --- |", *rows]) + "\n"


class ErrataPage(VerticalScroll):
    """The errata, scrollable, for a tab of the help screen."""

    def compose(self) -> ComposeResult:
        yield Static(errata_renderable(), id="errata-body")
