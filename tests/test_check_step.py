"""`bptui check --step N`: the gradient check after N updates, refused past a divergence."""

from __future__ import annotations

import pytest
from cli_support import assert_one_line_error

from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin


def test_check_at_a_later_step_checks_that_steps_gradients(run_cli) -> None:
    result = run_cli("check", "article", "--step", "50")
    assert result.code == 0 and result.err == ""
    stepper = Stepper(load_builtin("article").training())
    stepper.goto(50)
    lines = result.out.splitlines()
    assert lines[0] == f"Gradient check: article, step 50, loss {stepper.loss:.10g}"
    assert lines[-1] == "all gradients agree"
    rows = {line.split()[0]: line.split() for line in lines[2:-1]}
    for name, grad in stepper.record().grads.items():
        assert float(rows[name][1]) == pytest.approx(grad, rel=1e-8, abs=1e-15)
    step0 = run_cli("check", "article").out.splitlines()
    assert step0[0].startswith("Gradient check: article, step 0, ") and step0[2] != lines[2]


def test_a_step_past_the_divergence_exits_2_naming_where(run_cli) -> None:
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(10_000)
    where = stepper.diverged
    assert where is not None
    line = assert_one_line_error(run_cli("check", "diverge", "--step", str(where + 1)))
    assert f"--step {where + 1}: the run diverges at step {where}" in line


def test_the_diverged_step_itself_is_reached_and_cannot_be_compared(run_cli) -> None:
    stepper = Stepper(load_builtin("diverge").training())
    stepper.run(10_000)
    result = run_cli("check", "diverge", "--step", str(stepper.diverged))
    assert result.code == 1
    assert result.out.splitlines()[-1] == (
        f"the loss or a gradient is not finite at step {stepper.diverged}: nothing can be compared"
    )


def test_step_replays_the_scenarios_events(run_cli, write_file) -> None:
    text = """\
[network]
layers = [1, 2, 1]
[data]
x = [0.1, 0.53, 0.82]
y = [1.2, 3.2, 1.1]
[[event]]
step = 1
kind = "param"
name = "w1"
new = 3.0
"""
    path = write_file("e.toml", text)
    out = run_cli("check", "--config", path, "--step", "1").out.splitlines()
    assert [row.split()[0] for row in out[2:3]] == ["w1"]
    from bptui.scenario.loading import load_file

    stepper = Stepper(load_file(path).training())
    stepper.goto(1)
    assert stepper.theta[0] == 3.0
    assert out[0].endswith(f"loss {stepper.loss:.10g}")


def test_step_does_not_go_with_impl(run_cli, write_file) -> None:
    path = write_file("impl.py", "def forward(x):\n    return x\n")
    assert_one_line_error(
        run_cli("check", "article", "--impl", path, "--step", "3"), "--step", "--impl"
    )


def test_a_negative_step_is_refused(run_cli) -> None:
    assert_one_line_error(run_cli("check", "article", "--step", "-2"), "--step")
