"""The loss pane: loss per step (linear or log) or, for one-input nets, the fit."""

from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

from bptui.tui.view import View, fit_curve


class LossPane(PlotextPlot):
    """Plots the loss history, or the data and the network's curve (fit view)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view: View | None = None
        self.log_scale = False
        self.fit_mode = False

    def show(self, view: View) -> None:
        self.view = view
        self._replot()

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self._replot()

    def toggle_fit(self) -> None:
        self.fit_mode = not self.fit_mode
        self._replot()

    def _replot(self) -> None:
        view = self.view
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if view is None:
            self.refresh()
            return
        if self.fit_mode and (curve := fit_curve(view)) is not None:
            xs, ys = curve
            plt.scatter(view.record.x[:, 0].tolist(), view.record.y[:, 0].tolist())
            plt.plot(xs.tolist(), ys[:, 0].tolist())
        else:
            losses = np.asarray(view.loss_history, dtype=float)
            steps = np.arange(len(losses))
            keep = np.isfinite(losses)
            plt.plot(steps[keep].tolist(), losses[keep].tolist())
            if self.log_scale:
                plt.yscale("log")
        plt.title(f"step {view.step} loss {view.record.loss:.6g}")
        self.refresh()
