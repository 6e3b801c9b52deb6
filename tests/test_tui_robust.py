"""The app never dies on a key: the command palette's bursts, markup in names, the boundary.

Keys that a key repeat or a paste delivers are sent to the driver without
waiting between them (:func:`burst`), which is what made Textual's palette
fail.  Every test runs under a time bound (:func:`bounded`), so a hang fails
instead of stalling the suite.
"""

from __future__ import annotations

from textual.command import CommandPalette
from tui_support import burst, screen_text, status_line, wait_until, within

from bptui.tui.app import BptuiApp, make_app

WIDE = (140, 45)
#: Seconds any one of these tests may take (the slowest takes ~3 s alone).
BOUND = 60
bounded = within(BOUND)


async def settle(pilot, app: BptuiApp) -> None:  # type: ignore[no-untyped-def]
    """Let queued keys be handled: wait until the palette is gone or idle."""
    await pilot.pause(0.1)
    await wait_until(pilot, lambda: not app.screen.is_modal or CommandPalette.is_open(app))
    await pilot.pause(0.1)


# ------------------------------------------------------------ the palette
@bounded
async def test_palette_enter_enter_closes_once_and_the_app_goes_on() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        burst(app, "ctrl+p", "enter", "enter")
        await settle(pilot, app)
        await pilot.press("escape")  # the palette, if a late key left it open
        await wait_until(pilot, lambda: not CommandPalette.is_open(app))
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 1" in status_line(app))
    assert app.return_code in (None, 0)


@bounded
async def test_palette_page_down_before_the_list_is_drawn() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        burst(app, "ctrl+p", "pagedown", "pageup", "pagedown")
        await settle(pilot, app)
        assert CommandPalette.is_open(app)  # still there, still answering
        await pilot.press("escape")
        await wait_until(pilot, lambda: not CommandPalette.is_open(app))
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 1" in status_line(app))
    assert app.return_code in (None, 0)


@bounded
async def test_palette_step_by_name_runs_once_however_often_enter_is_pressed() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.press(*"Step")
        await pilot.pause(0.3)  # the search runs in a worker: let it list its hits
        burst(app, "enter", "enter", "enter", "enter")
        await wait_until(pilot, lambda: not CommandPalette.is_open(app))
        await pilot.pause(0.2)
        assert app.stepper.step == 1  # the command ran once
        assert "Step 1" in status_line(app)
        await pilot.press("s")
        await wait_until(pilot, lambda: "Step 2" in status_line(app))
    assert app.return_code in (None, 0)


@bounded
async def test_palette_bursts_of_every_kind_leave_the_app_answering_q() -> None:
    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        for keys in (
            ("s", "ctrl+p", "pagedown", "enter", "enter"),
            ("ctrl+p", "down", "down", "enter", "enter", "enter"),
            ("ctrl+p", "pageup", "escape", "escape"),
            ("ctrl+p", "end", "home", "pagedown", "enter", "ctrl+p", "enter", "enter"),
        ):
            burst(app, *keys)
            await settle(pilot, app)
            for _ in range(4):
                if app.screen.is_modal:
                    await pilot.press("escape")
                    await pilot.pause(0.05)
        assert not app.screen.is_modal
        await pilot.press("q")
        await wait_until(pilot, lambda: app._exit_renderables == [] and not app.is_running)
    assert app.return_code in (None, 0)


# ------------------------------------------------- markup in the user's text
#: Rich and Textual markup that does not parse: each crashed a pane or a notice.
MARKUP_NAMES = ["[/]", "[b]", "[red]x", "h[/bold]"]
MARKUP_SCENARIO = """name = "[/]net[b]"
[network]
layers = [1, 2, 1]
activation = "softplus"
output_activation = "identity"
loss = "ssr"
node_names = ["[/]", "[b]", "[red]x", "h[/bold]"]
[training]
learning_rate = 0.01
seed = 42
[data]
x = [0.1, 0.53, 0.82]
y = [1.2, 3.2, 1.1]
"""
MARKUP_GRADS = """
def d_b3(ctx):
    print("[/] printed [bold]")
    raise ValueError("[/] broke [red]")


def d_w1(ctx):
    return 12345.0
"""


def markup_app(size: tuple[int, int], grads: str | None = None) -> BptuiApp:
    from bptui.debug.usergrads import load_user_grads
    from bptui.scenario.loading import parse_scenario

    scenario = parse_scenario(MARKUP_SCENARIO, "markup.toml", None)
    user = None
    if grads is not None:
        user = load_user_grads(grads, scenario.network().param_names)
    return make_app(scenario, user_grads=user, size=size)


async def walk_the_markup_net(size: tuple[int, int]) -> None:
    app = markup_app(size)
    async with app.run_test(notifications=True) as pilot:
        await pilot.press("4")  # the chain pane: its table's columns are named by nodes
        await pilot.pause(0.1)
        assert "∂Loss/∂h[/bold]" in screen_text(app)  # b1's chain starts at the output node
        assert "[/]net[b]" in status_line(app)
        for keys in (("n",) * 6, ("s", "s"), ("c",), ("escape", "?"), ("escape", "w")):
            await pilot.press(*keys)
            await pilot.pause(0.05)
        await pilot.press("escape", "escape", "s")
        await wait_until(pilot, lambda: "Step 4" in status_line(app))
    assert app.return_code in (None, 0)


@bounded
async def test_node_names_that_look_like_markup_are_shown_as_written() -> None:
    for size in (WIDE, (80, 24)):
        await walk_the_markup_net(size)


@bounded
async def test_an_error_message_that_looks_like_markup_is_shown_as_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    grads = tmp_path / "g.py"  # short: the whole notice fits on one line of its box
    grads.write_text(MARKUP_GRADS)
    app = markup_app(WIDE, str(grads))
    async with app.run_test(notifications=True) as pilot:
        await wait_until(pilot, lambda: "[/] broke [red]" in screen_text(app))  # the notice
        await pilot.press("c")
        await wait_until(pilot, lambda: "raised ValueError: [/] broke [red]" in screen_text(app))
        await pilot.press("escape", "s")
        await wait_until(pilot, lambda: "Step 1" in status_line(app))
    assert app.return_code in (None, 0)


@bounded
async def test_a_lesson_title_and_notice_that_look_like_markup() -> None:
    from bptui.scenario.lesson import parse_lesson
    from bptui.tui.lesson import make_lesson_app

    lesson = parse_lesson(
        'title = "[/]lesson"\nscenario = "article"\n'
        '[[stop]]\nstep = 0\ntitle = "[/] first [b]"\ntext = "Look at [/] this."\n'
        '[[stop]]\nstep = 1\ntitle = "h[/bold]"\ntext = "More."\n',
        "markup_lesson.toml",
        None,
    )
    app = make_lesson_app(lesson, size=WIDE)
    async with app.run_test(notifications=True) as pilot:
        await wait_until(pilot, lambda: "[/] first [b]" in screen_text(app))
        await pilot.press("right")
        await wait_until(pilot, lambda: "h[/bold]" in screen_text(app))
        await pilot.press("right", "s")  # past the last stop: a notice
        await wait_until(pilot, lambda: "Step 2" in status_line(app))
    assert app.return_code in (None, 0)


@bounded
async def test_a_watch_parameter_typed_as_markup_is_quoted_as_written() -> None:
    from textual.widgets import Input, Select

    app = make_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("w")
        screen = app.screen
        screen.query_one("#watch-kind", Select).value = "param_crosses"
        await pilot.pause()
        screen.query_one("#watch-amount", Input).value = "0.5"
        screen.query_one("#watch-param", Input).value = "[/]"
        await pilot.click("#watch-add")
        await wait_until(pilot, lambda: "no parameter named '[/]'" in screen_text(app))
        await pilot.press("escape", "s")
        await wait_until(pilot, lambda: "Step 1" in status_line(app))
    assert app.return_code in (None, 0)


# ------------------------------------------------------ the exception boundary
def notices(app: BptuiApp) -> list[str]:
    return [n.message for n in app._notifications]


@bounded
async def test_an_action_that_raises_costs_one_notice_and_the_session_goes_on() -> None:
    app = make_app()
    real_step = app.stepper.step_once
    failures = [RuntimeError("boom")]

    def step_once_failing_once() -> None:
        if failures:
            raise failures.pop()
        real_step()

    app.stepper.step_once = step_once_failing_once  # type: ignore[method-assign]
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await pilot.press("s")
        line = "internal error in the step action: RuntimeError: boom; the session goes on"
        await wait_until(pilot, lambda: line in notices(app))
        await wait_until(pilot, lambda: "the session goes on" in screen_text(app))
        assert "Step 0" in status_line(app)
        await pilot.press("s", "s")
        await wait_until(pilot, lambda: "Step 2" in status_line(app))
        assert app.internal_errors == [line]
    assert app.return_code in (None, 0)


@bounded
async def test_a_pane_that_fails_to_draw_leaves_the_others_drawing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bptui.tui.widgets.chain import ChainPane

    def broken_show(self: ChainPane, view: object) -> None:
        raise ValueError("no chain today")

    monkeypatch.setattr(ChainPane, "show", broken_show)
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        line = "internal error in ChainPane.show: ValueError: no chain today; the session goes on"
        await wait_until(pilot, lambda: line in notices(app))
        await pilot.press("s", "s", "n", "n")
        await wait_until(pilot, lambda: "Step 3" in status_line(app) and "Loss" in status_line(app))
        assert app.internal_errors == [line]  # said once, not once a frame
        assert "2.981741" not in screen_text(app)  # the parameters pane moved on too
    assert app.return_code in (None, 0)


@bounded
async def test_a_run_that_raises_stops_the_run_not_the_app(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bptui.tui.runner import Run

    real_frame = Run.frame
    frames: list[int] = []

    async def frame_failing_on_the_third(self: Run) -> None:
        frames.append(1)
        if len(frames) == 3:
            raise ArithmeticError("the run broke")
        await real_frame(self)

    monkeypatch.setattr(Run, "frame", frame_failing_on_the_third)
    app = make_app()
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await pilot.press("r")
        await wait_until(pilot, lambda: len(frames) >= 3 and not app.running)
        line = "internal error in the run: ArithmeticError: the run broke; the session goes on"
        assert app.internal_errors == [line]
        reached = app.stepper.step
        await pilot.press("s")
        await wait_until(pilot, lambda: f"Step {reached + 1}" in status_line(app))
    assert app.return_code in (None, 0)


def test_when_the_app_must_stop_it_exits_1_with_one_line(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """Textual's own machinery failing (here a mount) cannot be survived: one line, exit 1."""
    from pathlib import Path

    from bptui import cli
    from bptui.tui import app as app_module

    class Exploding(app_module.BptuiApp):
        CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))  # not beside this file

        def on_mount(self) -> None:
            raise RuntimeError("boom on mount")

        def run(self, **kwargs):  # type: ignore[no-untyped-def]  # headless: no terminal here
            return super().run(headless=True, **kwargs)

    made: list[BptuiApp] = []

    def make(scenario, **kw):  # type: ignore[no-untyped-def]
        made.append(Exploding(scenario, **kw))
        return made[-1]

    monkeypatch.setattr(app_module, "make_app", make)
    assert cli.main(["article"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    prefix = (
        "bptui: internal error: RuntimeError: boom on mount (the app stopped; the traceback is in "
    )
    assert err.startswith(prefix) and err.endswith(")\n")
    report = Path(err[len(prefix) : -2])
    try:
        text = report.read_text()
        assert "in on_mount" in text and "RuntimeError: boom on mount" in text
    finally:
        report.unlink()
    assert made[0].fatal_error_line == err.strip()


# ------------------------------------------------------------- found by the soak
@bounded
async def test_a_maximized_pane_keeps_step_and_loss_on_the_status_line() -> None:
    """The soak's find: m laid the pane out above the status line, which fell to the bottom."""
    from bptui.scenario.loading import load_builtin

    app = make_app(load_builtin("deep"), size=(100, 30))
    async with app.run_test() as pilot:
        for pane in ("1", "2", "4", "5"):
            await pilot.press(pane, "m")
            await wait_until(pilot, lambda: app.screen.maximized is not None)
            await pilot.pause(0.1)
            line = status_line(app)
            assert "Step 0" in line and "Loss 0.970531" in line, (pane, line)
            await pilot.press("m")
            await wait_until(pilot, lambda: app.screen.maximized is None)
