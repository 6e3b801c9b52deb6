"""Playground's generated data sets and the held-out test split.

Clean shapes (noise 0) are checked against each set's definition; noisy points
against the same draws replayed here with plain ``math``, one point at a time.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from cli_support import assert_one_line_error

from bptui.scenario import datasets
from bptui.scenario.datasets import MAX_POINTS, generate
from bptui.scenario.loading import load_builtin, parse_scenario

CLASSIFICATION = ["circle", "xor", "gauss", "spiral"]
REGRESSION = ["plane", "multigauss"]


def scenario_text(data: str, layers: str = "[2, 3, 1]", output: str = "sigmoid") -> str:
    loss = "bce" if output == "sigmoid" else "mse"
    return f"""\
[network]
layers = {layers}
activation = "tanh"
output_activation = "{output}"
loss = "{loss}"
[data]
{data}
"""


def making_stream(seed: int) -> np.random.Generator:
    """The stream the points are drawn from, as docs/scenarios.md describes it."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])


# ------------------------------------------------------------- generators
@pytest.mark.parametrize("name", CLASSIFICATION + REGRESSION)
@pytest.mark.parametrize("n", [1, 2, 51])
def test_shape_and_targets(name: str, n: int) -> None:
    x, y = generate(name, n, 0.1, 3)
    assert x.shape == (n, 2) and y.shape == (n, 1)
    assert x.dtype == y.dtype == np.float64
    assert np.isfinite(x).all() and np.isfinite(y).all()
    if name in CLASSIFICATION:
        assert set(y.ravel()) <= {0.0, 1.0}
    else:
        assert np.abs(y).max() <= 1.2 + 1.2 * 0.1 + 1e-12  # (|x1| + |x2| + noise) / 10


@pytest.mark.parametrize("name", ["circle", "gauss", "spiral"])
def test_classes_split_in_halves_the_first_one_bigger(name: str) -> None:
    for n, ones in ((10, 5), (11, 6)):
        _, y = generate(name, n, 0.0, 8)
        assert y.sum() == ones


@pytest.mark.parametrize("name", CLASSIFICATION + REGRESSION)
def test_the_seed_decides_everything(name: str) -> None:
    x1, y1 = generate(name, 40, 0.2, 5)
    x2, y2 = generate(name, 40, 0.2, 5)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    x3, _ = generate(name, 40, 0.2, 6)
    assert not np.array_equal(x1, x3)


def test_circle_without_noise_is_labelled_by_the_inner_radius() -> None:
    x, y = generate("circle", 400, 0.0, 1)
    r = np.hypot(x[:, 0], x[:, 1])
    inner = r < 2.5
    assert np.array_equal(y.ravel(), inner.astype(float))
    assert inner.sum() == 200
    assert ((r[~inner] >= 3.5) & (r[~inner] <= 5.0)).all()  # the ring 0.7·5 … 5


def test_xor_without_noise_is_labelled_by_the_quadrant() -> None:
    x, y = generate("xor", 400, 0.0, 2)
    assert np.array_equal(y.ravel(), (x[:, 0] * x[:, 1] >= 0).astype(float))
    assert (np.abs(x) >= 0.3).all() and (np.abs(x) <= 5.3).all()
    assert 0.3 < y.mean() < 0.7


@pytest.mark.parametrize(("noise", "variance"), [(0.0, 0.5), (0.25, 2.25), (0.5, 4.0)])
def test_gauss_clouds_have_playgrounds_centres_and_variance(noise: float, variance: float) -> None:
    x, y = generate("gauss", 8000, noise, 4)
    for label, centre in ((1.0, 2.0), (0.0, -2.0)):
        cloud = x[y.ravel() == label]
        assert len(cloud) == 4000
        assert np.allclose(cloud.mean(axis=0), centre, atol=0.1)
        assert np.allclose(cloud.var(axis=0), variance, rtol=0.06)


def test_spiral_without_noise_is_exactly_two_spirals() -> None:
    n = 30
    x, y = generate("spiral", n, 0.0, 9)
    expected = set()
    for label, turn in ((1.0, 0.0), (0.0, math.pi)):
        for i in range(n // 2):
            r = i / (n / 2) * 5
            t = 1.75 * i / (n / 2) * 2 * math.pi + turn
            expected.add((round(r * math.sin(t), 12), round(r * math.cos(t), 12), label))
    got = {(round(a, 12), round(b, 12), c) for (a, b), c in zip(x.tolist(), y.ravel().tolist())}
    assert got == expected


def test_plane_without_noise_is_the_plane() -> None:
    x, y = generate("plane", 100, 0.0, 3)
    assert np.allclose(y.ravel(), (x[:, 0] + x[:, 1]) / 10, rtol=0, atol=1e-15)
    assert (np.abs(x) <= 6).all()


def bump_height(px: float, py: float) -> float:
    """Playground's getLabel for multigauss, one point at a time."""
    label = 0.0
    for cx, cy, sign in [
        (-4, 2.5, 1),
        (0, 2.5, -1),
        (4, 2.5, 1),
        (-4, -2.5, -1),
        (0, -2.5, 1),
        (4, -2.5, -1),
    ]:
        height = sign * min(max(1 - math.dist((px, py), (cx, cy)) / 2, 0.0), 1.0)
        if abs(height) > abs(label):
            label = height
    return label


def test_multigauss_without_noise_is_the_tallest_bump() -> None:
    x, y = generate("multigauss", 300, 0.0, 6)
    assert [bump_height(a, b) for a, b in x.tolist()] == pytest.approx(
        y.ravel().tolist(), abs=1e-15
    )
    assert y.min() < -0.5 and y.max() > 0.5


def test_noisy_circle_points_replayed_by_hand() -> None:
    """The draws in the documented order: r, angle, then a noise pair per point; class by class."""
    n, noise, seed = 6, 0.3, 11
    rng = making_stream(seed)
    points = []
    for count, low, high in ((3, 0.0, 2.5), (3, 3.5, 5.0)):
        r, angle = rng.uniform(low, high, count), rng.uniform(0, 2 * math.pi, count)
        shift = rng.uniform(-5, 5, (count, 2)) * noise
        for i in range(count):
            px, py = r[i] * math.sin(angle[i]), r[i] * math.cos(angle[i])
            seen = math.hypot(px + shift[i, 0], py + shift[i, 1])
            points.append((px, py, 1.0 if seen < 2.5 else 0.0))
    order = rng.permutation(n)
    x, y = generate("circle", n, noise, seed)
    for k, i in enumerate(order):
        assert x[k].tolist() == pytest.approx(points[i][:2], abs=1e-15)
        assert y[k, 0] == points[i][2]


def test_noisy_plane_points_replayed_by_hand() -> None:
    n, noise, seed = 5, 0.4, 2
    rng = making_stream(seed)
    x0 = rng.uniform(-6, 6, (n, 2))
    shift = rng.uniform(-6, 6, (n, 2)) * noise
    order = rng.permutation(n)
    x, y = generate("plane", n, noise, seed)
    for k, i in enumerate(order):
        assert x[k].tolist() == x0[i].tolist()
        assert y[k, 0] == pytest.approx((x0[i, 0] + shift[i, 0] + x0[i, 1] + shift[i, 1]) / 10)


def test_noise_flips_some_labels_but_not_the_points() -> None:
    clean_x, clean_y = generate("xor", 500, 0.0, 7)
    noisy_x, noisy_y = generate("xor", 500, 0.5, 7)
    flipped = int((clean_y != noisy_y).sum())
    assert np.array_equal(clean_x, noisy_x)
    assert 20 < flipped < 250


# ------------------------------------------------------------- scenarios
def test_a_generated_scenario_holds_out_its_test_points() -> None:
    text = scenario_text('generate = "spiral"\nn = 50\nnoise = 0.1\nseed = 4\ntest_fraction = 0.2')
    scenario = parse_scenario(text, where="t.toml", base_dir=None)
    x, y = generate("spiral", 50, 0.1, 4)
    assert scenario.x.shape == (40, 2) and scenario.x_test.shape == (10, 2)
    test = datasets.held_out(50, 0.2, 4)
    assert len(test) == 10
    keep = np.setdiff1d(np.arange(50), test)
    assert np.array_equal(scenario.x, x[keep]) and np.array_equal(scenario.y, y[keep])
    assert np.array_equal(scenario.x_test, x[test]) and np.array_equal(scenario.y_test, y[test])
    training = scenario.training()
    assert training.x_test is scenario.x_test and training.y_test is scenario.y_test
    data = scenario.to_dict()["data"]
    assert {k: data[k] for k in ("generate", "n", "noise", "seed", "test_fraction")} == {
        "generate": "spiral",
        "n": 50,
        "noise": 0.1,
        "seed": 4,
        "test_fraction": 0.2,
    }
    assert data["x"] == x[keep].tolist() and data["y_test"] == y[test].tolist()


def test_other_seeds_hold_out_other_points() -> None:
    picks = {tuple(datasets.held_out(40, 0.25, seed)) for seed in range(5)}
    assert len(picks) == 5 and all(len(p) == 10 for p in picks)


def test_inline_data_can_hold_out_points_too() -> None:
    data = "x = [[0, 0], [0, 1], [1, 0], [1, 1]]\ny = [0, 1, 1, 0]\ntest_fraction = 0.25\nseed = 3"
    scenario = parse_scenario(scenario_text(data), where="t.toml", base_dir=None)
    [held] = datasets.held_out(4, 0.25, 3)
    rows = [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert scenario.x_test.tolist() == [rows[held]]
    assert scenario.x.tolist() == [r for i, r in enumerate(rows) if i != held]
    assert scenario.to_dict()["data"]["test_fraction"] == 0.25


def test_inline_data_without_a_split_keeps_its_trace_unchanged() -> None:
    scenario = load_builtin("xor")
    assert scenario.x_test is None and scenario.training().x_test is None
    assert set(scenario.to_dict()["data"]) == {"x", "y"}


@pytest.mark.parametrize("name", ["spiral", "circle"])
def test_the_playground_builtins(name: str) -> None:
    scenario = load_builtin(name)
    assert scenario.x.shape == (80, 2) and scenario.x_test.shape == (20, 2)
    assert set(np.concatenate([scenario.y, scenario.y_test]).ravel()) == {0.0, 1.0}
    assert scenario.to_dict()["data"]["generate"] == name


def test_a_generated_scenario_in_the_trace(run_cli, write_file) -> None:
    path = write_file("g.toml", scenario_text('generate = "circle"\nn = 20\ntest_fraction = 0.1'))
    result = run_cli("trace", "--config", path, "--steps", "1")
    assert result.code == 0, result.err
    data = json.loads(result.out)["scenario"]["data"]
    assert data["generate"] == "circle" and len(data["x"]) == 18 and len(data["x_test"]) == 2


# ------------------------------------------------------------- bad input
BAD = [
    ('generate = "spirals"', "data.generate", "circle, xor, gauss, spiral, plane, multigauss"),
    ("generate = 3", "data.generate", "must be one of"),
    ('generate = "circle"\nn = 0', "data.n", "between 1 and 10000"),
    (f'generate = "circle"\nn = {MAX_POINTS + 1}', "data.n", "got 10001"),
    ('generate = "circle"\nn = 2.5', "data.n", "whole number"),
    ('generate = "circle"\nnoise = -0.1', "data.noise", "at least 0"),
    ('generate = "circle"\nnoise = inf', "data.noise", "finite"),
    ('generate = "circle"\nnoise = "low"', "data.noise", "number"),
    ('generate = "circle"\nseed = -1', "data.seed", "between 0"),
    ('generate = "circle"\nx = [[0, 0]]', "data", "not both"),
    ('generate = "circle"\ntest_fraction = 1.0', "data.test_fraction", "below 1"),
    ('generate = "circle"\ntest_fraction = -0.5', "data.test_fraction", "at least 0"),
    ('generate = "circle"\nn = 10\ntest_fraction = 0.01', "data.test_fraction", "holds out 0"),
    ('generate = "circle"\nn = 10\ntest_fraction = 0.99', "data.test_fraction", "holds out 10"),
    ('generate = "circle"\nn = 1\ntest_fraction = 0.5', "data.test_fraction", "1 point"),
    ("x = [[0, 0]]\ny = [1]\nn = 4", "data.n", "only goes with data.generate"),
    ("x = [[0, 0]]\ny = [1]\nnoise = 0.1", "data.noise", "only goes with data.generate"),
    ('generate = "circle"\nsize = 3', "data.size", "unknown key"),
]


@pytest.mark.parametrize(("data", "key", "words"), BAD)
def test_bad_data_keys_exit_2_in_one_line(run_cli, write_file, data, key, words) -> None:
    path = write_file("bad.toml", scenario_text(data))
    assert_one_line_error(run_cli("trace", "--config", path), f"{path}: {key}: ", words)


@pytest.mark.parametrize(
    ("name", "layers", "output", "key", "words"),
    [
        ("spiral", "[1, 3, 1]", "sigmoid", "network.layers", "[2, …, 1], got [1, 3, 1]"),
        ("circle", "[2, 3, 2]", "sigmoid", "network.layers", "one 0/1 target"),
        ("plane", "[2, 3, 1]", "sigmoid", "network.loss", "use mse or ssr"),
        ("multigauss", "[3, 1]", "identity", "network.layers", "one real target"),
    ],
)
def test_generated_data_must_fit_the_network(
    run_cli, write_file, name, layers, output, key, words
) -> None:
    path = write_file("bad.toml", scenario_text(f'generate = "{name}"', layers, output))
    assert_one_line_error(run_cli("trace", "--config", path), f"{path}: {key}: ", words)


def test_regression_sets_train_an_identity_output() -> None:
    text = scenario_text('generate = "multigauss"\nn = 30', output="identity")
    scenario = parse_scenario(text, where="t.toml", base_dir=None)
    assert scenario.y.shape == (30, 1) and scenario.y.min() < 0
