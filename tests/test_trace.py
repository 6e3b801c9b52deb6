"""The trace (docs/trace.md): JSON schema, record semantics, CSV, divergence, and
the derivative counts behind "backprop evaluates fewer derivatives".

Values are checked against the record's own contents with the article's
formulas (loss = Σ (y − green)², θₖ₊₁ = θₖ − α·gradₖ), so a record that mixes
states — e.g. a loss from after the update next to the parameters from
before — fails.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import subprocess
import sys
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest

from bptui.engine.chain import derivative_counts
from bptui.engine.network import Architecture, Network
from bptui.engine.record import build_record
from bptui.engine.stepper import DivergedError, Stepper
from bptui.scenario.loading import load_builtin, load_file

RECORD_KEYS = {"step", "loss", "batch", "params", "grads", "nodes", "layers", "factors"}
ARTICLE_PARAMS = ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]
X = [0.1, 0.53, 0.82]
Y = [1.2, 3.2, 1.1]


def strict_json(text: str) -> dict:
    """Parse as standard JSON: NaN and Infinity are not JSON, so they must not appear."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON trace")

    return json.loads(text, parse_constant=refuse)


def trace(run_cli, *args: str) -> dict:
    result = run_cli("trace", *args)
    assert result.code == 0, result.err
    assert result.err == ""
    return strict_json(result.out)


# ------------------------------------------------------------------- schema
def test_trace_json_schema_article(run_cli) -> None:
    doc = trace(run_cli, "--steps", "3")
    assert set(doc) == {"scenario", "parameters", "diverged", "steps"}
    assert doc["parameters"] == ARTICLE_PARAMS
    assert doc["diverged"] is None
    steps = doc["steps"]
    assert len(steps) == 4  # N + 1 records
    for k, rec in enumerate(steps):
        assert list(rec) == [
            "step",
            "loss",
            "batch",
            "params",
            "grads",
            "nodes",
            "layers",
            "factors",
        ]
        assert rec["step"] == k
        assert list(rec["params"]) == list(rec["grads"]) == ARTICLE_PARAMS
        assert list(rec["nodes"]) == ["x", "blue", "orange", "green"]
        assert all(len(v) == 3 for v in rec["nodes"].values())
        assert rec["nodes"]["x"] == X
        assert [np.shape(layer["W"]) for layer in rec["layers"]] == [(2, 1), (1, 2)]
        assert [np.shape(layer["dW"]) for layer in rec["layers"]] == [(2, 1), (1, 2)]
        assert [np.shape(layer["b"]) for layer in rec["layers"]] == [(2,), (1,)]
        assert [np.shape(layer["db"]) for layer in rec["layers"]] == [(2,), (1,)]
        assert list(rec["factors"]) == ARTICLE_PARAMS
        for chain in rec["factors"].values():
            assert chain and all({"symbol", "values"} <= set(f) for f in chain)
            assert all(len(f["values"]) == 3 for f in chain)


def test_trace_records_are_the_state_before_each_update(run_cli) -> None:
    """Record k: loss, grads and nodes at record k's params; record k+1 = k − α·grads."""
    doc = trace(run_cli, "--steps", "3")
    y = np.array(Y)
    for rec in doc["steps"]:
        p, g = rec["params"], rec["grads"]
        x = np.array(rec["nodes"]["x"])
        blue = np.logaddexp(0, p["w1"] * x + p["b1"])
        orange = np.logaddexp(0, p["w2"] * x + p["b2"])
        green = p["w3"] * blue + p["w4"] * orange + p["b3"]
        np.testing.assert_allclose(rec["nodes"]["blue"], blue, rtol=1e-13)
        np.testing.assert_allclose(rec["nodes"]["orange"], orange, rtol=1e-13)
        np.testing.assert_allclose(rec["nodes"]["green"], green, rtol=1e-13)
        assert rec["loss"] == pytest.approx(float(np.sum((y - green) ** 2)), rel=1e-13)
        assert g["b3"] == pytest.approx(float(np.sum(-2 * (y - green))), rel=1e-13)
        assert g["w3"] == pytest.approx(float(np.sum(-2 * (y - green) * blue)), rel=1e-13)
        # layers carry the same numbers as params/grads, in parameter naming order.
        (l1, l2) = rec["layers"]
        assert [l1["W"][0][0], l1["W"][1][0], l2["W"][0][0], l2["W"][0][1]] == [
            p["w1"],
            p["w2"],
            p["w3"],
            p["w4"],
        ]
        assert [*l1["b"], *l2["b"]] == [p["b1"], p["b2"], p["b3"]]
        assert [l1["dW"][0][0], l1["dW"][1][0], l2["dW"][0][0], l2["dW"][0][1]] == [
            g["w1"],
            g["w2"],
            g["w3"],
            g["w4"],
        ]
        assert [*l1["db"], *l2["db"]] == [g["b1"], g["b2"], g["b3"]]
        for name in ARTICLE_PARAMS:
            product = np.prod([f["values"] for f in rec["factors"][name]], axis=0)
            assert float(np.sum(product)) == pytest.approx(g[name], rel=1e-12)
    for before, after in itertools.pairwise(doc["steps"]):
        for name in ARTICLE_PARAMS:
            expected = before["params"][name] - 0.01 * before["grads"][name]
            assert after["params"][name] == pytest.approx(expected, rel=1e-15, abs=1e-300)
        assert after["loss"] < before["loss"]
    assert doc["steps"][0]["loss"] == pytest.approx(3.0667888, abs=5e-8)
    assert doc["steps"][1]["loss"] == pytest.approx(2.9817410, abs=5e-8)


def test_trace_article_factor_symbols_in_json(run_cli) -> None:
    rec = trace(run_cli, "--steps", "0")["steps"][0]
    b1 = rec["factors"]["b1"]
    assert [f["symbol"] for f in b1] == ["∂Loss/∂green", "∂green/∂blue", "∂blue/∂b1"]
    assert [f["formula"] for f in b1] == ["−2(y − green)", "w3", "sigmoid(z_blue)"]
    assert [f["reused"] for f in b1] == [True, False, False]
    assert rec["factors"]["b3"][0]["reused"] is False
    assert rec["factors"]["b3"][0]["first_use"] == "b3"


def test_trace_resolved_scenario(run_cli) -> None:
    doc = trace(run_cli, "article", "--steps", "0")
    scenario = doc["scenario"]
    assert scenario["name"] == "article"
    assert scenario["network"] == {
        "layers": [1, 2, 1],
        "activation": "softplus",
        "output_activation": "identity",
        "loss": "ssr",
        "node_names": ["x", "blue", "orange", "green"],
    }
    assert scenario["training"]["learning_rate"] == 0.01
    assert scenario["training"]["seed"] == 42
    assert np.ravel(scenario["data"]["x"]).tolist() == X
    assert np.ravel(scenario["data"]["y"]).tolist() == Y
    # The random init, resolved: the same numbers as record 0.
    rec = doc["steps"][0]
    assert [layer["W"] for layer in scenario["init"]["layers"]] == [
        layer["W"] for layer in rec["layers"]
    ]


def test_trace_steps_zero_and_many(run_cli) -> None:
    assert len(trace(run_cli, "--steps", "0")["steps"]) == 1
    steps = trace(run_cli, "--steps", "150")["steps"]
    assert [r["step"] for r in steps] == list(range(151))
    assert len(trace(run_cli)["steps"]) == 2  # default: one step


def test_trace_default_node_names_for_a_deep_net(run_cli) -> None:
    doc = trace(run_cli, "deep", "--steps", "0")
    rec = doc["steps"][0]
    names = list(rec["nodes"])
    expected = (
        ["x1", "x2"] + [f"h1.{i}" for i in range(1, 9)] + [f"h2.{i}" for i in range(1, 9)] + ["ŷ1"]
    )
    assert names == expected
    assert all(len(v) == 10 for v in rec["nodes"].values())
    assert [np.shape(layer["W"]) for layer in rec["layers"]] == [(8, 2), (8, 8), (1, 8)]
    assert len(doc["parameters"]) == 16 + 64 + 8 + 8 + 8 + 1
    assert doc["parameters"][:3] == ["w1", "w2", "w3"] and doc["parameters"][-1] == "b17"
    for name in doc["parameters"]:
        product = np.prod([f["values"] for f in rec["factors"][name]], axis=0)
        assert float(np.sum(product)) == pytest.approx(rec["grads"][name], rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("name", ["xor", "softmax3"])
def test_trace_fused_outputs_factor_products(run_cli, name) -> None:
    doc = trace(run_cli, name, "--steps", "2")
    for rec in doc["steps"]:
        for param in doc["parameters"]:
            product = np.prod([f["values"] for f in rec["factors"][param]], axis=0)
            assert float(np.sum(product)) == pytest.approx(rec["grads"][param], rel=1e-9, abs=1e-14)


# ---------------------------------------------------------------------- CSV
def test_trace_csv_columns_and_values_match_json(run_cli) -> None:
    json_doc = trace(run_cli, "--steps", "4")
    result = run_cli("trace", "--steps", "4", "--format", "csv")
    assert result.code == 0 and result.err == ""
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows[0] == ["step", "loss", *ARTICLE_PARAMS, *(f"d{p}" for p in ARTICLE_PARAMS)]
    assert len(rows) == 1 + 5
    for row, rec in zip(rows[1:], json_doc["steps"]):
        assert int(row[0]) == rec["step"]
        values = [float(v) for v in row[1:]]
        expected = [
            rec["loss"],
            *(rec["params"][p] for p in ARTICLE_PARAMS),
            *(rec["grads"][p] for p in ARTICLE_PARAMS),
        ]
        assert values == expected  # full precision, no rounding


@pytest.mark.parametrize(
    ("name", "batch_size"), [("xor", 0), ("xor", 3), ("deep", 2), ("softmax3", 0), ("softmax3", 4)]
)
def test_csv_from_the_plain_step_is_the_records(name: str, batch_size: int) -> None:
    """The CSV is written from the plain step; every row is its record's numbers, bit for bit."""
    from bptui.scenario.export import iter_records, trace_csv

    scenario = replace(load_builtin(name), batch_size=batch_size)
    rows = list(csv.reader(io.StringIO("".join(trace_csv(scenario, 9)))))[1:]
    records = list(iter_records(scenario, 9))
    assert len(rows) == len(records) == 10
    for row, rec in zip(rows, records):
        expected = [rec.step, rec.loss, *rec.theta.tolist(), *rec.grad.tolist()]
        assert [int(row[0]), *map(float, row[1:])] == expected


def test_json_records_name_their_batch(run_cli, tmp_path) -> None:
    """Mini-batches are taken in order: record k descends batch k mod (number of batches)."""
    doc = trace(run_cli, "--steps", "3")
    assert [rec["batch"] for rec in doc["steps"]] == [[0, 1, 2]] * 4
    text = resources.files("bptui.scenario.builtins").joinpath("xor.toml").read_text()
    config = tmp_path / "xor2.toml"
    config.write_text(text.replace("[training]", "[training]\nbatch_size = 3"))
    doc = trace(run_cli, "--config", str(config), "--steps", "3")
    assert [rec["batch"] for rec in doc["steps"]] == [[0, 1, 2], [3], [0, 1, 2], [3]]


# --------------------------------------------------------------- divergence
def test_trace_of_diverge_ends_at_the_non_finite_record(run_cli) -> None:
    doc = trace(run_cli, "diverge", "--steps", "1000")
    diverged = doc["diverged"]
    assert isinstance(diverged, int) and 0 < diverged < 1000
    steps = doc["steps"]
    assert len(steps) == diverged + 1
    assert steps[-1]["step"] == diverged

    def finite(rec) -> bool:
        numbers = [rec["loss"], *rec["grads"].values()]
        return all(v is not None and np.isfinite(v) for v in numbers)

    assert not finite(steps[-1])
    assert all(finite(rec) for rec in steps[:-1])

    result = run_cli("trace", "diverge", "--steps", "1000", "--format", "csv")
    assert result.code == 0 and result.err == ""
    rows = list(csv.reader(io.StringIO(result.out)))
    assert len(rows) == 1 + diverged + 1
    last = [float(v) for v in rows[-1][1:]]
    assert not np.isfinite(last).all()
    assert all(np.isfinite([float(v) for v in row[1:]]).all() for row in rows[1:-1])


def test_trace_stops_early_when_fewer_steps_than_divergence(run_cli) -> None:
    doc = trace(run_cli, "diverge", "--steps", "2")
    assert doc["diverged"] is None and len(doc["steps"]) == 3


def test_diverge_in_a_real_process_prints_no_warning() -> None:
    """Even with warnings turned into errors, nothing reaches the terminal."""
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "bptui", "trace", "diverge", "--steps", "1000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert proc.stderr == ""
    doc = strict_json(proc.stdout)
    assert doc["diverged"] == len(doc["steps"]) - 1


# ---------------------------------------------------------- derivative counts
def brute_force_counts(layers: list[int]) -> tuple[int, int]:
    """(backprop, from scratch) by enumerating derivatives and paths explicitly.

    Backprop evaluates each distinct derivative once: ∂Loss/∂output per output
    node, ∂(node in l+1)/∂(node in l) per edge above the input layer, and the
    local ∂node/∂θ per parameter.  From scratch, every parameter multiplies
    out every path from its node to an output: ∂Loss/∂output, the edges on the
    path, and its local derivative.
    """
    depth = len(layers) - 1
    n_params = sum(layers[l + 1] * layers[l] + layers[l + 1] for l in range(depth))
    edges_above_input = sum(layers[l + 1] * layers[l] for l in range(1, depth))
    backprop = layers[-1] + edges_above_input + n_params

    scratch = 0
    for l in range(1, depth + 1):  # layer of the parameter's node
        for _node in range(layers[l]):
            # Paths from this node upward: one node choice per layer above.
            paths = list(itertools.product(*(range(layers[m]) for m in range(l + 1, depth + 1))))
            per_param = sum(1 + len(path) + 1 for path in paths)
            scratch += per_param * (layers[l - 1] + 1)  # its weights and its bias
    return backprop, scratch


@pytest.mark.parametrize(
    "layers", [[1, 2, 1], [2, 3, 2], [1, 2, 2, 1], [2, 8, 8, 1], [3, 1, 4, 2], [2, 2]]
)
def test_derivative_counts_match_brute_force(layers) -> None:
    counts = derivative_counts(tuple(layers))
    assert (counts.backprop, counts.scratch) == brute_force_counts(layers)
    assert set(counts.backprop_by_layer) == set(range(1, len(layers)))
    if len(layers) > 2:
        assert counts.backprop < counts.scratch


def test_article_brute_force_is_the_articles_count() -> None:
    assert brute_force_counts([1, 2, 1]) == (10, 18)


@pytest.mark.parametrize(("listed", "expected"), [('["b3", "w1"]', ["b3", "w1"]), ("[]", [])])
def test_trace_resolved_trainable_is_what_trains(run_cli, write_file, listed, expected) -> None:
    """The resolved scenario's trainable list matches which parameters actually move."""
    text = (
        resources.files("bptui").joinpath("scenario", "builtins", "article.toml").read_text("utf-8")
    )
    path = write_file("t.toml", text.replace("seed = 42", f"seed = 42\ntrainable = {listed}"))
    doc = trace(run_cli, "--config", path, "--steps", "1")
    assert doc["scenario"]["training"]["trainable"] == expected
    before, after = doc["steps"][0]["params"], doc["steps"][1]["params"]
    moved = [name for name in ARTICLE_PARAMS if before[name] != after[name]]
    assert sorted(moved) == sorted(expected)


def test_trace_resolved_trainable_defaults_to_all(run_cli) -> None:
    doc = trace(run_cli, "--steps", "1")
    assert doc["scenario"]["training"]["trainable"] == ARTICLE_PARAMS
    before, after = doc["steps"][0]["params"], doc["steps"][1]["params"]
    assert all(before[name] != after[name] for name in ARTICLE_PARAMS)


@pytest.mark.parametrize(
    ("name", "batch_size", "denominator"),
    [
        ("deep", 0, 10),
        ("deep", 4, 4),
        ("xor", 0, 4),
        ("xor", 3, 3),
        ("softmax3", 0, 9),
        ("softmax3", 2, 2),
    ],
)
def test_output_factor_formula_matches_its_values(name, batch_size, denominator) -> None:
    """The printed ∂Loss/∂ŷ (mse) or ∂Loss/∂z (bce, cross-entropy) formula divides by the
    batch's count, and evaluating it gives the factor's values on the batch's points."""
    stepper = Stepper(replace(load_builtin(name), batch_size=batch_size).training())
    record = stepper.record()
    batch = record.batch
    last = stepper.network.param_names[-1]  # the bias of the last output node
    head = record.factors[last][0]
    assert head.formula.endswith(f"/ {denominator}"), head.formula
    y = record.y[batch, -1]
    yhat = record.yhat[batch, -1]
    if name == "deep":
        expected = -2 * (y - yhat) / denominator
    else:
        expected = (yhat - y) / denominator
    np.testing.assert_allclose(head.values[batch], expected, rtol=1e-12)


HUGE = """\
[network]
layers = [1, 1, 1]
activation = "identity"
[data]
x = [1e300, 2.0]
y = [1.0, 2.0]
[[init.layers]]
W = [[1e300]]
b = [0.0]
[[init.layers]]
W = [[1.0]]
b = [0.0]
"""


def test_divergence_at_step_zero(run_cli, write_file) -> None:
    """A start that is already non-finite: one record, diverged = 0, nothing to step."""
    path = write_file("huge.toml", HUGE)
    doc = trace(run_cli, "--config", path, "--steps", "5")
    assert doc["diverged"] == 0
    assert len(doc["steps"]) == 1
    assert doc["steps"][0]["loss"] is None  # inf is not JSON: null
    assert doc["steps"][0]["params"]["w1"] == 1e300

    stepper = Stepper(load_file(path).training())
    assert stepper.diverged == 0 and not stepper.can_step
    with pytest.raises(DivergedError):
        stepper.step_once()
    assert stepper.back() is False
    stepper.reset()
    assert stepper.diverged == 0


@pytest.mark.parametrize("name", ["article", "xor", "softmax3", "deep"])
def test_reuse_marks_match_first_use_in_backward_order(name: str) -> None:
    """Chains are built lazily; their reuse marks must still be what a full
    backward walk gives: output layer first, per node its bias then weights."""
    record = Stepper(load_builtin(name).training()).record()
    net = record.network
    order = sorted(net.params, key=lambda p: (-p.layer, p.row, p.kind != "b"))
    first: dict[str, str] = {}
    for p in order:
        for factor in record.factors[p.name]:
            owner = first.setdefault(factor.symbol, p.name)
            assert factor.first_use == owner, (p.name, factor.symbol)
            assert factor.reused is (owner != p.name)
    assert list(record.factors) == net.param_names


def test_chains_through_many_single_node_layers_need_no_deep_recursion() -> None:
    """A 600-layer chain of single nodes: every factor built, none by recursing per layer."""
    net = Network(Architecture((1,) * 600, "tanh", "identity", "ssr"))
    x, y = np.array([[0.5], [-1.0]]), np.array([[0.2], [0.1]])
    record = build_record(net, np.full(net.size, 0.9), x, y)
    chain = record.factors["w1"]
    assert len(chain) == 1 + 598 + 1  # ∂Loss/∂ŷ, one edge per layer between, the local factor
    assert float(record.chain_product("w1").sum()) == pytest.approx(record.grads["w1"], rel=1e-9)


def _peak_bytes(work) -> int:
    """The most Python memory held at once during ``work()`` (its chunks drawn and dropped)."""
    import tracemalloc

    tracemalloc.start()
    try:
        for _ in work():
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_long_trace_holds_no_more_memory_than_a_short_one() -> None:
    """The trace streams: its stepper keeps no history, and the divergence pre-pass runs
    in bounded chunks, so 20× the steps costs no more memory (before: a loss a step,
    a θ every 64 steps, and the pre-pass's list of every loss)."""
    from bptui.scenario.export import divergence_step, trace_csv

    article = load_builtin("article")
    short = _peak_bytes(lambda: trace_csv(article, 1_000))
    long = _peak_bytes(lambda: trace_csv(article, 20_000))
    assert long - short < 8_000, (short, long)
    short = _peak_bytes(lambda: [divergence_step(article, 1_000)])
    long = _peak_bytes(lambda: [divergence_step(article, 100_000)])
    assert long - short < 8_000, (short, long)


def test_csv_of_a_diverged_run_ends_with_a_readable_non_finite_row() -> None:
    """orjson writes inf and nan as null; the CSV's last row of a divergence keeps them numbers."""
    from bptui.scenario.export import iter_records, trace_csv

    diverge = load_builtin("diverge")
    rows = list(csv.reader(io.StringIO("".join(trace_csv(diverge, 1_000)))))[1:]
    last = list(iter_records(diverge, 1_000))[-1]
    assert int(rows[-1][0]) == last.step == len(rows) - 1
    assert rows[-1][1] == "inf" and "null" not in rows[-1]
    values = np.array([float(v) for v in rows[-1][1:]])
    expected = np.array([last.loss, *last.theta, *last.grad])
    np.testing.assert_array_equal(values, expected)  # equal, nan where nan
    assert all(np.isfinite([float(v) for v in rows[-2][1:]]))
