"""Big nets stay usable: the parameters pane holds a window of rows, not one per parameter.

A DataTable of all 99,853 parameters of ``[1, 314, 314, 1]`` took 28 s to
build and 5 s a frame; the pane now holds :data:`WINDOW` rows around the
selected parameter and moves the window when the cursor passes its edge.
"""

from __future__ import annotations

from tui_support import burst, pane_text, screen_text, status_line, wait_until, within

from bptui.scenario.loading import parse_scenario
from bptui.tui.app import BptuiApp, make_app
from bptui.tui.widgets.parameters import WINDOW, ParametersPane

WIDE = (140, 45)


def net_app(layers: list[int]) -> BptuiApp:
    text = f"""name = "big"
[network]
layers = {layers}
activation = "tanh"
output_activation = "identity"
loss = "mse"
[training]
learning_rate = 0.01
seed = 1
[data]
x = [0.1, 0.5, 0.9]
y = [0.2, 0.4, 0.1]
"""
    return make_app(parse_scenario(text, "big.toml", None), size=WIDE)


def row_names(app: BptuiApp) -> list[str]:
    """The parameter names on the parameters pane's visible rows."""
    lines = pane_text(app, "params").split("\n")[2:-1]
    return [line.strip("│ ").split()[0] for line in lines if line.strip("│ ")]


@within(60)
async def test_the_cursor_walks_past_the_window_edges() -> None:
    app = net_app([1, 30, 30, 1])  # 1,021 parameters
    names = app.stepper.network.param_names
    async with app.run_test() as pilot:
        pane = app.query_one(ParametersPane)
        await wait_until(pilot, lambda: app.view is not None)
        assert pane.row_count == WINDOW < len(names)
        assert f"rows 1–{WINDOW} of 1,021" in pane.border_subtitle
        pane.focus()
        app.selected_param = names[WINDOW - 1]  # the window's last row
        await wait_until(pilot, lambda: pane.cursor_row == WINDOW - 1)
        await pilot.press("down")  # past the edge: the window moves
        await wait_until(pilot, lambda: app.selected_param == names[WINDOW])
        await wait_until(pilot, lambda: names[WINDOW] in row_names(app))
        assert pane.row_count == WINDOW
        await pilot.press("ctrl+end")
        await wait_until(pilot, lambda: app.selected_param == names[-1])
        await wait_until(pilot, lambda: names[-1] in row_names(app))
        assert "rows 822–1,021 of 1,021" in pane.border_subtitle
        await pilot.press("up", "up")
        await wait_until(pilot, lambda: app.selected_param == names[-3])
        await pilot.press("ctrl+home")
        await wait_until(pilot, lambda: app.selected_param == names[0])
        await pilot.press("full_stop")  # the app's next parameter: the cursor follows
        await wait_until(pilot, lambda: pane.cursor_row == 1 and app.selected_param == names[1])


@within(90)
async def test_a_net_at_the_parameter_cap_launches_and_steps() -> None:
    app = net_app([1, 314, 314, 1])  # 99,853 parameters, under the 100,000 cap
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "Loss" in status_line(app))
        pane = app.query_one(ParametersPane)
        assert pane.row_count == WINDOW
        assert "of 99,853" in pane.border_subtitle
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 1" in status_line(app))
        await pilot.press("s", "b")
        await wait_until(pilot, lambda: "Step 1" in status_line(app) and app.stepper.step == 1)
        await pilot.press("q")


@within(90)
async def test_the_gradient_check_of_a_big_net_shows_progress_and_finishes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bptui.tui.screens.gradcheck import GradCheckScreen

    reports: list[tuple[int, int]] = []
    shown = GradCheckScreen.show_progress

    def recorded(self: GradCheckScreen, done: int, total: int) -> None:
        reports.append((done, total))
        shown(self, done, total)

    monkeypatch.setattr(GradCheckScreen, "show_progress", recorded)
    app = net_app([1, 45, 45, 1])  # 2,206 parameters: checked in a worker
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "Loss" in status_line(app))
        burst(app, "c")
        await wait_until(pilot, lambda: "nudging the parameters" in screen_text(app))
        await wait_until(pilot, lambda: getattr(app.screen, "rows", None) is not None, tries=4000)
        assert [done for done, _ in reports] == list(range(0, 2206, 256))
        assert {total for _, total in reports} == {2206}
        assert len(app.screen.rows) == 2206
        assert "w1 " in screen_text(app) and "nudging" not in screen_text(app)
        await pilot.press("escape", "s")
        await wait_until(pilot, lambda: "Step 1" in status_line(app))
        assert app.internal_errors == []


@within(60)
async def test_escape_abandons_the_gradient_check_of_a_big_net() -> None:
    from bptui.tui.screens.gradcheck import GradCheckScreen

    app = net_app([1, 100, 100, 1])  # 10,401 parameters: half a minute of nudging
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "Loss" in status_line(app))
        burst(app, "c")
        await wait_until(pilot, lambda: "nudging the parameters" in screen_text(app))
        screen = app.screen
        assert isinstance(screen, GradCheckScreen)
        burst(app, "escape")
        await wait_until(pilot, lambda: not app.screen.is_modal)
        await wait_until(pilot, lambda: not app.workers._workers)  # the worker stopped
        assert screen.rows is None  # abandoned, never finished
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 1" in status_line(app))
        assert app.internal_errors == []
