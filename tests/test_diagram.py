"""The network diagram pane, mounted alone: names, values, colours, layout."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult

from bptui.engine.stepper import Stepper
from bptui.scenario.loading import builtin_names, load_builtin, parse_scenario
from bptui.tui.app import make_app
from bptui.tui.format import fmt_short
from bptui.tui.state import PENDING, View, view_of
from bptui.tui.widgets.diagram import (
    CHAIN_STYLE,
    SELECTED_STYLE,
    NetworkDiagram,
    _Canvas,
    draw,
    drawing,
    weight_style,
)

WIDE_NET = """
[network]
layers = [2, 64, 1]
activation = "relu"
[training]
learning_rate = 0.01
[data]
x = [[0, 1], [1, 0], [0.5, 0.5]]
y = [1, 0, 0.5]
"""


def article_weights() -> np.ndarray:
    """w1…w4 as the article draws them, independently of the engine."""
    rng = np.random.RandomState(42)
    return np.array([rng.normal(0, 1) for _ in range(4)])


def softplus(z: float) -> float:
    return float(np.log1p(np.exp(z)))


def sync(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async pilot test with asyncio (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args: object, **kwargs: object) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class DiagramApp(App[None]):
    def compose(self) -> ComposeResult:
        yield NetworkDiagram(id="diagram")


async def rendered(views: list[View], size: tuple[int, int] = (70, 16)) -> Text:
    """Mount the pane at ``size``, show each view in turn, return what it draws."""
    app = DiagramApp()
    async with app.run_test(size=size) as pilot:
        pane = app.query_one(NetworkDiagram)
        for view in views:
            pane.show(view)
        await pilot.pause()
        assert pane.size.width == size[0] and pane.size.height == size[1]
        return pane.render()


def style_of(text: Text, fragment: str) -> Style:
    """The combined style of the first character of ``fragment`` in ``text``."""
    offset = text.plain.index(fragment)
    style = Style()
    for span in text.spans:
        if span.start <= offset < span.end:
            style += span.style if isinstance(span.style, Style) else Style.parse(span.style)
    return style


def rgb(style: Style) -> tuple[int, int, int]:
    assert style.color is not None
    triplet = style.color.get_truecolor()
    return triplet.red, triplet.green, triplet.blue


def walked(name: str, phases: int) -> Stepper:
    stepper = Stepper(load_builtin(name).training())
    for _ in range(phases):
        stepper.next_phase()
    return stepper


# ----------------------------------------------------------------- article


@sync
async def test_article_nodes_show_names_and_values_of_point_one() -> None:
    w1, w2, w3, w4 = article_weights()
    blue, orange = softplus(w1 * 0.1), softplus(w2 * 0.1)
    green = w3 * blue + w4 * orange
    text = (await rendered([view_of(Stepper(load_builtin("article").training()))])).plain
    assert f"blue {blue:.3f}" in text and f"{blue:.3f}" == "0.718"
    assert f"orange {orange:.3f}" in text
    assert f"green {green:.3f}" in text and f"{green:.3f}" == "1.510"
    assert "x 0.100" in text
    assert "point 1/3: x = 0.1, y = 1.2" in text


@sync
async def test_article_edges_carry_parameter_names_and_values() -> None:
    w1, w2, w3, w4 = article_weights()
    text = (await rendered([view_of(Stepper(load_builtin("article").training()))])).plain
    for name, value in zip(("w1", "w2", "w3", "w4"), (w1, w2, w3, w4)):
        assert f"{name} {value:.3f}".replace("-", "−") in text
    assert "w1 0.497" in text and "w2 −0.138" in text
    for bias in ("b1", "b2", "b3"):
        assert f"{bias} 0.000" in text


@sync
async def test_edges_are_coloured_by_sign_and_brightness_by_size() -> None:
    text = await rendered([view_of(Stepper(load_builtin("article").training()))])
    positive = rgb(style_of(text, "w1 0.497"))
    negative = rgb(style_of(text, "w2 −0.138"))
    largest = rgb(style_of(text, "w4 1.523"))
    assert positive[2] > positive[0], "positive weights are blue"
    assert negative[0] > negative[2], "negative weights are orange"
    assert sum(largest) > sum(positive), "the largest |w| is the brightest"
    # the line characters of an edge carry the same colour as its label
    drawn = {
        rgb(span.style)
        for span in text.spans
        if isinstance(span.style, Style)
        and span.style.color is not None
        and set(text.plain[span.start : span.end]) <= set("─╱╲│")
    }
    assert positive in drawn and negative in drawn


def test_weight_style_scales_with_magnitude() -> None:
    faint, strong = weight_style(0.1, 1.0), weight_style(1.0, 1.0)
    assert sum(rgb(strong)) > sum(rgb(faint))
    assert strong.bold and not faint.bold
    assert rgb(weight_style(-1.0, 1.0))[0] > rgb(weight_style(-1.0, 1.0))[2]
    assert weight_style(float("nan"), 1.0).bold  # non-finite weights still draw


@sync
async def test_selected_point_changes_values_and_header() -> None:
    w1, w2, *_ = article_weights()
    view = view_of(Stepper(load_builtin("article").training()), selected_point=1)
    text = (await rendered([view])).plain
    assert "point 2/3: x = 0.53, y = 3.2" in text
    assert f"blue {softplus(w1 * 0.53):.3f}" in text
    assert f"orange {softplus(w2 * 0.53):.3f}" in text


@sync
async def test_pending_values_mid_phase_walk() -> None:
    after_update = (await rendered([view_of(walked("article", 1))])).plain
    assert f"blue {PENDING}" in after_update and f"green {PENDING}" in after_update
    assert "x 0.100" in after_update  # inputs are always known
    after_layer1 = (await rendered([view_of(walked("article", 2))])).plain
    assert f"blue {PENDING}" not in after_layer1
    assert f"green {PENDING}" in after_layer1


@sync
async def test_forward_phase_highlights_its_layer() -> None:
    text = await rendered([view_of(walked("article", 2))])  # update, forward layer 1
    assert style_of(text, "blue").reverse and style_of(text, "orange").reverse
    assert not style_of(text, "green").reverse


@sync
async def test_backward_phase_highlights_its_parameters() -> None:
    # update, forward 1, forward 2, loss, backward 2
    text = await rendered([view_of(walked("article", 5))], size=(80, 16))
    assert style_of(text, "w3 ").reverse and style_of(text, "b3 ").reverse
    assert not style_of(text, "w1 ").reverse and not style_of(text, "b1 ").reverse


@sync
async def test_loss_phase_highlights_the_output_and_shows_the_loss() -> None:
    stepper = walked("article", 4)  # update, forward 1, forward 2, loss
    text = await rendered([view_of(stepper)], size=(80, 16))
    assert style_of(text, "green").reverse
    assert f"loss {stepper.loss:.6g}" in text.plain


@sync
async def test_a_whole_step_highlights_nothing_but_a_finished_walk_does() -> None:
    stepper = Stepper(load_builtin("article").training())
    stepper.step_once()
    text = await rendered([view_of(stepper)])
    assert not any(isinstance(s.style, Style) and s.style.reverse for s in text.spans)
    stepper = walked("article", 5)
    before_last = view_of(stepper)
    stepper.next_phase()  # backward layer 1 ends the walk
    text = await rendered([before_last, view_of(stepper)])
    assert style_of(text, "w1 ").reverse and not style_of(text, "w3 ").reverse


# ------------------------------------------------------------ other shapes


@sync
async def test_wide_layer_collapses_into_a_summary_node() -> None:
    scenario = parse_scenario(WIDE_NET, where="test", base_dir=None)
    text = (await rendered([view_of(Stepper(scenario.training()))], size=(60, 14))).plain
    assert "h1.1…h1.64 (64)" in text
    assert "h1.2 " not in text
    assert "x1 0.000" in text and "x2 1.000" in text and "ŷ1" in text
    lines = text.split("\n")
    assert len(lines) == 14 and all(len(line) <= 60 for line in lines)


@sync
async def test_deep_net_draws_every_node_with_a_legend_instead_of_labels() -> None:
    text = (
        await rendered([view_of(Stepper(load_builtin("deep").training()))], size=(70, 22))
    ).plain
    for layer in (1, 2):
        for i in range(1, 9):
            assert f"h{layer}.{i} " in text
    assert "w>0" in text and "w<0" in text
    assert "w40 " not in text  # 64 edges in one gap: no labels


@sync
async def test_pane_size_of_an_80x24_terminal_keeps_values() -> None:
    text = (
        await rendered([view_of(Stepper(load_builtin("article").training()))], size=(40, 10))
    ).plain
    for fragment in ("blue 0.718", "orange 0.686", "green 1.510", "x 0.100"):
        assert fragment in text


@pytest.mark.parametrize("name", [*builtin_names(), "wide"])
@pytest.mark.parametrize("size", [(1, 1), (12, 3), (24, 6), (40, 10), (64, 18), (140, 45)])
def test_every_scenario_fits_every_size(name: str, size: tuple[int, int]) -> None:
    scenario = (
        parse_scenario(WIDE_NET, where="test", base_dir=None)
        if name == "wide"
        else load_builtin(name)
    )
    width, height = size
    text = draw(view_of(Stepper(scenario.training())), width, height)
    lines = text.plain.split("\n")
    assert len(lines) <= height and all(len(line) <= width for line in lines)
    if size == (140, 45):
        for names in Stepper(scenario.training()).network.node_names[::2]:
            assert re.search(re.escape(names[0]), text.plain)


@sync
async def test_redraws_to_the_new_size_on_resize() -> None:
    app = DiagramApp()
    async with app.run_test(size=(50, 12)) as pilot:
        pane = app.query_one(NetworkDiagram)
        pane.show(view_of(Stepper(load_builtin("article").training())))
        await pilot.pause()
        small = pane.render().plain.split("\n")
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        large = pane.render().plain.split("\n")
    assert len(small) == 12 and len(large) == 30
    assert max(len(line) for line in large) > 50
    assert "green 1.510" in "\n".join(large)


@sync
async def test_diverged_values_draw_in_scientific_notation() -> None:
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(10_000)
    assert stepper.diverged is not None
    text = (await rendered([view_of(stepper)])).plain
    green = float(stepper.record().yhat[0, 0])
    assert abs(green) > 1e100  # the loss itself overflowed to inf
    assert f"green {green:.1e}".replace("-", "−") in text


def test_fmt_short() -> None:
    assert fmt_short(0.71812) == "0.718"
    assert fmt_short(-0.1383) == "−0.138"
    assert fmt_short(0.0) == "0.000"
    assert fmt_short(1.2e-5) == "1.2e−05"
    assert fmt_short(123456.0) == "1.2e+05"
    assert fmt_short(float("nan")) == "nan"
    assert fmt_short(float("-inf")) == "−inf"


def label_of(canvas: _Canvas, name: str) -> str:
    """Everything written where parameter ``name`` is (its label rows, or its node's rows)."""
    return " ".join(
        "".join(canvas.chars[y][x : x + length])
        for x, y, length, param in canvas.targets
        if param == name
    )


def test_update_and_backward_phases_add_their_news_to_the_labels() -> None:
    stepper = Stepper(load_builtin("article").training())
    stepper.step_once()
    before = stepper.record().params
    stepper.next_phase()  # the update of step 2
    after = stepper.record().params
    canvas = drawing(view_of(stepper), 78, 19)
    for name in ("w1", "w2", "w3", "w4"):
        # one row, or two with the new value under the old
        shown = label_of(canvas, name).replace(" →", "→")
        assert shown == f"{name} {fmt_short(before[name])}→{fmt_short(after[name])}"
    for _ in range(4):  # forward 1, forward 2, loss, backward layer 2
        stepper.next_phase()
    grads = stepper.record().grads
    canvas = drawing(view_of(stepper), 78, 19)
    for name in ("w3", "w4"):
        assert label_of(canvas, name).split() == [
            name,
            fmt_short(after[name]),
            f"∂{fmt_short(grads[name])}",
        ]
    # layer 1 not computed yet: its gradients are pending
    assert label_of(canvas, "w1").split() == ["w1", fmt_short(after["w1"]), f"∂{PENDING}"]


def test_a_784_input_layer_collapses_and_the_header_stays_short() -> None:
    scenario = parse_scenario(
        "[network]\nlayers = [784, 64, 10]\nactivation = 'relu'\nloss = 'mse'\n"
        "[training]\nlearning_rate = 0.01\n[data]\n"
        f"x = [{[0.5] * 784}]\ny = [{[0.0] * 10}]\n",
        where="test",
        base_dir=None,
    )
    text = draw(view_of(Stepper(scenario.training())), 138, 40).plain
    assert "x1…x784 (784)" in text and "h1.1…h1.64 (64)" in text
    for i in range(1, 11):
        assert f"ŷ{i} " in text  # ten outputs fit and stay whole
    assert text.split("\n")[0].startswith("point 1/1: x = (0.5, 0.5, 0.5, … 784 values), y = (")


# ----------------------------------------------------- gradients on the diagram


def article_mid_backward() -> Stepper:
    """Step 0's walk up to backward layer 2 (update, forward 1, 2, loss, backward 2)."""
    return walked("article", 5)


def test_backward_shows_dloss_dnode_and_pending_for_nodes_not_reached() -> None:
    stepper = article_mid_backward()
    record = stepper.record()
    w3 = record.params["w3"]
    # SSR: ∂Loss/∂green = 2(ŷ − y) for the point shown; identity output, so ∂Loss/∂blue = that · w3
    d_green = 2 * (float(record.yhat[0, 0]) - 1.2)
    canvas = drawing(view_of(stepper), 78, 19)
    text = canvas.text().plain
    assert f"green {fmt_short(float(record.yhat[0, 0]))} ∂{fmt_short(d_green)}" in text
    assert f"∂{fmt_short(d_green * w3)}" in label_of(canvas, "b1")  # blue's block
    # backward layer 2 computed b3's gradient, not b1's yet
    assert f"b3 {fmt_short(record.params['b3'])} ∂{fmt_short(record.grads['b3'])}" in text
    assert f"b1 {fmt_short(record.params['b1'])} ∂{PENDING}" in text


def test_before_backward_both_shows_values_and_gradients_mode_shows_pending() -> None:
    view = view_of(walked("article", 4))  # up to the loss: no gradient computed yet
    graph = draw(view, 78, 19).plain.split("\n")[:-1]  # the legend names the chain
    assert not any(
        "∂" in line for line in graph
    ) and f"green {fmt_short(float(view.record.yhat[0, 0]))}" in "\n".join(graph)
    grads = drawing(view, 78, 19, mode="gradients")
    assert label_of(grads, "w1") == f"w1 ∂{PENDING}"
    assert f"green ∂{PENDING}" in grads.text().plain


def test_the_three_modes_show_what_they_say() -> None:
    stepper = Stepper(load_builtin("article").training())
    record = stepper.record()
    view = view_of(stepper)  # step 0, walk done: every gradient is known
    w1, g1 = fmt_short(record.params["w1"]), fmt_short(record.grads["w1"])
    assert label_of(drawing(view, 78, 19, mode="both"), "w1").split() == ["w1", w1, f"∂{g1}"]
    assert label_of(drawing(view, 78, 19, mode="values"), "w1") == f"w1 {w1}"
    assert label_of(drawing(view, 78, 19, mode="gradients"), "w1").split() == ["w1", f"∂{g1}"]
    assert "∂" not in draw(view, 78, 19, mode="values").plain


@sync
async def test_v_cycles_the_diagram_through_both_values_and_gradients() -> None:
    app = make_app(load_builtin("article"))
    async with app.run_test(size=(140, 45)) as pilot:
        pane = app.query_one(NetworkDiagram)
        await pilot.pause()
        g1 = fmt_short(app.stepper.record().grads["w1"])
        assert f"∂{g1}" in label_of(pane.canvas(), "w1")
        await pilot.press("v")
        await pilot.pause()
        assert pane.mode == "values" and "∂" not in pane.render().plain
        await pilot.press("v")
        await pilot.pause()
        assert pane.mode == "gradients" and label_of(pane.canvas(), "w1").split() == [
            "w1",
            f"∂{g1}",
        ]
        await pilot.press("v")
        await pilot.pause()
        assert pane.mode == "both"


# ------------------------------------------------------------- the chain path


def test_the_selected_chain_is_drawn_from_the_loss_back_to_the_parameter() -> None:
    stepper = Stepper(load_builtin("article").training())
    canvas = drawing(view_of(stepper, selected_param="w1"), 100, 25, mode="values")
    text = canvas.text()
    # w1's chain: ∂Loss/∂green · ∂green/∂blue · ∂blue/∂w1: x→blue (w1) and blue→green (w3)
    assert style_of(text, "w1 0.497") == SELECTED_STYLE
    assert style_of(text, "blue").underline and style_of(text, "green").underline
    assert not style_of(text, "orange").underline
    assert canvas.line_styles["w1"] == CHAIN_STYLE == canvas.line_styles["w3"]
    assert CHAIN_STYLE not in (canvas.line_styles["w2"], canvas.line_styles["w4"])
    symbols = [f.symbol for f in stepper.record().factors["w1"]]
    assert symbols == ["∂Loss/∂green", "∂green/∂blue", "∂blue/∂w1"]
    legend = text.plain.split("\n")[-1]
    assert "∂Loss/∂w1 = " + " · ".join(symbols) in legend
    assert style_of(text, "∂green/∂blue") == CHAIN_STYLE  # the chain pane's bold cyan


def test_a_node_feeding_several_nodes_draws_every_path() -> None:
    stepper = Stepper(load_builtin("deep").training())
    net = stepper.network
    canvas = drawing(view_of(stepper, selected_param="b1"), 140, 42, mode="values")
    # b1 is h1.1's bias: the paths go h1.1 → every h2.k → ŷ1
    second, third = net.weight_slices[1].start, net.weight_slices[2].start
    for k in range(8):
        from_h11 = net.param_names[second + k * 8]  # W2[k, 0]: h1.1 → h2.k
        from_h12 = net.param_names[second + k * 8 + 1]  # h1.2 → h2.k: not on b1's chain
        assert canvas.line_styles[from_h11] == CHAIN_STYLE, from_h11
        assert canvas.line_styles[from_h12] != CHAIN_STYLE, from_h12
        assert canvas.line_styles[net.param_names[third + k]] == CHAIN_STYLE
    assert not any(canvas.line_styles[name] == CHAIN_STYLE for name in net.param_names[:16])
    assert net.node_names[1][0] == "h1.1"
    text = canvas.text()
    assert style_of(text, "h1.1 ").underline and not style_of(text, "h1.2 ").underline


# -------------------------------------------------------------------- clicks


@sync
async def test_clicking_an_edge_label_or_a_node_selects_its_parameter() -> None:
    app = make_app(load_builtin("article"))
    async with app.run_test(size=(140, 45)) as pilot:
        pane = app.query_one(NetworkDiagram)
        await pilot.pause()
        for name in ("w3", "b2"):
            spot = pane.where(name)
            assert spot is not None, name
            border = pane.content_region.offset - pane.region.offset
            await pilot.click(NetworkDiagram, offset=(spot[0] + border.x, spot[1] + border.y))
            await pilot.pause()
            assert app.selected_param == name
            chain = app.query_one("#chain")
            assert f"∂Loss/∂{name}" in str(chain.border_title)
            assert style_of(pane.render(), f"{name} ") == SELECTED_STYLE


@sync
async def test_next_parameter_key_moves_the_diagrams_selection() -> None:
    app = make_app(load_builtin("article"))
    async with app.run_test(size=(140, 45)) as pilot:
        pane = app.query_one(NetworkDiagram)
        await pilot.pause()
        first = app.selected_param
        await pilot.press("full_stop")
        await pilot.pause()
        names = app.stepper.network.param_names
        now = names[(names.index(first) + 1) % len(names)]
        assert app.selected_param == now
        assert style_of(pane.render(), f"{now} ") == SELECTED_STYLE
        assert style_of(pane.render(), f"{first} ") != SELECTED_STYLE


# ------------------------------------------------------- update, room, overlaps


@pytest.mark.parametrize("size", [(80, 24), (140, 45), (200, 55)])
@sync
async def test_the_update_phase_shows_every_parameters_old_and_new_value(
    size: tuple[int, int],
) -> None:
    app = make_app(load_builtin("article"))
    async with app.run_test(size=size) as pilot:
        await pilot.press("s", "n")  # step 1, then the update of step 2
        await pilot.pause()
        old = app.stepper.previous_theta
        new = app.stepper.theta
        assert app.stepper.phase.kind == "update"
        pane = app.query_one(NetworkDiagram)
        canvas = pane.canvas()
        assert canvas is not None
        for index, name in enumerate(app.stepper.network.param_names):
            shown = label_of(canvas, name).replace(" →", "→")
            assert f"{fmt_short(float(old[index]))}→{fmt_short(float(new[index]))}" in shown, (
                name,
                shown,
            )
            assert fmt_short(float(old[index])) != fmt_short(float(new[index]))


@pytest.mark.parametrize("width", [140, 200])
def test_labels_on_the_deep_net_never_overlap(width: int) -> None:
    stepper = Stepper(load_builtin("deep").training())
    canvas = drawing(view_of(stepper), width, 45)
    cells = [(x + k, y) for x, y, length in canvas.labels for k in range(length)]
    assert cells, "some edges are labelled"
    assert len(cells) == len(set(cells))
    text = canvas.text().plain
    for name in stepper.network.node_names[1] + stepper.network.node_names[2]:
        assert f"{name} " in text  # no label was written over a node


def test_a_collapsed_layer_shows_its_marker_and_the_rest_stays_labelled() -> None:
    scenario = parse_scenario(WIDE_NET, where="test", base_dir=None)
    canvas = drawing(view_of(Stepper(scenario.training())), 140, 20)
    assert "h1.1…h1.64 (64)" in canvas.text().plain
    assert "h1.2 " not in canvas.text().plain
