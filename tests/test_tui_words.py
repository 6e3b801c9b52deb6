"""What the TUI's words and numbers say: status line, number style, help pages, --grads.

Each test reads real screen text (or the text a pane renders) and checks it
against a rule the reader relies on: ``Step N`` and ``Loss`` always visible,
one minus glyph, one number style per column, help pages that scroll, the
verdict of ``--grads`` on screen at launch.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType
from tui_support import chain_text, pane_text, screen_text, sync, wait_until

from bptui.debug.errata import errata
from bptui.debug.usergrads import load_user_grads
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import builtin_names, load_builtin
from bptui.tui.app import SPEEDS, make_app
from bptui.tui.format import fmt_column, fmt_list, fmt_loss, fmt_value, typographic
from bptui.tui.runner import speed_label
from bptui.tui.state import view_of
from bptui.tui.widgets.chain import chain_renderable
from bptui.tui.widgets.errata import ErrataPage, markdown_table
from bptui.tui.widgets.status import PAUSED, RUNNING, status_text

ROOT = Path(__file__).resolve().parent.parent
MISTAKE = ROOT / "examples" / "article_mistake.py"
SIZES = [(80, 24), (140, 45)]
#: An ASCII hyphen-minus used as a sign: before a digit, not inside a word.
ASCII_MINUS = re.compile(r"(?<![\w.)\]])-(?=\.?\d)|(?<=\de)-(?=\d)")


def render(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def walked(name: str, steps: int, phases: int) -> Stepper:
    stepper = Stepper(load_builtin(name).training())
    stepper.run(steps)
    for _ in range(phases):
        stepper.next_phase()
    return stepper


# ------------------------------------------------------------------ status
def assert_status_complete(line: str, width: int, step: int, running: bool) -> None:
    assert cell_len(line) <= width, (width, line)
    assert f"Step {step}" in line, line
    loss = re.search(r"Loss (\S+)", line)
    assert loss is not None, line
    digits = re.sub(r"e.*$", "", loss.group(1)).replace("−", "").replace(".", "").lstrip("0")
    assert len(digits) >= 4, line  # at least four significant digits
    assert "α " in line, line
    assert (RUNNING if running else PAUSED) in line, line


@pytest.mark.parametrize("width", [60, 80, 100, 140])
@pytest.mark.parametrize("name", builtin_names())
def test_status_keeps_every_part_at_every_width(name: str, width: int) -> None:
    """During a phase walk (backward, loss pending) and while running: nothing dropped."""
    scenario = load_builtin(name)
    depth = len(scenario.network().layers) - 1
    for stepper, running in (
        (walked(name, 3, 1 + depth), False),  # update, forward…: loss pending
        (walked(name, 12, 2 + depth + depth), False),  # into the backward layers
        (walked(name, 7, 0), True),
    ):
        speed = speed_label(SPEEDS.index(30)) if running else ""
        view = view_of(stepper, scenario_name=name, running=running, speed=speed)
        line = status_text(view, width).plain
        assert_status_complete(line, width, stepper.step, running)
        assert name in line or width < 80  # the name gives way only when tight


@pytest.mark.parametrize("width", [60, 80, 140])
def test_a_long_or_multiline_name_never_pushes_step_or_loss_off(width: int) -> None:
    stepper = walked("article", 2, 4)
    for name in ("x" * 70, "first line\nsecond line\tand a tab\x07", "名前" * 30):
        line = status_text(view_of(stepper, scenario_name=name), width).plain
        assert "\n" not in line and "\t" not in line and "\x07" not in line
        assert_status_complete(line, width, stepper.step, False)
    line = status_text(view_of(stepper, scenario_name="x" * 70), 140).plain
    assert "x" * 20 + "…" in line and "x" * 40 not in line


def test_status_abbreviates_rather_than_drops_at_80_columns() -> None:
    stepper = walked("deep", 3, 6)  # update, forward 1-3, loss, backward layer 3
    view = view_of(stepper, scenario_name="deep", running=True, speed="30 steps/s")
    wide = status_text(view, 140).plain
    assert "backward layer 3" in wide and "► running · 30 steps/s" in wide
    narrow = status_text(view, 60).plain
    assert narrow == " deep │ Step 4 │ bwd L3 │ Loss 0.216987 │ α 0.05 │ ► running"


def test_status_glyphs_are_in_common_monospace_fonts() -> None:
    """⏸ (U+23F8) is missing from DejaVu Sans Mono and Liberation Mono: a box in a browser."""
    view = view_of(walked("article", 0, 0), scenario_name="article")
    line = status_text(view, 140).plain
    assert "⏸" not in line and "■ paused" in line
    running = status_text(dataclasses.replace(view, running=True), 140).plain
    assert "▶" not in running and "► running" in running


@sync
async def test_status_on_screen_during_a_walk_at_80_columns() -> None:
    app = make_app(load_builtin("deep"), size=(80, 24))
    async with app.run_test() as pilot:
        await pilot.press("n", "n", "n", "n", "n", "n")
        line = screen_text(app).split("\n")[0]
        assert_status_complete(line, 80, 1, False)
        assert "bwd L3" in line or "backward layer 3" in line
        await pilot.press("r")
        await wait_until(pilot, lambda: RUNNING in screen_text(app).split("\n")[0])
        line = screen_text(app).split("\n")[0]
        assert "α 0.05" in line
        await pilot.press("r")


# ------------------------------------------------------------ number style
def test_one_minus_everywhere_including_exponents() -> None:
    assert fmt_value(-1.76e-4) == "−1.76e−04"
    assert fmt_value(-0.049671) == "−0.049671"
    assert fmt_loss(-1.5e-7) == "−1.5000e−07"
    assert typographic("−2·SSR = -6.1335776, 1e-05, h1-2, leaky-relu, (-0.5) [-.5]") == (
        "−2·SSR = −6.1335776, 1e−05, h1-2, leaky-relu, (−0.5) [−.5]"
    )


def test_a_column_uses_one_style_chosen_from_its_extremes() -> None:
    assert fmt_column([0.049671, -1.76e-4, 1.5]) == ["4.97e−02", "−1.76e−04", "1.50e+00"]
    assert fmt_column([0.049671, -0.5, 1.5]) == ["0.049671", "−0.500000", "1.500000"]
    assert fmt_column([0.0, 2.0]) == ["0.000000", "2.000000"]  # a zero chooses nothing
    assert fmt_list([0.1, 0.53, 0.82]) == "[0.1000, 0.5300, 0.8200]"
    assert fmt_list([1e-4, 0.53, 0.82]) == "[1.00e−04, 5.30e−01, 8.20e−01]"


def styles(numbers: list[str]) -> set[str]:
    return {"sci" if "e" in number else "fixed" for number in numbers}


def assert_typographic(text: str, where: str) -> None:
    for line in text.split("\n"):
        assert not ASCII_MINUS.search(line), (where, line)


@pytest.mark.parametrize("name", builtin_names())
@sync
async def test_every_pane_prints_one_minus_and_one_style_per_list(name: str) -> None:
    """Every pane's screen text at steps 0 and 5, each pane shown in turn."""
    app = make_app(load_builtin(name), size=(140, 45))
    async with app.run_test() as pilot:
        for step in (0, 5):
            if step:
                app.stepper.run(step)
                app.refresh_view()
            for key in ("1", "2", "3", "4", "5"):
                await pilot.press(key)
                await pilot.pause()
                assert_typographic(screen_text(app), f"{name} step {step} pane {key}")
            for listed in re.findall(r"\[([^\]]*\d[^\]]*)\]", screen_text(app)):
                numbers = re.findall(r"−?\d+\.\d+(?:e[+−]\d+)?", listed)
                assert len(styles(numbers)) <= 1, listed


# ------------------------------------------------------------------ help
def test_readme_errata_table_is_generated_from_the_apps_errata() -> None:
    """README lists every mistake the help page does, with the same computed numbers."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The article's mistakes\n\n", 1)[1]
    table = section[: section.index("\n\n")] + "\n"
    assert table == markdown_table()
    rows = [line for line in table.splitlines()[2:] if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows] == [f"| {e.number}" for e in errata()]
    assert len(rows) == 6
    assert "2.8582 → 2.8841 RISES" in table and "−1.7658128" in table


async def errata_page_scrolls(size: tuple[int, int], key: str) -> None:
    app = make_app(size=size)
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("right")  # the errata page
        await wait_until(pilot, lambda: "1. Swapped labels" in screen_text(app))
        last = f"{errata()[-1].number}. {errata()[-1].title}"
        assert last not in screen_text(app)  # the page is longer than the screen
        page = app.screen.query_one(ErrataPage)
        await pilot.press("down")
        await wait_until(pilot, lambda: page.scroll_y >= 1)
        assert "1. Swapped labels" not in screen_text(app).split("\n")[4]
        for _ in range(12 if key == "pagedown" else 1):
            await pilot.press(key)
        await wait_until(pilot, lambda: last in screen_text(app))
        assert "Two learning rates" in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", ["end", "pagedown"])
@sync
async def test_the_errata_page_scrolls_to_its_last_mistake(size: tuple[int, int], key: str) -> None:
    await errata_page_scrolls(size, key)


@pytest.mark.parametrize("size", SIZES)
@sync
async def test_the_keys_page_scrolls_to_its_end(size: tuple[int, int]) -> None:
    app = make_app(size=size)
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: "Keys & panes" in screen_text(app))
        end = "Values that the current phase walk has not computed yet"
        await pilot.press("end")
        await wait_until(pilot, lambda: end in screen_text(app))
        await pilot.press("home")
        await wait_until(pilot, lambda: end not in screen_text(app) or size[1] > 60)


# --------------------------------------------------------------- --grads
def mistake_app(size: tuple[int, int], grads: Path = MISTAKE):  # type: ignore[no-untyped-def]
    scenario = load_builtin("article")
    user = load_user_grads(grads, scenario.network().param_names)
    return make_app(scenario, user_grads=user, size=size)


@pytest.mark.parametrize("size", SIZES)
@sync
async def test_the_grads_verdict_is_on_screen_at_launch(size: tuple[int, int]) -> None:
    """The wrong factor is named in the first lines of the chain pane, not below the fold."""
    app = mistake_app(size)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "Chain rule" in screen_text(app))
        chain = pane_text(app, "chain").split("\n")
        top = "\n".join(chain[1:4])
        assert "yours (d_b3) = −6.133578  ✗ wrong (rel error 7.12e−01)" in top
        assert "backprop = −1.765813" in top
        assert "✗ the factor: ∂Loss/∂green" in top
        screen = screen_text(app)
        assert "consistent with ∂Loss/∂green = −2·SSR = −6.1335776" in screen
        (message,) = [n.message for n in app._notifications]
        assert len(message) <= 90, message  # short: two lines of a toast at most
        assert "chain pane" in message


PRINTING = """\
def d_b3(ctx):
    print("green is", list(ctx.nodes["green"]))
    for k in range(20):
        print("line", k, "\\x1b[31mred\\x1b[0m" + "x" * 120)
    return -2 * sum((y - g) ** 2 for y, g in zip(ctx.y, ctx.nodes["green"]))


def d_b2(ctx):
    return 0.0
"""


@sync
async def test_what_a_d_function_printed_is_shown_once_labelled_and_bounded(
    tmp_path: Path,
) -> None:
    path = tmp_path / "printing.py"
    path.write_text(PRINTING, encoding="utf-8")
    app = mistake_app((140, 45), path)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: "Chain rule" in screen_text(app))
        app.selected_param = "b3"
        app.refresh_view()
        text = chain_text(app)
        assert text.count("d_b3 printed:") == 1
        lines = text.split("\n")
        start = lines.index("d_b3 printed:")
        assert lines[start + 1].startswith("  │ green is [")
        assert "… 15 more lines" in lines[start + 7]
        printed = lines[start + 1 : start + 8]
        assert all("\x1b" not in line and len(line) <= 4 + 100 for line in printed), printed
        assert printed[1].endswith("x…") and "[31mred" in printed[1]
        app.selected_param = "b2"  # its function printed nothing: no label
        app.refresh_view()
        assert "printed:" not in chain_text(app)


@pytest.mark.parametrize("name", ["article", "softmax3", "deep"])
def test_the_chain_table_uses_one_style_per_column(name: str) -> None:
    """A factor column mixes no fixed and scientific entries, at step 0 and 40."""
    for steps in (0, 40):
        stepper = walked(name, steps, 0)
        for param in stepper.network.param_names:
            view = view_of(stepper, scenario_name=name, selected_param=param)
            text = render(chain_renderable(view))
            rows = [line.split()[1:] for line in text.split("\n") if re.match(r"^ *(x=|#)", line)]
            for column in zip(*rows):
                assert len(styles([cell for cell in column if cell[-1].isdigit()])) <= 1, column


# --------------------------------------------------------------- forward
@pytest.mark.parametrize("name", ["softmax3", "deep"])
@sync
async def test_the_forward_pane_scrolls_sideways_by_whole_columns(name: str) -> None:
    """Every position before the far right starts a column exactly: no number cut at the left."""
    app = make_app(load_builtin(name), size=(80, 24))
    async with app.run_test() as pilot:
        await pilot.press("3")
        await pilot.pause()
        table = app.query_one("#forward")
        assert table.max_scroll_x > 0
        starts = table._column_starts()
        seen = []
        for _ in range(40):
            if table.scroll_x >= table.max_scroll_x:
                break
            await pilot.press("right")
            await pilot.pause()
            seen.append(table.scroll_x)
            assert table.scroll_x in starts, (table.scroll_x, starts)
            lines = pane_text(app, "forward").split("\n")[2:5]
            for line in lines:
                cells = line.strip("│").split()[1:]  # the fixed point column first
                if table.scroll_x < table.max_scroll_x and cells:
                    first = cells[0]
                    assert re.fullmatch(r"−?\d+\.\d+(e[+−]\d+)?|·····", first), (first, line)
        assert len(seen) >= 2 and seen == sorted(seen)
        inner = [x for x in seen if x < table.max_scroll_x]  # the far right is the table's end
        assert all(b - a > 1 for a, b in zip([0.0, *inner], inner))  # whole columns, not cells
