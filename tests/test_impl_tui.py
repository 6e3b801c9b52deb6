"""``bptui --impl FILE``: the user's implementation judged in the TUI as the run moves.

The words on screen are compared with what ``bptui check --impl`` says for
the same file (the tensor named and its cause), and the numbers with the
user's own code run here, outside bptui, and with the engine's gradient.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from tui_support import chain_text, pane_text, screen_text, sync, wait_until

from bptui.debug.impl.check import impl_report
from bptui.debug.session import ImplSession
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin
from bptui.tui.app import BptuiApp, make_app
from bptui.tui.format import fmt_column, fmt_value, typographic

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BUGGY = ["impl_missing_mean.py", "impl_transpose.py", "impl_sign.py", "impl_wrong_slope.py"]
WIDE = (140, 45)


def impl_app(path: Path, size: tuple[int, int] = WIDE, scenario: str = "xor") -> BptuiApp:
    loaded = load_builtin(scenario)
    session = ImplSession.open(str(path), Stepper(loaded.training()))
    return make_app(loaded, impl=session, size=size)


def cli_finding(path: Path) -> tuple[str, str]:
    """The first wrong tensor and the likely cause, as ``bptui check --impl`` prints them."""
    text, ok = impl_report(load_builtin("xor"), str(path))
    assert not ok
    lines = text.splitlines()
    (tensor,) = [ln.split(": ", 1)[1].split(" ")[0] for ln in lines if ln.startswith("first wrong")]
    (cause,) = [ln.split("likely cause: ", 1)[1] for ln in lines if "likely cause: " in ln]
    return tensor, cause


def user_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("user_impl_for_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def users_gradients(path: Path, stepper: Stepper) -> dict[str, np.ndarray]:
    """The example's own forward and backward at the stepper's state (rows layout)."""
    record = stepper.record()
    params = {}
    for l, layer in enumerate(record.layers, start=1):
        params[f"W{l}"], params[f"b{l}"] = layer.W.T.copy(), layer.b.copy()
    module = user_module(path)
    _, cache = module.forward(params, stepper.x.copy())
    return module.backward(params, stepper.x.copy(), stepper.y.copy(), cache)


async def checked(app: BptuiApp, pilot, step: int) -> None:  # type: ignore[no-untyped-def]
    """Wait until the verdict on screen is of ``step`` and of the state shown."""

    def ready() -> bool:
        shown = app.view.impl if app.view else None
        return shown is not None and shown.current and shown.verdict.step == step

    await wait_until(pilot, ready)


# --------------------------------------------------------- what it says
@pytest.mark.parametrize("name", BUGGY)
@sync
async def test_the_tui_names_the_tensor_and_cause_check_impl_names(name: str) -> None:
    path = EXAMPLES / name
    tensor, cause = cli_finding(path)
    app = impl_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        # the chain pane as the screen shows it, its border and line breaks taken out
        shown = [line[1:-1].strip() for line in pane_text(app, "chain").split("\n")[1:-1]]
        assert typographic(cause) in " ".join(" ".join(shown).split()), shown
        assert any(line.startswith(f"✗ {tensor}") for line in shown), shown
        diagram = pane_text(app, "diagram")
        layer = int(tensor[2:]) + (1 if tensor[1] == "A" else 0)
        assert f"✗ your {tensor} is wrong (layer {layer})" in diagram
        wrong_nodes = ["ŷ1"] if layer == 2 else ["h1.1", "h1.2"]
        right_nodes = ["h1.1", "h1.2"] if layer == 2 else ["ŷ1"]
        for node in wrong_nodes:
            assert f"✗{node}" in diagram
        for node in right_nodes:
            assert f"✗{node}" not in diagram and node in diagram


@sync
async def test_each_layer_lists_its_tensors_in_backprop_order() -> None:
    app = impl_app(EXAMPLES / "impl_wrong_slope.py")
    async with app.run_test() as pilot:
        await pilot.pause()
        chain = chain_text(app)
        assert "forward  ✓ yhat" in chain
        assert "layer 2  ✓ dZ2  ✓ dW2  ✓ db2  ✓ dA1" in chain
        assert "layer 1  ✗ dZ1  · dW1  · db1" in chain
        assert chain.index("layer 2") < chain.index("layer 1")
        assert "· not judged: computed from dZ1" in chain


@sync
async def test_a_correct_file_agrees_and_marks_no_layer() -> None:
    app = impl_app(EXAMPLES / "impl_correct.py")
    async with app.run_test() as pilot:
        await pilot.pause()
        chain = chain_text(app)
        assert "every tensor you return agrees with backprop" in chain
        assert "✗" not in chain
        assert "✗" not in pane_text(app, "diagram")
        assert app.selected_param == "b1"  # nothing wrong: the usual opening parameter


# ------------------------------------------------- numbers, as it moves
@sync
async def test_the_selected_weight_shows_the_users_value_beside_backprop_at_each_step() -> None:
    path = EXAMPLES / "impl_wrong_slope.py"
    app = impl_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.selected_param == "w1"  # the first wrong layer's first weight
        for step in (0, 1, 2):
            if step:
                await pilot.press("s")
            await checked(app, pilot, step)
            yours = users_gradients(path, app.stepper)
            backprop = float(app.stepper.record().grad[0])
            mine = float(yours["dW1"][0, 0])  # w1 is W1[0, 0] (rows: in × out)
            chain = chain_text(app)
            assert f"at step {step}" in chain
            assert (
                f"w1: yours dW1[0, 0] = {fmt_value(mine)}   backprop ∂Loss/∂w1 = "
                f"{fmt_value(backprop)}" in chain
            ), chain
            ratio = mine / backprop
            assert f"ratio {ratio:.6g}".replace("-", "−") in chain
            # the table's column: the user's dZ1 times the point's x1, per point
            per_point = yours["dZ1"][:, 0] * app.stepper.x[:, 0]
            assert "your dZ1·X" in chain
            rows = [ln.split() for ln in chain.splitlines() if ln.strip().startswith("#")]
            assert [row[-1] for row in rows] == fmt_column(per_point)


@sync
async def test_a_transposed_gradient_says_its_shape_beside_backprop() -> None:
    app = impl_app(EXAMPLES / "impl_transpose.py")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.selected_param == "w5"
        grad = float(app.stepper.record().grad[app.stepper.network.param_index["w5"]])
        chain = chain_text(app)
        assert "w5: yours: dW2 has shape (1, 2); W2's is (2, 1)" in chain
        assert f"backprop ∂Loss/∂w5 = {fmt_value(grad)}" in chain


# ------------------------------------------------------- broken at a step
LATER_FAILURE = """
import numpy as np
CALLS = [0]

def forward(params, X):
    Z1 = X @ params["W1"] + params["b1"]
    A1 = 1 / (1 + np.exp(-Z1))
    Z2 = A1 @ params["W2"] + params["b2"]
    return 1 / (1 + np.exp(-Z2)), (A1, 1 / (1 + np.exp(-Z2)))

def backward(params, X, Y, cache):
    CALLS[0] += 1
    if CALLS[0] == 2:
        {failure}
    A1, A2 = cache
    dZ2 = (A2 - Y) / X.shape[0]
    dZ1 = dZ2 @ params["W2"].T * A1 * (1 - A1)
    return {{"dW2": A1.T @ dZ2, "db2": dZ2.sum(0), "dW1": X.T @ dZ1, "db1": dZ1.sum(0)}}
"""


@sync
async def test_a_file_that_raises_at_a_later_step_is_one_line_and_the_app_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "later.py"
    path.write_text(LATER_FAILURE.format(failure="raise ValueError('no second call')"))
    app = impl_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "every tensor you return agrees" in chain_text(app)
        await pilot.press("s")
        await checked(app, pilot, 1)
        error = f"{path}:14: backward raised ValueError: no second call"
        assert f"✗ {error}" in chain_text(app)
        assert [n.message for n in app._notifications if n.severity == "error"] == [error]
        await pilot.press("s")  # a fresh worker: its first call works again
        await checked(app, pilot, 2)
        assert app.stepper.step == 2
        assert "every tensor you return agrees" in chain_text(app)


@sync
async def test_a_slow_check_never_blocks_the_ui(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bptui.debug.impl import runner

    monkeypatch.setattr(runner, "CALL_SECONDS", 60.0)
    release = tmp_path / "release"
    path = tmp_path / "slow.py"
    wait = f"import os, time\n        while not os.path.exists({str(release)!r}): time.sleep(0.01)"
    path.write_text(LATER_FAILURE.format(failure=wait))
    app = impl_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("s")  # step 1's check waits in the user's code …
        await pilot.press("s", "s")  # … while the keys still step and the panes redraw
        await wait_until(pilot, lambda: app.stepper.step == 3 and "Step 3" in screen_text(app))
        assert app.impl is not None and app.impl.latest is not None
        assert app.impl.latest.step == 0
        assert "(checking this step…)" in chain_text(app)
        release.write_text("go")
        await checked(app, pilot, 3)  # then the newest state is checked, not steps 1 and 2
        assert "every tensor you return agrees" in chain_text(app)


@sync
async def test_an_endless_backward_is_one_line_then_the_next_state_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bptui.debug.impl import runner

    monkeypatch.setattr(runner, "CALL_SECONDS", 0.5)
    path = tmp_path / "endless.py"
    path.write_text(LATER_FAILURE.format(failure="while True: pass"))
    app = impl_app(path)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("s")

        def errors() -> list[str]:
            return [n.message for n in app._notifications if n.severity == "error"]

        await wait_until(pilot, lambda: bool(errors()))
        (error,) = errors()
        assert error.startswith(str(path)) and "did not finish within 0.5 s" in error
        await pilot.press("s")  # a fresh worker: its first call works again
        await checked(app, pilot, 2)
        assert "every tensor you return agrees" in chain_text(app)


# ------------------------------------------------------------------ CLI
def test_a_broken_file_exits_2_before_the_tui_opens(run_cli, write_file) -> None:  # type: ignore[no-untyped-def]
    source = "def forward(params, X):\n    return 1/0, None\n\ndef backward(*args):\n    pass\n"
    path = write_file("broken.py", source)
    result = run_cli("--impl", path, "xor")
    assert result.code == 2, result.err
    assert result.out == ""
    (line,) = result.err.splitlines()
    assert line.startswith(f"bptui: error: {path}:2: forward raised ZeroDivisionError")


def test_grads_and_impl_together_are_refused_for_the_tui(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "--impl", EXAMPLES / "impl_correct.py", "--grads", EXAMPLES / "article_grads.py"
    )
    assert result.code == 2
    assert "give --grads or --impl, not both" in result.err


# ------------------------------------------------------------ snapshots
@pytest.mark.parametrize("size", [(140, 45), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_wrong_slope(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(impl_app(EXAMPLES / "impl_wrong_slope.py", size), terminal_size=size)


# ------------------------------------------------------------ both layouts
@pytest.mark.parametrize("layout", ["rows", "columns"])
@sync
async def test_the_users_entry_is_read_in_their_layout(tmp_path: Path, layout: str) -> None:
    from test_impl import implementation

    source = implementation("deep", layout, slope="np.exp(-Z) / (1 + np.exp(-Z)) ** 2")
    path = tmp_path / f"{layout}.py"
    path.write_text(source)
    app = impl_app(path, scenario="deep")
    async with app.run_test() as pilot:
        await pilot.pause()
        net = app.stepper.network
        name = app.selected_param  # the first wrong layer's (2) first weight
        info = net.params[net.param_index[name]]
        assert (info.layer, info.kind) == (2, "W")
        record = app.stepper.record()
        rows = layout == "rows"
        params, x, y = {}, app.stepper.x, app.stepper.y
        for l, lay in enumerate(record.layers, start=1):
            params[f"W{l}"] = lay.W.T.copy() if rows else lay.W.copy()
            params[f"b{l}"] = lay.b.copy() if rows else lay.b.reshape(-1, 1).copy()
        module = ModuleType("planted")
        exec(compile(source, str(path), "exec"), module.__dict__)
        X, Y = (x.copy(), y.copy()) if rows else (x.T.copy(), y.T.copy())
        _, cache = module.forward(params, X)
        dW2 = module.backward(params, X, Y, cache)["dW2"]
        at = (info.col, info.row) if rows else (info.row, info.col)
        chain = chain_text(app)
        backprop = float(record.grad[info.index])
        assert (
            f"{name}: yours dW2[{at[0]}, {at[1]}] = {fmt_value(float(dW2[at]))}   "
            f"backprop ∂Loss/∂{name} = {fmt_value(backprop)}" in chain
        ), chain
        assert "✗ dZ2: sigmoid'(Z2) used where tanh'(Z2) belongs" in chain
