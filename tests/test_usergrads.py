"""User derivative files: loading, judging, diagnosing, and ``check --grads``.

The article's own ``derivative1`` (−2·SSR) must be flagged on b3 with the
numbers SPEC §1 gives; a correct file must pass; every broken file is exit 2
with one line and no traceback; each diagnosis names the factor it should.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from bptui.debug import report as usergrads_report
from bptui.debug import usergrads
from bptui.debug.usergrads import (
    UserCodeError,
    context_of,
    load_user_grads,
    sandbox,
)
from bptui.debug.worker import OUTPUT_CHARS
from bptui.engine.stepper import Stepper
from bptui.errors import ScenarioError
from bptui.scenario.loading import load_builtin, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "article_grads.py"
MISTAKE = ROOT / "examples" / "article_mistake.py"
ARTICLE_PARAMS = ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]


@pytest.fixture
def article_record():
    return Stepper(load_builtin("article").training()).record()


def evaluate(path: Path, record) -> dict:
    return load_user_grads(path, record.network.param_names).evaluate(record, 0.01)


# ------------------------------------------------------------ the examples
def test_article_mistake_is_flagged_on_b3_with_the_factor(article_record) -> None:
    results = evaluate(MISTAKE, article_record)
    assert list(results) == ["b3"]
    b3 = results["b3"]
    assert not b3.agrees
    assert b3.user == pytest.approx(-2 * 3.0667888, abs=1e-6)  # −2·SSR with correct ŷ
    assert b3.user == pytest.approx(-6.1335776, abs=1e-7)
    assert b3.backprop == pytest.approx(-1.7658128, abs=1e-7)
    assert b3.numeric == pytest.approx(-1.7658128, abs=1e-6)
    d = b3.diagnosis
    assert d.kind == "loss_scalar"
    assert d.factor == "∂Loss/∂green"
    assert d.implied == pytest.approx(-6.1335776, abs=1e-7)
    assert d.correct == pytest.approx(-1.7658128, abs=1e-7)
    assert "−2·SSR" in d.message


def test_article_correct_file_agrees_on_all_seven(article_record) -> None:
    results = evaluate(CORRECT, article_record)
    assert list(results) == ARTICLE_PARAMS
    grads = article_record.grads
    for name, r in results.items():
        assert r.agrees, (name, r.user, r.backprop)
        assert r.user == pytest.approx(grads[name], rel=1e-12)
        assert r.diagnosis.kind == "agrees"
    assert results["b3"].user == pytest.approx(-1.7658128, abs=1e-7)


def test_correct_file_still_agrees_after_a_hundred_steps() -> None:
    stepper = Stepper(load_builtin("article").training())
    stepper.run(100)
    record = stepper.record()
    results = evaluate(CORRECT, record)
    assert all(r.agrees for r in results.values())
    assert results["w1"].user == pytest.approx(record.grads["w1"], rel=1e-10)


# ------------------------------------------------------------------- ctx
def test_ctx_offers_the_state_read_only(article_record) -> None:
    ctx = context_of(article_record, 0.01)
    assert ctx.x.shape == (3,) and ctx.y.shape == (3,)
    np.testing.assert_allclose(ctx.x, [0.1, 0.53, 0.82])
    np.testing.assert_allclose(ctx.y, [1.2, 3.2, 1.1])
    np.testing.assert_allclose(ctx.nodes["green"], [1.51042, 1.54070, 1.56598], atol=1e-5)
    np.testing.assert_allclose(ctx.yhat, ctx.nodes["green"])
    assert set(ctx.nodes) == {"x", "blue", "orange", "green"}
    assert set(ctx.z) == {"blue", "orange", "green"}
    assert ctx.params["w1"] == pytest.approx(0.4967141530)
    assert ctx["w3"] == ctx.params["w3"]
    assert ctx.learning_rate == 0.01 and ctx.n == 3
    assert ctx.loss == pytest.approx(3.0667888, abs=1e-7)
    with pytest.raises(ValueError):
        ctx.y[0] = 5.0
    with pytest.raises(TypeError):
        ctx.params["w1"] = 1.0  # type: ignore[index]


def test_ctx_keeps_columns_for_several_inputs() -> None:
    record = Stepper(load_builtin("softmax3").training()).record()
    ctx = context_of(record)
    assert ctx.x.shape == (9, 2) and ctx.y.shape == (9, 3)
    assert ctx.nodes["x1"].shape == (9,)


def test_ctx_nodes_accept_yhat_for_the_output_names() -> None:
    """ŷ1 is awkward to type: yhat1 finds the same array, and is not listed twice."""
    record = Stepper(load_builtin("softmax3").training()).record()
    ctx = context_of(record)
    for k in (1, 2, 3):
        assert ctx.nodes[f"yhat{k}"] is ctx.nodes[f"ŷ{k}"]
        assert f"yhat{k}" in ctx.nodes
        np.testing.assert_array_equal(ctx[f"yhat{k}"], ctx.yhat[:, k - 1])
    assert [name for name in ctx.nodes if name.startswith("y")] == []
    assert len(ctx.nodes) == len(list(ctx.nodes)) == 2 + 4 + 3  # inputs, hidden, outputs
    with pytest.raises(KeyError):
        ctx.nodes["yhat4"]
    with pytest.raises(TypeError):
        ctx.nodes["yhat1"] = np.zeros(9)  # type: ignore[index]


# ------------------------------------------------------------- diagnosis
MISTAKES = """
import math

def sig(z):
    return 1 / (1 + math.exp(-z))

def loss_factor(ctx):
    return [-2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"])]

def d_b3(ctx):   # sign flipped: 2(y - g)
    return sum(2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"]))

def d_w3(ctx):   # the 2 of the loss factor forgotten
    return sum(-(y - g) * b for y, g, b in zip(ctx.y, ctx.nodes["green"], ctx.nodes["blue"]))

def d_w4(ctx):   # blue where orange belongs
    return sum(d * b for d, b in zip(loss_factor(ctx), ctx.nodes["blue"]))

def d_b1(ctx):   # point 1 only, no sum
    return loss_factor(ctx)[0] * ctx.params["w3"] * sig(ctx.z["blue"][0])

def d_b2(ctx):   # the whole local factor sigmoid(z_orange) left out
    return sum(d * ctx.params["w4"] for d in loss_factor(ctx))

def d_w2(ctx):   # a constant added
    w4 = ctx.params["w4"]
    return sum(d * w4 * sig(z) * x for d, z, x in zip(loss_factor(ctx), ctx.z["orange"], ctx.x)) + 0.3

def d_w1(ctx):   # does not depend on y at all
    return 0.25
"""


@pytest.fixture
def mistakes(write_file, article_record) -> dict:
    return evaluate(write_file("mistakes.py", MISTAKES), article_record)


def test_sign_flip_is_recognised(mistakes) -> None:
    d = mistakes["b3"].diagnosis
    assert d.kind == "sign"
    assert mistakes["b3"].user == pytest.approx(1.7658128, abs=1e-7)
    assert "sign is flipped" in d.message and "cannot be told" in d.message


def test_missing_two_points_at_the_loss_factor(mistakes) -> None:
    d = mistakes["w3"].diagnosis
    assert (d.kind, d.factor) == ("scale", "∂Loss/∂green")
    assert d.implied == pytest.approx(-1.7658128 / 2, abs=1e-7)
    assert d.correct == pytest.approx(-1.7658128, abs=1e-7)


def test_wrong_local_factor_is_named_with_its_values(mistakes, article_record) -> None:
    d = mistakes["w4"].diagnosis
    assert (d.kind, d.factor) == ("factor", "∂green/∂w4")
    np.testing.assert_allclose(d.implied, article_record.nodes["blue"], rtol=1e-6)
    np.testing.assert_allclose(d.correct, article_record.nodes["orange"], rtol=1e-9)


ACTIVATION_MISTAKES = """
import math

def sig(z):
    return 1 / (1 + math.exp(-z))

def loss_factor(ctx):
    return [-2 * (y - g) for y, g in zip(ctx.y, ctx.nodes["green"])]

def d_b1(ctx):   # softplus itself where its derivative sigmoid(z) belongs
    return sum(d * ctx.params["w3"] * b for d, b in zip(loss_factor(ctx), ctx.nodes["blue"]))

def d_w1(ctx):   # w4 where w3 belongs
    w = ctx.params["w4"]
    return sum(d * w * sig(z) * x for d, z, x in zip(loss_factor(ctx), ctx.z["blue"], ctx.x))
"""


def test_per_point_factor_is_told_from_a_weight(write_file, article_record) -> None:
    results = evaluate(write_file("act.py", ACTIVATION_MISTAKES), article_record)
    b1 = results["b1"].diagnosis
    assert (b1.kind, b1.factor) == ("factor", "∂blue/∂b1")
    np.testing.assert_allclose(b1.implied, article_record.nodes["blue"], rtol=1e-6)
    assert "varies from point to point" in b1.message
    w1 = results["w1"].diagnosis
    assert (w1.kind, w1.factor) == ("factor", "∂green/∂blue")
    w4 = article_record.params["w4"]
    np.testing.assert_allclose(w1.implied, [w4, w4, w4], rtol=1e-6)
    assert "one number for all points" in w1.message


def test_single_point_instead_of_the_sum(mistakes) -> None:
    d = mistakes["b1"].diagnosis
    assert d.kind == "single_point" and d.factor is None
    assert "point 1 alone" in d.message


def test_dropped_factor_is_named(mistakes, article_record) -> None:
    d = mistakes["b2"].diagnosis
    assert (d.kind, d.factor) == ("drop", "∂orange/∂b2")
    np.testing.assert_allclose(d.correct, [0.49654345, 0.48168817, 0.47168614], atol=1e-8)


def test_added_constant_clears_the_rest_of_the_chain(mistakes) -> None:
    d = mistakes["w2"].diagnosis
    assert (d.kind, d.factor) == ("offset", "∂Loss/∂green")
    assert "0.3" in d.message


def test_value_blind_to_y_implicates_the_loss_factor(mistakes) -> None:
    d = mistakes["w1"].diagnosis
    assert (d.kind, d.factor) == ("no_y", "∂Loss/∂green")


def test_constant_is_not_mistaken_for_a_zero_chain_term(write_file) -> None:
    # xor's first point is x = (0, 0): its chain term for w1 is 0 at every probe,
    # which must not "explain" a user who returns 0.0.
    record = Stepper(load_builtin("xor").training()).record()
    assert record.chain_product("w1")[0] == 0.0
    path = write_file("zero.py", "def d_w1(ctx):\n    return 0.0\n")
    result = load_user_grads(path, ["w1"]).evaluate(record)["w1"]
    assert result.diagnosis.kind == "no_y"
    assert not result.agrees


# ------------------------------------------------- per-function problems
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return 1 / 0", "d_b3 (f.py:2) raised ZeroDivisionError: division by zero"),
        ("return 'abc'", "d_b3 returned str 'abc', not a number"),
        ("return None", "d_b3 returned NoneType None, not a number"),
        ("return float('nan')", "d_b3 returned nan, not a finite number"),
        ("return [1.0, 2.0, 3.0]", "d_b3 returned 3 values, not one number"),
        ("return ctx.y - ctx.yhat", "d_b3 returned 3 values, not one number (sum the per-point"),
        ("return ['a']", "d_b3 returned list, not a number"),
        ("return []", "d_b3 returned 0 values, not one number"),
        ("return ctx.nodes['purple']", "d_b3 (f.py:2) raised KeyError: 'purple'"),
        ("import numpy\n    return numpy.log(-1.0)", "d_b3 returned nan, not a finite number"),
        ("return 10**400", "d_b3 returned an integer too large for a float"),
        ("return complex(-1.7658128185429645, 0)", "d_b3 returned complex (-1.76"),
        (
            "import numpy\n    return numpy.array([-1.7658128185429645 + 0j])",
            "d_b3 returned complex values, not a real number",
        ),
    ],
)
def test_function_problems_are_one_clear_error(
    body: str, expected: str, write_file, article_record
) -> None:
    path = write_file("f.py", f"def d_b3(ctx):\n    {body}\n")
    result = evaluate(path, article_record)["b3"]
    assert result.error is not None and result.error.startswith(expected)
    assert result.user is None and not result.agrees
    assert result.diagnosis.kind == "error"


def test_numpy_scalar_and_one_element_array_are_numbers(write_file, article_record) -> None:
    path = write_file(
        "f.py",
        "import numpy as np\n"
        "def d_b3(ctx):\n    return np.sum(-2 * (ctx.y - ctx.nodes['green']))\n"
        "def d_w3(ctx):\n    return np.array([np.sum(-2 * (ctx.y - ctx.yhat) * ctx['blue'])])\n"
        "def d_w4(ctx):\n    return [float(np.sum(-2 * (ctx.y - ctx.yhat) * ctx['orange']))]\n",
    )
    results = evaluate(path, article_record)
    assert results["b3"].agrees and results["w3"].agrees and results["w4"].agrees


# ------------------------------------------------------------ bad files
BAD_FILES = [
    (None, "missing.py: no such file"),
    ("def d_b3(ctx):\n    return (\n", "f.py:2: syntax error:"),
    ("import no_such_module_here\n", "f.py:1: importing it raised ModuleNotFoundError"),
    ("x = 1\ny = 1 / 0\n", "f.py:2: importing it raised ZeroDivisionError: division by zero"),
    ("import sys\nsys.exit(3)\n", "f.py: importing it called exit()"),
    ("def helper(ctx):\n    return 0\n", "f.py: no d_<parameter> functions"),
    (
        "def d_w9(ctx):\n    return 0\n",
        "f.py: d_w9: no parameter named 'w9' (this network has w1, w2, w3, w4, b1, b2, b3",
    ),
    ("d_b3 = 1.5\n", "f.py: d_b3 is a float, not a function of ctx"),
    (
        "def d_b3(ctx, other):\n    return 0\n",
        "f.py: d_b3(ctx, other) must take exactly one argument, ctx",
    ),
    ("def d_b3():\n    return 0\n", "f.py: d_b3() must take exactly one argument, ctx"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_file_is_user_grads_error(text, expected, tmp_path: Path) -> None:
    path = tmp_path / ("missing.py" if text is None else "f.py")
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(UserCodeError) as info:
        load_user_grads(path, ARTICLE_PARAMS)
    assert isinstance(info.value, ScenarioError)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path))
    assert expected in message


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_file_on_the_cli_is_exit_2_one_line(text, expected, tmp_path: Path, run_cli) -> None:
    path = tmp_path / ("missing.py" if text is None else "f.py")
    if text is not None:
        path.write_text(text, encoding="utf-8")
    result = run_cli("check", "--grads", path)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("bptui: error: ")
    assert expected in result.err
    assert "Traceback" not in result.err


def test_raising_function_on_the_cli_is_exit_2_naming_it(write_file, run_cli) -> None:
    path = write_file("f.py", "def d_b3(ctx):\n    return ctx.nodes['purple']\n")
    result = run_cli("check", "--grads", path)
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1
    assert "d_b3 (f.py:2) raised KeyError: 'purple'" in result.err


def test_loading_leaves_no_module_and_no_pycache(write_file) -> None:
    path = write_file("clean.py", "def d_b3(ctx):\n    return 0.0\n")
    before = set(sys.modules)
    load_user_grads(path, ARTICLE_PARAMS)
    assert set(sys.modules) == before
    assert not (path.parent / "__pycache__").exists()


def test_dataclass_in_user_file_loads(write_file, article_record) -> None:
    path = write_file(
        "dc.py",
        "from __future__ import annotations\nfrom dataclasses import dataclass\n"
        "@dataclass\nclass Two:\n    k: float = 2.0\n"
        "def d_b3(ctx):\n    return sum(-Two().k * (y - g) for y, g in zip(ctx.y, ctx.yhat))\n",
    )
    assert evaluate(path, article_record)["b3"].agrees


# --------------------------------------------------------------- the CLI
def sections(out: str) -> tuple[list[str], list[str]]:
    """The backprop-vs-numeric section and the user's section of a ``check --grads`` report."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Your derivatives ("))
    return lines[:start], lines[start:]


def test_check_grads_flags_the_article_mistake(run_cli) -> None:
    # The user's values moved from a column of the one table into their own section
    # (two labelled sections: backprop vs numeric, then yours vs backprop).
    result = run_cli("check", "--grads", MISTAKE)
    assert result.code == 1
    assert result.err == ""
    numeric, yours = sections(result.out)
    assert yours[0] == f"Your derivatives ({MISTAKE}) vs backprop:"
    b3 = next(line for line in yours if line.startswith("b3 "))
    assert "-6.13357759" in b3 and "WRONG" in b3
    assert not any(line.startswith("w1 ") for line in yours)
    assert "not in your file: w1, w2, w3, w4, b1, b2" in yours
    assert "✗ d_b3: yours -6.1335776, backprop -1.7658128" in result.out
    assert "∂Loss/∂green = −2·SSR = -6.1335776" in result.out
    assert "your derivatives disagree: b3 (0 of 1 agree)" in result.out
    assert result.out.splitlines()[-1] == "your derivatives disagree: b3 (0 of 1 agree)"


def test_check_grads_accepts_the_correct_file(run_cli) -> None:
    result = run_cli("check", "--grads", CORRECT)
    assert result.code == 0, result.out
    assert "all 7 of your derivatives agree with backprop" in result.out
    _, yours = sections(result.out)
    for name in ARTICLE_PARAMS:
        line = next(x for x in yours if x.startswith(f"{name} "))
        assert line.endswith("agrees")


WRONG_W1 = """
import numpy as np
def d_w1(ctx):          # the article's w1 chain with its sign flipped
    s = 1 / (1 + np.exp(-ctx.z["blue"]))
    return float(np.sum(2 * (ctx.y - ctx.yhat) * ctx["w3"] * s * ctx.x))
"""


def test_check_grads_keeps_backprop_and_yours_apart(write_file, run_cli) -> None:
    """ "all gradients agree" once sat right above "✗ d_w1 … your derivatives disagree"."""
    result = run_cli("check", "--grads", write_file("w1.py", WRONG_W1))
    assert result.code == 1, result.out
    numeric, yours = sections(result.out)
    assert numeric[1] == "Backprop vs numeric (central differences):"
    assert numeric[-2] == "backprop vs numeric: all gradients agree"
    assert numeric[-1] == ""
    assert "all gradients agree" not in "\n".join(yours)
    assert any(line.startswith("✗ d_w1: ") for line in yours)
    assert yours[-1] == "your derivatives disagree: w1 (0 of 1 agree)"


PRINTING = """
def d_b3(ctx):           # wrong, so it is probed (called again) too
    print("the sum is", sum(ctx.y))
    for k in range(30):
        print("line", k)
    return 0.5
"""


def test_check_grads_shows_what_a_function_printed_once_labelled(write_file, run_cli) -> None:
    """A print() in d_b3 appeared six times (probes too); now once, labelled and bounded."""
    result = run_cli("check", "--grads", write_file("p.py", PRINTING))
    assert result.code == 1 and result.err == ""
    _, yours = sections(result.out)
    assert result.out.count("the sum is") == 1
    at = yours.index("d_b3 printed:")
    assert yours[at + 1] == "    the sum is 5.5"
    assert yours[at + 2] == "    line 0"
    shown = [line for line in yours if line.startswith("    line ")]
    assert len(shown) == usergrads_report.PRINTED_LINES - 1
    assert yours[at + usergrads_report.PRINTED_LINES + 1] == "    … (19 more lines)"


def test_check_grads_on_another_scenario(write_file, run_cli) -> None:
    path = write_file(
        "xor.py",
        "import numpy as np\ndef d_b3(ctx):\n    return float(np.sum(ctx.yhat - ctx.y)) / ctx.n\n",
    )
    result = run_cli("check", "xor", "--grads", path)
    assert result.code == 0, result.out
    assert "all 1 of your derivatives agree" in result.out


def test_endless_function_is_given_up_on(
    write_file, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endless loop in a derivative is exit 2 with its name, not a hang."""
    monkeypatch.setattr(sandbox, "CALL_SECONDS", 0.2)
    path = write_file("f.py", "def d_b3(ctx):\n    while True: pass\n")
    result = run_cli("check", "--grads", path)
    assert result.code == 2 and result.out == ""
    assert (
        result.err
        == f"bptui: error: {path}: d_b3 (f.py:2) did not return within 0.2 s (an endless loop?)\n"
    )


def test_a_quick_function_leaves_no_alarm_behind(write_file) -> None:
    import signal

    path = write_file("f.py", "def d_b3(ctx):\n    return 1.0\n")
    before = signal.getsignal(signal.SIGALRM)
    load_user_grads(path, ARTICLE_PARAMS).evaluate(
        Stepper(load_builtin("article").training()).record()
    )
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# ------------------------------------------- more points than are probed
def article_like(points: int):
    """The article's 1-2-1 softplus/ssr net on ``points`` data points."""
    x = np.linspace(0.1, 0.9, points)
    y = 1.2 + np.sin(7.0 * x)
    text = (
        '[network]\nlayers = [1, 2, 1]\nactivation = "softplus"\nloss = "ssr"\n'
        'node_names = ["x", "blue", "orange", "green"]\n'
        "[training]\nlearning_rate = 0.01\nseed = 42\n"
        f"[data]\nx = {x.tolist()}\ny = {y.tolist()}\n"
    )
    return parse_scenario(text, "points.toml", None)


BLUE_FOR_ORANGE = """
import numpy as np

def d_w4(ctx):   # blue where orange belongs
    return float(np.sum(-2 * (ctx.y - ctx.yhat) * ctx.nodes["blue"]))
"""


def test_wrong_factor_is_named_when_every_point_is_probed(write_file) -> None:
    record = Stepper(article_like(3).training()).record()
    result = evaluate(write_file("w4.py", BLUE_FOR_ORANGE), record)["w4"]
    assert (result.diagnosis.kind, result.diagnosis.factor) == ("factor", "∂green/∂w4")


def test_more_points_than_probes_blames_no_factor(write_file) -> None:
    """Past MAX_POINT_PROBES points the per-point reasoning cannot run: say so."""
    assert usergrads.MAX_POINT_PROBES < 9
    record = Stepper(article_like(9).training()).record()
    result = evaluate(write_file("w4.py", BLUE_FOR_ORANGE), record)["w4"]
    d = result.diagnosis
    assert not result.agrees
    assert (d.kind, d.factor) == ("unknown", None)
    assert "which factor cannot be told" in d.message
    assert "8 of the 9 points" in d.message


# ------------------------------------------------------------- the sandbox
@pytest.fixture
def quick_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "CALL_SECONDS", 0.5)
    monkeypatch.setattr(sandbox, "IMPORT_SECONDS", 0.5)


STUCK_IN_TRY = """
def d_b3(ctx):
    while True:
        try:
            while True: pass  # one line: the dump names it whichever instruction runs
        except BaseException:
            pass
"""

RUNAWAYS = [  # what follows the file's name; the line is where it was stuck or crashed
    (STUCK_IN_TRY, ": d_b3 (f.py:5) did not return within 0.5 s (an endless loop?)"),
    ("import os\ndef d_b3(ctx):\n    os._exit(0)\n", ": d_b3 exited with status 0"),
    ("import os\ndef d_b3(ctx):\n    os._exit(7)\n", ": d_b3 exited with status 7"),
    ("import sys\ndef d_b3(ctx):\n    sys.exit(3)\n", ": d_b3 (f.py:3) exited with status 3"),
    (
        "import ctypes\ndef d_b3(ctx):\n    ctypes.string_at(0)\n",
        ": d_b3 (f.py:3) crashed (signal SIGSEGV)",
    ),
    (
        "while True: pass\ndef d_b3(ctx):\n    return 0.0\n",
        ":1: importing it did not finish within 0.5 s (an endless loop?)",
    ),
    ("import os\nos._exit(4)\n", ": importing it exited with status 4"),
]


@pytest.mark.parametrize(("text", "expected"), RUNAWAYS)
def test_runaway_code_on_the_cli_is_one_line_in_seconds(
    text: str, expected: str, write_file, run_cli, quick_limits
) -> None:
    """Code that will not return, or ends its process, is exit 2 with one line, quickly."""
    import time

    path = write_file("f.py", text)
    start = time.monotonic()
    result = run_cli("check", "--grads", path)
    assert time.monotonic() - start < 5.0
    assert result.code == 2 and result.out == ""
    assert result.err == f"bptui: error: {path}{expected}\n"


KILLER_FIRST = """
import os

def d_w1(ctx):
    open(CALLS, "a").write("x")
    os._exit(0)

def d_b3(ctx):
    return sum(-2 * (y - g) for y, g in zip(ctx.y, ctx.yhat))
"""


def test_a_function_that_ends_the_worker_is_not_called_again(
    write_file, tmp_path: Path, article_record
) -> None:
    """The worker is restarted for the other functions; the killer is answered, not re-run."""
    calls = tmp_path / "calls.txt"
    path = write_file("k.py", f"CALLS = {str(calls)!r}\n" + KILLER_FIRST)
    grads = load_user_grads(path, ARTICLE_PARAMS)
    for _ in range(2):
        results = grads.evaluate(article_record)
        assert results["w1"].error == "d_w1 exited with status 0"
        assert results["w1"].user is None and results["w1"].diagnosis.kind == "error"
        assert results["b3"].agrees
    assert calls.read_text() == "x"
    grads.close()
    assert not grads.sandbox._worker


def test_the_time_limit_holds_off_the_main_thread(write_file, article_record, quick_limits) -> None:
    import threading

    path = write_file("f.py", STUCK_IN_TRY)
    grads = load_user_grads(path, ARTICLE_PARAMS)
    found: dict = {}
    thread = threading.Thread(target=lambda: found.update(grads.evaluate(article_record)))
    thread.start()
    thread.join(10.0)
    assert not thread.is_alive()
    assert found["b3"].error == "d_b3 (f.py:5) did not return within 0.5 s (an endless loop?)"


PRINTS = """
import os, sys

def d_b3(ctx):            # wrong, so it is probed too: only this call's print is kept
    print("hello", ctx.n)
    sys.stderr.write("careful\\n")
    os.write(1, b"raw bytes\\n")
    return 0.5

def d_w3(ctx):
    print("x" * 10_000)
    return sum(-2 * (y - g) * b for y, g, b in zip(ctx.y, ctx.yhat, ctx["blue"]))
"""


def test_what_a_function_prints_is_kept_not_shown(
    write_file, article_record, capfd: pytest.CaptureFixture[str]
) -> None:
    results = evaluate(write_file("p.py", PRINTS), article_record)
    assert not results["b3"].agrees and results["b3"].diagnosis.kind != "error"
    assert results["b3"].output == "hello 3\ncareful\n"
    assert results["w3"].agrees
    assert 1024 <= OUTPUT_CHARS <= 8192  # a few KB
    assert (
        results["w3"].output
        == "x" * OUTPUT_CHARS + f"\n… {10_001 - OUTPUT_CHARS:,} more characters not kept\n"
    )
    captured = capfd.readouterr()
    assert "hello" not in captured.out + captured.err
    assert "raw bytes" not in captured.out + captured.err


def test_nothing_the_user_does_reaches_bptui(write_file, article_record) -> None:
    from bptui.debug import gradcheck

    path = write_file(
        "meddle.py",
        "import bptui.debug.gradcheck as g\n"
        "def d_b3(ctx):\n"
        "    g.AGREE_REL = 1.0\n"
        "    try:\n"
        "        ctx.y.setflags(write=True)\n"
        "        ctx.y[:] = 0.0\n"
        "    except ValueError:\n"  # its memory is immutable
        "        pass\n"
        "    return 0.0\n",
    )
    y = article_record.y.copy()
    result = evaluate(path, article_record)["b3"]
    assert result.user == 0.0 and not result.agrees
    assert gradcheck.AGREE_REL == 1e-6
    np.testing.assert_array_equal(article_record.y, y)


# ------------------------------- fused losses: bce (xor) and softmax + cross-entropy
XOR_PLANTED = """
import numpy as np

def d_w5(ctx):   # the 1/n of the mean forgotten
    return float(np.sum((ctx.yhat - ctx.y) * ctx.nodes["h1.1"]))

def d_w6(ctx):   # the squared error's derivative on a bce net
    p = ctx.yhat
    return float(np.sum(-2 * (ctx.y - p) * p * (1 - p) / ctx.n * ctx.nodes["h1.2"]))

def d_w1(ctx):   # the hidden sigmoid's slope left out
    return float(np.sum((ctx.yhat - ctx.y) / ctx.n * ctx["w5"] * ctx.x[:, 0]))

def d_b3(ctx):   # y − ŷ for ŷ − y
    return float(np.sum(ctx.y - ctx.yhat) / ctx.n)

def d_b1(ctx):   # the weight w5 on the way down left out
    h = ctx.nodes["h1.1"]
    return float(np.sum((ctx.yhat - ctx.y) / ctx.n * h * (1 - h)))

def d_b2(ctx):   # p − y times the output sigmoid's slope again
    p, h = ctx.yhat, ctx.nodes["h1.2"]
    return float(np.sum((p - ctx.y) * p * (1 - p) / ctx.n * ctx["w6"] * h * (1 - h)))
"""

SOFTMAX_PLANTED = """
import numpy as np

def upstream(ctx, j):
    # ∂Loss/∂h1.j, the textbook way: Σₖ (pₖ − yₖ)/n · w(k←h1.j)
    W = [[ctx[f"w{9 + 4 * k + i}"] for i in range(4)] for k in range(3)]
    return sum((ctx.yhat[:, k] - ctx.y[:, k]) / ctx.n * W[k][j] for k in range(3))

def d_w1(ctx):   # a plain sign flip
    h = ctx.nodes["h1.1"]
    return float(np.sum(-upstream(ctx, 0) * (1 - h**2) * ctx.x[:, 0]))

def d_w3(ctx):   # the tanh slope left out
    return float(np.sum(upstream(ctx, 1) * ctx.x[:, 0]))

def d_w9(ctx):   # the 1/n forgotten
    return float(np.sum((ctx.nodes["yhat1"] - ctx.y[:, 0]) * ctx.nodes["h1.1"]))

def d_b5(ctx):   # the softmax's diagonal slope applied again to p − y
    p = ctx.yhat[:, 0]
    return float(np.sum((p - ctx.y[:, 0]) * p * (1 - p) / ctx.n))

def d_b4(ctx):   # upstream right, then the slope replaced by a made-up one
    h = ctx.nodes["h1.4"]
    return float(np.sum(upstream(ctx, 3) * (1 - h**2) ** 2 + 0.01 * h))
"""


NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def numbers_are_true(message: str, result, n: int) -> None:
    """Every number a diagnosis prints: the value it says yours equals, a ratio, an n."""
    import re

    for claimed in re.findall(rf"yours equals Σᵢ .*? = ({NUMBER}):", message):
        assert float(claimed) == pytest.approx(result.user, rel=1e-7)
    for ratio in re.findall(rf"^({NUMBER}) × backprop's value", message):
        assert result.user / result.backprop == pytest.approx(float(ratio), rel=1e-6)
    for ratio in re.findall(rf"^1/({NUMBER}) of backprop's value", message):
        assert result.backprop / result.user == pytest.approx(float(ratio), rel=1e-6)
    for count in re.findall(rf"(?:/ |1/|mean over )({NUMBER})", message):
        assert int(count) == n, message


def fused_results(write_file, name: str, text: str):
    record = Stepper(load_builtin(name).training()).record()
    return record, evaluate(write_file(f"{name}_planted.py", text), record)


def test_bce_mistakes_name_the_factor_that_is_wrong(write_file) -> None:
    """A forgotten 1/n and the squared-error derivative were blamed on ∂z/∂w."""
    record, results = fused_results(write_file, "xor", XOR_PLANTED)
    assert not any(r.agrees for r in results.values())
    told = {name: r.diagnosis for name, r in results.items()}
    assert told["w5"].message.startswith("4 × backprop's value: consistent with ∂Loss/∂z_ŷ1")
    assert "without its 1/4" in told["w5"].message and "could sit in any" in told["w5"].message
    assert told["w6"].kind == "squared_on_bce" and told["w6"].factor == "∂Loss/∂z_ŷ1"
    assert "−2(y − ŷ)·ŷ(1 − ŷ) / 4 in place of binary cross-entropy's" in told["w6"].message
    assert told["w1"].kind == "drop_slope" and told["w1"].factor == "∂h1.1/∂w1"
    assert "the factor h1.1(1 − h1.1) (sigmoid's slope" in told["w1"].message
    assert told["b3"].kind == "sign" and "cannot be told" in told["b3"].message
    assert "∂Loss/∂z_ŷ1 = (ŷ1 − y) / 4 written as y − ŷ" in told["b3"].message
    assert told["b1"].kind == "drop" and told["b1"].factor == "∂z_ŷ1/∂h1.1"
    assert "the factor ∂z_ŷ1/∂h1.1 = w5 is missing" in told["b1"].message
    assert told["b2"].kind == "extra_slope" and told["b2"].factor == "∂Loss/∂z_ŷ1"
    for name, r in results.items():
        assert "∂z_ŷ1/∂w" not in (r.diagnosis.factor or ""), name
        numbers_are_true(r.diagnosis.message, r, 4)


def test_cross_entropy_mistakes_name_the_factor_that_is_wrong(write_file) -> None:
    """With p − y, a sign flip and a dropped tanh slope were blamed on ∂Loss/∂h."""
    record, results = fused_results(write_file, "softmax3", SOFTMAX_PLANTED)
    told = {name: r.diagnosis for name, r in results.items()}
    assert told["w1"].kind == "sign" and told["w1"].factor is None
    assert "∂Loss/∂z_ŷₖ = (ŷₖ − yₖ) / 9 written as y − ŷ" in told["w1"].message
    assert told["w3"].kind == "drop_slope" and told["w3"].factor == "∂h1.2/∂w3"
    assert "yours equals Σᵢ ∂Loss/∂h1.2 · x1 = " in told["w3"].message
    assert "the factor 1 − h1.2² (tanh's slope" in told["w3"].message
    assert told["w9"].message.startswith("9 × backprop's value")
    assert "without its 1/9" in told["w9"].message
    assert told["b5"].kind == "extra_slope"
    # No known mistake: the diagnosis must not blame a factor it cannot be sure of.
    assert told["b4"].factor is None and "cannot be told" in told["b4"].message
    for name, r in results.items():
        assert not (r.diagnosis.factor or "").startswith("∂Loss/∂h"), (name, r.diagnosis)
        numbers_are_true(r.diagnosis.message, r, 9)
    # the sum the diagnosis names is the sum it says
    h = record.nodes["h1.2"]
    upstream = record.factors["w3"][0].values
    assert results["w3"].user == pytest.approx(float(np.sum(upstream * record.x[:, 0])), rel=1e-9)
    assert not np.allclose(upstream * record.x[:, 0], upstream * (1 - h**2) * record.x[:, 0])


def test_a_constant_factor_blames_no_factor(write_file) -> None:
    """3 × the right chain was blamed on ∂z_ŷ1/∂w5: a constant's place cannot be told."""
    text = (
        "import numpy as np\n"
        "def d_w5(ctx):\n"
        "    return 3 * float(np.sum((ctx.yhat - ctx.y) / ctx.n * ctx.nodes['h1.1']))\n"
    )
    _, results = fused_results(write_file, "xor", text)
    r = results["w5"]
    assert r.diagnosis.factor is None and r.diagnosis.kind == "scale"
    assert r.diagnosis.message.startswith("3 × backprop's value at every state probed")
    assert "cannot be told" in r.diagnosis.message
    numbers_are_true(r.diagnosis.message, r, 4)
