"""One number style per column, and no number cut by sideways scrolling (real screen text).

The parameters pane fills its cells row by row, yet each column must read in
one style (all fixed or all scientific); the forward pane scrolls sideways a
whole column at a time, and at its far-right end too no number may be cut.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable

from tui_support import pane_text, screen_text, wait_until

from bptui.scenario.loading import load_builtin
from bptui.tui.app import make_app
from bptui.tui.widgets.forward import ForwardPane, forward_columns, forward_rows

WIDE = (140, 45)
#: What a scrollbar draws at a line's end.
SCROLLBAR = set("▁▂▃▄▅▆▇█▉▊▋▌▍▎▏")
NUMBER = re.compile(r"^[−+]?(\d+\.\d+(e[−+]\d+)?|nan|inf)$")


def bounded(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(asyncio.wait_for(test(*args, **kwargs), 60))

    return run


def column_styles_on_screen(text: str) -> dict[int, set[str]]:
    """Per column of the parameters pane's rows: the styles its numbers are written in."""
    styles: dict[int, set[str]] = {}
    for line in text.split("\n")[2:-1]:  # the border and the header, the bottom border
        cells = line.strip("│ ").replace(" → ", "→").split()
        for i, cell in enumerate(cells[1:], start=1):
            for number in cell.split("→"):
                if NUMBER.match(number):
                    styles.setdefault(i, set()).add("scientific" if "e" in number else "fixed")
    return styles


async def assert_one_style_per_column(scenario: str, steps: int, phases: int = 0) -> None:
    app = make_app(load_builtin(scenario), size=WIDE)
    async with app.run_test() as pilot:
        await pilot.press(*["s"] * steps, *["n"] * phases)
        await wait_until(pilot, lambda: f"Step {steps + (phases > 0)}" in screen_text(app))
        await pilot.pause(0.1)
        styles = column_styles_on_screen(pane_text(app, "params"))
        assert len(styles) >= 3, pane_text(app, "params")
        mixed = {column: kinds for column, kinds in styles.items() if len(kinds) > 1}
        assert not mixed, pane_text(app, "params")


@bounded
async def test_parameters_step_column_in_one_style() -> None:
    # Step 7 of the article: −α·∂Loss/∂θ runs from 1.8e−04 to 0.016 (it mixed before).
    await assert_one_style_per_column("article", 7)


@bounded
async def test_parameters_value_column_in_one_style() -> None:
    # softmax3 at step 0: some initial weights are below 1e−03 (the value column mixed).
    await assert_one_style_per_column("softmax3", 0)


@bounded
async def test_parameters_columns_in_one_style_in_the_update_phase() -> None:
    # The update phase shows old → new in the value column and the change as the step.
    await assert_one_style_per_column("article", 7, phases=1)


# -------------------------------------------------- the forward pane's far right
def visible_cells_are_whole(app, pane: ForwardPane, first_only: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    """Every number on the pane's data rows that is not one of its row's whole cells.

    ``first_only``: only the first scrolled column (the one the left edge may cut).
    """
    view = app.view
    rows = forward_rows(view)
    labels = {label for _, label in forward_columns(view)}
    text = pane_text(app, "forward").split("\n")
    cut: list[str] = []
    header = text[1].strip("│ ").split()[: 2 if first_only else None]
    cut += [
        word
        for word in header
        if word not in labels and word not in ("#", "=", "ŷ", "share", "loss")
    ]
    for i, row in enumerate(rows[: len(text) - 3]):  # the rows on screen (scrolled to the top)
        line = text[2 + i]
        if line.strip("│ ").split()[:1] != [str(i + 1)]:
            break  # the horizontal scrollbar
        whole = {cell.plain.split()[0] for cell in row.values()}
        words = line.strip("│ ").split()[1 : 2 if first_only else None]  # after the point
        cut += [w for w in words if not w.endswith("%") and w not in whole and w not in SCROLLBAR]
    return cut


async def scroll_to_the_far_right(size: tuple[int, int]) -> None:
    app = make_app(load_builtin("deep"), size=size)
    async with app.run_test() as pilot:
        await pilot.press("3")  # the forward pane, focused
        pane = app.query_one(ForwardPane)
        await wait_until(pilot, lambda: pane.max_scroll_x > 0)
        for _ in range(40):
            await pilot.press("right")
            if pane.scroll_x >= pane.max_scroll_x:
                break
        await pilot.pause(0.1)
        assert pane.scroll_x == pane.max_scroll_x, "never reached the far right"
        assert visible_cells_are_whole(app, pane) == [], (size, pane_text(app, "forward"))
        await pilot.press("left")  # one column back: the left edge still starts a column
        await pilot.pause(0.1)
        assert visible_cells_are_whole(app, pane, first_only=True) == [], pane_text(app, "forward")


@bounded
async def test_forward_pane_far_right_cuts_no_number() -> None:
    for size in ((80, 24), (100, 30), (90, 26), (75, 20)):
        await scroll_to_the_far_right(size)
