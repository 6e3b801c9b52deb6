"""The help screen (``?``): what each key does, what each pane shows, the errata.

A tabbed modal: "Keys & panes" (the keys generated from the app's BINDINGS by
:mod:`bptui.tui.keys`, then the panes explained) and "Article errata".  Every
page scrolls at every size: the tabs fill the box (so a page is bounded by the
screen, not by its own text), and the shown page holds the focus, so ↓, PgDn,
End and the wheel move it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static, TabbedContent, TabPane

from bptui.tui.keys import help_markdown
from bptui.tui.widgets.errata import ErrataPage

PAGE_TEMPLATE = """\
## Keys

{keys}
## Panes

**Status line** — the scenario, `Step N` (how many updates were applied), the
phase just computed (`done` when the whole step is computed), the loss, the
learning rate α and whether it is running. A red banner appears if training
diverges: press `b` to step back or `R` to reset.

**Diagram** — the network: each node with its value for the selected data
point, each edge labelled with its weight (colour = sign, brightness = size).
The layer being computed in the current phase is highlighted.

**Parameters** — every weight and bias: its value, its gradient ∂Loss/∂θ, the
step the next update takes (−α·∂Loss/∂θ) and Δθ, how much it changed in the
last step (θ_N − θ_N−1). `❄` marks a frozen parameter. During the *update* phase the value shows
old → new.

**Forward pass** — one row per data point: the inputs, each node's
pre-activation z and activation, the target y, the prediction ŷ and the point's
share of the loss.

**Chain rule** — the selected parameter's gradient taken apart: its chain of
factors (the formula of each, and `↻ reused` where backprop did not have to
compute it again), their values and product for each data point, and the sum
of the products, which is the gradient. Below: how many derivatives backprop
evaluates per step versus recomputing every chain from scratch.

**Loss** — the loss per step (`l` toggles a log scale); for one-input
networks `f` shows the data and the network's current curve.

Values that the current phase walk has not computed yet show as `·····`.
"""


def keys_and_panes() -> str:
    """The "Keys & panes" page as Markdown."""
    return PAGE_TEMPLATE.replace("{keys}\n", help_markdown(), 1)


class HelpScreen(ModalScreen[None]):
    """Keys and panes explained; ``escape``, ``q`` or ``?`` closes it."""

    DEFAULT_CSS = """
    HelpScreen #help-box > TabbedContent,
    HelpScreen #help-box ContentSwitcher,
    HelpScreen #help-box TabPane {
        height: 1fr;
    }
    HelpScreen #help-box TabPane {
        padding: 0;
    }
    HelpScreen #help-keys-scroll {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
        Binding("right", "page(1)", "Next page", show=False),
        Binding("left", "page(-1)", "Previous page", show=False),
    ]

    def __init__(self, initial: str | None = None) -> None:
        super().__init__()
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("bptui — help   ← → pages · escape closes", id="help-title")
            with TabbedContent(initial=self.initial or "help-keys"):
                with TabPane("Keys & panes", id="help-keys"):
                    with VerticalScroll(id="help-keys-scroll"):
                        yield Markdown(keys_and_panes())
                with TabPane("Article errata", id="help-errata"):
                    yield ErrataPage()

    def on_mount(self) -> None:
        # Arrow keys and page keys scroll the text straight away.
        self._focus_page()

    def on_tabbed_content_tab_activated(self, _event: TabbedContent.TabActivated) -> None:
        """The page just shown takes the focus, so its keys scroll it."""
        self._focus_page()

    def _focus_page(self) -> None:
        tabs = self.query_one(TabbedContent)
        pane = tabs.get_pane(tabs.active) if tabs.active else None
        if pane is not None:
            pane.query_one(ScrollableContainer).focus()

    def action_page(self, delta: int) -> None:
        """← / → move between the help pages wherever the focus is."""
        tabs = self.query_one(TabbedContent)
        ids = [pane.id for pane in tabs.query(TabPane) if pane.id]
        tabs.active = ids[(ids.index(tabs.active) + delta) % len(ids)]
