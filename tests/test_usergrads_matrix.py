"""``--grads`` files of whole-layer functions: ``d_W<l>`` matrices and ``d_b<l>`` vectors.

On the xor built-in (2-2-1, sigmoid, bce): a correct file agrees entry by
entry, a buggy one is diagnosed entry by entry (and a transposed matrix as
such), and a wrong shape, a non-finite or a complex entry is one line naming
the function.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_one_line_error

from bptui.debug.usergrads import UserCodeError, context_of, load_user_grads
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "examples" / "grads_matrix_xor.py"
SOURCE = CORRECT.read_text(encoding="utf-8")


def variant(old: str, new: str) -> str:
    """The correct example with one line changed (the line must be there)."""
    assert SOURCE.count(old) == 1, old
    return SOURCE.replace(old, new)


TRANSPOSED = variant(
    "    return hidden_delta(ctx).T @ ctx.A[0]", "    return ctx.A[0].T @ hidden_delta(ctx)"
)
NO_SLOPE = variant(
    "    return (output_delta(ctx) @ ctx.W[2]) * a1 * (1 - a1)",
    "    return output_delta(ctx) @ ctx.W[2]",
)


@pytest.fixture(scope="module")
def xor_record():
    return Stepper(load_builtin("xor").training()).record()


def evaluate(path: Path, record) -> dict:
    grads = load_user_grads(path, record.network)
    try:
        return grads.evaluate(record, 2.0)
    finally:
        grads.close()


def dW(record, layer: int) -> np.ndarray:
    return record.layers[layer - 1].dW


# ------------------------------------------------------------- correct
def test_the_example_agrees_entry_by_entry(xor_record) -> None:
    results = evaluate(CORRECT, xor_record)
    assert list(results) == xor_record.network.param_names
    assert all(r.agrees for r in results.values())
    assert [r.function for r in results.values()] == [
        "d_W1[0, 0]",
        "d_W1[0, 1]",
        "d_W1[1, 0]",
        "d_W1[1, 1]",
        "d_W2[0, 0]",
        "d_W2[0, 1]",
        "d_b1[0]",
        "d_b1[1]",
        "d_b2[0]",
    ]
    assert results["w3"].user == pytest.approx(dW(xor_record, 1)[1, 0], rel=1e-12)
    assert results["b3"].user == pytest.approx(xor_record.layers[1].db[0], rel=1e-12)


def test_check_on_the_example_exits_0(run_cli) -> None:
    result = run_cli("check", "xor", "--grads", CORRECT)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[-1] == "all 9 of your derivatives agree with backprop"
    header = next(line for line in lines if line.startswith("param") and "yours" in line)
    assert header.endswith("verdict      function")
    row = next(line for line in lines if line.startswith("w3 ") and line.endswith("]"))
    assert re.fullmatch(r"w3 +\S+ +\S+ +\S+  agrees +d_W1\[1, 0\]", row)


# --------------------------------------------------------------- buggy
def test_a_transposed_matrix_is_named_as_one(write_file, xor_record) -> None:
    results = evaluate(write_file("t.py", TRANSPOSED), xor_record)
    wrong = [name for name, r in results.items() if not r.agrees]
    assert wrong == ["w2", "w3"]  # the diagonal of a 2×2 survives a transpose
    backprop = dW(xor_record, 1)
    assert results["w2"].user == pytest.approx(backprop[1, 0], rel=1e-12)
    assert results["w3"].user == pytest.approx(backprop[0, 1], rel=1e-12)
    d = results["w2"].diagnosis
    assert d.kind == "transpose"
    assert d.message.startswith(
        "d_W1 is backprop's ∂Loss/∂W1 transposed: its [0, 1] holds ∂Loss/∂W1[1, 0]."
    )


def test_check_on_a_transposed_matrix_exits_1(run_cli, write_file) -> None:
    result = run_cli("check", "xor", "--grads", write_file("t.py", TRANSPOSED))
    assert result.code == 1, result.err
    lines = result.out.splitlines()
    assert lines[-1] == "your derivatives disagree: w2, w3 (7 of 9 agree)"
    assert any(
        line.startswith("✗ d_W1[1, 0]: yours ") and "∂Loss/∂W = dZᵀ · A_prev" in line
        for line in lines
    )


def test_a_missing_slope_is_diagnosed_per_entry(write_file, xor_record) -> None:
    """Each wrong entry gets the scalar diagnosis, and its formula evaluates to its value."""
    results = evaluate(write_file("s.py", NO_SLOPE), xor_record)
    assert [n for n, r in results.items() if not r.agrees] == ["w1", "w2", "w3", "w4", "b1", "b2"]
    w2 = results["w2"]
    assert w2.function == "d_W1[0, 1]"
    assert "the factor h1.1(1 − h1.1) (sigmoid's slope" in w2.diagnosis.message
    # Σᵢ ∂Loss/∂z_ŷ1 · ∂z_ŷ1/∂h1.1 · x2, computed here from the record:
    out = xor_record.layers[1]
    expected = float(np.sum(out.dz[:, 0] * out.W[0, 0] * xor_record.x[:, 1]))
    assert w2.user == pytest.approx(expected, rel=1e-12)
    assert f"= {w2.user:.8g}" in w2.diagnosis.message


def test_a_wrong_layer_2_keeps_layer_1_right(write_file, xor_record) -> None:
    """Only d_W2 doubled: its entries are wrong by 2, every other entry agrees."""
    text = variant(
        "    return output_delta(ctx).T @ ctx.A[1]", "    return 2 * output_delta(ctx).T @ ctx.A[1]"
    )
    results = evaluate(write_file("d.py", text), xor_record)
    assert [n for n, r in results.items() if not r.agrees] == ["w5", "w6"]
    assert results["w5"].user == pytest.approx(2 * dW(xor_record, 2)[0, 0], rel=1e-12)
    assert "2 × backprop's value" in results["w5"].diagnosis.message


# --------------------------------------------------- which d_b is which
MIXED = """
import numpy as np

def d_W2(ctx):
    return ((ctx.A[2] - ctx.y[:, None]) / ctx.n).T @ ctx.A[1]

def d_b2(ctx):          # beside d_W2: layer 2's biases, shape (1,), i.e. parameter b3
    return ((ctx.A[2] - ctx.y[:, None]) / ctx.n).sum(axis=0)

def d_b1(ctx):          # no d_W1: the scalar derivative of parameter b1
    dz = (ctx.A[2] - ctx.y[:, None]) / ctx.n @ ctx.W[2] * ctx.A[1] * (1 - ctx.A[1])
    return float(dz[:, 0].sum())
"""


def test_d_b_is_a_layer_beside_d_W_and_a_parameter_alone(write_file, xor_record) -> None:
    results = evaluate(write_file("m.py", MIXED), xor_record)
    assert {n: r.function for n, r in results.items()} == {
        "w5": "d_W2[0, 0]",
        "w6": "d_W2[0, 1]",
        "b1": "d_b1",
        "b3": "d_b2[0]",
    }
    assert all(r.agrees for r in results.values())


# ----------------------------------------------------------- bad files
def grads_file(body: str) -> str:
    return "import numpy as np\n\n" + body


BAD = [
    (
        "def d_W2(ctx):\n    return np.zeros((2, 1))\n",
        "d_W2 returned shape (2, 1), not (1, 2): ∂Loss/∂W2 as (out, in) "
        "(yours is (in, out), its transpose)",
    ),
    ("def d_W1(ctx):\n    return 0.5\n", "d_W1 returned one number, not (2, 2)"),
    ("def d_W2(ctx):\n    return [[1.0, 2.0, 3.0]]\n", "d_W2 returned shape (1, 3), not (1, 2)"),
    ("def d_W2(ctx):\n    return np.array([0.1, 0.2])\n", "not (1, 2)"),
    ("def d_W1(ctx):\n    return np.array([[0, np.nan], [0, 0]])\n", "d_W1[0, 1] is nan"),
    (
        "def d_W2(ctx):\n    return np.array([[np.inf, 0.0]])\n",
        "d_W2[0, 0] is inf, not a finite number",
    ),
    (
        "def d_W1(ctx):\n    return np.zeros((2, 2), dtype=complex)\n",
        "d_W1 returned complex values, not real numbers",
    ),
    ("def d_W1(ctx):\n    return 'oops'\n", "d_W1 returned str, not an array of numbers"),
    ("def d_W1(ctx):\n    return [[10**400, 0], [0, 0]]\n", "not an array of numbers"),
    ("def d_W1(ctx):\n    return [[1, 2], [3]]\n", "d_W1 returned list, not an array of numbers"),
    ("def d_W1(ctx):\n    return None\n", "d_W1 returned NoneType"),
    (
        "def d_W2(ctx):\n    return np.zeros((1, 2))\n\ndef d_b2(ctx):\n    return np.zeros((1, 1))\n",
        "d_b2 returned shape (1, 1), not (1,): ∂Loss/∂b2 as (out,)",
    ),
]


@pytest.mark.parametrize(("body", "words"), BAD)
def test_a_broken_matrix_is_one_line_naming_the_function(run_cli, write_file, body, words) -> None:
    path = write_file("bad.py", grads_file(body))
    assert_one_line_error(run_cli("check", "xor", "--grads", path), f"{path}: ", words)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("def d_W3(ctx):\n    return 0\n", "d_W3: no layer 3 (this network has layers 1 … 2"),
        (
            "def d_W1(ctx):\n    return 0\n\ndef d_w2(ctx):\n    return 0\n",
            "w2 has two functions, d_W1[0, 1] and d_w2: keep one",
        ),
        ("d_W1 = 3\n", "d_W1 is a int, not a function of ctx"),
        ("def d_W1(a, b):\n    return 0\n", "d_W1(a, b) must take exactly one argument, ctx"),
    ],
)
def test_a_file_that_cannot_be_loaded_is_one_line(run_cli, write_file, body, words) -> None:
    path = write_file("bad.py", grads_file(body))
    assert_one_line_error(run_cli("check", "xor", "--grads", path), f"{path}: ", words)


def test_layer_functions_need_the_network(write_file) -> None:
    path = write_file("w.py", "def d_W1(ctx):\n    return 0\n")
    with pytest.raises(UserCodeError, match="whole-layer functions need the network"):
        load_user_grads(path, ["w1", "w2"])


# ------------------------------------------------------------------ ctx
def test_ctx_holds_the_layers_as_read_only_matrices(xor_record) -> None:
    ctx = context_of(xor_record, 2.0)
    layers = xor_record.layers
    assert set(ctx.A) == {0, 1, 2} and set(ctx.Z) == set(ctx.W) == set(ctx.b) == {1, 2}
    assert np.array_equal(ctx.A[0], xor_record.x) and ctx.A[2].shape == (4, 1)
    assert np.array_equal(ctx.Z[1], layers[0].z) and np.array_equal(ctx.A[1], layers[0].a)
    assert ctx.W[1].shape == (2, 2) and ctx.W[2].shape == (1, 2) and ctx.b[2].shape == (1,)
    assert ctx.W[2][0, 1] == xor_record.params["w6"] and ctx.b[1][1] == xor_record.params["b2"]
    for arrays in (ctx.A, ctx.Z, ctx.W, ctx.b):
        for array in arrays.values():
            assert not array.flags.writeable
    with pytest.raises(TypeError):
        ctx.W[3] = np.zeros(1)  # type: ignore[index]


def test_the_docs_example_agrees(write_file, xor_record) -> None:
    docs = (ROOT / "docs" / "derivatives.md").read_text(encoding="utf-8")
    section = docs.split("### Whole layers", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    results = evaluate(write_file("docs.py", code), xor_record)
    assert {n: r.function for n, r in results.items()} == {
        "w5": "d_W2[0, 0]",
        "w6": "d_W2[0, 1]",
        "b3": "d_b2[0]",
    }
    assert all(r.agrees for r in results.values())


def test_ctx_matrices_cannot_be_made_writable(xor_record) -> None:
    """One function must not change what the next is given: setflags(write=True) fails too."""
    ctx = context_of(xor_record, 2.0)
    for array in (ctx.A[1], ctx.W[2], ctx.b[1], ctx.Z[2]):
        with pytest.raises(ValueError):
            array.setflags(write=True)


WIDE = """
[network]
layers = [2, 40, 1]
activation = "tanh"
output_activation = "sigmoid"
loss = "bce"
[data]
generate = "circle"
n = 12
seed = 3
"""

WIDE_DOUBLED = """
def d_W1(ctx):
    dz2 = (ctx.A[2] - ctx.y.reshape(-1, 1)) / ctx.n
    dz1 = (dz2 @ ctx.W[2]) * (1 - ctx.A[1] ** 2)
    return 2 * dz1.T @ ctx.A[0]
"""


def test_a_wide_layer_diagnoses_its_first_wrong_entries_and_says_so(write_file) -> None:
    from bptui.debug.usergrads.judge import MAX_DIAGNOSED_ENTRIES
    from bptui.scenario.loading import parse_scenario

    record = Stepper(parse_scenario(WIDE, where="wide", base_dir=None).training()).record()
    grads = load_user_grads(write_file("w.py", WIDE_DOUBLED), record.network)
    jobs: list[str] = []
    run = grads.sandbox.run
    grads.sandbox.run = lambda batch: (jobs.extend(name for name, _ in batch), run(batch))[1]
    try:
        results = grads.evaluate(record, 0.1)
    finally:
        grads.close()
    assert len(results) == 80 and not any(r.agrees for r in results.values())
    first = list(results.values())[:MAX_DIAGNOSED_ENTRIES]
    rest = list(results.values())[MAX_DIAGNOSED_ENTRIES:]
    assert all("2 × backprop's value" in r.diagnosis.message for r in first)
    assert {r.diagnosis.message for r in rest} == {
        "not diagnosed: only the first 32 wrong entries of d_W1 are (the others cost as many "
        "calls each)"
    }
    # The real call, the y probes once for all entries, two θ probes per diagnosed entry:
    y_probes = min(8, record.x.shape[0])
    assert len(jobs) == 1 + y_probes + 2 * MAX_DIAGNOSED_ENTRIES
