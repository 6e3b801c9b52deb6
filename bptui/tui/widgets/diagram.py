"""The network diagram pane: nodes, edges and their current values."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from bptui.tui.view import PENDING, View


class NetworkDiagram(Widget):
    """Draws the network of the current View (first version: a plain listing)."""

    DEFAULT_CSS = """
    NetworkDiagram { height: 1fr; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view: View | None = None

    def show(self, view: View) -> None:
        """Take a new snapshot and redraw."""
        self.view = view
        self.refresh()

    def render(self) -> Text:
        view = self.view
        if view is None:
            return Text("")
        text = Text()
        net = view.network
        point = view.selected_point
        for layer, names in enumerate(net.node_names):
            for name in names:
                if view.shows_forward(layer):
                    value = f"{view.record.nodes[name][point]:.3f}"
                else:
                    value = PENDING
                text.append(f"{name} {value}  ")
            text.append("\n")
        for name, value in view.record.params.items():
            text.append(f"{name} {value:.3f}  ", style="cyan" if value >= 0 else "red")
        return text
