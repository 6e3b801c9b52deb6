"""The loss pane: loss per step (linear or log) or, for one-input nets, the fit.

It is shown every frame while the app runs flat out, so it only replots when
what it would draw changed, and a history of any length is reduced to about
two points per column (keeping each column's lowest and highest loss, so
spikes survive) before plotext sees it.  Non-finite losses of a diverged run
are left out: plotext cannot place them, and the banner says what happened.
"""

from __future__ import annotations

import math
import time

import numpy as np
from textual.timer import Timer
from textual_plotext import PlotextPlot

from bptui.tui.format import fmt_significant, fmt_tick
from bptui.tui.state import PENDING, View

LINE_MARKER = "hd"
#: While running, the plot is rebuilt at most this often (seconds).
RUNNING_INTERVAL = 0.1
#: plotext overflows on finite values near 1e308 (and on subnormals in log
#: scale), so everything plotted is clipped to this magnitude first.
CLIP = 1e100
LOSS_COLOUR = (90, 170, 255)
DATA_COLOUR = (255, 140, 40)
CURVE_COLOURS = [(90, 170, 255), (80, 200, 100), (200, 120, 230), (230, 210, 60)]


def downsample(values: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) with at most ~2 points per column, keeping each column's min and max.

    Non-finite values are dropped first.  With few enough points every one is kept.
    """
    values = np.asarray(values, dtype=float)
    steps = np.flatnonzero(np.isfinite(values))
    kept = values[steps]
    buckets = max(1, columns)
    if len(kept) <= 2 * buckets:
        return steps, kept
    edges = np.linspace(0, len(kept), buckets + 1).astype(int)
    edges = np.unique(edges[:-1])
    lows = np.minimum.reduceat(kept, edges)
    highs = np.maximum.reduceat(kept, edges)
    # Each bucket becomes two points, at its first and last step, ordered the
    # way the loss moved through it: the line spans the bucket's whole range
    # (a spike stays visible) without zig-zagging against the trend.
    ends = np.append(edges[1:], len(kept)) - 1
    falling = kept[edges] >= kept[ends]
    out_steps = np.empty(2 * len(edges), dtype=int)
    out_vals = np.empty(2 * len(edges))
    out_steps[0::2], out_steps[1::2] = steps[edges], steps[ends]
    out_vals[0::2] = np.where(falling, highs, lows)
    out_vals[1::2] = np.where(falling, lows, highs)
    return out_steps, out_vals


def nice_ticks(low: float, high: float, count: int) -> np.ndarray:
    """About ``count`` round ticks (steps of 1, 2, 2.5 or 5 × 10ᵏ) inside [low, high].

    Falls back to evenly spaced ticks when fewer than two round ones fit.
    """
    span = high - low
    if not span > 0 or not math.isfinite(span):
        return np.linspace(low, high, count)
    power = 10.0 ** math.floor(math.log10(span / max(1, count - 1)))
    for step in (f * power * scale for scale in (0.1, 1.0, 10.0) for f in (1, 2, 2.5, 5)):
        first = math.ceil(low / step - 1e-9) * step
        ticks = np.arange(first, high + step * 1e-9, step)
        if len(ticks) <= count:  # the finest round step that is not too crowded
            if len(ticks) >= 2:
                return np.round(ticks / step) * step
            break
    return np.linspace(low, high, count)


def fit_curve(view: View, samples: int = 120) -> tuple[np.ndarray, np.ndarray] | None:
    """The network's current curve over the data's x range (one-input nets only).

    A forward pass over a grid, no gradients: the fit view's line.  Returns
    (xs, ŷ with one column per output) or None when the net has several inputs.
    """
    net = view.network
    if net.layers[0] != 1:
        return None
    x = view.record.x[:, 0]
    low, high = float(x.min()), float(x.max())
    pad = 0.1 * (high - low or 1.0)
    xs = np.linspace(low - pad, high + pad, samples)
    with np.errstate(all="ignore"):
        ys = net.predict(view.record.theta, xs[:, None])
    return xs, ys


class LossPane(PlotextPlot):
    """Plots the loss history, or the data and the network's curve (fit view).

    ``l`` toggles a log y axis, ``f`` the fit view (one-input networks only).
    """

    DEFAULT_CSS = """
    LossPane { height: 1fr; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view: View | None = None
        self.log_scale = False
        self.fit_mode = False
        self.plotted: dict[str, list[float]] = {}
        self._signature: tuple | None = None
        self._last_plot = -math.inf
        self._catch_up: Timer | None = None
        self._auto_log_at: int | None = None

    # ------------------------------------------------------------ actions
    def show(self, view: View) -> None:
        """Take a new snapshot; replot only when the picture would change.

        While the app runs, replots are spaced at least ``RUNNING_INTERVAL``
        apart (a timer catches up with the latest view), because a plotext
        build is the most expensive thing a frame draws and a loss curve
        drawn ten times a second looks just as live.
        """
        self.view = view
        if view.diverged is not None and view.diverged != self._auto_log_at:
            # A blow-up is a wall on a linear axis and a readable slope on a
            # log one: switch once per divergence (l switches back).
            self._auto_log_at = view.diverged
            self.log_scale = True
        if view.running:
            wait = self._last_plot + RUNNING_INTERVAL - time.monotonic()
            if wait > 0:
                if self._catch_up is None:
                    self._catch_up = self.set_timer(wait, self._caught_up)
                return
        self._replot()

    def _caught_up(self) -> None:
        self._catch_up = None
        self._replot()

    def toggle_log(self) -> None:
        """Switch the loss axis between linear and logarithmic."""
        self.log_scale = not self.log_scale
        self._replot()

    def toggle_fit(self) -> None:
        """Switch between the loss curve and the fit of the data (one input only)."""
        if not self.fit_mode and self.view is not None and self.view.network.layers[0] != 1:
            inputs = self.view.network.layers[0]
            self.notify(
                f"The fit view needs a one-input network; this one has {inputs} inputs.",
                title="Fit view",
                severity="warning",
            )
            return
        self.fit_mode = not self.fit_mode
        self._replot()

    def set_log_scale(self, log_scale: bool) -> None:
        """Show the loss axis linear or logarithmic (the app's ``log_scale``)."""
        if log_scale != self.log_scale:
            self.toggle_log()

    def set_fit_mode(self, fit_mode: bool) -> None:
        """Show the fit or the loss (the app's ``fit_view``); a refused fit is explained."""
        if fit_mode != self.fit_mode:
            self.toggle_fit()

    def on_resize(self) -> None:
        self._replot()

    # ----------------------------------------------------------- plotting
    def _columns(self) -> int:
        return max(10, self.size.width - 10)  # minus the y tick labels

    def _signature_of(self, view: View) -> tuple:
        history = view.loss_history
        last = float(history[-1]) if len(history) else math.nan
        common = (self.fit_mode, self.log_scale, self.size.width, self.size.height, view.step)
        if self.fit_mode:  # the curve depends on the parameters alone
            return (*common, hash(view.record.theta.tobytes()))
        return (*common, len(history), last, view.diverged, view.shows_loss)

    def _replot(self) -> None:
        view = self.view
        if view is None:
            return
        signature = self._signature_of(view)
        if signature == self._signature:
            return
        self._signature = signature
        self._last_plot = time.monotonic()
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.plotted = {}
        if self.fit_mode and view.network.layers[0] == 1:
            self._plot_fit(view)
        else:
            self._plot_loss(view)
        plt.title(self.title_text(self.size.width - 2))
        self.refresh()

    def _plot_loss(self, view: View) -> None:
        plt = self.plt
        history = view.loss_history
        if not view.shows_loss:
            history = history[:-1]  # mid phase walk: this step's loss is still pending
        steps, losses = downsample(history, self._columns())
        if len(steps) == 0:
            return
        if self.log_scale:
            # log10 by hand: plotext's log axis overflows on tiny values and
            # writes every digit of huge tick values
            heights = np.log10(np.clip(losses, 1 / CLIP, CLIP))
        else:
            heights = np.clip(losses, -CLIP, CLIP)
        xs, ys = steps.tolist(), heights.tolist()
        if len(xs) == 1:
            plt.scatter(xs, ys, color=LOSS_COLOUR, marker="●")  # a lone point, visibly
        else:
            plt.plot(xs, ys, color=LOSS_COLOUR, marker=LINE_MARKER)
        self._step_axis(xs[-1])
        self._y_axis(float(heights.min()), float(heights.max()), log=self.log_scale)
        plt.xlabel("step")
        self.plotted = {"steps": xs, "loss": losses.tolist()}

    def _step_axis(self, last: int) -> None:
        """Whole-number step ticks from 0 to the last step (at least 0…1)."""
        last = max(1, last)
        count = max(2, min(6, self._columns() // 10))
        ticks = np.unique(np.round(np.linspace(0, last, count)).astype(int)).tolist()
        self.plt.xlim(0, last)
        self.plt.xticks(ticks, [str(t) for t in ticks])

    def _y_axis(self, low: float, high: float, *, log: bool) -> None:
        """Short tick labels (plotext would print all 100 digits of 1e100)."""
        count = max(2, min(5, (self.size.height - 4) // 2))
        if high - low < 1e-12 * max(1.0, abs(high)):
            pad = 0.5 if log else 0.1 * (abs(high) or 1.0)  # a flat line: give it room
            low, high = low - pad, high + pad
        if log and high - low >= count - 1:
            ticks = np.unique(np.round(np.linspace(low, high, count)))
        elif log:
            ticks = np.linspace(low, high, count)
        else:
            ticks = nice_ticks(low, high, count)
        labels = [fmt_tick(10**t if log else t) for t in ticks]
        if high >= (math.log10(CLIP) if log else CLIP):
            labels[-1] = "≥" + labels[-1]  # values beyond were clipped to this
        self.plt.ylim(low, high)
        self.plt.yticks(ticks.tolist(), labels)

    def _plot_fit(self, view: View) -> None:
        plt = self.plt
        rec = view.record
        curve = fit_curve(view, samples=max(20, min(2 * self._columns(), 240)))
        data_x = rec.x[:, 0]
        plotted: dict[str, list[float]] = {"data_x": data_x.tolist()}
        heights = [rec.y.ravel()]
        if curve is not None:
            xs, ys = curve
            for k in range(ys.shape[1]):
                column = ys[:, k]
                finite = np.isfinite(column)
                column = np.clip(column[finite], -CLIP, CLIP)
                if column.size:
                    colour = CURVE_COLOURS[k % len(CURVE_COLOURS)]
                    plt.plot(xs[finite].tolist(), column.tolist(), color=colour, marker=LINE_MARKER)
                    heights.append(column)
                plotted[f"curve_x{k}"] = xs[finite].tolist()
                plotted[f"curve_y{k}"] = column.tolist()
        for k in range(rec.y.shape[1]):
            plt.scatter(data_x.tolist(), rec.y[:, k].tolist(), color=DATA_COLOUR, marker="●")
            plotted[f"data_y{k}"] = rec.y[:, k].tolist()
        every = np.concatenate(heights)
        self._y_axis(float(every.min()), float(every.max()), log=False)
        plt.xlabel("x")
        self.plotted = plotted

    def title_text(self, width: int | None = None) -> str:
        """The plot title: which view, the step and the loss.

        With a ``width``, the longest form that fits (plotext drops a title
        wider than the plot): details go first, the view's name last.
        """
        view = self.view
        if view is None:
            return "Loss"
        loss = fmt_significant(float(view.record.loss)) if view.shows_loss else PENDING
        if self.fit_mode and view.network.layers[0] == 1:
            forms = [
                f"Fit (● data) · step {view.step} · loss {loss}",
                f"Fit (● data) · loss {loss}",
                "Fit (● data)",
            ]
        else:
            name = "Loss (log)" if self.log_scale else "Loss"
            forms = [f"{name} · step {view.step} · {loss}", f"{name} · {loss}", name]
            if view.diverged is not None:
                forms.insert(0, f"{forms[0]} · diverged at step {view.diverged}")
        if width is None:
            return forms[0]
        return next((form for form in forms if len(form) <= width), "")
