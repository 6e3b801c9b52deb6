"""The article's worked example: its correct numbers (SPEC §1) and its errata.

The errata tests re-enact the article's code in plain numpy, mistakes included,
and check that this reproduces the numbers the article printed — so each
erratum in SPEC §1 is proven to be *the* cause of a printed number — and then
show that the engine computes something different and that the correct step
lowers the loss where the article's step raises it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest

from bptui.engine import functions as fn
from bptui.engine.chain import derivative_counts
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import Scenario, load_builtin, parse_scenario

X = np.array([0.1, 0.53, 0.82])
Y = np.array([1.2, 3.2, 1.1])
ARTICLE_LR = 0.01

#: What the article printed (its code's output), to the digit.
PRINTED_BLUE = [0.718291262698181, 0.8334146592824242, 0.9173954367325202]
PRINTED_YHAT = [1.559208056553835, 1.8091085311575739, 1.9914071495536403]
PRINTED_DERIVATIVE1 = -5.716432424534343
PRINTED_NEW_B3 = -0.05716432424534343
PRINTED_NEW_LOSS = 2.884057087700263


@pytest.fixture
def stepper() -> Stepper:
    return Stepper(load_builtin("article").training())


def b3_only_scenario() -> Scenario:
    """The article scenario with only b3 trainable, like the article's own step."""
    return replace(load_builtin("article"), trainable=("b3",))


def load_builtin_text(name: str) -> str:
    return (
        resources.files("bptui").joinpath("scenario", "builtins", f"{name}.toml").read_text("utf-8")
    )


# ------------------------------------------------------------------ SPEC §1
def test_article_scenario_is_the_articles_network() -> None:
    scenario = load_builtin("article")
    net = scenario.network()
    assert scenario.arch.layers == (1, 2, 1)
    assert scenario.arch.activation == "softplus"
    assert scenario.arch.output_activation == "identity"
    assert scenario.arch.loss == "ssr"
    assert scenario.learning_rate == 0.01  # the article's code (its prose says 0.001)
    assert net.param_names == ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]
    assert net.all_node_names == ["x", "blue", "orange", "green"]
    np.testing.assert_array_equal(scenario.x[:, 0], X)
    np.testing.assert_array_equal(scenario.y[:, 0], Y)


def test_article_init_is_seed_42_normal_draws_in_order(stepper: Stepper) -> None:
    params = stepper.record().params
    assert params["w1"] == pytest.approx(0.4967, abs=5e-5)
    assert params["w2"] == pytest.approx(-0.1383, abs=5e-5)
    assert params["w3"] == pytest.approx(0.6477, abs=5e-5)
    assert params["w4"] == pytest.approx(1.5230, abs=5e-5)
    assert params["b1"] == params["b2"] == params["b3"] == 0.0
    # Exactly the article's code: np.random.seed(42), then four normal(0, 1) draws.
    rng = np.random.RandomState(42)
    for name in ("w1", "w2", "w3", "w4"):
        assert params[name] == rng.normal(0, 1)


def test_article_step0_correct_values(stepper: Stepper) -> None:
    record = stepper.record()
    assert record.loss == pytest.approx(3.0667888, abs=5e-8)
    np.testing.assert_allclose(record.yhat[:, 0], [1.51042, 1.54070, 1.56598], atol=5e-6)
    np.testing.assert_array_equal(record.nodes["green"], record.yhat[:, 0])
    assert record.grads["b3"] == pytest.approx(-1.7658128, abs=5e-8)
    # The node names the article uses, with their values.
    np.testing.assert_allclose(record.nodes["blue"], [0.718, 0.833, 0.917], atol=5e-4)
    np.testing.assert_array_equal(record.nodes["x"], X)


def test_article_one_full_step_lowers_the_loss(stepper: Stepper) -> None:
    before = stepper.loss
    stepper.step_once()
    assert stepper.step == 1
    assert stepper.loss == pytest.approx(2.9817410, abs=5e-8)
    assert stepper.record().loss == stepper.loss
    assert stepper.loss < before


def test_article_b3_only_step_done_right() -> None:
    stepper = Stepper(b3_only_scenario().training())
    start = stepper.record().params
    stepper.step_once()
    params = stepper.record().params
    assert params["b3"] == pytest.approx(0.0176581, abs=5e-8)
    assert stepper.loss == pytest.approx(3.0365433, abs=5e-8)
    assert {k: v for k, v in params.items() if k != "b3"} == {
        k: v for k, v in start.items() if k != "b3"
    }


def test_article_b3_only_step_through_the_cli(run_cli, write_file) -> None:
    """The same numbers from a user's TOML with ``trainable = ["b3"]``."""
    text = load_builtin_text("article").replace("seed = 42", 'seed = 42\ntrainable = ["b3"]')
    path = write_file("b3.toml", text)
    result = run_cli("trace", "--config", path, "--steps", "1")
    assert result.code == 0, result.err
    steps = json.loads(result.out)["steps"]
    assert steps[1]["params"]["b3"] == pytest.approx(0.0176581, abs=5e-8)
    assert steps[1]["loss"] == pytest.approx(3.0365433, abs=5e-8)


# ----------------------------------------------------------------- errata
def article_softplus(x, beta=1.0):
    """The article's own softplus, verbatim."""
    return (1.0 / beta) * np.log(1 + np.exp(beta * x))


def article_ssr(y_true, y_pred):
    """The article's own sum_of_squared_residuals, verbatim."""
    residuals = [t - p for t, p in zip(y_true, y_pred)]
    return sum(r**2 for r in residuals)


def article_run() -> dict[str, object]:
    """The article's code with its mistakes: orange uses w1, b1; derivative1 = −2·SSR; θ + step."""
    rng = np.random.RandomState(42)  # np.random.seed(42)
    w1, w2, w3, w4 = (rng.normal(0, 1) for _ in range(4))
    b1 = b2 = b3 = 0
    blue = [article_softplus(w1 * xi + b1) for xi in X]
    orange = [article_softplus(w1 * xi + b1) for xi in X]  # erratum 2: should be w2, b2
    yhat = [w3 * bl + w4 * og + b3 for bl, og in zip(blue, orange)]
    ssr = article_ssr(Y, yhat)
    derivative1 = -2 * ssr  # erratum 3: should be Σ −2(y − ŷ)
    derivative = derivative1 * 1
    step_size = derivative * ARTICLE_LR
    new_b3 = b3 + step_size  # erratum 4: should be minus
    printed_step_size = derivative  # erratum 5: prints the derivative as "step size"
    new_yhat = [w3 * bl + w4 * og + new_b3 for bl, og in zip(blue, orange)]
    return {
        "w": (w1, w2, w3, w4),
        "b": (b1, b2, b3),
        "blue": blue,
        "orange": orange,
        "yhat": yhat,
        "ssr": ssr,
        "derivative1": derivative1,
        "step_size": step_size,
        "printed_step_size": printed_step_size,
        "new_b3": new_b3,
        "new_loss": article_ssr(Y, new_yhat),
    }


def test_erratum_reenactment_reproduces_the_printed_numbers() -> None:
    run = article_run()
    np.testing.assert_allclose(run["blue"], PRINTED_BLUE, rtol=1e-13)
    np.testing.assert_allclose(run["orange"], PRINTED_BLUE, rtol=1e-13)  # blue == orange
    np.testing.assert_allclose(run["yhat"], PRINTED_YHAT, rtol=1e-13)
    assert run["ssr"] == pytest.approx(2.8582, abs=5e-5)
    assert run["derivative1"] == pytest.approx(PRINTED_DERIVATIVE1, rel=1e-13)
    assert run["derivative1"] == pytest.approx(-2 * run["ssr"], rel=1e-15)
    assert run["new_b3"] == pytest.approx(PRINTED_NEW_B3, rel=1e-13)
    assert run["new_b3"] == pytest.approx(-0.0572, abs=5e-5)
    assert run["new_loss"] == pytest.approx(PRINTED_NEW_LOSS, rel=1e-13)
    assert run["printed_step_size"] == pytest.approx(PRINTED_DERIVATIVE1, rel=1e-13)


def test_erratum_3_and_4_the_articles_step_raises_the_loss() -> None:
    run = article_run()
    assert run["new_loss"] == pytest.approx(2.8841, abs=5e-5)
    assert run["new_loss"] > run["ssr"]  # 2.8582 → 2.8841: the loss RISES
    # On the article's own (buggy) ŷ the right derivative and the right sign
    # lower the loss: it is the rule, not the network, that went wrong.
    yhat = np.array(run["yhat"])
    right_derivative = float(np.sum(-2 * (Y - yhat)))
    assert right_derivative == pytest.approx(-0.2805525, abs=5e-7)
    assert right_derivative != pytest.approx(run["derivative1"], rel=0.5)
    new_yhat = yhat - ARTICLE_LR * right_derivative
    assert float(np.sum((Y - new_yhat) ** 2)) < run["ssr"]


def test_erratum_5_the_printed_step_size_is_the_derivative() -> None:
    run = article_run()
    assert run["printed_step_size"] == run["derivative1"]
    assert run["step_size"] == pytest.approx(run["derivative1"] * ARTICLE_LR)
    assert run["printed_step_size"] != pytest.approx(run["step_size"])


def test_erratum_1_labels_softplus_is_the_activation_and_ssr_the_loss() -> None:
    """The article calls SSR 'softplus' and vice versa; the engine names them right."""
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(fn.ACTIVATIONS["softplus"].value(z), np.log1p(np.exp(z)))
    yhat = np.array([[1.0], [2.0]])
    y = np.array([[0.5], [4.0]])
    assert fn.LOSSES["ssr"].value(yhat, yhat, y) == pytest.approx(0.25 + 4.0)
    scenario = load_builtin("article")
    assert (scenario.arch.activation, scenario.arch.loss) == ("softplus", "ssr")


def test_engine_differs_from_the_article_and_its_step_lowers_the_loss(stepper: Stepper) -> None:
    """Erratum 2: with w2, b2 orange differs from blue; erratum 3/4: the right step."""
    run = article_run()
    record = stepper.record()
    assert not np.allclose(record.nodes["orange"], record.nodes["blue"])
    np.testing.assert_allclose(record.nodes["blue"], PRINTED_BLUE, rtol=1e-13)
    assert np.all(np.abs(record.yhat[:, 0] - PRINTED_YHAT) > 0.04)
    assert record.loss != pytest.approx(run["ssr"], abs=0.1)
    assert record.grads["b3"] != pytest.approx(PRINTED_DERIVATIVE1, abs=1.0)
    # Right derivative: Σ −2(y − ŷ) on the right ŷ.
    assert record.grads["b3"] == pytest.approx(float(np.sum(-2 * (Y - record.yhat[:, 0]))))

    b3_only = Stepper(b3_only_scenario().training())
    b3_only.step_once()
    new_b3 = b3_only.record().params["b3"]
    assert new_b3 == pytest.approx(0.0 - ARTICLE_LR * record.grads["b3"])
    assert new_b3 > 0 > PRINTED_NEW_B3  # the minus sign moves b3 the other way
    assert b3_only.loss < record.loss  # 3.0667888 → 3.0365433: the loss FALLS


def test_article_b3_only_step_equals_plain_numpy() -> None:
    """The correct b3 step, computed from the formulas, not the engine."""
    rng = np.random.RandomState(42)
    w1, w2, w3, w4 = (rng.normal(0, 1) for _ in range(4))
    yhat = w3 * np.logaddexp(0, w1 * X) + w4 * np.logaddexp(0, w2 * X)
    grad_b3 = float(np.sum(-2 * (Y - yhat)))
    new_b3 = 0.0 - ARTICLE_LR * grad_b3
    assert float(np.sum((Y - yhat) ** 2)) == pytest.approx(3.0667888, abs=5e-8)
    assert grad_b3 == pytest.approx(-1.7658128, abs=5e-8)
    assert new_b3 == pytest.approx(0.0176581, abs=5e-8)
    assert float(np.sum((Y - yhat - new_b3) ** 2)) == pytest.approx(3.0365433, abs=5e-8)


# ----------------------------------------------------- chain-rule factors
def test_article_factor_symbols_and_formulas(stepper: Stepper) -> None:
    factors = stepper.record().factors
    b1 = factors["b1"]
    assert [f.symbol for f in b1] == ["∂Loss/∂green", "∂green/∂blue", "∂blue/∂b1"]
    assert [f.formula for f in b1] == ["−2(y − green)", "w3", "sigmoid(z_blue)"]
    assert [f.symbol for f in factors["b3"]] == ["∂Loss/∂green", "∂green/∂b3"]
    assert [f.symbol for f in factors["w3"]] == ["∂Loss/∂green", "∂green/∂w3"]
    assert [f.symbol for f in factors["w4"]] == ["∂Loss/∂green", "∂green/∂w4"]
    assert [f.symbol for f in factors["w2"]] == [
        "∂Loss/∂green",
        "∂green/∂orange",
        "∂orange/∂w2",
    ]
    assert [f.formula for f in factors["w2"]] == ["−2(y − green)", "w4", "sigmoid(z_orange)·x"]


def test_article_factor_values(stepper: Stepper) -> None:
    record = stepper.record()
    p = record.params
    z_blue = p["w1"] * X + p["b1"]
    z_orange = p["w2"] * X + p["b2"]
    yhat = p["w3"] * np.logaddexp(0, z_blue) + p["w4"] * np.logaddexp(0, z_orange)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    expected = {
        "b1": [-2 * (Y - yhat), np.full(3, p["w3"]), sigmoid(z_blue)],
        "w1": [-2 * (Y - yhat), np.full(3, p["w3"]), sigmoid(z_blue) * X],
        "b2": [-2 * (Y - yhat), np.full(3, p["w4"]), sigmoid(z_orange)],
        "w2": [-2 * (Y - yhat), np.full(3, p["w4"]), sigmoid(z_orange) * X],
        "b3": [-2 * (Y - yhat), np.ones(3)],
        "w3": [-2 * (Y - yhat), np.logaddexp(0, z_blue)],
        "w4": [-2 * (Y - yhat), np.logaddexp(0, z_orange)],
    }
    for name, values in expected.items():
        got = [f.values for f in record.factors[name]]
        assert len(got) == len(values), name
        for g, e in zip(got, values):
            np.testing.assert_allclose(g, e, rtol=1e-12, err_msg=name)
        product = np.prod(values, axis=0)
        assert float(np.sum(product)) == pytest.approx(record.grads[name], rel=1e-12)


def test_article_factor_reuse_marking(stepper: Stepper) -> None:
    """∂Loss/∂green is first used by b3 and reused by every other chain."""
    factors = stepper.record().factors
    for name, chain in factors.items():
        head = chain[0]
        assert head.symbol == "∂Loss/∂green"
        assert head.first_use == "b3"
        assert head.reused is (name != "b3"), name
    # ∂green/∂blue is first needed by b1 (backward order b1, w1) and reused by w1.
    assert factors["b1"][1].reused is False
    assert factors["w1"][1].reused is True and factors["w1"][1].first_use == "b1"
    assert factors["b2"][1].reused is False
    assert factors["w2"][1].reused is True and factors["w2"][1].first_use == "b2"
    # Local derivatives are each evaluated once.
    for name, chain in factors.items():
        assert chain[-1].reused is False and chain[-1].first_use == name


def test_article_derivative_counts(stepper: Stepper) -> None:
    """The article's count: 4 derivations for the last layer, 2 + 4 = 6 for the middle."""
    counts = derivative_counts(stepper.network.layers)
    assert counts.backprop_by_layer == {2: 4, 1: 6}
    assert counts.backprop == 10
    # From scratch: b3, w3, w4 need 2 derivatives each; b1, w1, b2, w2 need 3 each.
    assert counts.scratch_by_layer == {2: 3 * 2, 1: 4 * 3}
    assert counts.scratch == 18


def test_article_toml_round_trips_through_parse() -> None:
    text = load_builtin_text("article")
    parsed = parse_scenario(text, where="article.toml", base_dir=None)
    np.testing.assert_array_equal(parsed.initial_theta(), load_builtin("article").initial_theta())
