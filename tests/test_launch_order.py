"""The launch paints the panes and the Footer's keys first, then the loss plot.

The plot imports plotext (a sixth of the launch's imports), so the app lets
the loss pane plot only once the Footer's keys are painted.  The Footer's
keys are in the very first frame, and it rebuilds them only when they change.
"""

from __future__ import annotations

import pytest
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey
from tui_support import sync, wait_until

from bptui.tui.app import make_app
from bptui.tui.widgets.footer import CoalescingFooter
from bptui.tui.widgets.loss_plot import LossPane


@sync
async def test_the_loss_plot_follows_the_first_frame() -> None:
    app = make_app(size=(140, 45))
    async with app.run_test() as pilot:
        pane = app.query_one(LossPane)
        await wait_until(pilot, lambda: bool(pane.plotted))
        assert pane.plotted["loss"] == app.stepper.loss_history.tolist()
        assert app.query_one(CoalescingFooter).children  # the keys were there first


@sync
async def test_the_footer_keys_are_in_the_first_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    painted: list[list[str]] = []
    original = Screen._compositor_refresh

    def refresh(screen: Screen) -> None:
        original(screen)
        keys = screen.query(FooterKey)
        painted.append([key.description for key in keys])

    monkeypatch.setattr(Screen, "_compositor_refresh", refresh)
    app = make_app(size=(140, 45))
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: len(painted) >= 3)
    assert "Quit" in painted[0] and "Step" in painted[0]
    assert all(keys == painted[0] for keys in painted)  # no frame without them, no flicker


def _counting_rebuilds(rebuilds: list[int]) -> object:
    original = Footer.recompose

    async def counted(self) -> None:  # type: ignore[no-untyped-def]
        rebuilds.append(1)
        await original(self)

    return counted


@sync
async def test_footer_rebuilds_only_when_its_keys_change(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(size=(140, 45))
    rebuilds: list[int] = []
    async with app.run_test() as pilot:
        footer = app.query_one(CoalescingFooter)
        await pilot.pause()
        monkeypatch.setattr(Footer, "recompose", _counting_rebuilds(rebuilds))
        for _ in range(3):
            footer.bindings_changed(app.screen)
        await pilot.pause()
        await pilot.pause()
        assert rebuilds == []  # the same keys: nothing to rebuild

        refused = app._allowed
        monkeypatch.setattr(app, "_allowed", lambda action: action != "run" and refused(action))
        app.refresh_bindings()  # run is refused now, so its key is dimmed
        await wait_until(pilot, lambda: bool(rebuilds))
        await pilot.pause()
        assert rebuilds == [1]
        keys = {key.action: key for key in footer.query(FooterKey)}
        assert keys["run"].has_class("-disabled") and not keys["step"].has_class("-disabled")
        assert "Quit" in [key.description for key in keys.values()]


@sync
async def test_the_palette_key_follows_the_terminal_width() -> None:
    app = make_app(size=(140, 45))
    async with app.run_test() as pilot:
        footer = app.query_one(CoalescingFooter)

        def palette_shown() -> bool:
            return bool(footer.query(".-command-palette"))

        await wait_until(pilot, palette_shown)
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: not palette_shown())
        await pilot.resize_terminal(140, 45)
        await wait_until(pilot, palette_shown)
        assert "Quit" in [key.description for key in footer.query(FooterKey)]
