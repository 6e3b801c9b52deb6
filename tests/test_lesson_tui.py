"""``bptui lesson``: each stop's state and text on screen, → / ← between stops, the export key.

The built-in lesson's numbers are checked against the engine in
tests/test_lesson.py; here they must also be what the panes show when the
lesson stands at that stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Markdown
from tui_support import chain_text, pane_text, screen_text, sync, wait_until

from bptui.debug.worked import export
from bptui.engine.stepper import Phase
from bptui.scenario.lesson import load_lesson
from bptui.scenario.loading import load_builtin
from bptui.tui.app import export_filename, make_app
from bptui.tui.lesson import LessonApp, make_lesson_app
from bptui.tui.screens.help import HelpScreen
from bptui.tui.widgets.lesson_panel import LessonPanel, stop_caption

WIDE = (140, 45)
SMALL = (80, 24)
LESSON = load_lesson()


def panel(app: LessonApp) -> LessonPanel:
    return app.query_one(LessonPanel)


def panel_source(app: LessonApp) -> str:
    return app.query_one("#lesson-text", Markdown).source


async def at_stop(pilot: Any, index: int) -> None:
    """Wait until the panel shows stop ``index`` (its text is set asynchronously)."""
    app = pilot.app
    stop = app.lesson.stops[index]

    def shown() -> bool:
        return (
            app.stop_index == index
            and str(panel(app).border_title) == stop.title
            and panel_source(app) == stop.text
            and app.view is not None
            and app.view.step == stop.step
        )

    await wait_until(pilot, shown)
    await pilot.pause()


def status(app: LessonApp) -> str:
    return screen_text(app).split("\n")[0]


# ------------------------------------------------------------ the six stops
def expect_stop_1(app: LessonApp) -> None:
    assert app.selected_point == 0 and app.selected_param == "b3"
    forward = pane_text(app, "forward")
    for number in ("0.049671", "0.718291", "−0.013826", "0.686258", "1.510420"):
        assert number in forward, number
    assert "point 1/3: x = 0.1, y = 1.2" in pane_text(app, "diagram")


def expect_stop_2(app: LessonApp) -> None:
    assert "Loss 3.066789" in status(app)
    forward = pane_text(app, "forward")
    for share in ("0.096361", "2.753292", "0.217136"):
        assert share in forward, share


def expect_stop_3(app: LessonApp) -> None:
    assert app.selected_param == "b3"
    chain = pane_text(app, "chain")
    assert "Chain rule · ∂Loss/∂b3" in chain
    for number in ("0.620840", "−3.318610", "0.931956", "−1.765813"):
        assert number in chain, number


def expect_stop_4(app: LessonApp) -> None:
    assert app.selected_param == "w1"
    chain = chain_text(app)
    assert "∂Loss/∂w1 = ∂Loss/∂green · ∂green/∂blue · ∂blue/∂w1" in chain
    assert "−0.326340" in chain and "reused" in chain
    assert "backprop 4 + 6 = 10" in chain and "from scratch 6 + 12 = 18" in chain


def expect_stop_5(app: LessonApp) -> None:
    assert app.selected_param == "b3"
    assert "│ Step 1 │ update │" in status(app)
    params = pane_text(app, "params")
    assert "0.000000 → 0.017658" in params and "−1.765813" in params


def expect_stop_6(app: LessonApp) -> None:
    assert app.selected_param == "b3"
    line = status(app)
    assert "│ Step 1 │ done │" in line and "Loss 2.981741" in line


EXPECTED = {
    # stop: (step, the phase just computed, done?, what the panes must show)
    0: (0, Phase("backward", 1), True, expect_stop_1),
    1: (0, Phase("backward", 1), True, expect_stop_2),
    2: (0, Phase("backward", 1), True, expect_stop_3),
    3: (0, Phase("backward", 1), True, expect_stop_4),
    4: (1, Phase("update"), False, expect_stop_5),
    5: (1, Phase("backward", 1), True, expect_stop_6),
}


def assert_at(app: LessonApp, index: int) -> None:
    step, phase, done, panes = EXPECTED[index]
    assert (app.stepper.step, app.stepper.phase, app.stepper.done) == (step, phase, done)
    panes(app)
    text = screen_text(app)
    stop = app.lesson.stops[index]
    assert stop.title in text
    assert stop_caption(index, len(app.lesson.stops)) in text


@sync
async def test_right_walks_the_six_stops_with_their_numbers_on_screen() -> None:
    app = make_lesson_app(LESSON, size=WIDE)
    async with app.run_test() as pilot:
        for index in range(6):
            if index:
                await pilot.press("right")
            await at_stop(pilot, index)
            assert_at(app, index)
        await pilot.press("right")  # past the last stop: it stays, and says so
        await at_stop(pilot, 5)
        assert_at(app, 5)
        assert any("last stop" in n.message for n in app._notifications)


@sync
async def test_each_stop_shows_its_text_words() -> None:
    app = make_lesson_app(LESSON, size=WIDE)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        await pilot.press("right")
        await at_stop(pilot, 1)
        text = screen_text(app)
        assert "SSR = Σ (yᵢ − greenᵢ)² = 0.096361 + 2.753292 + 0.217136 = 3.066789." in text
        assert "stop 2 of 6 · → next · ← back" in text
        await pilot.press("right", "right", "right")
        await at_stop(pilot, 4)
        text = screen_text(app)
        assert "For b3: 0 − 0.01·(−1.765813) = 0.017658." in text
        assert "stop 5 of 6 · → next · ← back" in text


@sync
async def test_left_goes_back_to_each_stops_state() -> None:
    app = make_lesson_app(LESSON, size=WIDE)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        await pilot.press(*["right"] * 5)
        await at_stop(pilot, 5)
        for index in (4, 3, 2, 1, 0):
            await pilot.press("left")
            await at_stop(pilot, index)
            assert_at(app, index)
        await pilot.press("left")  # before the first stop: it stays
        await at_stop(pilot, 0)
        assert "stop 1 of 6 · → next" in screen_text(app)
        assert any("first stop" in n.message for n in app._notifications)


@sync
async def test_keys_work_between_stops_and_the_next_stop_is_its_own_state() -> None:
    app = make_lesson_app(LESSON, size=WIDE)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        await pilot.press("right")
        await at_stop(pilot, 1)
        await pilot.press("s", "s", "full_stop", "right_square_bracket")
        await wait_until(pilot, lambda: app.view is not None and app.view.step == 2)
        assert "│ Step 2 │" in status(app)
        assert app.selected_param == "w1" and app.selected_point == 1  # b3 → w1 wraps
        await pilot.press("right")
        await at_stop(pilot, 2)
        assert_at(app, 2)
        # A walk left half-way: the update stop walks from step 0 again, to its update only.
        await pilot.press("n", "n", "n")
        await wait_until(pilot, lambda: app.stepper.phase == Phase("forward", 2))
        await pilot.press("right", "right")
        await at_stop(pilot, 4)
        assert_at(app, 4)
        # A run is paused by the stop it is interrupted by.
        await pilot.press("r")
        await wait_until(pilot, lambda: app.running)
        await pilot.press("right")
        await at_stop(pilot, 5)
        assert not app.running
        assert_at(app, 5)


@sync
async def test_the_arrows_move_the_lesson_whichever_pane_has_the_focus() -> None:
    app = make_lesson_app(LESSON, size=WIDE)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        for pane in ("3", "2", "4"):  # forward table, parameters table, chain pane
            await pilot.press(pane)
        await pilot.press("3")
        assert app.focused is app.query_one("#forward")
        await pilot.press("right")
        await at_stop(pilot, 1)
        await pilot.press("2", "left")
        assert app.focused is app.query_one("#params")
        await at_stop(pilot, 0)


@sync
async def test_the_arrows_belong_to_the_help_screen_while_it_is_open() -> None:
    app = make_lesson_app(LESSON, size=WIDE)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        tabs = app.screen.query_one("TabbedContent")
        first = tabs.active
        await pilot.press("right")
        await wait_until(pilot, lambda: tabs.active != first)
        assert app.stop_index == 0
        await pilot.press("escape", "right")
        await at_stop(pilot, 1)


@sync
async def test_the_panel_is_readable_and_scrolls_at_80x24() -> None:
    app = make_lesson_app(LESSON, size=SMALL)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        box = panel(app)
        assert box.region.height >= 8 and box.region.width == 80
        text = screen_text(app)
        assert "The forward pass" in text and "stop 1 of 6 · → next" in text
        assert "One input x, two hidden nodes blue and orange" in text
        assert box.max_scroll_y > 0  # this stop's text is longer than the panel
        assert "The diagram shows these values" not in pane_text(app, "lesson")
        box.scroll_end(animate=False)
        await wait_until(pilot, lambda: box.scroll_y == box.max_scroll_y)
        await pilot.pause()
        assert "The forward pane lists every node" in pane_text(app, "lesson")
        await pilot.press("right")
        await at_stop(pilot, 1)
        assert box.scroll_y == 0  # a new stop starts at its top
        assert "Loss 3.066789" in status(app)


def test_stop_caption_names_the_keys_that_move() -> None:
    assert stop_caption(0, 6) == "stop 1 of 6 · → next"
    assert stop_caption(2, 6) == "stop 3 of 6 · → next · ← back"
    assert stop_caption(5, 6) == "stop 6 of 6 · ← back · last stop"
    assert stop_caption(0, 1) == "stop 1 of 1 · last stop"


# ------------------------------------------------------------------ the CLI
def test_bptui_lesson_opens_the_builtin_lesson(run_cli, monkeypatch) -> None:
    opened: list[LessonApp] = []
    monkeypatch.setattr(LessonApp, "run", lambda self: opened.append(self))
    result = run_cli("lesson")
    assert result.code == 0, result.err
    (app,) = opened
    assert app.lesson.title == "Backpropagation by hand: the article's example"
    assert len(app.lesson.stops) == 6 and app.scenario.name == "article"


def test_bptui_lesson_file_opens_that_file(run_cli, monkeypatch, write_file) -> None:
    opened: list[LessonApp] = []
    monkeypatch.setattr(LessonApp, "run", lambda self: opened.append(self))
    path = write_file(
        "xor_lesson.toml",
        'title = "XOR"\nscenario = "xor"\n'
        '[[stop]]\nstep = 2\nphase = "loss"\nparam = "w1"\npoint = 4\ntext = "Four points."\n',
    )
    assert run_cli("lesson", path).code == 0
    (app,) = opened
    assert app.lesson.title == "XOR" and app.scenario.name == "xor"


@pytest.mark.parametrize(
    "body, words",
    [
        ('[[stop]]\nstep = 1\nphase = "sideways"\ntext = "x"\n', ["stop[0].phase", "sideways"]),
        ('[[stop]]\nstep = 0\ntext = "x"\n[[stop]]\nstep = 0\nparam = "w9"\ntext = "y"\n',
         ["stop[1].param", "'w9'"]),
        ('[[stop]]\nstep = 0\npoint = 4\ntext = "x"\n', ["stop[0].point", "from 1 to 3"]),
        ("[[stop]]\nstep = 0\n", ["stop[0].text", "missing"]),
    ],
)  # fmt: skip
def test_a_bad_lesson_file_is_exit_2_naming_the_stop_and_key(
    run_cli, monkeypatch, write_file, body: str, words: list[str]
) -> None:
    monkeypatch.setattr(LessonApp, "run", lambda self: pytest.fail("a bad lesson opened"))
    path = write_file("bad.toml", 'scenario = "article"\n' + body)
    result = run_cli("lesson", path)
    assert result.code == 2 and result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith("bptui: error: ") and str(path) in line
    for word in words:
        assert word in line, (word, line)


def test_a_missing_lesson_file_is_exit_2(run_cli, tmp_path: Path) -> None:
    result = run_cli("lesson", tmp_path / "nowhere.toml")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "nowhere.toml" in line


# -------------------------------------------------------------- the export
def test_export_filename_says_scenario_step_and_parameter() -> None:
    assert export_filename("article", 3, "b1") == "bptui-article-step3-b1.md"
    assert export_filename("my net/v2 (test)", 0, "w1") == "bptui-my-net-v2--test-step0-w1.md"
    assert export_filename("///", 12, "b3") == "bptui-scenario-step12-b3.md"


async def exported(pilot: Any, folder: Path, name: str) -> str:
    app = pilot.app
    path = folder / name
    await wait_until(
        pilot,
        lambda: path.is_file() and any(str(path) in n.message for n in app._notifications),
    )
    return path.read_text(encoding="utf-8")


@sync
async def test_e_exports_this_step_and_parameter_as_markdown(tmp_path: Path, monkeypatch) -> None:
    app = make_app(size=WIDE)
    monkeypatch.setattr(app, "export_folder", lambda: tmp_path)
    scenario = load_builtin("article")
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("e")
        text = await exported(pilot, tmp_path, "bptui-article-step0-b1.md")
        assert text == export(scenario, "md", step=0, params=["b1"])[0]
        # b1's update, with the article's gradient −0.646880 (the parameters pane's value)
        assert r"{\partial b_{1}} = 0 - 0.01 \cdot ( -0.646880 ) = 0.00646880" in text
        await pilot.press("s", "s", "s", "full_stop", "e")
        text = await exported(pilot, tmp_path, "bptui-article-step3-b2.md")
        assert text == export(scenario, "md", step=3, params=["b2"])[0]
        message = next(n.message for n in app._notifications if "step3-b2" in n.message)
        assert message == f"Worked example saved to {tmp_path / 'bptui-article-step3-b2.md'}."


@sync
async def test_a_folder_that_cannot_be_written_is_an_error_notice(
    tmp_path: Path, monkeypatch
) -> None:
    app = make_app(size=WIDE)
    missing = tmp_path / "gone"
    monkeypatch.setattr(app, "export_folder", lambda: missing)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("e")
        await wait_until(
            pilot, lambda: any("Could not save" in n.message for n in app._notifications)
        )
        assert not missing.exists()


def test_export_folder_is_the_downloads_folder_or_here(tmp_path: Path, monkeypatch) -> None:
    import platformdirs

    app = make_app()
    monkeypatch.setattr(platformdirs, "user_downloads_path", lambda: tmp_path)
    assert app.export_folder() == tmp_path
    monkeypatch.setattr(platformdirs, "user_downloads_path", lambda: tmp_path / "no")
    monkeypatch.chdir(tmp_path)
    assert app.export_folder() == tmp_path


# --------------------------------------------------------------- snapshots
def snapshot_at(index: int):  # type: ignore[no-untyped-def]
    async def walk(pilot: Any) -> None:
        await at_stop(pilot, 0)
        for i in range(1, index + 1):
            await pilot.press("right")
            await at_stop(pilot, i)

    return walk


@pytest.mark.parametrize("index", range(6))
def test_snapshot_stop(snap_compare: Any, index: int) -> None:
    assert snap_compare(make_lesson_app(LESSON), terminal_size=WIDE, run_before=snapshot_at(index))


# -------------------------------------------------------------------- docs
DOCS = Path(__file__).resolve().parent.parent / "docs" / "lessons.md"


@sync
async def test_the_docs_example_lesson_loads_and_stops_where_it_says(tmp_path: Path) -> None:
    example = DOCS.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "xor_lesson.toml"
    path.write_text(example, encoding="utf-8")
    lesson = load_lesson(path)
    assert lesson.title == "XOR: one step of a 2-2-1 net" and len(lesson.stops) == 2
    app = make_lesson_app(lesson, size=WIDE)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        assert app.selected_point == 3  # point = 4, counted from 1
        assert "x = (1, 1)" in lesson.stops[0].text
        assert app.stepper.x[3].tolist() == [1.0, 1.0] and app.stepper.y[3].tolist() == [0.0]
        await pilot.press("right")
        await at_stop(pilot, 1)
        assert (app.stepper.step, app.stepper.phase) == (1, Phase("loss"))
        assert app.view is not None and app.view.shows_loss
        assert "│ Step 1 │ loss │" in status(app)
        assert app.selected_param == "w1"
        assert "·····" in pane_text(app, "params")  # the gradients are pending


def test_the_docs_error_lines_are_bptuis(run_cli, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    lines = DOCS.read_text(encoding="utf-8").split("bptui: error: my_lesson.toml: ")[1:]
    documented = [line.split("\n", 1)[0] for line in lines]
    bodies = [
        '[[stop]]\nstep = 0\ntext = "x"\n[[stop]]\nstep = 0\nparam = "w9"\ntext = "y"\n',
        '[[stop]]\nstep = 0\npoint = 4\ntext = "x"\n',
    ]
    files = [f'scenario = "article"\n{body}' for body in bodies]
    files.append('scenario = "diverge"\n' + '[[stop]]\nstep = 0\ntext = "x"\n' * 3)
    files[-1] += '[[stop]]\nstep = 400\ntext = "x"\n'
    assert len(documented) == len(files)
    for text, line in zip(files, documented):
        Path("my_lesson.toml").write_text(text, encoding="utf-8")
        result = run_cli("lesson", "my_lesson.toml")
        assert result.code == 2
        assert result.err == f"bptui: error: my_lesson.toml: {line}\n"


@sync
async def test_the_palette_has_the_stop_moves_by_name() -> None:
    app = make_lesson_app(LESSON, size=WIDE)
    async with app.run_test() as pilot:
        await at_stop(pilot, 0)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert commands["Next stop"].help == (
            "The lesson's next stop: its step, selection and text (key: →)"
        )
        assert commands["Previous stop"].help.endswith("(key: ←)")
        assert "Step" in commands  # the app's own commands are all still there
        await commands["Next stop"].callback()
        await at_stop(pilot, 1)
        await commands["Previous stop"].callback()
        await at_stop(pilot, 0)
