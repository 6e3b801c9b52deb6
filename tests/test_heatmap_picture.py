"""The heatmap's cells: runs of equal colour pairs with cached Styles draw what one
segment per cell did, and a repaint reuses the picture's Strips."""

from __future__ import annotations

import io

import numpy as np
import pytest
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.style import Style as VisualStyle

from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui.state import view_of
from bptui.tui.widgets import heatmap


def _hex(colour: np.ndarray) -> str:
    r, g, b = (int(c) for c in colour)
    return f"#{r:02x}{g:02x}{b:02x}"


def _cell_by_cell(data: heatmap.HeatmapData) -> list[list[Segment]]:
    """The picture's rows drawn one segment per cell, then merged (the plain way)."""
    pixels = data.pixels
    points = {(col, row): rgb for col, row, rgb in data.points}
    lines = []
    for row in range(pixels.shape[0] // 2):
        segments = []
        for col in range(pixels.shape[1]):
            top, bottom = pixels[2 * row, col], pixels[2 * row + 1, col]
            if (col, row) in points:
                r, g, b = points[(col, row)]
                colour = f"#{r:02x}{g:02x}{b:02x}"
                style = Style(color=colour, bgcolor=_hex((top + bottom) / 2), bold=True)
                segments.append(Segment(heatmap.DOT, style))
            else:
                style = Style(color=_hex(top), bgcolor=_hex(bottom))
                segments.append(Segment(heatmap.HALF_BLOCK, style))
        lines.append(list(Segment.simplify(segments)))
    return lines


@pytest.mark.parametrize("name", ["xor", "softmax3", "circle"])
@pytest.mark.parametrize("steps", [0, 40])
def test_runs_of_cells_are_the_cell_by_cell_picture(name: str, steps: int) -> None:
    stepper = Stepper(load_builtin(name).training())
    stepper.run(steps)
    view = view_of(stepper, scenario_name=name)
    for unit in range(min(3, heatmap.unit_count(view))):
        picture = heatmap.picture(view, unit, 50, 14)
        expected = _cell_by_cell(picture.data)
        assert [[(s.text, s.style) for s in line] for line in picture._lines] == [
            [(s.text, s.style) for s in line] for line in expected
        ]
        assert sum(len(s.text) for s in picture._lines[0]) == 50


def test_a_repaint_reuses_the_strips_and_a_new_size_builds_new_ones() -> None:
    stepper = Stepper(load_builtin("xor").training())
    view = view_of(stepper, scenario_name="xor")
    picture = heatmap.picture(view, 0, 40, 12)
    base = VisualStyle(background=None)
    first = picture.render_strips(40, 12, base, None)  # type: ignore[arg-type]
    assert picture.render_strips(40, 12, base, None) is first  # type: ignore[arg-type]
    assert len(first) == 12 and all(strip.cell_length <= 40 for strip in first)
    assert first[0].text.strip().startswith("Heatmap · output")
    assert first[1].text == heatmap.HALF_BLOCK * 40 or heatmap.DOT in first[1].text
    narrower = picture.render_strips(20, 12, base, None)  # type: ignore[arg-type]
    assert narrower is not first and all(strip.cell_length <= 20 for strip in narrower)
    # and what the strips say is what the Rich rendering says
    console = Console(width=40, file=io.StringIO())
    lines = console.render_lines(picture, console.options, pad=False)
    assert [strip.text for strip in first] == ["".join(s.text for s in line) for line in lines]
