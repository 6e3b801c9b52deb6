"""The gradient check screen (``c``): backprop against central differences.

For every parameter at the current step: the analytic (backprop) gradient,
the numeric one, their relative error |a − n| / max(|a|, |n|) and the verdict
(good ≤ 1e-7; ok-kink ≤ 1e-4 only near a relu kink; kink beyond that where the
nudge straddles it, not comparable; wrong > 1e-2; suspect in
between).  With ``--grads`` the user's values join as a last column.  The
app computes the rows (:meth:`DebugState.gradient_check`); this only renders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from bptui.debug import gradcheck
from bptui.debug.usergrads import UserGradResult
from bptui.tui.format import fmt_error, fmt_plain, fmt_value

VERDICT_STYLE = {
    "good": "green",
    "ok-kink": "yellow",
    "kink": "yellow",
    "imprecise": "yellow",
    "suspect": "yellow",
    "wrong": "bold red",
    "non-finite": "bold red",
}


def _user_cells(mine: UserGradResult | None) -> list[RenderableType]:
    """The "yours" cell and its mark for one parameter."""
    if mine is None or (mine.error is None and mine.user is None):
        return [Text("—", style="dim"), ""]
    if mine.error is not None:
        return [Text("error", style="bold red"), Text("✗", style="bold red")]
    if mine.agrees:
        return [fmt_value(mine.user), Text("✓", style="green")]
    return [Text(fmt_value(mine.user), style="bold red"), Text("✗", style="bold red")]


def check_table(
    rows: Sequence[gradcheck.CheckRow], user_results: Mapping[str, UserGradResult]
) -> Table:
    """One row per parameter: backprop, numeric, relative error, verdict (and yours)."""
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("θ", no_wrap=True)
    table.add_column("backprop", justify="right", no_wrap=True)
    table.add_column("numeric", justify="right", no_wrap=True)
    table.add_column("rel error", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    if user_results:
        table.add_column("yours", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
    for r in rows:
        name = Text(r.name + (" ⚠" if r.near_kink else ""), style="yellow" if r.near_kink else "")
        cells: list[RenderableType] = [
            name,
            fmt_value(r.analytic),
            fmt_value(r.numeric),
            fmt_error(r.rel_error),
            Text(r.verdict, style=VERDICT_STYLE.get(r.verdict, "")),
        ]
        if user_results:
            cells += _user_cells(user_results.get(r.name))
        table.add_row(*cells)
    return table


def user_lines(user_results: Mapping[str, UserGradResult]) -> list[Text]:
    """What is wrong with each of the user's derivatives, or that all agree."""
    lines: list[Text] = []
    for mine in user_results.values():
        if mine.error is not None:
            lines.append(Text(f"✗ {mine.error}", style="bold red"))
        elif mine.user is not None and not mine.agrees:
            lines.append(
                Text.assemble(
                    (f"✗ {mine.function}: ", "bold red"),
                    f"yours {fmt_value(mine.user or 0.0)} vs backprop {fmt_value(mine.backprop)} — ",
                    (mine.diagnosis.message, "red"),
                )
            )
    if user_results and all(m.agrees for m in user_results.values()):
        lines.append(Text(f"✓ all {len(user_results)} of your derivatives agree", style="green"))
    return lines


def gradcheck_renderable(
    rows: Sequence[gradcheck.CheckRow],
    user_results: Mapping[str, UserGradResult] | None = None,
) -> RenderableType:
    """The table, the kink warning, the summary and the user's diagnoses."""
    user_results = user_results or {}
    parts: list[RenderableType] = [check_table(rows, user_results), Text("")]
    kinks = [r.name for r in rows if r.near_kink]
    if kinks:
        parts.append(
            Text(
                f"⚠ near a kink: {', '.join(kinks)} — a relu / leaky_relu input lies within "
                "what a ±h nudge of the parameter can move it, so the numeric value straddles "
                "the kink (errors up to 1e-4 are acceptable there).",
                style="yellow",
            )
        )
    bad = [r.name for r in rows if not r.agrees]
    parts.append(
        Text("✓ backprop agrees with central differences on every parameter", style="green")
        if not bad
        else Text(f"✗ backprop and central differences disagree: {', '.join(bad)}", "bold red")
    )
    return Group(*parts, *user_lines(user_results))


def progress_text(done: int, total: int) -> Text:
    """``nudging the parameters: 12,288 of 99,853 (12%) · escape cancels``."""
    share = f" ({100 * done // total}%)" if total else ""
    return Text(f"nudging the parameters: {done:,} of {total:,}{share} · escape cancels", "yellow")


class GradCheckScreen(ModalScreen[None]):
    """Backprop vs central differences at the current step; escape or c closes."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("c", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(
        self,
        step: int,
        rows: Sequence[gradcheck.CheckRow] | None,
        user_results: Mapping[str, UserGradResult] | None = None,
        total: int = 0,
    ) -> None:
        """``rows`` None: the app is still computing them (a big net); ``total`` parameters."""
        super().__init__()
        self.step = step
        self.rows = None if rows is None else list(rows)
        self.user_results = dict(user_results or {})
        self.total = total

    def _body(self) -> RenderableType:
        if self.rows is None:
            return progress_text(0, self.total)
        return gradcheck_renderable(self.rows, self.user_results)

    def show_progress(self, done: int, total: int) -> None:
        """How far the app's worker is (it calls this from its thread via the app)."""
        if self.rows is None and self.is_attached:
            self.query_one("#gradcheck-body", Static).update(progress_text(done, total))

    def show_rows(self, rows: Sequence[gradcheck.CheckRow]) -> None:
        """The finished check."""
        self.rows = list(rows)
        if self.is_attached:
            self.query_one("#gradcheck-body", Static).update(self._body())

    def compose(self) -> ComposeResult:
        h = f"h = {fmt_plain(gradcheck.STEP)}·max(1, |θ|)"
        with Vertical(id="gradcheck-box"):
            yield Static(
                f"Gradient check · step {self.step} · central differences, {h}   (escape closes)",
                id="gradcheck-title",
            )
            with VerticalScroll(id="gradcheck-scroll"):
                yield Static(self._body(), id="gradcheck-body")
