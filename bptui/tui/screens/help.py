"""The help screen (``?``): what each pane shows and what each key does.

It is a tabbed modal so more pages can join the "Keys & panes" tab: the app
passes ``extra_tabs`` (title, widget factory) pairs, e.g. the article errata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Markdown, Static, TabbedContent, TabPane

KEYS_AND_PANES = """\
## Keys

- `s` / `space` — **step**: one whole gradient-descent step (or finish the step `n` started)
- `n` — **next phase**: update, forward layer by layer, loss, backward layer by layer
- `r` — **run / pause** (pauses within a tenth of a second)
- `+` / `-` — run **faster / slower**: 1, 2, 5, 10, 30, 100, 300, 1000 steps/s, flat out
- `b` — **back** one step (time travel; also the way out of a divergence)
- `g` — **go to** a step number (forward: runs there)
- `R` — **reset** to step 0
- `[` / `]` / `p` — previous / next **data point** (the diagram shows its values)
- `l` / `f` — loss pane: **log scale** / **fit** view (one-input nets)
- `c` — **gradient check**: backprop against finite differences at this step
- `w` — **watches**: stop a run when a condition holds
- `1` … `5` — show / focus a pane: diagram, parameters, forward, chain, loss
- `↑` / `↓` in the parameters pane, or `,` / `.` anywhere — the parameter the chain pane explains
- `ctrl+p` — command palette: every action by name
- `?` — this help · `q` — quit

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

#: A help page another part of the app adds: its tab title and a widget factory.
HelpTab = tuple[str, Callable[[], Widget]]


class HelpScreen(ModalScreen[None]):
    """Keys and panes explained; ``escape``, ``q`` or ``?`` closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
        Binding("right", "page(1)", "Next page", show=False),
        Binding("left", "page(-1)", "Previous page", show=False),
    ]

    def __init__(self, extra_tabs: Sequence[HelpTab] = (), initial: str | None = None) -> None:
        super().__init__()
        self.extra_tabs = list(extra_tabs)
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("bptui — help   ← → pages · escape closes", id="help-title")
            with TabbedContent(initial=self.initial or "help-keys"):
                with TabPane("Keys & panes", id="help-keys"):
                    with VerticalScroll(id="help-keys-scroll"):
                        yield Markdown(KEYS_AND_PANES)
                for i, (title, factory) in enumerate(self.extra_tabs):
                    with TabPane(title, id=f"help-extra-{i}"):
                        yield factory()

    def on_mount(self) -> None:
        # Arrow keys and page keys scroll the text straight away.
        self.query_one("#help-keys-scroll").focus()

    def action_page(self, delta: int) -> None:
        """← / → move between the help pages wherever the focus is."""
        tabs = self.query_one(TabbedContent)
        ids = [pane.id for pane in tabs.query(TabPane) if pane.id]
        tabs.active = ids[(ids.index(tabs.active) + delta) % len(ids)]
