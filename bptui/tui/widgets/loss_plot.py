"""The loss pane: loss per step, or what the net computes (the fit view, ``f``).

The fit view of a one-input net draws the data, the net's curve and each
hidden unit's part of it (its outgoing weight times its activation, plus the
output bias: the parts add up to the output's z, the curve itself for an
identity output).  For a two-input net it is a heatmap over the input plane
(:mod:`bptui.tui.widgets.heatmap`).  Both come from forward passes over a
grid of inputs; no gradient is computed here.

It is shown every frame while the app runs flat out, so it only replots when
what it would draw changed, and a history of any length is reduced to about
two points per column (keeping each column's lowest and highest loss, so
spikes survive) before plotext sees it.  Non-finite losses of a diverged run
are left out: plotext cannot place them, and the banner says what happened.

plotext (through textual-plotext) is imported when the pane first plots,
which is just after the app's first frame: its import is a sixth of the
launch, and the first frame shows the status line's loss already.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from rich.text import Text
from textual.app import RenderResult
from textual.timer import Timer
from textual.widget import Widget

from bptui.tui.format import fmt_significant, fmt_tick
from bptui.tui.state import PENDING, View
from bptui.tui.widgets.heatmap import HeatmapPicture, picture

if TYPE_CHECKING:
    from textual_plotext.plot import Plot

#: Braille dots: 2×4 points per character, so long curves keep their detail.
LINE_MARKER = "braille"
#: While running, the plot is rebuilt at most this often (seconds).
RUNNING_INTERVAL = 0.1
#: plotext overflows on finite values near 1e308 (and on subnormals in log
#: scale), so everything plotted is clipped to this magnitude first.
CLIP = 1e100
LOSS_COLOUR = (90, 170, 255)
DATA_COLOUR = (235, 235, 235)
CURVE_COLOURS = [(80, 200, 100), (90, 170, 255), (200, 120, 230), (230, 210, 60)]
#: A unit named after a colour (the article's blue, orange, green) is drawn in it.
NAMED_COLOURS = {
    "blue": (90, 170, 255),
    "orange": (255, 150, 40),
    "green": (80, 200, 100),
    "red": (240, 90, 90),
    "purple": (200, 120, 230),
    "yellow": (230, 210, 60),
}
PART_COLOUR = (150, 150, 150)
#: Each run's colour, in the order of the runs (the first is the one loss curve's).
RUN_COLOURS = [
    LOSS_COLOUR,
    (255, 150, 40),
    (80, 200, 100),
    (200, 120, 230),
    (240, 90, 90),
    (230, 210, 60),
]


def paler(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """A run's colour halfway to white: its test loss."""
    r, g, b = colour
    return ((r + 255) // 2, (g + 255) // 2, (b + 255) // 2)


#: The loss plot's step axes, cycled by ``x``.
STEP_AXES = ("all", "log", "recent")
#: The recent view shows this many last steps.
RECENT_STEPS = 100


def downsample(
    values: np.ndarray, columns: int, *, log_spaced: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) with at most ~2 points per column, keeping each column's min and max.

    Non-finite values are dropped first.  With few enough points every one is
    kept.  ``log_spaced`` buckets for a log step axis: the early steps, which
    spread over most of it, keep their detail.
    """
    values = np.asarray(values, dtype=float)
    steps = np.flatnonzero(np.isfinite(values))
    kept = values[steps]
    buckets = max(1, columns)
    if len(kept) <= 2 * buckets:
        return steps, kept
    if log_spaced:
        edges = (np.geomspace(1, len(kept) + 1, buckets + 1) - 1).astype(int)
    else:
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


def step_ticks(first: int, last: int, count: int) -> list[int]:
    """At most ``count`` steps from ``first`` to ``last``, evenly spaced, then ``last`` itself.

    Rounding ``count`` evenly spaced points to whole steps spaced them
    unevenly (0 1 2 4 5 for five ticks over five steps: the axis read as if
    step 3 were missing).  Here every gap but the last is the same whole
    number of steps; a grid tick closer than half a gap to ``last`` gives way to it.
    """
    gap = max(1, math.ceil((last - first) / max(1, count - 1)))
    ticks = list(range(first, last, gap))
    if len(ticks) > 1 and last - ticks[-1] < gap / 2:
        ticks.pop()
    return [*ticks, last]


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


def unit_parts(view: View, xs: np.ndarray) -> list[tuple[str, str, np.ndarray]]:
    """Each last-hidden-layer unit's part of the output over ``xs``: (label, node, values).

    The output's z is Σⱼ wⱼ·aⱼ(x) + b: the parts are wⱼ·aⱼ(x), one per
    unit, then the bias b (a constant).  One output only (else empty).
    """
    net = view.network
    if net.layers[0] != 1 or net.layers[-1] != 1 or net.depth < 2:
        return []
    theta = view.record.theta
    with np.errstate(all="ignore"):
        _, acts = net.forward(theta, xs[:, None])
    weights, bias = net.views(theta)[-1]
    weight_start = net.weight_slices[-1].start
    bias_name = net.param_names[net.bias_slices[-1].start]
    parts = []
    for j, node in enumerate(net.node_names[-2]):
        name = net.param_names[weight_start + j]
        parts.append((f"{name}·{node}", node, weights[0, j] * acts[-2][:, j]))
    parts.append((bias_name, bias_name, np.full(xs.shape, float(bias[0]))))
    return parts


class LossPane(Widget):
    """Plots the loss history, or what the network computes (fit view).

    ``l`` toggles a log y axis, ``x`` cycles the step axis, ``f`` the fit view
    (one input: curves; two inputs: a heatmap, ``u`` cycling its unit).
    It draws with textual-plotext's ``Plot`` as its ``PlotextPlot`` widget
    does, the plot made on first use (see the module docstring).
    """

    DEFAULT_CSS = """
    LossPane { height: 1fr; width: 1fr; }
    """

    def __init__(
        self, *, id: str | None = None, classes: str | None = None, after_first_frame: bool = False
    ) -> None:
        """``after_first_frame``: plot (and import plotext) only once :meth:`allow_plot` is called."""
        super().__init__(id=id, classes=classes)
        self._plot: Plot | None = None
        #: May the pane plot yet (with ``after_first_frame``: not before :meth:`allow_plot`)?
        self._may_plot = not after_first_frame
        self.view: View | None = None
        self.log_scale = False
        self.fit_mode = False
        self.plotted: dict[str, list[float]] = {}
        self._signature: tuple | None = None
        self._last_plot = -math.inf
        self._catch_up: Timer | None = None
        self._auto_log_at: int | None = None
        self.step_axis = STEP_AXES[0]
        #: The heatmap's unit: 0 the output, k the k-th hidden unit.
        self.heatmap_unit = 0
        self._picture: HeatmapPicture | None = None

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

    @property
    def heatmap_mode(self) -> bool:
        """The fit view of a two-input net: a heatmap."""
        return self.fit_mode and self.view is not None and self.view.network.layers[0] == 2

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda theme: self._register_theme())

    def allow_plot(self) -> None:
        """Plot from now on (the app calls this once its first frame is on the screen)."""
        self._may_plot = True
        self._replot()

    @property
    def plt(self) -> Plot:
        """textual-plotext's plotting object, made (and plotext imported) on first use."""
        if self._plot is None:
            from textual_plotext.plot import Plot

            self._plot = Plot()
            self._register_theme()
        return self._plot

    def _theme_name(self) -> str:
        return f"textual-auto-{self.app.theme}"

    def _register_theme(self) -> None:
        """The app's theme as a plotext theme (PlotextPlot's "auto" theme, as it does it)."""
        if self._plot is None:
            return  # the plot registers it when it is made
        from plotext._dict import themes
        from textual.color import Color
        from textual_plotext.plot import _rgbify_theme, _sequence

        name = self._theme_name()
        if name not in themes:
            surface = Color.parse(self.app.theme_variables.get("surface")).rgb
            foreground = Color.parse(self.app.theme_variables.get("foreground")).rgb
            themes[name] = _rgbify_theme(surface, surface, foreground, "default", _sequence)
        self.refresh()

    def render(self) -> RenderResult:
        if self.heatmap_mode and self._picture is not None:
            return self._picture
        if self._plot is None:
            return ""  # the first frame: the plot comes right after it
        width, height = self.size
        self._plot.plotsize(width, height)
        self._plot._set_size(width, height)  # as PlotextPlot.render: resizing needs both
        self._plot.theme(self._theme_name())
        return Text.from_ansi(self._plot.build())

    def set_step_axis(self, axis: str) -> None:
        """All steps, a log step axis, or the last :data:`RECENT_STEPS` (the app's ``step_axis``)."""
        if axis != self.step_axis:
            self.step_axis = axis
            self._replot()

    def set_heatmap_unit(self, unit: int) -> None:
        """Which map the heatmap shows: 0 the output, k hidden unit k."""
        if unit != self.heatmap_unit:
            self.heatmap_unit = unit
            self._replot()

    def toggle_fit(self) -> None:
        """Switch between the loss curve and the fit (one input) or heatmap (two inputs)."""
        if not self.fit_mode and self.view is not None and self.view.network.layers[0] > 2:
            inputs = self.view.network.layers[0]
            self.notify(
                f"The fit view needs one or two inputs; this network has {inputs}.",
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
            return (*common, self.heatmap_unit, hash(view.record.theta.tobytes()))
        lines = tuple(
            (c.label, len(c.losses), float(c.losses[-1]) if len(c.losses) else math.nan)
            for c in view.curves
        )
        return (*common, self.step_axis, len(history), last, view.diverged, view.shows_loss, lines)

    def _replot(self) -> None:
        view = self.view
        if view is None or not self._may_plot:
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
        self.border_title = "Heatmap" if self.heatmap_mode else "Fit" if self.fit_mode else "Loss"
        if self.heatmap_mode:
            self._picture = picture(view, self.heatmap_unit, self.size.width, self.size.height)
            self.refresh()
            return
        if self.fit_mode and view.network.layers[0] == 1:
            self._plot_fit(view)
        else:
            self._plot_loss(view)
        plt.title(self.title_text(self.size.width - 2))
        self.refresh()

    def _lines(self, view: View) -> list[tuple[str | None, np.ndarray, tuple[int, int, int], bool]]:
        """(label, losses, colour, is the current run's loss) of every line to draw.

        One run without a test set or mini-batches: the one unlabelled loss
        curve.  Otherwise every run's loss in its colour, the current run's
        test loss in a paler one and its mini-batch loss in grey, labelled.
        """
        if not view.curves:
            return [(None, view.loss_history, LOSS_COLOUR, True)]
        lines = []
        for curve in view.curves:
            colour = RUN_COLOURS[curve.run % len(RUN_COLOURS)]
            if curve.kind == "test":
                colour = paler(colour)
            elif curve.kind == "batch":
                colour = PART_COLOUR
            label = f"{curve.label} ◂" if curve.current and curve.kind == "train" else curve.label
            lines.append((label, curve.losses, colour, curve.current and curve.kind == "train"))
        return lines

    def _plot_loss(self, view: View) -> None:
        plt = self.plt
        lines = self._lines(view)
        if not view.shows_loss:  # mid phase walk: this step's loss is still pending
            lines = [(lab, h[:-1] if cur else h, col, cur) for lab, h, col, cur in lines]
        longest = max(len(history) for _, history, _, _ in lines)
        first = max(0, longest - RECENT_STEPS) if self.step_axis == "recent" else 0
        log_steps = self.step_axis == "log"
        plotted: dict[str, list[float]] = {}
        every: list[np.ndarray] = []
        last_step = 0
        for label, history, colour, current in lines:
            steps, losses = downsample(history[first:], self._columns(), log_spaced=log_steps)
            steps = steps + first
            if len(steps) == 0:
                continue
            heights = self._heights(losses)
            every.append(heights)
            last_step = max(last_step, int(steps[-1]))
            xs = (np.log10(steps + 1.0) if log_steps else steps).tolist()
            ys = heights.tolist()
            if len(xs) == 1:
                plt.scatter(xs, ys, color=colour, marker="●", label=label)  # a lone point, visibly
            else:
                plt.plot(xs, ys, color=colour, marker=LINE_MARKER, label=label)
            if current:
                plotted.update(steps=steps.tolist(), loss=losses.tolist())
            if label is not None:
                plotted[f"line {label}"] = losses.tolist()
        if not every:
            return
        if log_steps:
            self._log_step_axis(last_step)
        else:
            self._step_axis(first, last_step)
        heights = np.concatenate(every)
        self._y_axis(float(heights.min()), float(heights.max()), log=self.log_scale)
        label = {"all": "step", "log": "step (log)", "recent": f"step (last {RECENT_STEPS})"}
        plt.xlabel(label[self.step_axis])
        self.plotted = plotted

    def _heights(self, losses: np.ndarray) -> np.ndarray:
        """Where each loss is drawn: clipped, and log10 by hand on a log axis.

        plotext's own log axis overflows on tiny values and writes every
        digit of huge tick values.
        """
        if self.log_scale:
            return np.log10(np.clip(losses, 1 / CLIP, CLIP))
        return np.clip(losses, -CLIP, CLIP)

    def _step_axis(self, first: int, last: int) -> None:
        """Whole-number step ticks from ``first`` to the last step (see :func:`step_ticks`)."""
        last = max(first + 1, last)
        ticks = step_ticks(first, last, max(2, min(6, self._columns() // 10)))
        self.plt.xlim(first, last)
        self.plt.xticks(ticks, [str(t) for t in ticks])

    def _log_step_axis(self, last: int) -> None:
        """Ticks at steps 0, 10, 100, 1000 … on an axis of log10(step + 1)."""
        top = math.log10(max(2, last + 1))
        steps = [0] + [10**k for k in range(1, math.floor(top) + 1) if 10**k <= last]
        self.plt.xlim(0, top)
        self.plt.xticks([math.log10(s + 1) for s in steps], [str(s) for s in steps])

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
            for label, node, values in unit_parts(view, xs):
                finite = np.isfinite(values)
                part = np.clip(values[finite], -CLIP, CLIP)
                if part.size:
                    colour = NAMED_COLOURS.get(node, PART_COLOUR)
                    plt.plot(
                        xs[finite].tolist(),
                        part.tolist(),
                        color=colour,
                        marker=LINE_MARKER,
                        label=label,
                    )
                    heights.append(part)
                plotted[f"part {label}"] = part.tolist()
            outputs = view.network.node_names[-1]
            for k in range(ys.shape[1]):
                column = ys[:, k]
                finite = np.isfinite(column)
                column = np.clip(column[finite], -CLIP, CLIP)
                if column.size:
                    colour = NAMED_COLOURS.get(outputs[k], CURVE_COLOURS[k % len(CURVE_COLOURS)])
                    plt.plot(
                        xs[finite].tolist(),
                        column.tolist(),
                        color=colour,
                        marker=LINE_MARKER,
                        label=f"{outputs[k]} = ŷ",
                    )
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
            if self.step_axis == "recent":
                name += f" · last {RECENT_STEPS} steps"
            forms = [f"{name} · step {view.step} · {loss}", f"{name} · {loss}", name]
            if view.diverged is not None:
                forms.insert(0, f"{forms[0]} · diverged at step {view.diverged}")
        if width is None:
            return forms[0]
        return next((form for form in forms if len(form) <= width), "")
