"""``bptui check --impl``: a user's whole forward/backward, checked tensor by tensor.

Implementations are generated from one course-style template (any depth, rows
or columns layout); each classic mistake is planted by replacing one slot of
it, and the check must name the first wrong tensor by the user's key and the
mistake that made it.
"""

from __future__ import annotations

import time
from pathlib import Path
from string import Template

import numpy as np
import pytest

from bptui.debug.gradcheck import close
from bptui.debug.impl.agree import close_entries
from bptui.debug.impl.check import check_impl
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

TEMPLATE = Template("""\
import numpy as np

$layout_line


def act(z):
    return $act


def out(z):
    $out


def last_term(A_prev, dZ, m):
    for i in range(m):
        dW = $outer
    return dW


def forward(params, X):
    L = len(params) // 2
    A = X
    cache = [(None, X)]
    for l in range(1, L + 1):
        Z = $z
        A = out(Z) if l == L else act(Z)
        cache.append((Z, A))
    return A, cache


def backward(params, X, Y, cache):
    L = len(params) // 2
    m = $m
    A = cache[L][1]
    grads = {}
    dZ = $delta
    for l in range(L, 0, -1):
        A_prev = $a_prev
        $keep_dz
        grads[f"dW{l}"] = $dW
        grads[f"db{l}"] = $db
        if l > 1:
            dA = $dA
            grads[f"dA{l - 1}"] = dA
            Z, A = cache[l - 1]
            dZ = dA * ($slope)
    return grads
""")

LAYOUTS = {
    "rows": {
        "layout_line": 'LAYOUT = "rows"',
        "m": "X.shape[0]",
        "z": 'A @ params[f"W{l}"] + params[f"b{l}"]',
        "dW": "A_prev.T @ dZ",
        "db": "np.sum(dZ, axis=0)",
        "dA": 'dZ @ params[f"W{l}"].T',
        "outer": "np.outer(A_prev[i], dZ[i])",
        "axis": "1",
    },
    "columns": {
        "layout_line": 'LAYOUT = "columns"',
        "m": "X.shape[1]",
        "z": 'params[f"W{l}"] @ A + params[f"b{l}"]',
        "dW": "dZ @ A_prev.T",
        "db": "np.sum(dZ, axis=1, keepdims=True)",
        "dA": 'params[f"W{l}"].T @ dZ',
        "outer": "np.outer(dZ[:, i], A_prev[:, i])",
        "axis": "0",
    },
}

SIGMOID = "1 / (1 + np.exp(-z))"
SOFTMAX = (
    "e = np.exp(z - z.max(axis=$axis, keepdims=True))\n"
    "    return e / e.sum(axis=$axis, keepdims=True)"
)
SCENARIOS = {
    "xor": {
        "act": SIGMOID,
        "out": f"return {SIGMOID}",
        "delta": "(A - Y) / Y.size",
        "slope": "A * (1 - A)",
    },
    "deep": {
        "act": "np.tanh(z)",
        "out": "return z",
        "delta": "2 * (A - Y) / Y.size",
        "slope": "1 - A ** 2",
    },
    "softmax3": {
        "act": "np.tanh(z)",
        "out": SOFTMAX,
        "delta": "(A - Y) / m",
        "slope": "1 - A ** 2",
    },
    "article": {
        "act": "np.logaddexp(0, z)",
        "out": "return z",
        "delta": "2 * (A - Y)",
        "slope": "1 / (1 + np.exp(-Z))",
    },
}
COMMON = {"a_prev": "cache[l - 1][1]", "keep_dz": 'grads[f"dZ{l}"] = dZ'}


def implementation(scenario: str, layout: str, **changes: str | dict[str, str]) -> str:
    """The template for a scenario's net in a layout, with slots replaced (per layout if a dict)."""
    slots = {**COMMON, **LAYOUTS[layout], **SCENARIOS[scenario]}
    for slot, value in changes.items():
        slots[slot] = value[layout] if isinstance(value, dict) else value
    slots["out"] = Template(slots["out"]).substitute(axis=LAYOUTS[layout]["axis"])
    return TEMPLATE.substitute(slots)


def run_check(tmp_path: Path, scenario: str, source: str, name: str = "impl.py"):
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    stepper = Stepper(load_builtin(scenario).training())
    return check_impl(str(path), stepper, "title")


# ------------------------------------------------------------ correct files
@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("scenario", ["xor", "deep", "softmax3", "article"])
def test_a_correct_implementation_agrees_everywhere(tmp_path, scenario, layout):
    result = run_check(tmp_path, scenario, implementation(scenario, layout))
    assert result.ok, result.text
    assert result.first_wrong is None
    assert f"layout: {layout} (declared)" in result.text
    depth = len(load_builtin(scenario).arch.layers) - 1
    assert f"all {3 * depth + depth - 1} of your tensors agree with backprop" in result.text


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_without_layout_the_layout_is_detected_from_the_shapes(tmp_path, layout):
    result = run_check(tmp_path, "deep", implementation("deep", layout, layout_line=""))
    assert result.ok, result.text
    assert f"layout: {layout} (detected: your forward takes samples as {layout})" in result.text


def test_the_order_is_backprop_order(tmp_path):
    text = run_check(tmp_path, "deep", implementation("deep", "rows")).text
    order = [line.split()[1] for line in text.splitlines() if line.startswith("  ✓")]
    assert order == ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"]


def test_gradients_may_be_named_like_the_parameters(tmp_path):
    source = implementation("xor", "rows", dW="A_prev.T @ dZ").replace('f"dW{l}"', 'f"W{l}"')
    result = run_check(tmp_path, "xor", source.replace('f"db{l}"', 'f"b{l}"'))
    assert result.ok, result.text
    assert "✓ W2 (2, 1)" in result.text


# ------------------------------------------------------------ planted mistakes
MISTAKES = {
    "missing mean": (
        "xor",
        {"delta": "(A - Y)"},
        "dZ2",
        "4 × the correct value: the 1/m of the mean over the m = 4 points is missing",
    ),
    "sign flip": (
        "xor",
        {"delta": "(Y - A) / Y.size"},
        "dZ2",
        "-1 × the correct value: the sign is flipped",
    ),
    "mean twice": (
        "xor",
        {"delta": "(A - Y) / Y.size / m"},
        "dZ2",
        "0.25 × the correct value: divided by m = 4 once too often",
    ),
    "factor 2 extra": (
        "deep",
        {"delta": "4 * (A - Y) / Y.size"},
        "dZ3",
        "2 × the correct value: a factor 2 too many",
    ),
    "factor 2 missing": (
        "deep",
        {"delta": "(A - Y) / Y.size"},
        "dZ3",
        "0.5 × the correct value: a factor 2 missing",
    ),
    "transpose": (
        "xor",
        {"dW": {"rows": "dZ.T @ A_prev", "columns": "A_prev @ dZ.T"}},
        "dW2",
        "dW2 is the transpose of the correct one",
    ),
    "db keepdims": (
        "xor",
        {"db": {"rows": "np.sum(dZ, axis=0, keepdims=True)", "columns": "np.sum(dZ, axis=1)"}},
        "db2",
        "the values are right, but b2 − α·db2 would have shape",
    ),
    "db not summed": ("deep", {"db": "dZ"}, "db3", "db3 has one value per point"),
    "dZ summed": (
        "xor",
        {
            "keep_dz": {
                "rows": 'grads[f"dZ{l}"] = dZ.sum(axis=0)',
                "columns": 'grads[f"dZ{l}"] = dZ.sum(axis=1)',
            }
        },
        "dZ2",
        "dZ2 is summed over the points",
    ),
    "sigmoid formula in a tanh net": (
        "deep",
        {"slope": "A * (1 - A)"},
        "dZ2",
        "sigmoid's slope formula applied to A2 = tanh(Z2), where tanh'(Z2) belongs",
    ),
    "sigmoid slope in a tanh net": (
        "deep",
        {"slope": "np.exp(-Z) / (1 + np.exp(-Z)) ** 2"},
        "dZ2",
        "sigmoid'(Z2) used where tanh'(Z2) belongs",
    ),
    "activation for its slope": (
        "deep",
        {"slope": "A"},
        "dZ2",
        "the activation A2 = tanh(Z2) used where its slope tanh'(Z2) belongs",
    ),
    "slope at A": (
        "deep",
        {"slope": "1 - np.tanh(A) ** 2"},
        "dZ2",
        "tanh'(A2) used where tanh'(Z2) belongs",
    ),
    "slope left out": ("deep", {"slope": "1"}, "dZ2", "the slope tanh'(Z2) left out"),
    "slope, no dZ returned": (
        "deep",
        {"slope": "A", "keep_dz": "pass"},
        "dW2",
        "dW2 is what dZ2 gives with the activation A2 = tanh(Z2) used where",
    ),
    "Z for A in dW": (
        "deep",
        {"a_prev": "cache[l - 1][0] if l > 1 else X"},
        "dW3",
        "dW3 uses Z2 where A2 belongs",
    ),
    "= for += over points": (
        "xor",
        {"dW": "last_term(A_prev, dZ, m)"},
        "dW2",
        "dW2 equals the term of point 4 of 4 alone: the sum was overwritten",
    ),
    "= for += over nodes": (
        "softmax3",
        {
            "dA": {
                "rows": 'dZ[:, [2]] * params[f"W{l}"][:, 2]',
                "columns": 'params[f"W{l}"][[2], :].T * dZ[[2], :]',
            }
        },
        "dA1",
        "dA1 equals the term of node 3 of the 3 in layer 2 alone",
    ),
    "layer off by one": (
        "deep",
        {"keep_dz": 'grads[f"dZ{l}"] = dZ if l > 1 else grads["dZ2"]'},
        "dZ1",
        "dZ1 equals the correct dZ2: a layer index is off by one",
    ),
}


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_planted_mistake_is_named_with_its_cause(tmp_path, mistake, layout):
    scenario, changes, key, cause = MISTAKES[mistake]
    result = run_check(tmp_path, scenario, implementation(scenario, layout, **changes))
    assert not result.ok
    assert result.first_wrong == key, result.text
    assert cause in (result.cause or ""), result.text
    assert f"first wrong tensor: {key}" in result.text
    assert f"  ✗ {key}" in result.text


def test_the_entries_that_differ_are_listed_with_both_values(tmp_path):
    text = run_check(tmp_path, "xor", implementation("xor", "rows", delta="(Y - A) / Y.size")).text
    assert "✗ dZ2: 4 of 4 entries differ, the most at [3, 0]: by 0.407241" in text
    assert "[0, 0]: yours -0.174934, correct 0.174934" in text
    assert "first wrong tensor: dZ2 (6 after it not checked: they are computed from it)" in text


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_a_wrong_forward_is_named_before_any_gradient(tmp_path, layout):
    result = run_check(tmp_path, "xor", implementation("xor", layout, out="return z"))
    assert result.first_wrong == "forward"
    line = next(line for line in result.lines if line.startswith("forward:"))
    assert line.startswith("forward: yhat differs from the network's output at 4 of 4 points")
    assert (
        "(first: point 1, yours 0.846045, correct 0.699737; yours equals the output layer's Z: "
        "the output activation sigmoid is missing)" in line
    )
    assert line.endswith("— the backward check needs a correct forward")
    assert not any(line.startswith("backward") for line in result.lines)


# ------------------------------------------------------------ the examples
EXAMPLE_FINDINGS = [
    ("impl_missing_mean.py", "dZ2", "the 1/m of the mean over the m = 4 points is missing"),
    ("impl_transpose.py", "dW2", "dW2 is the transpose of the correct one: dW2 = A1ᵀ·dZ2"),
    ("impl_sign.py", "dZ2", "-1 × the correct value: the sign is flipped"),
    ("impl_wrong_slope.py", "dZ1", "the activation A1 = sigmoid(Z1) used where its slope"),
]


def test_the_correct_example_exits_0(run_cli):
    result = run_cli("check", "--impl", EXAMPLES / "impl_correct.py", "xor")
    assert result.code == 0, result.err
    assert "all 7 of your tensors agree with backprop" in result.out


@pytest.mark.parametrize("name,key,cause", EXAMPLE_FINDINGS)
def test_each_buggy_example_exits_1_naming_what_its_docstring_says(run_cli, name, key, cause):
    result = run_cli("check", "--impl", EXAMPLES / name, "xor")
    assert result.code == 1, result.err
    assert f"first wrong tensor: {key}" in result.out
    assert cause in result.out
    assert cause.split(":")[-1].strip()[:30] in (EXAMPLES / name).read_text(
        encoding="utf-8"
    ).replace("\n       ", " ")


# ------------------------------------------------------------ broken files
def assert_one_line(result, *needles: str) -> str:
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_a_syntax_error_is_one_line_with_file_and_line(run_cli, write_file):
    path = write_file("bad.py", "import numpy as np\n\ndef forward(params, X:\n    pass\n")
    assert_one_line(run_cli("check", "--impl", path, "xor"), f"{path}:3", "SyntaxError")


def test_a_missing_backward_is_one_line(run_cli, write_file):
    path = write_file("bad.py", "def forward(params, X):\n    return X, None\n")
    assert_one_line(
        run_cli("check", "--impl", path, "xor"), str(path), "defines no function backward()"
    )


def test_forward_returning_no_pair_is_one_line_naming_its_def(run_cli, write_file):
    source = implementation("xor", "rows").replace("    return A, cache\n", "    return A\n")
    path = write_file("bad.py", source)
    line = source.splitlines().index("def forward(params, X):") + 1
    assert_one_line(
        run_cli("check", "--impl", path, "xor"),
        f"{path}:{line}",
        "forward must return (yhat, cache)",
    )


def test_a_yhat_of_the_wrong_shape_is_one_line(run_cli, write_file):
    source = implementation("xor", "rows").replace(
        "    return A, cache\n", "    return A.ravel(), cache\n"
    )
    path = write_file("bad.py", source)
    assert_one_line(
        run_cli("check", "--impl", path, "xor"),
        "forward returned yhat of shape (4,); with samples as rows it must be (4, 1)",
    )


def test_backward_raising_is_one_line_with_the_line_that_raised(run_cli, write_file):
    source = implementation("xor", "rows").replace(
        "    grads = {}\n", "    grads = {}\n    1 / 0\n"
    )
    path = write_file("bad.py", source)
    line = source.splitlines().index("    1 / 0") + 1
    assert_one_line(
        run_cli("check", "--impl", path, "xor"),
        f"{path}:{line}: backward raised ZeroDivisionError: division by zero",
    )


def test_importing_it_raising_is_one_line(run_cli, write_file):
    path = write_file("bad.py", "import numpy as np\nraise RuntimeError('no')\n")
    assert_one_line(
        run_cli("check", "--impl", path, "xor"), f"{path}:2: importing it raised RuntimeError: no"
    )


def test_a_bad_layout_is_one_line_with_its_line(run_cli, write_file):
    source = implementation("xor", "rows", layout_line='LAYOUT = "row"')
    path = write_file("bad.py", source)
    assert_one_line(
        run_cli("check", "--impl", path, "xor"),
        f'{path}:3: LAYOUT must be "rows" or "columns", got \'row\'',
    )


def test_a_missing_gradient_is_one_line(run_cli, write_file):
    source = implementation("xor", "rows").replace('grads[f"db{l}"]', 'grads[f"bias{l}"]')
    assert_one_line(
        run_cli("check", "--impl", write_file("bad.py", source), "xor"), "returned no db1, db2"
    )


def test_a_gradient_of_a_layer_the_net_lacks_is_one_line(run_cli, write_file):
    source = implementation("xor", "rows").replace(
        "    return grads\n", '    grads["dW3"] = 0\n    return grads\n'
    )
    assert_one_line(
        run_cli("check", "--impl", write_file("bad.py", source), "xor"),
        "backward returned 'dW3', but the network's layers are 1…2",
    )


def test_a_missing_file_is_one_line(run_cli, tmp_path):
    assert_one_line(
        run_cli("check", "--impl", tmp_path / "nope.py", "xor"), "nope.py: no such file"
    )


def test_grads_and_impl_together_are_refused(run_cli):
    assert_one_line(
        run_cli(
            "check",
            "--impl",
            EXAMPLES / "impl_correct.py",
            "--grads",
            EXAMPLES / "article_grads.py",
        ),
        "give --grads or --impl, not both",
    )


def test_an_endless_backward_is_a_timeout_in_one_line_within_seconds(run_cli, write_file):
    source = implementation("xor", "rows").replace(
        "    grads = {}\n", "    grads = {}\n    while True:\n        pass\n"
    )
    path = write_file("stuck.py", source)
    start = time.monotonic()
    result = run_cli("check", "--impl", path, "xor")
    assert time.monotonic() - start < 8
    assert_one_line(result, str(path), "backward did not finish within 2 s (an endless loop?)")


# ------------------------------------------------------------ isolation
MUTATING = """
    params["W1"][...] = 1e6
    params["b2"] += 7
    X[...] = -3
"""


def test_a_file_that_writes_into_its_arrays_leaves_bptui_as_it_was(tmp_path):
    source = implementation("deep", "rows")
    source = source.replace(
        "    L = len(params) // 2\n    A = X\n",
        "    L = len(params) // 2\n" + MUTATING + "    A = X\n",
    )
    source = source.replace(
        "    grads = {}\n", "    grads = {}\n" + MUTATING.replace("X[...]", "Y[...]")
    )
    path = tmp_path / "mutates.py"
    path.write_text(source, encoding="utf-8")
    stepper = Stepper(load_builtin("deep").training())
    theta, x, y = stepper.theta.copy(), stepper.x.copy(), stepper.y.copy()
    record_before = stepper.record().grad.copy()
    result = check_impl(str(path), stepper, "title")
    assert result.first_wrong == "forward"  # it computed with the values it wrote
    assert np.array_equal(stepper.theta, theta)
    assert np.array_equal(stepper.x, x) and np.array_equal(stepper.y, y)
    assert np.array_equal(stepper.record().grad, record_before)


def test_what_the_code_prints_is_kept_out_of_the_terminal_and_shown_in_the_report(
    run_cli, write_file
):
    source = implementation("xor", "rows").replace(
        "    A = X\n",
        "    print('shapes', X.shape)\n    import sys; print('to stderr', file=sys.stderr)\n    A = X\n",
    )
    result = run_cli("check", "--impl", write_file("chatty.py", source), "xor")
    assert result.code == 0, result.err
    assert result.err == ""
    assert "your code printed:\n  | shapes (4, 2)\n  | to stderr\n" in result.out
    assert "\nshapes" not in result.out


# ------------------------------------------------------------ the one rule
def test_close_entries_is_gradcheck_close_for_every_entry():
    rng = np.random.default_rng(3)
    base = rng.normal(size=2000) * 10.0 ** rng.integers(-12, 4, size=2000)
    nudged = base * (1 + rng.choice([0, 1e-7, 9e-7, 1.1e-6, 1e-3], size=2000))
    nudged += rng.choice([0, 5e-10, 2e-9], size=2000)
    expected = np.array([close(a, b) for a, b in zip(base.tolist(), nudged.tolist())])
    assert expected.any() and not expected.all()
    assert np.array_equal(close_entries(base, nudged), expected)
