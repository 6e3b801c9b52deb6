"""Layouts at common terminal sizes, the pane bar, cycling and maximizing panes.

Five panes from 130×34, three from 100×30 (diagram, chain and one more),
two from 60×18 (the diagram and a companion ``o`` cycles), the enlarge
message below.  Snapshots show each layout, the fit view's unit curves and
the heatmap; update on purpose with ``--snapshot-update`` after looking.
"""

from __future__ import annotations

from typing import Any

import pytest

from bptui.scenario.loading import load_builtin
from bptui.tui.app import BptuiApp, make_app, pane_layout
from bptui.tui.keys import PANES
from tests.tui_support import pane_text, screen_text, sync, wait_until

IDS = [pane_id for pane_id, _, _ in PANES]


def visible(app: BptuiApp) -> set[str]:
    """The panes that take room on the screen now."""
    return {pane_id for pane_id in IDS if app.query_one(f"#{pane_id}").region.area > 0}


@pytest.mark.parametrize(
    ("size", "layout"),
    [
        ((200, 55), "five"),
        ((140, 45), "five"),
        ((130, 34), "five"),
        ((129, 45), "three"),
        ((120, 35), "three"),
        ((100, 30), "three"),
        ((140, 33), "three"),
        ((99, 40), "two"),
        ((100, 29), "two"),
        ((80, 24), "two"),
        ((60, 18), "two"),
        ((59, 30), "tiny"),
        ((100, 17), "tiny"),
    ],
)
def test_pane_layout_thresholds(size: tuple[int, int], layout: str) -> None:
    assert pane_layout(*size) == layout


@pytest.mark.parametrize(
    ("size", "panes"),
    [
        ((140, 45), set(IDS)),
        ((120, 35), {"diagram", "chain", "params"}),
        ((100, 30), {"diagram", "chain", "params"}),
        ((80, 24), {"diagram", "chain"}),
    ],
)
@sync
async def test_each_size_shows_its_panes(size: tuple[int, int], panes: set[str]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: visible(app) == panes)
        text = screen_text(app)
        assert "Loss 3.066789" in text
        assert ("1 Diagram" in text) == (len(panes) < 5)  # the pane bar below five panes


@sync
async def test_o_cycles_the_second_place_at_80x24() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: visible(app) == {"diagram", "chain"})
        seen = []
        for _ in range(4):
            await pilot.press("o")
            await wait_until(pilot, lambda: len(visible(app)) == 2)
            (second,) = visible(app) - {"diagram"}
            seen.append(second)
        assert seen == ["loss", "params", "forward", "chain"]
        await pilot.press("o")
        await wait_until(pilot, lambda: "loss" in visible(app))
        assert "Loss · step 0 · 3.066789" in pane_text(app, "loss")
        assert "[reverse]" not in screen_text(app)  # markup is drawn, not printed


@sync
async def test_o_cycles_the_third_place_at_100x30() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: visible(app) == {"diagram", "chain", "params"})
        await pilot.press("o")
        await wait_until(pilot, lambda: visible(app) == {"diagram", "chain", "forward"})
        # the last pane in grid order takes the bottom row's whole width
        assert app.query_one("#forward").region.width == 100
        await pilot.press("o")
        await wait_until(pilot, lambda: visible(app) == {"diagram", "chain", "loss"})
        assert app.query_one("#chain").region.width == 100


@sync
async def test_clicking_the_pane_bar_shows_and_focuses_that_pane() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: visible(app) == {"diagram", "chain"})
        bar = screen_text(app).split("\n")[app.query_one("#pane-tabs").region.y]
        column = bar.index("3 Forward")
        assert await pilot.click("#pane-tabs", offset=(column + 2, 0))
        await wait_until(pilot, lambda: visible(app) == {"diagram", "forward"})
        assert app.focused is app.query_one("#forward")
        column = bar.index("2 Parameters")
        await pilot.click("#pane-tabs", offset=(column + 2, 0))
        await wait_until(pilot, lambda: visible(app) == {"diagram", "params"})
        assert "0.496714" in pane_text(app, "params")


@sync
async def test_m_maximizes_the_focused_pane_and_restores() -> None:
    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("4")  # the chain pane, focused
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.maximized is app.query_one("#chain"))
        await wait_until(pilot, lambda: app.query_one("#chain").region.width == 140)
        text = screen_text(app)
        assert "Chain rule · ∂Loss/∂b1" in text and "Forward pass" not in text
        assert "Loss 3.066789" in text  # the status line stays
        await pilot.press("m")
        await wait_until(pilot, lambda: visible(app) == set(IDS))
        assert app.screen.maximized is None
        await pilot.press("1", "m")  # the diagram takes no focus: the last pane chosen
        await wait_until(pilot, lambda: app.screen.maximized is app.query_one("#diagram"))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.maximized is None)


@sync
async def test_a_number_key_while_maximized_maximizes_that_pane() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.maximized is not None)
        await pilot.press("2")
        await wait_until(pilot, lambda: app.screen.maximized is app.query_one("#params"))
        assert "0.496714" in pane_text(app, "params")


# ------------------------------------------------------------ snapshots
def article() -> BptuiApp:
    return make_app(load_builtin("article"))


def test_snapshot_80x24(snap_compare: Any) -> None:
    assert snap_compare(article(), terminal_size=(80, 24))


def test_snapshot_80x24_loss_in_second_place(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["s", "o"], terminal_size=(80, 24))


def test_snapshot_100x30(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["s"], terminal_size=(100, 30))


def test_snapshot_120x35_forward_third(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["o"], terminal_size=(120, 35))


def test_snapshot_200x55(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["s"], terminal_size=(200, 55))


async def _train(app: BptuiApp, steps: int) -> None:
    app.stepper.run(steps)
    app.refresh_view()


def test_snapshot_article_fit_with_unit_curves(snap_compare: Any) -> None:
    async def trained(pilot: Any) -> None:
        await _train(pilot.app, 400)
        await pilot.press("f")

    assert snap_compare(article(), terminal_size=(140, 45), run_before=trained)


def test_snapshot_xor_heatmap(snap_compare: Any) -> None:
    async def trained(pilot: Any) -> None:
        await _train(pilot.app, 3000)
        await pilot.press("f")

    app = make_app(load_builtin("xor"))
    assert snap_compare(app, terminal_size=(140, 45), run_before=trained)


def test_snapshot_xor_hidden_unit_heatmap_maximized(snap_compare: Any) -> None:
    async def trained(pilot: Any) -> None:
        await _train(pilot.app, 3000)
        await pilot.press("f", "u", "5", "m")

    app = make_app(load_builtin("xor"))
    assert snap_compare(app, terminal_size=(100, 30), run_before=trained)


def test_snapshot_loss_log_steps(snap_compare: Any) -> None:
    async def trained(pilot: Any) -> None:
        await _train(pilot.app, 1000)
        await pilot.press("x")

    assert snap_compare(article(), terminal_size=(140, 45), run_before=trained)
