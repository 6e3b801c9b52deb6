"""The heatmap of a two-input net: what it computes over the input plane, data on top.

Each character cell holds two pixels (``▀``: the upper one is the
foreground colour, the lower the background), so a pane of ``w × h`` cells
shows ``w × 2h`` grid points.  A forward pass over that grid (no gradients)
gives the values; the colouring follows TensorFlow Playground's: two colours
(orange for low, blue for high) with intensity by distance from the middle,
or for a softmax net one colour per class, intensity by the winning
probability.  ``u`` (the app) cycles the unit: the output, then each hidden
unit's own map.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

import numpy as np
from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style as VisualStyle
from textual.visual import RenderOptions, Visual

from bptui.tui.format import fmt_tick
from bptui.tui.state import View

LOW = np.array([255.0, 140.0, 40.0])
HIGH = np.array([90.0, 170.0, 255.0])
CLASS_COLOURS = np.array(
    [
        [255, 140, 40],
        [90, 170, 255],
        [80, 200, 100],
        [200, 120, 230],
        [230, 210, 60],
        [240, 90, 90],
    ],
    dtype=float,
)
BASE = np.array([24.0, 24.0, 28.0])
#: The map's strongest colour is this far from the base, so the data points stand out.
STRENGTH = 0.7
HALF_BLOCK = "▀"
DOT = "●"
#: (centre, half range) of an activation's values, where the range is known.
RANGES = {"sigmoid": (0.5, 0.5), "tanh": (0.0, 1.0)}


def unit_count(view: View) -> int:
    """How many maps ``u`` cycles through: the output and every hidden unit."""
    return 1 + sum(view.network.layers[1:-1])


def unit_name(view: View, unit: int) -> str:
    """The node a map shows: the output's name(s) for 0, else hidden unit ``unit``."""
    net = view.network
    if unit == 0:
        return "/".join(net.node_names[-1])
    flat = [name for layer in net.node_names[1:-1] for name in layer]
    return flat[unit - 1]


@dataclass(frozen=True)
class HeatmapData:
    """RGB pixels (rows × columns × 3, top row = highest x2) and where the data points sit."""

    pixels: np.ndarray
    #: (cell column, cell row, rgb) of each data point.
    points: list[tuple[int, int, tuple[int, int, int]]]
    x1_range: tuple[float, float]
    x2_range: tuple[float, float]
    #: The values the colours stand for (the grid, top row first), kept for tests.
    values: np.ndarray


def _ranges(x: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    ranges = []
    for k in range(2):
        low, high = float(x[:, k].min()), float(x[:, k].max())
        pad = 0.15 * (high - low or 1.0)
        ranges.append((low - pad, high + pad))
    return ranges[0], ranges[1]


def _unit_values(view: View, grid: np.ndarray, unit: int) -> tuple[np.ndarray, str]:
    """The unit's values on the grid (points × outputs) and its activation's name."""
    net = view.network
    with np.errstate(all="ignore"):
        _, acts = net.forward(view.record.theta, grid)
    if unit == 0:
        return acts[-1], net.output
    start = 0
    for layer in range(1, net.depth):
        width = net.layers[layer]
        if unit - 1 < start + width:
            return acts[layer][:, [unit - 1 - start]], net.arch.activation
        start += width
    raise IndexError(f"no hidden unit {unit}")


def _two_colours(values: np.ndarray, activation: str, targets: np.ndarray) -> np.ndarray:
    """Low → orange, high → blue, the intensity by distance from the centre."""
    if activation in RANGES:
        centre, half = RANGES[activation]
    elif activation == "identity" and targets.size:
        low, high = float(targets.min()), float(targets.max())
        centre, half = (low + high) / 2, (high - low) / 2 or 1.0
    else:
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        centre, half = (low + high) / 2, (high - low) / 2 or 1.0
    t = np.clip(np.nan_to_num((values - centre) / half), -1.0, 1.0)[..., None]
    colour = np.where(t >= 0, HIGH, LOW)
    return BASE + (colour - BASE) * np.abs(t)


def _classes(probabilities: np.ndarray) -> np.ndarray:
    """The winning class's colour, the intensity by its probability (1/K → none, 1 → full)."""
    k = probabilities.shape[-1]
    winner = np.nan_to_num(probabilities).argmax(axis=-1)
    p = np.nan_to_num(probabilities.max(axis=-1))
    t = np.clip((p - 1 / k) / (1 - 1 / k), 0.0, 1.0)[..., None]
    colour = CLASS_COLOURS[winner % len(CLASS_COLOURS)]
    return BASE + (colour - BASE) * t


def heatmap_data(view: View, unit: int, columns: int, rows: int) -> HeatmapData:
    """Evaluate the net (one forward pass) on a ``columns × 2·rows`` grid over the data's range."""
    rec = view.record
    x1_range, x2_range = _ranges(rec.x)
    height = 2 * rows
    x1 = np.linspace(*x1_range, columns)
    x2 = np.linspace(x2_range[1], x2_range[0], height)  # top row = highest x2
    grid = np.stack(np.meshgrid(x1, x2), axis=-1).reshape(-1, 2)
    values, activation = _unit_values(view, grid, unit)
    values = values.reshape(height, columns, -1)
    classes = unit == 0 and values.shape[-1] > 1
    if classes:
        pixels = _classes(values)
    else:
        pixels = _two_colours(values[..., 0], activation, rec.y if unit == 0 else np.empty(0))
    pixels = BASE + (pixels - BASE) * STRENGTH
    points = []
    for (p1, p2), target in zip(rec.x, rec.y):
        col = round((p1 - x1_range[0]) / (x1_range[1] - x1_range[0]) * (columns - 1))
        pixel_row = (x2_range[1] - p2) / (x2_range[1] - x2_range[0]) * (height - 1)
        if classes:
            rgb = CLASS_COLOURS[int(np.argmax(target)) % len(CLASS_COLOURS)]
        else:  # by its target, on the scale of all targets
            rgb = _two_colours(np.array([float(target[0])]), "identity", rec.y)[0]
        points.append((int(col), int(pixel_row // 2), tuple(int(c) for c in rgb)))
    return HeatmapData(pixels, points, x1_range, x2_range, values)


def _rgb(colour: np.ndarray) -> str:
    r, g, b = (int(c) for c in colour)
    return f"#{r:02x}{g:02x}{b:02x}"


#: Half-block Styles by packed colour pair (top << 24 | bottom), shared by every
#: picture: a map's colours repeat from frame to frame, and a Style (with its two
#: parsed colours) is the costly part of a cell.
_CELL_STYLES: dict[int, Style] = {}
#: Past this many pairs the cache starts again (a long run of smooth maps).
CELL_STYLE_LIMIT = 1 << 16


def _cell_style(pair: int) -> Style:
    style = _CELL_STYLES.get(pair)
    if style is None:
        if len(_CELL_STYLES) >= CELL_STYLE_LIMIT:
            _CELL_STYLES.clear()
        top, bottom = pair >> 24, pair & 0xFFFFFF
        style = _CELL_STYLES[pair] = Style(color=f"#{top:06x}", bgcolor=f"#{bottom:06x}")
    return style


def _packed(pixels: np.ndarray) -> np.ndarray:
    """Each pixel's ``#rrggbb`` as one integer (channels truncated, as ``int()`` does)."""
    channels = pixels.astype(np.int64)
    return channels[..., 0] << 16 | channels[..., 1] << 8 | channels[..., 2]


class HeatmapPicture(Visual):
    """The pixels as half blocks, a ``●`` at each data point.

    Both a Rich renderable (tests read it through a Console) and a Textual
    Visual: the pane asks for Strips, built once per picture and size from
    runs of equal cells, so a repaint costs no per-cell work.
    """

    def __init__(self, data: HeatmapData, title: str, legend: str) -> None:
        self.data = data
        self.title = title
        self.legend = legend
        self._lines = self._build()
        self._strips: tuple[tuple[int, int | None, Style], list[Strip]] | None = None

    def _build(self) -> list[list[Segment]]:
        pixels = self.data.pixels
        rows = pixels.shape[0] // 2
        packed = _packed(pixels)
        pairs = (packed[0 : 2 * rows : 2] << 24 | packed[1 : 2 * rows : 2]).tolist()
        by_row: dict[int, dict[int, tuple[int, int, int]]] = {}
        for col, row, rgb in self.data.points:
            by_row.setdefault(row, {})[col] = rgb
        return [self._row(row, pairs[row], by_row.get(row, {})) for row in range(rows)]

    def _row(
        self, row: int, pairs: list[int], points: dict[int, tuple[int, int, int]]
    ) -> list[Segment]:
        """One row of cells: a segment per run of equal cells (as Segment.simplify would), dots."""
        pixels = self.data.pixels
        segments = []
        start = 0
        for col in [*sorted(c for c in points if 0 <= c < len(pairs)), len(pairs)]:
            for pair, run in groupby(pairs[start:col]):
                segments.append(Segment(HALF_BLOCK * len(list(run)), _cell_style(pair)))
            if col == len(pairs):
                break
            mixed = _rgb((pixels[2 * row, col] + pixels[2 * row + 1, col]) / 2)
            r, g, b = points[col]
            style = Style(color=f"#{r:02x}{g:02x}{b:02x}", bgcolor=mixed, bold=True)
            if segments and start == col and segments[-1].style == style:  # dots side by side
                segments[-1] = Segment(segments[-1].text + DOT, style)
            else:
                segments.append(Segment(DOT, style))
            start = col + 1
        return segments

    def _all_lines(self, width: int) -> list[list[Segment]]:
        title = [Segment(self.title[:width].center(width), Style(bold=True))]
        legend = [Segment(self.legend[:width], Style(dim=True))]
        return [title, *self._lines, legend]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for number, line in enumerate(self._all_lines(options.max_width)):
            if number:
                yield Segment.line()
            yield from line

    # ------------------------------------------------------ Textual Visual
    def render_strips(
        self, width: int, height: int | None, style: VisualStyle, options: RenderOptions
    ) -> list[Strip]:
        """The lines as Strips on the pane's style, cropped to ``width``, kept for a repaint."""
        base = style.rich_style
        key = (width, height, base)
        if self._strips is None or self._strips[0] != key:
            strips = [
                Strip(list(Segment.apply_style(line, base))).crop(0, width)
                for line in self._all_lines(width)[:height]
            ]
            self._strips = (key, strips)
        return self._strips[1]

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.data.pixels.shape[1]

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(self._lines) + 2


def picture(view: View, unit: int, width: int, height: int) -> HeatmapPicture:
    """The heatmap of ``unit`` filling ``width × height`` cells (a title row and a legend row)."""
    rows = max(1, height - 2)
    data = heatmap_data(view, unit, max(2, width), rows)
    name = unit_name(view, unit)
    what = "output" if unit == 0 else "hidden unit"
    title = f"Heatmap · {what} {name} · step {view.step}"
    (a, b), (c, d) = data.x1_range, data.x2_range
    if unit == 0 and view.network.layers[-1] > 1:
        scale = "colour = winning class, brighter = surer"
    else:
        scale = "orange low · blue high"
    legend = (
        f"{scale} · ● data · x1 {fmt_tick(a)}…{fmt_tick(b)} → · x2 {fmt_tick(c)}…{fmt_tick(d)} ↑"
    )
    return HeatmapPicture(data, title, legend)
