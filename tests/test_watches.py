"""Watches stop a run on exactly the step their condition first holds.

Each expected step is found independently, by stepping a watch-free stepper
one step at a time and testing the condition by hand; the watched run must
stop there, say why, and not fire at all on a run where the condition never
holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bptui.engine.stepper import Stepper
from bptui.engine.watches import (
    AtStep,
    GradAbove,
    GradBelow,
    LossRises,
    NonFinite,
    ParamCrosses,
    Watch,
    stop_on,
)
from bptui.errors import ScenarioError
from bptui.scenario.loading import load_builtin, load_file
from bptui.scenario.model import Scenario
from bptui.scenario.watches import make_watch

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "watches.toml"
LIMIT = 3000


def article(learning_rate: float = 0.01) -> Scenario:
    return dataclasses.replace(load_builtin("article"), learning_rate=learning_rate)


def first_step(scenario: Scenario, condition: Callable[[Stepper, Stepper], bool]) -> int | None:
    """The first step k ≥ 1 whose state satisfies ``condition(now, before)``, by hand."""
    now, before = Stepper(scenario.training()), Stepper(scenario.training())
    for k in range(1, LIMIT + 1):
        now.step_once()
        if condition(now, before):
            return k
        if now.diverged is not None:
            return None
        before.step_once()
    return None


def watched(scenario: Scenario, watch: Watch) -> Stepper:
    stepper = Stepper(scenario.training())
    stepper.run(LIMIT, stop_on([watch]))
    return stepper


def test_loss_rises_fires_on_the_first_rise() -> None:
    scenario = article(0.1)
    expected = first_step(scenario, lambda now, before: now.loss > before.loss)
    assert expected == 2
    stepper = watched(scenario, LossRises())
    assert stepper.step == expected
    assert stepper.loss > float(stepper.loss_history[expected - 1])
    assert stepper.stop_reason == (
        f"watch loss rises: loss went up {stepper.loss_history[1]:.6g} → "
        f"{stepper.loss:.6g} on step 2"
    )


def test_loss_rises_does_not_fire_while_the_loss_falls() -> None:
    stepper = watched(article(0.01), LossRises())
    assert stepper.step == LIMIT and stepper.stop_reason is None
    assert np.all(np.diff(stepper.loss_history) <= 0)


def test_grad_above_fires_when_the_gradient_explodes() -> None:
    scenario = load_builtin("diverge")
    expected = first_step(scenario, lambda now, _: np.abs(now.grad).max() > 100)
    assert expected is not None and expected > 1
    stepper = watched(scenario, GradAbove(100.0))
    assert stepper.step == expected and stepper.diverged is None
    name = stepper.network.param_names[int(np.abs(stepper.grad).argmax())]
    assert stepper.stop_reason.startswith(f"watch |gradient| > 100: |∂Loss/∂{name}| = ")
    assert stepper.stop_reason.endswith(f"exploded past 100 on step {expected}")


def test_grad_above_for_one_parameter_and_not_otherwise() -> None:
    scenario = load_builtin("diverge")
    expected = first_step(scenario, lambda now, _: abs(now.record().grads["b1"]) > 50)
    assert expected is not None
    stepper = watched(scenario, GradAbove(50.0, param="b1"))
    assert stepper.step == expected
    assert "|∂Loss/∂b1| = " in stepper.stop_reason
    # w1's gradient stays below 50 all the way to the divergence: no firing.
    assert watched(scenario, GradAbove(50.0, param="w1")).stop_reason is None
    quiet = watched(article(0.01), GradAbove(100.0))
    assert quiet.step == LIMIT and quiet.stop_reason is None


def test_grad_below_fires_when_every_gradient_has_vanished() -> None:
    scenario = article(0.03)
    expected = first_step(scenario, lambda now, _: np.abs(now.grad).max() < 0.01)
    assert expected is not None
    stepper = watched(scenario, GradBelow(0.01))
    assert stepper.step == expected
    assert np.abs(stepper.grad).max() < 0.01
    assert "vanished below 0.01 on step" in stepper.stop_reason
    quiet = watched(article(0.03), GradBelow(1e-12))
    assert quiet.step == LIMIT and quiet.stop_reason is None


def test_grad_below_ignores_frozen_parameters() -> None:
    # Only b3 trains: its gradient vanishes quickly, the frozen ones never do.
    scenario = dataclasses.replace(article(0.1), trainable=("b3",))
    expected = first_step(scenario, lambda now, _: abs(now.record().grads["b3"]) < 1e-6)
    stepper = watched(scenario, GradBelow(1e-6))
    assert stepper.step == expected
    assert "∂Loss/∂b3" in stepper.stop_reason


def test_nonfinite_names_the_diverged_step() -> None:
    scenario = load_builtin("diverge")
    expected = first_step(scenario, lambda now, _: not np.isfinite(now.loss))
    stepper = watched(scenario, NonFinite())
    assert stepper.step == expected == stepper.diverged
    assert stepper.stop_reason == f"watch non-finite value: the loss is inf on step {expected}"
    quiet = watched(article(0.01), NonFinite())
    assert quiet.stop_reason is None and quiet.diverged is None


def test_at_step_stops_there_and_only_there() -> None:
    stepper = Stepper(article().training())
    stop = stop_on([AtStep(50)])
    assert stepper.run(1000, stop) == 50
    assert stepper.step == 50
    assert stepper.stop_reason == f"watch at step 50: reached step 50 (loss {stepper.loss:.6g})"
    assert stepper.run(30, stop) == 30  # past it: no more firing
    assert stepper.step == 80 and stepper.stop_reason is None


def test_param_crosses_fires_on_the_crossing_step() -> None:
    scenario = article()
    k = Stepper(scenario.training()).network.param_index["w2"]
    expected = first_step(scenario, lambda now, before: before.theta[k] < 0 <= now.theta[k])
    stepper = watched(scenario, ParamCrosses("w2", 0.0))
    assert stepper.step == expected == 342
    before, after = stepper.previous_theta[k], stepper.theta[k]
    assert before < 0 < after
    assert stepper.stop_reason == (
        f"watch w2 crosses 0: w2 went {before:.6g} → {after:.6g} on step 342"
    )
    quiet = watched(scenario, ParamCrosses("w1", 5.0))
    assert quiet.stop_reason is None


def test_first_watch_to_fire_wins_and_the_run_resumes() -> None:
    scenario = load_file(EXAMPLE)
    stepper = Stepper(scenario.training())
    assert [w.to_dict() for w in scenario.watches] == [
        {"kind": "param_crosses", "param": "w2", "value": 0.0},
        {"kind": "loss_rises"},
        {"kind": "nonfinite"},
        {"kind": "grad_below", "value": 0.01},
        {"kind": "at_step", "step": 1000},
    ]
    stop = stop_on(scenario.watches)
    assert stepper.run(5000, stop) == 342
    assert stepper.stop_reason.startswith("watch w2 crosses 0")
    assert stepper.run(5000, stop) == 1000 - 342
    assert stepper.stop_reason.startswith("watch at step 1000")


# ------------------------------------------------------------ the format
@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({}, "watch[0].kind: missing (one of loss_rises, grad_above"),
        (
            {"kind": "loss_up"},
            "watch[0].kind: must be one of loss_rises, grad_above, grad_below, nonfinite, at_step, param_crosses, got 'loss_up'",
        ),
        ({"kind": "grad_above"}, "watch[0].value: missing (kind 'grad_above' needs value)"),
        ({"kind": "grad_above", "value": "big"}, "watch[0].value: must be a number, got 'big'"),
        (
            {"kind": "grad_below", "value": 0},
            "watch[0].value: a gradient bound must be positive, got 0",
        ),
        (
            {"kind": "grad_above", "value": 1, "param": "w9"},
            "watch[0].param: no parameter named 'w9' (this network has w1, w2, w3, w4, b1, b2, b3)",
        ),
        (
            {"kind": "at_step", "step": 0},
            "watch[0].step: must be a whole number of at least 1, got 0",
        ),
        (
            {"kind": "at_step", "step": 2.5},
            "watch[0].step: must be a whole number of at least 1, got 2.5",
        ),
        (
            {"kind": "param_crosses", "param": "w1"},
            "watch[0].value: missing (kind 'param_crosses' needs param, value)",
        ),
        (
            {"kind": "loss_rises", "value": 1},
            "watch[0].value: unknown key for kind 'loss_rises' (expected kind)",
        ),
        ({"kind": "nonfinite", "step": 3}, "watch[0].step: unknown key for kind 'nonfinite'"),
        ({"kind": ["loss_rises"]}, "watch[0].kind: must be one of loss_rises, "),
        ({"kind": {"a": 1}}, "watch[0].kind: must be one of loss_rises, "),
    ],
)
def test_bad_watch_table_names_index_and_key(table, expected) -> None:
    with pytest.raises(ScenarioError) as info:
        make_watch(table, ["w1", "w2", "w3", "w4", "b1", "b2", "b3"], "watch[0]")
    assert expected in str(info.value)


def test_bad_watch_in_a_file_is_exit_2_naming_file_index_and_key(write_file, run_cli) -> None:
    text = EXAMPLE.read_text(encoding="utf-8") + '\n[[watch]]\nkind = "at_step"\nstep = -4\n'
    path = write_file("w.toml", text)
    with pytest.raises(ScenarioError, match=r"w\.toml: watch\[5\]\.step: must be a whole number"):
        load_file(path)
    result = run_cli("check", "--config", path)
    assert result.code == 2
    assert result.err == (
        f"bptui: error: {path}: watch[5].step: must be a whole number of at least 1, got -4\n"
    )


def test_watch_must_be_an_array_of_tables(write_file) -> None:
    text = 'watch = "loss"\n' + EXAMPLE.read_text(encoding="utf-8").split("\n[[watch]]")[0]
    with pytest.raises(ScenarioError, match="watch: must be an array of tables"):
        load_file(write_file("w.toml", text))


def test_watches_survive_round_trip_through_to_dict() -> None:
    names = ["w1", "b1"]
    for watch in [
        LossRises(),
        GradAbove(3.0),
        GradAbove(3.0, "w1"),
        GradBelow(1e-8),
        NonFinite(),
        AtStep(7),
        ParamCrosses("b1", -0.5),
    ]:
        assert make_watch(watch.to_dict(), names) == watch
