"""The launch paints the panes and the Footer's keys first, then the loss plot.

The plot imports plotext (a sixth of the launch's imports), so the app lets
the loss pane plot only once the Footer's keys are painted; the Footer
rebuilds its keys once however many binding changes queued a rebuild.
"""

from __future__ import annotations

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
async def test_queued_footer_rebuilds_coalesce_into_one() -> None:
    app = make_app(size=(140, 45))
    rebuilds = []
    async with app.run_test() as pilot:
        footer = app.query_one(CoalescingFooter)
        await wait_until(pilot, lambda: bool(footer.children))
        original = Footer.recompose

        async def counted(self) -> None:  # type: ignore[no-untyped-def]
            rebuilds.append(1)
            await original(self)

        Footer.recompose = counted  # type: ignore[method-assign]
        try:
            for _ in range(3):
                footer.bindings_changed(app.screen)
            await pilot.pause()
            await pilot.pause()
        finally:
            Footer.recompose = original  # type: ignore[method-assign]
        assert rebuilds == [1]
        assert "Quit" in [key.description for key in footer.query(FooterKey)]
