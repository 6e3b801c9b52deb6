"""Runs side by side: forks with one change, and the future an edit in the past replaced."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bptui.engine.events import EditError
from bptui.engine.optimizers import Optimizer
from bptui.engine.runs import MAX_RUNS, Runs, RunsError, change_label
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_builtin


def xor_stepper() -> Stepper:
    return Stepper(replace(load_builtin("xor").training(), learning_rate=0.5))


def snap(stepper: Stepper) -> tuple:
    return (stepper.step, stepper.theta.tobytes(), stepper.state.tobytes(), stepper.loss)


def test_a_fork_continues_from_the_parents_step_with_one_change() -> None:
    runs = Runs(xor_stepper())
    main = runs.current.stepper
    main.run(12)
    fork = runs.fork("learning_rate", "learning_rate", 0.05)
    assert fork.name == "α 0.5 → 0.05"
    assert runs.current.name == "main" and len(runs.runs) == 2
    twin = fork.stepper
    assert twin.step == 12 and twin.learning_rate == 0.05
    assert twin.loss_history.tobytes() == main.loss_history.tobytes()
    main.run(20)
    twin.run(20)
    assert twin.step == main.step == 32  # steps keep their numbers
    assert not np.array_equal(twin.theta, main.theta)
    # the fork is its events replayed: exact, and back across the change is the parent's state
    fresh = Stepper(replace(xor_stepper().training, events=twin.events))
    fresh.run(32)
    assert snap(fresh) == snap(twin)
    twin.goto(12)
    twin.back()
    assert twin.learning_rate == 0.5
    assert np.array_equal(twin.theta, main.theta_at(12))
    # reset keeps what makes the fork a fork
    twin.reset()
    twin.run(32)
    assert snap(twin) == snap(fresh)


def test_forks_by_optimizer_and_parameter_are_named_by_what_differs() -> None:
    runs = Runs(xor_stepper())
    runs.current.stepper.run(5)
    adam = runs.fork("optimizer", "optimizer", "adam")
    w3 = runs.fork("param", "w3", 1.0)
    momentum = runs.fork("optimizer", "momentum", 0.5)
    assert adam.name == "adam"
    assert w3.name.startswith("w3 ") and w3.name.endswith(" → 1")
    assert momentum.name == "μ 0.9 → 0.5"
    assert adam.stepper.optimizer == Optimizer("adam")
    assert len(runs.runs) == 4
    again = runs.fork("optimizer", "optimizer", "adam")
    assert again.name == "adam (2)"
    for run in runs.runs:
        run.stepper.run(10)
    losses = {run.name: run.stepper.loss for run in runs.runs}
    assert losses["adam"] == losses["adam (2)"]
    assert losses["μ 0.9 → 0.5"] == losses["main"]  # sgd has no use for momentum
    assert len({losses["main"], losses["adam"], losses[w3.name]}) == 3


def test_runs_are_capped_with_a_clear_error() -> None:
    runs = Runs(xor_stepper())
    for k in range(MAX_RUNS - 1):
        runs.fork("learning_rate", "learning_rate", 0.1 * (k + 1))
    with pytest.raises(RunsError, match=f"at most {MAX_RUNS}, close one first"):
        runs.fork("learning_rate", "learning_rate", 0.9)
    assert len(runs.runs) == MAX_RUNS
    runs.remove(1)
    assert len(runs.runs) == MAX_RUNS - 1


def test_a_refused_fork_adds_nothing() -> None:
    runs = Runs(xor_stepper())
    with pytest.raises(EditError, match="learning_rate must be a positive finite number"):
        runs.fork("learning_rate", "learning_rate", -1.0)
    assert len(runs.runs) == 1


def test_an_edit_after_going_back_keeps_the_old_future_as_a_run() -> None:
    runs = Runs(xor_stepper())
    main = runs.current.stepper
    main.run(40)
    old_losses = main.loss_history.copy()
    main.goto(10)
    event = runs.edit("learning_rate", "learning_rate", 0.1)
    assert event.step == 10
    kept = runs.runs[1]
    assert kept.name == "before α 0.5 → 0.1"
    assert kept.stepper.step == 40
    assert kept.stepper.loss_history.tobytes() == old_losses.tobytes()
    # an edit at the end of the line keeps nothing
    main.run(5)
    runs.edit("learning_rate", "learning_rate", 0.2)
    assert len(runs.runs) == 2


def test_select_and_remove_move_the_current_run() -> None:
    runs = Runs(xor_stepper())
    runs.fork("optimizer", "optimizer", "rmsprop")
    runs.fork("optimizer", "optimizer", "adam")
    assert runs.select(2).name == "adam" and runs.current.name == "adam"
    runs.remove(0)
    assert runs.current.name == "adam" and runs.index == 1
    with pytest.raises(RunsError, match="no run 5"):
        runs.select(4)
    runs.remove(1)
    assert runs.current.name == "rmsprop"
    with pytest.raises(RunsError, match="only run"):
        runs.remove(0)


def test_change_labels() -> None:
    assert change_label("trainable", "trainable", ["w1"], ["w1", "b3"]) == "trains w1, b3"
    assert change_label("y", "y[1]", 1.0, 0.5) == "y[1] 1 → 0.5"
    assert change_label("param", "w1", -0.25, 1.5) == "w1 −0.25 → 1.5"


# ------------------------------------------------------- another seed
def test_a_seed_fork_draws_step_0_again_and_replays_the_events_to_this_step() -> None:
    runs = Runs(xor_stepper())
    main = runs.current.stepper
    main.run(5)
    main.edit("learning_rate", "learning_rate", 0.2)
    main.run(7)
    fork = runs.fork_with_seed(7.0)  # the dialog's number
    assert fork.name == "seed 7" and runs.current.name == "main"
    twin = fork.stepper
    assert twin.step == 12 and twin.learning_rate == 0.2
    assert twin.initial.tobytes() == main.network.random_init(7).tobytes()
    assert twin.initial.tobytes() != main.initial.tobytes()
    fresh = Stepper(
        replace(main.training, initial=main.network.random_init(7), events=main.applied_events)
    )
    fresh.run(12)
    assert snap(fresh) == snap(twin)
    twin.reset()  # reset keeps the seed: it is the run's step 0
    twin.run(12)
    assert snap(twin) == snap(fresh)


@pytest.mark.parametrize(
    ("seed", "shown"), [("abc", "'abc'"), (1.5, "1.5"), (-1.0, "−1"), (2.0**32, "4294967296")]
)
def test_a_bad_seed_is_refused_and_nothing_is_added(seed: object, shown: str) -> None:
    runs = Runs(xor_stepper())
    with pytest.raises(EditError) as refused:
        runs.fork_with_seed(seed)
    assert str(refused.value) == f"seed must be a whole number from 0 to 4294967295, got {shown}"
    assert len(runs.runs) == 1
