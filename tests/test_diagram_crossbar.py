"""Every edge of a 2-8-8-1 net labelled: the dense gap drawn as a crossbar.

The deep scenario's 8→8 gap has 64 edges, more than there are rows for
labels on straight lines; it is drawn as a crossbar (each source's line runs
to the right, each target has a bus) with each weight's label on its
source's line just before its target's bus.  The tests read the screen:
every weight's label is there once, and following the drawn lines from a
label (left to its source, along the bus to its target) reaches the two
nodes that weight joins.
"""

from __future__ import annotations

import re

import pytest
from tui_support import pane_text, sync, wait_until

from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui.app import BptuiApp, make_app
from bptui.tui.format import fmt_short
from bptui.tui.widgets.diagram import SELECTED_STYLE, NetworkDiagram

JUNCTION = "┼┬┴┐┘┤"
TURN = "├┌└"
BUS = "│" + JUNCTION + TURN
LABEL = re.compile(r"─(w\d+)((?: [^─│ ]+)*)─*[" + JUNCTION + "]")


async def maximized_diagram(app: BptuiApp, pilot) -> list[str]:  # type: ignore[no-untyped-def]
    """The diagram pane maximized (1, then m): its screen lines without the border."""
    await pilot.press("1", "m")
    await wait_until(pilot, lambda: app.screen.maximized is app.query_one(NetworkDiagram))
    await pilot.pause()
    return [line[1:-1] for line in pane_text(app, "diagram").split("\n")[1:-1]]


def crossbar_labels(lines: list[str]) -> dict[str, tuple[int, int, int, str]]:
    """name → (row, column of the label, column of its bus, the rest of the label)."""
    found = {}
    for row, line in enumerate(lines):
        for match in LABEL.finditer(line):
            found[match[1]] = (row, match.start(1), match.end() - 1, match[2].strip())
    return found


def source_of(lines: list[str], row: int, column: int) -> str:
    """Follow the line left from a label to the node it leaves."""
    names = [m for m in re.finditer(r"h1\.\d+", lines[row]) if m.end() < column]
    assert names, lines[row]
    between = lines[row][names[-1].end() : column]
    assert re.fullmatch(r" \S+ ─+(?:─w\d+[^│]*?─+[" + JUNCTION + r"])*─", between), between
    return names[-1][0]


def target_of(lines: list[str], row: int, bus: int) -> str:
    """Follow the bus from a junction to its turn, then right to the node it enters."""
    turns = []
    for step in (1, -1):
        y = row
        while 0 <= y < len(lines) and lines[y][bus] in BUS:
            if lines[y][bus] in TURN:
                turns.append(y)
            y += step
    (turn,) = set(turns)
    x = bus + 1
    while lines[turn][x] in "─│":
        x += 1
    assert lines[turn][x] == " " and lines[turn][x - 1] == "─"
    for y in range(turn, -1, -1):  # the node block's first line is its name
        match = re.match(r"h2\.\d+", lines[y][x + 1 :])
        if match:
            return match[0]
    raise AssertionError(f"no node right of the bus at row {turn}")


@sync
async def test_every_edge_of_a_2_8_8_1_net_is_labelled_at_140x45() -> None:
    app = make_app(load_builtin("deep"), size=(140, 45))
    async with app.run_test() as pilot:
        lines = await maximized_diagram(app, pilot)
        text = "\n".join(lines[:-1])  # the last line is the legend (it names w1's chain)
        net = app.stepper.network
        weights = net.param_names[: net.weight_count]
        assert len(weights) == 88
        for name in weights:
            assert len(re.findall(rf"\b{name}\b", text)) == 1, name
        for name in net.param_names[net.weight_count :]:
            assert re.search(rf"\b{name}\b", text), name
        labels = crossbar_labels(lines)
        start = net.weight_slices[1].start
        assert sorted(labels) == sorted(weights[start : start + 64])
        assert "edge values: parameters pane" in lines[-1]  # bare names at 140 columns


@sync
async def test_each_crossbar_label_sits_between_the_two_nodes_its_weight_joins() -> None:
    app = make_app(load_builtin("deep"), size=(140, 45))
    async with app.run_test() as pilot:
        lines = await maximized_diagram(app, pilot)
        net = app.stepper.network
        start = net.weight_slices[1].start
        labels = crossbar_labels(lines)
        assert len(labels) == 64
        for name, (row, column, bus, _) in labels.items():
            index = net.param_index[name] - start
            target, source = divmod(index, net.layers[1])  # W2 is (out, in), row-major
            assert source_of(lines, row, column) == f"h1.{source + 1}", name
            assert target_of(lines, row, bus) == f"h2.{target + 1}", name


@sync
async def test_at_200_columns_every_crossbar_label_carries_its_value() -> None:
    app = make_app(load_builtin("deep"), size=(200, 55))
    async with app.run_test() as pilot:
        lines = await maximized_diagram(app, pilot)
        theta = app.stepper.theta
        labels = crossbar_labels(lines)
        assert len(labels) == 64
        for name, (_, _, _, value) in labels.items():
            assert value == fmt_short(float(theta[app.stepper.network.param_index[name]])), name


@sync
async def test_clicking_a_crossbar_label_explains_that_weight() -> None:
    app = make_app(load_builtin("deep"), size=(140, 45))
    async with app.run_test() as pilot:
        await maximized_diagram(app, pilot)
        diagram = app.query_one(NetworkDiagram)
        where = diagram.where("w50")
        assert where is not None
        border = diagram.content_region.offset - diagram.region.offset
        await pilot.click(NetworkDiagram, offset=(where[0] + border.x, where[1] + border.y))
        await wait_until(pilot, lambda: app.selected_param == "w50")
        await pilot.pause()
        drawn = diagram.render()
        at = re.search(r"\bw50\b", drawn.plain)
        assert at is not None
        styles = [span.style for span in drawn.spans if span.start <= at.start() < span.end]
        assert styles == [SELECTED_STYLE]


@pytest.mark.parametrize("name", ["article", "xor", "softmax3"])
def test_small_nets_keep_straight_lines(name: str) -> None:
    from bptui.tui.state import view_of
    from bptui.tui.widgets.diagram import draw

    view = view_of(Stepper(load_builtin(name).training()))
    text = draw(view, 138, 41).plain
    assert not any(char in text for char in JUNCTION + TURN)
