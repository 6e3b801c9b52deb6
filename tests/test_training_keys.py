"""[training] optimizer keys: parsed into the Training, bad values exit 2 naming the key."""

from __future__ import annotations

import json

import pytest
from cli_support import assert_one_line_error

from bptui.engine.optimizers import OPTIMIZERS, Optimizer
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin, parse_scenario

BASE = """\
[network]
layers = [1, 2, 1]
[training]
learning_rate = 0.01
{extra}
[data]
x = [0.1, 0.53, 0.82]
y = [1.2, 3.2, 1.1]
"""


def scenario(extra: str):
    return parse_scenario(BASE.format(extra=extra), "s.toml", None)


def test_every_key_reaches_the_training() -> None:
    text = (
        'optimizer = "rmsprop"\nmomentum = 0.5\nbeta1 = 0.8\nbeta2 = 0.99\n'
        "alpha = 0.9\neps = 1e-6\nweight_decay = 0.01\nl1 = 0.002"
    )
    assert scenario(text).training().optimizer == Optimizer(
        "rmsprop", 0.5, 0.8, 0.99, 0.9, 1e-6, 0.01, 0.002
    )
    assert scenario("").training().optimizer == Optimizer()


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('optimizer = "adamw"', "training.optimizer", ", ".join(OPTIMIZERS)),
        ("optimizer = 3", "training.optimizer", "must be one of"),
        ("beta1 = 1.0", "training.beta1", "[0, 1)"),
        ("beta2 = -0.1", "training.beta2", "[0, 1)"),
        ("momentum = 1.5", "training.momentum", "[0, 1)"),
        ("alpha = 1", "training.alpha", "[0, 1)"),
        ("eps = 0", "training.eps", "positive"),
        ("eps = -1e-8", "training.eps", "positive"),
        ('eps = "small"', "training.eps", "must be a number, got 'small'"),
        ("weight_decay = -0.1", "training.weight_decay", "0 or more"),
        ("l1 = inf", "training.l1", "finite"),
        ("l1 = nan", "training.l1", "finite"),
        ("beta1 = true", "training.beta1", "must be a number"),
    ],
)
def test_bad_optimizer_values_exit_2_naming_the_key(run_cli, write_file, extra, key, words) -> None:
    path = write_file("bad.toml", BASE.format(extra=extra))
    line = assert_one_line_error(run_cli("trace", "--config", path), str(path), key, words)
    assert "\u2212" not in line  # files and the CLI keep the ASCII minus


def test_negative_learning_rate_still_refused(run_cli, write_file) -> None:
    path = write_file("bad.toml", BASE.format(extra="").replace("0.01", "-0.1"))
    assert_one_line_error(run_cli("trace", "--config", path), "training.learning_rate", "-0.1")


def test_the_adam_builtin_trains_and_its_trace_carries_the_state(run_cli) -> None:
    assert load_builtin("adam").optimizer.name == "adam"
    result = run_cli("trace", "adam", "--steps", "3")
    doc = json.loads(result.out)
    assert doc["scenario"]["training"]["optimizer"] == "adam"
    assert doc["scenario"]["training"]["beta2"] == 0.999
    last = doc["steps"][3]
    assert set(last["optimizer"]) == {"t", "m", "v"}
    assert last["optimizer"]["t"]["w1"] == 3
    assert "penalty" not in last and "events" not in doc
    assert doc["steps"][0]["optimizer"]["m"]["w1"] == 0.0
    assert doc["steps"][3]["loss"] < doc["steps"][0]["loss"]


def test_a_penalty_is_in_the_trace(run_cli, write_file) -> None:
    path = write_file("p.toml", BASE.format(extra="weight_decay = 0.5\nl1 = 0.25"))
    doc = json.loads(run_cli("trace", "--config", path, "--steps", "1").out)
    record = doc["steps"][1]
    assert record["optimizer"] == {"t": dict.fromkeys(record["params"], 1)}  # sgd: a count only
    for name, value in record["params"].items():
        sign = (value > 0) - (value < 0)
        assert record["penalty"][name] == pytest.approx(0.5 * value + 0.25 * sign, abs=1e-15)
    assert doc["scenario"]["training"]["weight_decay"] == 0.5


def test_plain_sgd_traces_gain_no_fields(run_cli) -> None:
    doc = json.loads(run_cli("trace", "article", "--steps", "1").out)
    assert set(doc) == {"scenario", "parameters", "diverged", "steps"}
    assert "optimizer" not in doc["scenario"]["training"]
    assert not {"optimizer", "penalty", "test_loss"} & set(doc["steps"][1])


def test_records_carry_the_test_loss_when_points_are_held_out(run_cli) -> None:
    scenario = load_builtin("circle")
    assert scenario.x_test is not None
    doc = json.loads(run_cli("trace", "circle", "--steps", "2").out)
    stepper = Stepper(scenario.training())
    stepper.run(2)
    net = stepper.network
    expected = net.loss_value(stepper.theta, scenario.x_test, scenario.y_test)
    assert doc["steps"][2]["test_loss"] == pytest.approx(expected, rel=1e-12)
    assert doc["steps"][2]["test_loss"] == stepper.test_loss_history[2]
    assert doc["steps"][2]["test_loss"] != doc["steps"][2]["loss"]
