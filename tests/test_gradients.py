"""Engine and ``bptui trace`` against an independent reference of SPEC §2.

The reference below is written from the SPEC alone, in plain numpy, and
imports nothing from bptui's math: it walks one data point at a time and
chains full Jacobians (softmax's diag(p) − ppᵀ included, bce and cross-entropy
through ∂Loss/∂p, never the fused p − y shortcut), so it shares no shortcut
with the engine.  Hypothesis draws the depths, widths, data and parameters;
every hidden activation × output activation × loss the SPEC allows is a
separate parametrized case.  Central finite differences of the reference
loss are a second, derivative-free witness.  The gradient-check verdict
thresholds are unit-tested at the end.
"""

from __future__ import annotations

import io
import json
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bptui.cli import main
from bptui.debug import gradcheck
from bptui.engine.network import Architecture, Network
from bptui.engine.record import build_record
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin, parse_scenario

HIDDEN = ["softplus", "relu", "sigmoid", "tanh", "identity", "leaky_relu"]
#: Output activation and loss pairs the SPEC allows (bce needs sigmoid, cross-entropy softmax).
OUTPUT_LOSS = [
    ("identity", "ssr"),
    ("identity", "mse"),
    ("sigmoid", "ssr"),
    ("sigmoid", "mse"),
    ("sigmoid", "bce"),
    ("softmax", "ssr"),
    ("softmax", "mse"),
    ("softmax", "cross_entropy"),
]
COMBOS = [(h, o, loss) for h in HIDDEN for o, loss in OUTPUT_LOSS]
COMBO_IDS = [f"{h}-{o}-{loss}" for h, o, loss in COMBOS]
KINKED = {"relu", "leaky_relu"}
REL = 1e-9


# ------------------------------------------------------------ the reference
def ref_sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def ref_hidden(name: str, z: np.ndarray) -> np.ndarray:
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "sigmoid":
        return ref_sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "identity":
        return z.copy()
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    raise AssertionError(name)


def ref_hidden_slope(name: str, z: np.ndarray) -> np.ndarray:
    """d act / dz from z (relu family: the slope at exactly 0 is the left one)."""
    if name == "softplus":
        return ref_sigmoid(z)
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)
    if name == "sigmoid":
        s = ref_sigmoid(z)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 / np.cosh(z) ** 2
    if name == "identity":
        return np.ones_like(z)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, 0.01)
    raise AssertionError(name)


def ref_output(name: str, z: np.ndarray) -> np.ndarray:
    """Output activation of one point's logits (a vector)."""
    if name == "identity":
        return z.copy()
    if name == "sigmoid":
        return ref_sigmoid(z)
    e = np.exp(z - z.max())
    return e / e.sum()


def ref_output_jacobian(name: str, z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """J[i, j] = ∂p_i/∂z_j for one point."""
    if name == "identity":
        return np.eye(len(z))
    if name == "sigmoid":
        return np.diag(p * (1.0 - p))
    return np.diag(p) - np.outer(p, p)


def ref_loss(loss: str, z: np.ndarray, p: np.ndarray, y: np.ndarray) -> float:
    """SPEC §2 losses of (n, k) predictions p (logits z) against targets y.

    bce and cross-entropy take their logs from the logits, as the SPEC says:
    log p = −softplus(−z), log(1 − p) = −softplus(z), log softmax = z − logΣeᶻ.
    Taking log(1 − p) of a p near 1 would lose digits the finite differences need.
    """
    n, k = y.shape
    if loss == "ssr":
        return float(np.sum((y - p) ** 2))
    if loss == "mse":
        return float(np.sum((y - p) ** 2) / (n * k))
    if loss == "bce":
        log_p, log_not_p = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
        return float(-np.sum(y * log_p + (1 - y) * log_not_p) / (n * k))
    if loss == "cross_entropy":
        top = z.max(axis=1, keepdims=True)
        log_softmax = z - top - np.log(np.sum(np.exp(z - top), axis=1, keepdims=True))
        return float(-np.sum(y * log_softmax) / n)
    raise AssertionError(loss)


def ref_dloss_dp(loss: str, p: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """∂Loss/∂p for one point's predictions p (n points in the loss)."""
    k = len(y)
    if loss == "ssr":
        return -2.0 * (y - p)
    if loss == "mse":
        return -2.0 * (y - p) / (n * k)
    # The chain through p divides by p and 1 − p: a net whose outputs saturate
    # (p rounds to 0 or 1) has no finite reference this way, so it is not drawn.
    if loss == "bce":
        assume(bool(np.all((p > 1e-9) & (p < 1 - 1e-9))))
        return -(y / p - (1 - y) / (1 - p)) / (n * k)
    assume(bool(np.all(p > 1e-9)))
    return -(y / p) / n


@dataclass
class Net:
    """A drawn network: architecture, per-layer (W, b) and data."""

    hidden: str
    output: str
    loss: str
    layers: list[int]
    Ws: list[np.ndarray]
    bs: list[np.ndarray]
    x: np.ndarray
    y: np.ndarray
    lr: float


def ref_forward_point(net: Net, Ws, bs, x: np.ndarray):
    zs, acts = [], [x]
    a = x
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = W @ a + b
        a = ref_output(net.output, z) if l == len(Ws) - 1 else ref_hidden(net.hidden, z)
        zs.append(z)
        acts.append(a)
    return zs, acts


def ref_forward(net: Net, Ws=None, bs=None) -> tuple[list[np.ndarray], np.ndarray]:
    """Every node's activation per point ((n, width) per layer, input first) and the logits."""
    Ws = net.Ws if Ws is None else Ws
    bs = net.bs if bs is None else bs
    per_point = [ref_forward_point(net, Ws, bs, xi) for xi in net.x]
    layers = [np.array([acts[l] for _, acts in per_point]) for l in range(len(Ws) + 1)]
    logits = np.array([zs[-1] for zs, _ in per_point])
    return layers, logits


def ref_loss_of(net: Net, Ws=None, bs=None) -> float:
    acts, logits = ref_forward(net, Ws, bs)
    return ref_loss(net.loss, logits, acts[-1], net.y)


def ref_gradients(net: Net, Ws=None, bs=None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """dW, db per layer: one point at a time, Jacobians chained output first."""
    Ws = net.Ws if Ws is None else Ws
    bs = net.bs if bs is None else bs
    n = len(net.x)
    dWs = [np.zeros_like(W) for W in Ws]
    dbs = [np.zeros_like(b) for b in bs]
    for xi, yi in zip(net.x, net.y):
        zs, acts = ref_forward_point(net, Ws, bs, xi)
        p = acts[-1]
        g = ref_dloss_dp(net.loss, p, yi, n)
        delta = ref_output_jacobian(net.output, zs[-1], p).T @ g
        for l in range(len(Ws) - 1, -1, -1):
            dWs[l] += np.outer(delta, acts[l])
            dbs[l] += delta
            if l:
                delta = (Ws[l].T @ delta) * ref_hidden_slope(net.hidden, zs[l - 1])
    return dWs, dbs


def spec_names(layers: list[int]) -> list[tuple[str, int, str, int, int | None]]:
    """(name, layer index, kind, row, col) in SPEC order: weights row-major, then biases."""
    names = []
    w = 0
    for l in range(len(layers) - 1):
        for i in range(layers[l + 1]):
            for j in range(layers[l]):
                w += 1
                names.append((f"w{w}", l, "W", i, j))
    b = 0
    for l in range(len(layers) - 1):
        for i in range(layers[l + 1]):
            b += 1
            names.append((f"b{b}", l, "b", i, None))
    return names


def flatten(layers: list[int], Ws, bs) -> dict[str, float]:
    """Per-layer arrays → {name: value} by the SPEC's naming rule."""
    return {
        name: float(Ws[l][i, j] if kind == "W" else bs[l][i])
        for name, l, kind, i, j in spec_names(layers)
    }


# ------------------------------------------------------ drawing networks
@st.composite
def networks(draw, hidden: str, output: str, loss: str) -> Net:
    """Random depth (1–3 layers of weights), widths, data, parameters and targets."""
    n_in = draw(st.integers(1, 3))
    n_out = draw(st.integers(2 if output == "softmax" else 1, 3))
    hidden_widths = draw(st.lists(st.integers(1, 4), min_size=0, max_size=2))
    points = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    one_hot = draw(st.booleans())
    layers = [n_in, *hidden_widths, n_out]
    rng = np.random.RandomState(seed)
    Ws = [rng.normal(0, 1, (layers[l + 1], layers[l])) for l in range(len(layers) - 1)]
    bs = [rng.normal(0, 0.5, layers[l + 1]) for l in range(len(layers) - 1)]
    x = rng.uniform(-2, 2, (points, n_in))
    if loss == "bce":
        y = (
            rng.randint(0, 2, (points, n_out)).astype(float)
            if one_hot
            else rng.uniform(0, 1, (points, n_out))
        )
    elif loss == "cross_entropy":
        if one_hot:
            y = np.eye(n_out)[rng.randint(0, n_out, points)]
        else:
            y = rng.uniform(0.05, 1, (points, n_out))
            y /= y.sum(axis=1, keepdims=True)
    else:
        y = rng.normal(0, 1, (points, n_out))
    lr = float(rng.uniform(0.001, 0.1))
    return Net(hidden, output, loss, layers, Ws, bs, x, y, lr)


def engine_network(net: Net) -> tuple[Network, np.ndarray]:
    network = Network(Architecture(tuple(net.layers), net.hidden, net.output, net.loss))
    return network, network.pack(list(zip(net.Ws, net.bs)))


def toml_list(values) -> str:
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, list):
        return "[" + ", ".join(toml_list(v) for v in values) + "]"
    return repr(float(values))


def scenario_toml(net: Net, with_init: bool = True, seed: int = 0) -> str:
    lines = [
        'name = "random"',
        "[network]",
        f"layers = {net.layers}",
        f'activation = "{net.hidden}"',
        f'output_activation = "{net.output}"',
        f'loss = "{net.loss}"',
        "[training]",
        f"learning_rate = {net.lr!r}",
        f"seed = {seed}",
        "[data]",
        f"x = {toml_list(net.x)}",
        f"y = {toml_list(net.y)}",
    ]
    if with_init:
        for W, b in zip(net.Ws, net.bs):
            lines += ["[[init.layers]]", f"W = {toml_list(W)}", f"b = {toml_list(b)}"]
    return "\n".join(lines) + "\n"


def refuse_non_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def cli_trace(toml: str, *args: str) -> dict:
    """``bptui trace --config <file> …`` in-process; the parsed JSON."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.toml"
        path.write_text(toml, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["trace", "--config", str(path), *args])
    assert code == 0, err.getvalue()
    assert err.getvalue() == ""
    return json.loads(out.getvalue(), parse_constant=refuse_non_json)


def assert_close(actual, expected, what: str = "") -> None:
    """1e-9 relative; components that cancel to ~0 are judged against the largest one."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=REL, atol=1e-12 * scale, err_msg=what)


FEW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------- engine vs reference
@pytest.mark.parametrize(("hidden", "output", "loss"), COMBOS, ids=COMBO_IDS)
@given(data=st.data())
@FEW
def test_engine_loss_and_gradient_match_reference(hidden, output, loss, data) -> None:
    net = data.draw(networks(hidden, output, loss))
    network, theta = engine_network(net)
    grad = np.zeros(network.size)
    loss_value = network.loss_and_grad(theta, net.x, net.y, grad)
    dWs, dbs = ref_gradients(net)
    assert_close(loss_value, ref_loss_of(net), "loss")
    assert_close(grad, list(flatten(net.layers, dWs, dbs).values()), "gradient")
    assert network.param_names == [name for name, *_ in spec_names(net.layers)]


@pytest.mark.parametrize(("hidden", "output", "loss"), COMBOS, ids=COMBO_IDS)
@given(data=st.data())
@FEW
def test_record_nodes_and_chain_factors_match_reference(hidden, output, loss, data) -> None:
    """Every node's values, and Σ over points of each chain's product = the gradient."""
    net = data.draw(networks(hidden, output, loss))
    network, theta = engine_network(net)
    record = build_record(network, theta, net.x, net.y)
    acts, _ = ref_forward(net)
    for names, values in zip(network.node_names, acts):
        for i, name in enumerate(names):
            assert_close(record.nodes[name], values[:, i], name)
    assert len(record.nodes) == sum(net.layers)
    ref = flatten(net.layers, *ref_gradients(net))
    for name, expected in ref.items():
        assert_close(record.grads[name], expected, name)
        chain_sum = float(np.sum(np.prod([f.values for f in record.factors[name]], axis=0)))
        assert_close(chain_sum, expected, f"chain of {name}")
        assert_close(record.chain_product(name).sum(), expected, f"chain_product {name}")


@pytest.mark.parametrize(("hidden", "output", "loss"), COMBOS, ids=COMBO_IDS)
@given(data=st.data())
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_cli_trace_matches_reference(hidden, output, loss, data) -> None:
    """``bptui trace --steps 2``: every record's loss, params, grads, nodes, layers, factors."""
    net = data.draw(networks(hidden, output, loss))
    doc = cli_trace(scenario_toml(net), "--steps", "2")
    assert doc["diverged"] is None
    assert doc["parameters"] == [name for name, *_ in spec_names(net.layers)]
    Ws, bs = [W.copy() for W in net.Ws], [b.copy() for b in net.bs]
    assert len(doc["steps"]) == 3
    for k, rec in enumerate(doc["steps"]):
        assert rec["step"] == k
        acts, _ = ref_forward(net, Ws, bs)
        dWs, dbs = ref_gradients(net, Ws, bs)
        assert_close(rec["loss"], ref_loss_of(net, Ws, bs), f"loss {k}")
        assert list(rec["params"]) == doc["parameters"]
        assert_close(
            list(rec["params"].values()), list(flatten(net.layers, Ws, bs).values()), "params"
        )
        ref_grads = flatten(net.layers, dWs, dbs)
        assert_close(list(rec["grads"].values()), list(ref_grads.values()), f"grads {k}")
        node_values = [v for layer in acts for v in layer.T]
        assert len(rec["nodes"]) == len(node_values)
        for name, expected in zip(rec["nodes"], node_values):
            assert_close(rec["nodes"][name], expected, name)
        for l, layer in enumerate(rec["layers"]):
            assert np.shape(layer["W"]) == (net.layers[l + 1], net.layers[l])
            assert np.shape(layer["dW"]) == (net.layers[l + 1], net.layers[l])
            assert np.shape(layer["b"]) == np.shape(layer["db"]) == (net.layers[l + 1],)
            assert_close(layer["W"], Ws[l])
            assert_close(layer["b"], bs[l])
            assert_close(layer["dW"], dWs[l])
            assert_close(layer["db"], dbs[l])
        for name, expected in ref_grads.items():
            values = [f["values"] for f in rec["factors"][name]]
            assert all(len(v) == len(net.x) for v in values)
            assert_close(np.sum(np.prod(values, axis=0)), expected, f"factors of {name}")
        # The update the SPEC fixes: θ ← θ − α · ∂Loss/∂θ.
        Ws = [W - net.lr * dW for W, dW in zip(Ws, dWs)]
        bs = [b - net.lr * db for b, db in zip(bs, dbs)]


@pytest.mark.parametrize(("hidden", "output", "loss"), COMBOS, ids=COMBO_IDS)
@given(data=st.data(), scale=st.sampled_from([30.0, 300.0]))
@settings(max_examples=4, deadline=None)
def test_saturated_networks_stay_finite_and_consistent(hidden, output, loss, data, scale) -> None:
    """Huge weights saturate every activation: still finite, no numpy warning, chains sum up."""
    net = data.draw(networks(hidden, output, loss))
    net.Ws = [W * scale for W in net.Ws]
    net.bs = [b * scale for b in net.bs]
    network, theta = engine_network(net)
    grad = np.zeros(network.size)
    loss_value = network.loss_and_grad(theta, net.x, net.y, grad)  # warnings are errors here
    assert np.isfinite(loss_value) and np.isfinite(grad).all()
    assert_close(loss_value, ref_loss_of(net), "loss")
    record = build_record(network, theta, net.x, net.y)
    assert record.finite
    for name in network.param_names:
        assert_close(record.chain_product(name).sum(), record.grads[name], name)


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS, ids=[f"{o}-{l}" for o, l in OUTPUT_LOSS])
@given(data=st.data(), batch_size=st.integers(1, 3))
@settings(max_examples=4, deadline=None)
def test_cli_trace_minibatches_match_reference(output, loss, data, batch_size) -> None:
    """batch_size: update k descends the loss of batch k (consecutive points, cycling);
    the record's loss is still over all the data."""
    net = data.draw(networks("tanh", output, loss))
    n = len(net.x)
    toml = scenario_toml(net).replace("seed = 0", f"seed = 0\nbatch_size = {batch_size}")
    doc = cli_trace(toml, "--steps", "4")
    batches = [list(range(s, min(s + batch_size, n))) for s in range(0, n, batch_size)]
    Ws, bs = [W.copy() for W in net.Ws], [b.copy() for b in net.bs]
    for k, rec in enumerate(doc["steps"]):
        assert_close(rec["loss"], ref_loss_of(net, Ws, bs), f"full loss {k}")
        rows = batches[k % len(batches)]
        batch = Net(**{**net.__dict__, "x": net.x[rows], "y": net.y[rows]})
        dWs, dbs = ref_gradients(batch, Ws, bs)
        ref_grads = flatten(net.layers, dWs, dbs)
        assert_close(list(rec["grads"].values()), list(ref_grads.values()), f"batch grads {k}")
        for name, expected in ref_grads.items():
            product = np.prod([f["values"] for f in rec["factors"][name]], axis=0)
            outside = [i for i in range(n) if i not in rows]
            assert np.all(product[outside] == 0)
            assert_close(np.sum(product), expected, f"factors of {name}")
        Ws = [W - net.lr * dW for W, dW in zip(Ws, dWs)]
        bs = [b - net.lr * db for b, db in zip(bs, dbs)]


# ------------------------------------------------- finite differences
def central_difference(net: Net, h: float = 1e-6) -> dict[str, float]:
    """∂Loss/∂θ of the reference loss by central differences, one parameter at a time."""
    result = {}
    for name, l, kind, i, j in spec_names(net.layers):
        target = net.Ws[l] if kind == "W" else net.bs[l]
        index = (i, j) if kind == "W" else (i,)
        original = target[index]
        step = h * max(1.0, abs(original))
        target[index] = original + step
        up = ref_loss_of(net)
        target[index] = original - step
        down = ref_loss_of(net)
        target[index] = original
        result[name] = (up - down) / (2 * step)
    return result


@pytest.mark.parametrize(("hidden", "output", "loss"), COMBOS, ids=COMBO_IDS)
@given(data=st.data())
@FEW
def test_engine_gradient_matches_finite_differences(hidden, output, loss, data) -> None:
    net = data.draw(networks(hidden, output, loss))
    if hidden in KINKED:
        # Central differences straddling a kink measure neither side's slope.
        zs = [ref_forward_point(net, net.Ws, net.bs, xi)[0][:-1] for xi in net.x]
        assume(all(np.all(np.abs(z) > 1e-3) for point in zs for z in point))
    network, theta = engine_network(net)
    grad = np.zeros(network.size)
    network.loss_and_grad(theta, net.x, net.y, grad)
    numeric = central_difference(net)
    scale = max(1.0, max(abs(v) for v in numeric.values()))
    np.testing.assert_allclose(grad, list(numeric.values()), rtol=1e-6, atol=1e-8 * scale)


def test_reference_finite_differences_can_fail() -> None:
    """The witness is not vacuous: a wrong derivative (tanh slope 1 − z²) is caught."""
    rng = np.random.RandomState(3)
    net = Net(
        "tanh",
        "identity",
        "ssr",
        [2, 3, 1],
        [rng.normal(0, 1, (3, 2)), rng.normal(0, 1, (1, 3))],
        [rng.normal(0, 0.5, 3), rng.normal(0, 0.5, 1)],
        rng.uniform(-2, 2, (4, 2)),
        rng.normal(0, 1, (4, 1)),
        0.01,
    )
    numeric = list(central_difference(net).values())
    right = list(flatten(net.layers, *ref_gradients(net)).values())
    np.testing.assert_allclose(right, numeric, rtol=1e-6, atol=1e-8)
    wrong = Net(**{**net.__dict__, "hidden": "sigmoid"})
    wrong_grad = list(flatten(net.layers, *ref_gradients(wrong)).values())
    assert not np.allclose(wrong_grad, numeric, rtol=1e-3)


# ------------------------------------------------- naming and random init
@given(
    layers=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=10, deadline=None)
def test_random_init_is_articles_rng_in_spec_order(layers, seed) -> None:
    """No [[init.layers]]: RandomState(seed).normal(0, 1), one scalar per weight, SPEC order."""
    net = Net(
        "tanh",
        "identity",
        "ssr",
        layers,
        [],
        [],
        np.zeros((1, layers[0])),
        np.zeros((1, layers[-1])),
        0.01,
    )
    doc = cli_trace(scenario_toml(net, with_init=False, seed=seed), "--steps", "0")
    record = doc["steps"][0]
    names = spec_names(layers)
    assert doc["parameters"] == [name for name, *_ in names]
    rng = np.random.RandomState(seed)
    weights = [name for name, _, kind, *_ in names if kind == "W"]
    expected = {name: rng.normal(0, 1) for name in weights}
    expected.update({name: 0.0 for name, _, kind, *_ in names if kind == "b"})
    assert record["params"] == expected  # exactly: the same draws in the same order
    # And the names sit where the SPEC says: W row-major (out, in), layer by layer.
    for name, l, kind, i, j in names:
        layer = record["layers"][l]
        value = layer["W"][i][j] if kind == "W" else layer["b"][i]
        assert record["params"][name] == value, name
        grad = layer["dW"][i][j] if kind == "W" else layer["db"][i]
        assert record["grads"][name] == grad, name


def test_article_names_follow_the_rule() -> None:
    names = spec_names([1, 2, 1])
    assert [n[0] for n in names] == ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]
    # w1 x→blue, w2 x→orange (layer 1 rows), w3 blue→green, w4 orange→green.
    assert [(l, i, j) for _, l, kind, i, j in names if kind == "W"] == [
        (0, 0, 0),
        (0, 1, 0),
        (1, 0, 0),
        (1, 0, 1),
    ]
    net = Network(Architecture((2, 3, 2)))
    assert net.param_names == [n[0] for n in spec_names([2, 3, 2])]
    assert net.param_names[:7] == ["w1", "w2", "w3", "w4", "w5", "w6", "w7"]
    theta = np.arange(float(net.size))
    (W1, b1), (W2, b2) = net.views(theta)
    assert W1.tolist() == [[0, 1], [2, 3], [4, 5]]  # w1..w6: row-major (out, in)
    assert W2.tolist() == [[6, 7, 8], [9, 10, 11]]
    assert b1.tolist() == [12, 13, 14] and b2.tolist() == [15, 16]
    assert net.param_names[12] == "b1"


def test_explicit_init_from_toml_lands_in_the_right_places() -> None:
    text = """
[network]
layers = [2, 2, 1]
activation = "tanh"
[data]
x = [[0.5, -0.5]]
y = [1.0]
[[init.layers]]
W = [[1.0, 2.0], [3.0, 4.0]]
b = [5.0, 6.0]
[[init.layers]]
W = [[7.0, 8.0]]
b = [9.0]
"""
    scenario = parse_scenario(text, where="t.toml", base_dir=None)
    params = scenario.network().param_dict(scenario.initial_theta())
    assert params == {
        "w1": 1.0,
        "w2": 2.0,
        "w3": 3.0,
        "w4": 4.0,
        "w5": 7.0,
        "w6": 8.0,
        "b1": 5.0,
        "b2": 6.0,
        "b3": 9.0,
    }


# -------------------------------------------------- gradcheck verdicts
def test_relative_error() -> None:
    assert gradcheck.relative_error(0.0, 0.0) == 0.0
    assert gradcheck.relative_error(1.0, 1.0) == 0.0
    assert gradcheck.relative_error(1.0, 1.1) == pytest.approx(0.1 / 1.1)
    assert gradcheck.relative_error(1.1, 1.0) == pytest.approx(0.1 / 1.1)
    assert gradcheck.relative_error(-2.0, 2.0) == pytest.approx(2.0)
    assert gradcheck.relative_error(0.0, 1e-3) == pytest.approx(1.0)
    assert gradcheck.relative_error(-5.0, -4.0) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("rel", "abs_err", "near_kink", "expected"),
    [
        (0.0, 0.0, False, "good"),
        (1e-7, 1.0, False, "good"),
        (1.01e-7, 1.0, False, "suspect"),
        (1.01e-7, 1.0, True, "ok-kink"),
        (1e-4, 1.0, True, "ok-kink"),
        (1.01e-4, 1.0, True, "kink"),  # straddles the kink: not comparable
        (1e-2, 1.0, False, "suspect"),
        (1.01e-2, 1.0, False, "wrong"),
        (1.01e-2, 1.0, True, "kink"),
        (float("nan"), float("nan"), False, "non-finite"),
        (1.0, 1e290, False, "wrong"),  # resolution 0: no excuse
        (float("inf"), float("inf"), True, "non-finite"),
        (0.5, 1e-9, False, "good"),  # tiny gradients: judged by absolute error
        (0.5, 1.01e-9, False, "wrong"),
    ],
)
def test_verdict_thresholds(rel, abs_err, near_kink, expected) -> None:
    assert gradcheck.verdict(rel, abs_err, near_kink) == expected


def test_a_diverging_loss_is_too_coarse_to_judge_but_an_ordinary_one_is_not() -> None:
    """At a loss of 1e307 the central difference cannot see b2's −3.9e-7
    gradient (numeric 0): that is "cannot tell", not "wrong"; a real error at an
    ordinary loss is still caught."""
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(300)
    stepper.back()
    record = stepper.record()
    assert record.loss > 1e300
    rows = {
        r.name: r
        for r in gradcheck.gradient_check(
            record.network, record.theta, record.x, record.y, record.grad
        )
    }
    assert rows["b2"].analytic != 0.0 and rows["b2"].numeric == 0.0
    # No relative error means anything here: the numeric value cannot see b2 at all.
    assert rows["b2"].verdict == "cannot tell" and rows["b2"].agrees
    assert rows["b2"].meaningful_rel_error is None
    assert {r.verdict for r in rows.values()} <= {"good", "imprecise", "cannot tell"}

    fine = Stepper(load_builtin("article").training()).record()
    wrong = fine.grad.copy()
    wrong[fine.network.param_index["b3"]] *= 1.001
    rows = {
        r.name: r for r in gradcheck.gradient_check(fine.network, fine.theta, fine.x, fine.y, wrong)
    }
    assert rows["b3"].verdict == "suspect" and not rows["b3"].agrees


def test_gradient_check_flags_a_deliberately_wrong_gradient() -> None:
    net = Network(Architecture((1, 2, 1), "softplus", "identity", "ssr"))
    theta = net.random_init(42)
    x = np.array([[0.1], [0.53], [0.82]])
    y = np.array([[1.2], [3.2], [1.1]])
    grad = np.zeros(net.size)
    net.loss_and_grad(theta, x, y, grad)
    rows = gradcheck.gradient_check(net, theta, x, y, grad)
    assert [r.verdict for r in rows] == ["good"] * 7
    assert all(r.agrees for r in rows)
    for r, g in zip(rows, grad):
        assert r.analytic == g
        assert r.numeric == pytest.approx(g, rel=1e-7)

    wrong = grad.copy()
    wrong[net.param_index["b3"]] *= 1.1  # a 10% mistake in one derivative
    wrong[net.param_index["w1"]] *= 1 + 1e-5  # a small one
    rows = {r.name: r for r in gradcheck.gradient_check(net, theta, x, y, wrong)}
    assert rows["b3"].verdict == "wrong" and not rows["b3"].agrees
    assert rows["b3"].rel_error == pytest.approx(0.1 / 1.1, rel=1e-5)
    assert rows["w1"].verdict == "suspect" and not rows["w1"].agrees
    assert all(rows[n].verdict == "good" for n in ("w2", "w3", "w4", "b1", "b2"))


def test_kink_parameters_only_for_relu_family() -> None:
    x = np.array([[1.0], [2.0]])
    relu = Network(Architecture((1, 1, 1), "relu"))
    theta = relu.pack([(np.array([[1.0]]), np.array([-1.0])), (np.array([[1.0]]), np.zeros(1))])
    # z = x − 1 is exactly 0 at the first point: the hidden layer's parameters are near a kink.
    assert gradcheck.kink_parameters(relu, theta, x) == {"w1", "b1"}
    smooth = Network(Architecture((1, 1, 1), "tanh"))
    assert gradcheck.kink_parameters(smooth, theta, x) == set()
    away = relu.pack([(np.array([[1.0]]), np.array([0.5])), (np.array([[1.0]]), np.zeros(1))])
    assert gradcheck.kink_parameters(relu, away, x) == set()


# ------------------------------------------- near zero: no meaningless relative error
def article_text(w1: float, b1: float) -> str:
    """The article's net and data with blue's weight and bias set (the rest as seeded)."""
    return f"""
name = "article-set"
[network]
layers = [1, 2, 1]
activation = "softplus"
output_activation = "identity"
loss = "ssr"
node_names = ["x", "blue", "orange", "green"]
[training]
learning_rate = 0.01
[data]
x = [0.1, 0.53, 0.82]
y = [1.2, 3.2, 1.1]
[[init.layers]]
W = [[{w1!r}], [-0.13826430117118466]]
b = [{b1!r}, 0.0]
[[init.layers]]
W = [[0.6476885381006925, 1.5230298564080254]]
b = [0.0]
"""


def article_with(w1: float, b1: float) -> Stepper:
    return Stepper(parse_scenario(article_text(w1, b1), "article-set", None).training())


def check_rows(stepper: Stepper, grad: np.ndarray | None = None) -> dict[str, gradcheck.CheckRow]:
    rec = stepper.record()
    rows = gradcheck.gradient_check(
        rec.network, rec.theta, rec.x, rec.y, rec.grad if grad is None else grad
    )
    return {r.name: r for r in rows}


def test_gradients_far_below_the_loss_are_both_zero_not_a_relative_error_of_one() -> None:
    """blue saturated at z ≈ −700: backprop ~1e-79, numeric exactly 0 — "both ≈ 0", no rel error."""
    rows = check_rows(article_with(1e3, -1e3))
    for name in ("w1", "b1", "w3"):
        row = rows[name]
        assert abs(row.analytic) < 1e-70 and row.numeric == 0.0
        assert row.verdict == "both ≈ 0" and row.agrees
        assert row.meaningful_rel_error is None
    assert gradcheck.verdict(1.0, 1e-18, False, 1e-9, largest=1e-18, zero=True) == "both ≈ 0"


def test_a_saturated_gradient_the_numeric_cannot_see_is_cannot_tell_even_when_wrong() -> None:
    """blue = softplus(−30): ∂/∂b1 ~ 1e-13, invisible to central differences (numeric 0).

    Calling that "good" would pass a 100× bug too: the verdict is "cannot tell"
    for the right value and for the wrong one alike, and no relative error is shown.
    """
    stepper = article_with(0.0, -30.0)
    rec = stepper.record()
    exact_b1 = float(
        np.sum(-2 * (rec.y[:, 0] - rec.yhat[:, 0]) * 0.6476885381006925 * 1 / (1 + np.exp(30.0)))
    )
    assert rec.grads["b1"] == pytest.approx(exact_b1, rel=1e-12)
    assert 1e-14 < abs(exact_b1) < 1e-11
    row = check_rows(stepper)["b1"]
    assert abs(row.numeric) < abs(exact_b1) / 10  # the difference quotient cannot see it
    assert row.verdict == "cannot tell" and row.meaningful_rel_error is None
    wrong = rec.grad.copy()
    wrong[rec.network.param_index["b1"]] *= 100
    assert check_rows(stepper, wrong)["b1"].verdict == "cannot tell"


def exact_article_grads(w1: float, b1: float) -> dict[str, float]:
    """∂SSR/∂w1 and ∂SSR/∂b1 of the article net written out by hand, in extended precision."""
    x = np.array([0.1, 0.53, 0.82], dtype=np.longdouble)
    y = np.array([1.2, 3.2, 1.1], dtype=np.longdouble)
    w2, w3, w4 = (
        np.longdouble(v) for v in (-0.13826430117118466, 0.6476885381006925, 1.5230298564080254)
    )
    z1 = np.longdouble(w1) * x + np.longdouble(b1)
    z2 = w2 * x
    softplus = lambda z: np.logaddexp(np.longdouble(0), z)  # noqa: E731
    sigmoid = lambda z: np.exp(-np.logaddexp(np.longdouble(0), -z))  # noqa: E731
    yhat = w3 * softplus(z1) + w4 * softplus(z2)
    common = -2 * (y - yhat) * w3 * sigmoid(z1)
    return {"w1": float(np.sum(common * x)), "b1": float(np.sum(common))}


@pytest.mark.parametrize("scale", [1e3, 1e6])
def test_large_parameters_are_no_false_alarm(scale: float) -> None:
    """w1 = 1e3 or 1e6 with the last point on softplus's bend: h = 1e-6·|θ| was far too
    coarse (the old check said "suspect" at 1e3 and "wrong" at 1e6); the
    step is now chosen where the difference quotient is stable."""
    w1, b1 = scale, -0.82 * scale - 1.0
    stepper = article_with(w1, b1)
    exact = exact_article_grads(w1, b1)
    rec = stepper.record()
    rows = check_rows(stepper)
    for name in ("w1", "b1"):
        assert rec.grads[name] == pytest.approx(exact[name], rel=1e-9)
        row = rows[name]
        assert row.verdict in ("good", "imprecise"), (name, row)
        assert abs(row.numeric - exact[name]) <= max(row.uncertainty, 1e-7 * abs(exact[name]))
    assert {r.verdict for r in rows.values()} <= {"good", "imprecise"}
    wrong = rec.grad.copy()
    wrong[rec.network.param_index["w1"]] *= 1.1  # a real 10% mistake is still caught
    assert check_rows(stepper, wrong)["w1"].verdict == "wrong"


def test_check_prints_no_relative_error_where_none_means_anything(run_cli, write_file) -> None:
    """The report said "1.00e+00  good" for 1e-79 against 0; now "—  both ≈ 0"."""
    saturated = run_cli("check", "--config", write_file("s.toml", article_text(1e3, -1e3)))
    assert saturated.code == 0, saturated.out
    rows = {line.split()[0]: line for line in saturated.out.splitlines()[2:-1]}
    for name in ("w1", "b1", "w3"):
        assert rows[name].split()[3:] == ["—", "both", "≈", "0"], rows[name]
    assert rows["w2"].split()[4] == "good"
    blind = run_cli("check", "--config", write_file("t.toml", article_text(0.0, -30.0)))
    b1 = next(line for line in blind.out.splitlines() if line.startswith("b1 "))
    assert b1.split()[3:6] == ["—", "cannot", "tell"]
    assert f"({gradcheck.CANNOT_TELL_WHY})" in b1
