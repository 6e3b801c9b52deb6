"""Edits as events: every kind under every optimizer replays bit for bit, bad edits change nothing.

A run is its scenario plus its events.  Each test runs, edits, runs on, steps
back across the edit and compares every state with a fresh stepper given the
same events.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from bptui.engine.events import EditError, Event
from bptui.engine.optimizers import OPTIMIZERS, Optimizer
from bptui.engine.stepper import CHECKPOINT_EVERY, Stepper, Training
from bptui.engine.watches import AtStep, GradAbove
from bptui.scenario.loading import load_builtin, parse_scenario
from bptui.scenario.save import scenario_toml

EDITS = [
    ("learning_rate", "learning_rate", 0.3),
    ("param", "w3", -1.25),
    ("x", "x[2,0]", 0.75),
    ("y", "y[1]", 0.25),
    ("trainable", "trainable", ["w1", "w5", "b3"]),
    ("optimizer", "optimizer", "nesterov"),
    ("optimizer", "momentum", 0.5),
    ("optimizer", "beta1", 0.8),
    ("optimizer", "beta2", 0.99),
    ("optimizer", "alpha", 0.9),
    ("optimizer", "eps", 1e-3),
    ("optimizer", "weight_decay", 0.05),
    ("optimizer", "l1", 0.01),
]


def xor(optimizer: str = "sgd", lr: float = 0.5) -> Training:
    return replace(load_builtin("xor").training(), optimizer=Optimizer(optimizer), learning_rate=lr)


def snap(stepper: Stepper) -> tuple:
    """Everything that must be exact: θ, ∂Loss/∂θ, optimizer state, loss, data, α."""
    return (
        stepper.step,
        stepper.theta.tobytes(),
        stepper.grad.tobytes(),
        stepper.state.tobytes(),
        stepper.loss,
        stepper.x.tobytes(),
        stepper.y.tobytes(),
        stepper.learning_rate,
        stepper.optimizer,
        stepper.trainable_mask.tobytes(),
    )


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize(("kind", "name", "new"), EDITS, ids=[f"{k}-{n}" for k, n, _ in EDITS])
def test_edit_step_back_and_replay_are_exact(optimizer: str, kind: str, name: str, new) -> None:
    at = CHECKPOINT_EVERY + 6  # replays start from the checkpoint before the edit
    train = xor(optimizer)
    stepper = Stepper(train)
    history = [snap(stepper)]
    for _ in range(at):
        stepper.step_once()
        history.append(snap(stepper))
    event = stepper.edit(kind, name, new)
    assert event.step == at and event.kind == kind and event.name == name
    edited = snap(stepper)
    assert edited != history[at] or kind == "optimizer"  # most edits move something at once
    stepper.run(40)
    end = snap(stepper)
    assert end[0] == at + 40 and stepper.diverged is None
    # back across the edit: the edited state, then the state before it, then step at − 1
    stepper.goto(at)
    assert snap(stepper) == edited
    assert stepper.back()
    assert snap(stepper) == history[at]
    assert stepper.back()
    assert snap(stepper) == history[at - 1]
    # forward again redoes the edit; the line and its end are unchanged
    stepper.goto(at + 40)
    assert snap(stepper) == end
    assert stepper.events == (event,)
    # a fresh stepper given the event is the same run, bit for bit
    fresh = Stepper(replace(train, events=(event,)))
    fresh.run(at + 40)
    assert snap(fresh) == end
    fresh.goto(at)
    assert snap(fresh) == edited
    stepper.goto(at)
    assert np.array_equal(fresh.record().grad, stepper.record().grad)
    assert fresh.record().loss == stepper.record().loss


def test_an_edit_shows_at_once_in_the_record() -> None:
    stepper = Stepper(xor())
    stepper.run(5)
    before = stepper.record()
    stepper.edit("param", "w1", 2.0)
    after = stepper.record()
    assert after.params["w1"] == 2.0 and before.params["w1"] != 2.0
    assert after.loss == stepper.loss != before.loss
    assert stepper.loss_history[5] == after.loss


def test_the_learning_rate_edit_takes_effect_from_the_next_update() -> None:
    stepper = Stepper(xor(lr=0.5))
    stepper.run(3)
    theta, grad = stepper.theta.copy(), stepper.grad.copy()
    stepper.edit("learning_rate", "learning_rate", 0.125)
    assert np.array_equal(stepper.grad, grad)
    stepper.step_once()
    assert np.array_equal(stepper.theta, theta - 0.125 * grad)


def test_an_edit_in_the_past_starts_a_new_line_and_keeps_the_old_one() -> None:
    stepper = Stepper(xor())
    stepper.run(10)
    first = stepper.edit("learning_rate", "learning_rate", 0.2)
    stepper.run(20)
    assert stepper.last_branch is None
    stepper.goto(15)
    second = stepper.edit("param", "w2", 0.5)
    assert stepper.last_branch == ((first,), 30)
    assert stepper.events == (first, second)
    assert stepper.furthest == 15
    # the kept line replays to what the run was
    old = Stepper(replace(xor(), events=stepper.last_branch[0]))
    old.run(30)
    redo = Stepper(replace(xor(), events=(first,)))
    redo.run(30)
    assert snap(old) == snap(redo)


def test_reset_drops_live_edits_but_keeps_the_scenarios_events() -> None:
    scenario_event = Event(3, "learning_rate", "learning_rate", None, 0.1)
    stepper = Stepper(replace(xor(), events=(scenario_event,)))
    stepper.run(6)
    assert stepper.learning_rate == 0.1
    assert stepper.events[0].old == 0.5  # filled in when the run got there
    stepper.edit("param", "w1", 1.0)
    stepper.reset()
    assert [e.step for e in stepper.events] == [3]
    assert stepper.learning_rate == 0.5 and stepper.step == 0


def test_undo_goes_one_edit_at_a_time() -> None:
    stepper = Stepper(xor())
    stepper.run(4)
    states = [snap(stepper)]
    for value in (0.1, 0.2, 0.3):
        stepper.edit("param", "w1", value)
        states.append(snap(stepper))
    for expected in reversed(states[:-1]):
        assert stepper.back()
        assert snap(stepper) == expected
    assert stepper.back() and stepper.step == 3


def test_a_plain_sgd_run_with_events_leaves_the_fused_path_exactly_at_them() -> None:
    article = load_builtin("article").training()
    live = Stepper(article)
    live.run(100)
    event = live.edit("learning_rate", "learning_rate", 0.02)
    live.run(100)
    fresh = Stepper(replace(article, events=(event,)))
    fresh.run(200)
    assert snap(fresh) == snap(live)
    plain = Stepper(article)
    plain.run(100)
    assert np.array_equal(plain.theta, fresh.theta_at(100))


# ------------------------------------------------------------ bad edits
BAD = [
    (
        "learning_rate",
        "learning_rate",
        -0.1,
        "learning_rate must be a positive finite number, got −0.1",
    ),
    (
        "learning_rate",
        "learning_rate",
        0.0,
        "learning_rate must be a positive finite number, got 0",
    ),
    (
        "learning_rate",
        "learning_rate",
        "fast",
        "learning_rate must be a positive finite number, got 'fast'",
    ),
    ("learning_rate", "learning_rate", float("inf"), "got inf"),
    ("learning_rate", "learning_rate", float("nan"), "got nan"),
    ("param", "w1", float("nan"), "w1 must be a finite number, got nan"),
    ("param", "w1", "1.0", "w1 must be a finite number, got '1.0'"),
    ("param", "w99", 1.0, "no parameter named 'w99'"),
    ("y", "y[1]", 1.5, "y[1] = 1.5 is outside [0, 1], which bce needs"),
    ("y", "y[1]", -0.5, "y[1] = −0.5 is outside [0, 1], which bce needs"),
    ("y", "y[9]", 0.5, "y[9]: there are 4 points"),
    ("x", "x[2]", 0.5, "x has 2 columns, write x[2,column]"),
    ("x", "x[0,5]", 0.5, "x has 2 columns"),
    ("x", "x[0,0]", float("-inf"), "x[0,0] must be a finite number, got −inf"),
    ("trainable", "trainable", ["w1", "zz"], "no parameter named 'zz'"),
    ("trainable", "trainable", "w1", "must be a list of parameter names"),
    (
        "optimizer",
        "optimizer",
        "adamw",
        "optimizer must be one of sgd, momentum, nesterov, rmsprop, adam",
    ),
    ("optimizer", "beta1", 1.0, "beta1 must be in [0, 1), got 1"),
    ("optimizer", "eps", 0.0, "eps must be a positive number, got 0"),
    ("optimizer", "weight_decay", -1.0, "weight_decay must be 0 or more, got −1"),
    ("optimizer", "momentum", True, "momentum must be a number, got True"),
    ("optimizer", "gamma", 0.5, "'gamma' is not an optimizer setting"),
    ("bias", "b1", 0.5, "unknown edit kind 'bias'"),
]


@pytest.mark.parametrize(("kind", "name", "new", "words"), BAD, ids=[b[3][:30] for b in BAD])
def test_bad_edits_are_refused_and_change_nothing(kind, name, new, words) -> None:
    stepper = Stepper(xor("adam"))
    stepper.run(5)
    before = snap(stepper)
    record = stepper.record()
    with pytest.raises(EditError) as error:
        stepper.edit(kind, name, new)
    assert words in str(error.value)
    assert snap(stepper) == before
    assert stepper.events == () and stepper.record() is record


def test_a_refused_edit_in_the_past_keeps_the_future() -> None:
    stepper = Stepper(xor())
    stepper.run(10)
    stepper.goto(4)
    with pytest.raises(EditError):
        stepper.edit("learning_rate", "learning_rate", -1.0)
    assert stepper.furthest == 10 and stepper.last_branch is None


# --------------------------------------------- trace, files and saving
EVENT_FILE = """\
name = "edited"
[network]
layers = [1, 2, 1]
[training]
learning_rate = 0.01
optimizer = "momentum"
[data]
x = [0.1, 0.53, 0.82]
y = [1.2, 3.2, 1.1]

[[event]]
step = 2
kind = "learning_rate"
name = "learning_rate"
new = 0.05

[[event]]
step = 3
kind = "param"
name = "w2"
new = -0.5
"""


def test_the_trace_lists_the_events_with_their_old_values(run_cli, write_file) -> None:
    path = write_file("edited.toml", EVENT_FILE)
    doc = json.loads(run_cli("trace", "--config", path, "--steps", "5").out)
    assert doc["events"] == [
        {"step": 2, "kind": "learning_rate", "name": "learning_rate", "old": 0.01, "new": 0.05},
        {"step": 3, "kind": "param", "name": "w2", "old": doc["events"][1]["old"], "new": -0.5},
    ]
    assert doc["steps"][3]["params"]["w2"] == -0.5
    live = Stepper(parse_scenario(EVENT_FILE.split("[[event]]")[0], "s", None).training())
    live.run(2)
    live.edit("learning_rate", "learning_rate", 0.05)
    live.step_once()
    assert doc["events"][1]["old"] == live.theta[1]
    live.edit("param", "w2", -0.5)
    live.run(2)
    assert doc["steps"][5]["params"] == live.record().params
    short = json.loads(run_cli("trace", "--config", path, "--steps", "2").out)
    assert [e["step"] for e in short["events"]] == [2]


@pytest.mark.parametrize(
    ("table", "words"),
    [
        (
            'step = 1\nkind = "learning_rate"\nnew = -1.0',
            "event[0]: learning_rate must be a positive",
        ),
        ('step = 1\nkind = "param"\nname = "w9"\nnew = 1.0', "event[0]: no parameter named 'w9'"),
        (
            'step = 1\nkind = "y"\nname = "y[0]"\nnew = "high"',
            "event[0]: y[0] must be a finite number",
        ),
        ('step = -1\nkind = "param"\nname = "w1"\nnew = 1.0', "event[0].step: must be at least 0"),
        ('step = 1\nkind = "bias"\nnew = 1.0', "event[0].kind: must be one of"),
        ('step = 1\nkind = "param"\nname = "w1"', "event[0]: needs new"),
        (
            'step = 1\nkind = "optimizer"\nname = "beta2"\nnew = 1.5',
            "event[0]: beta2 must be in [0, 1)",
        ),
        (
            'step = 1\nkind = "param"\nname = "w1"\nnew = 1.0\nold = 2.0',
            "event[0].old: unknown key",
        ),
    ],
)
def test_bad_event_tables_exit_2(run_cli, write_file, table: str, words: str) -> None:
    from cli_support import assert_one_line_error

    text = EVENT_FILE.split("[[event]]")[0] + "[[event]]\n" + table + "\n"
    path = write_file("bad.toml", text)
    assert_one_line_error(run_cli("trace", "--config", path), str(path), words)


def test_events_out_of_step_order_are_refused(run_cli, write_file) -> None:
    from cli_support import assert_one_line_error

    text = EVENT_FILE.replace("step = 3", "step = 1")
    path = write_file("bad.toml", text)
    assert_one_line_error(run_cli("trace", "--config", path), "event[1].step", "step order")


@pytest.mark.parametrize("name", ["xor", "adam", "article", "circle"])
def test_save_load_replay_equals_the_session(name: str) -> None:
    scenario = load_builtin(name)
    stepper = Stepper(scenario.training())
    stepper.run(30)
    stepper.edit("learning_rate", "learning_rate", 0.07)
    stepper.edit("optimizer", "optimizer", "rmsprop")
    stepper.run(10)
    first = stepper.network.param_names[0]
    stepper.edit("param", first, 0.125)
    stepper.edit("y", "y[0]" if stepper.y.shape[1] == 1 else "y[0,0]", 1.0)
    stepper.edit("x", "x[1]" if stepper.x.shape[1] == 1 else "x[1,1]", 0.5)
    stepper.edit("trainable", "trainable", stepper.network.param_names[:3])
    stepper.run(70)
    watches = [AtStep(500), GradAbove(100.0, first)]
    text = scenario_toml(scenario, stepper, watches)
    loaded = parse_scenario(text, "saved.toml", None)
    assert loaded.watches == watches
    replayed = Stepper(loaded.training())
    replayed.goto(stepper.step)
    assert snap(replayed) == snap(stepper)
    assert replayed.events == stepper.events
    assert replayed.loss_history.tobytes() == stepper.loss_history.tobytes()


def test_a_held_out_split_is_saved_so_it_splits_the_same() -> None:
    text = """\
[network]
layers = [2, 3, 1]
activation = "tanh"
output_activation = "sigmoid"
loss = "bce"
[data]
x = [[0, 0], [0, 1], [1, 0], [1, 1], [0.5, 0.5], [0.2, 0.9]]
y = [0, 1, 1, 0, 1, 0]
test_fraction = 0.34
seed = 7
"""
    scenario = parse_scenario(text, "split.toml", None)
    assert scenario.x_test is not None
    stepper = Stepper(scenario.training())
    stepper.run(5)
    loaded = parse_scenario(scenario_toml(scenario, stepper), "saved.toml", None)
    for a, b in ((loaded.x, scenario.x), (loaded.y, scenario.y)):
        assert a.tobytes() == b.tobytes()
    assert loaded.x_test.tobytes() == scenario.x_test.tobytes()


# --------------------------------------------------- the loss histories
def test_batch_and_test_losses_are_kept_through_time_travel() -> None:
    base = xor("adam", lr=0.1)
    train = replace(base, batch_size=2, x_test=base.x[:2] + 0.1, y_test=base.y[:2])
    stepper = Stepper(train)
    assert Stepper(xor()).batch_loss_history is None
    assert Stepper(xor()).test_loss_history is None
    stepper.run(50)
    batch = stepper.batch_loss_history.copy()
    test = stepper.test_loss_history.copy()
    assert len(batch) == len(test) == 51
    net = train.network
    theta = stepper.theta_at(20)
    assert test[20] == net.loss_value(theta, train.x_test, train.y_test)
    rows = stepper.batch_for(20)
    assert batch[20] == pytest.approx(
        net.loss_value(theta, train.x[rows], train.y[rows]), rel=1e-12
    )
    assert stepper.record().test_loss == test[50]
    stepper.goto(20)
    stepper.goto(50)
    assert stepper.batch_loss_history.tobytes() == batch.tobytes()
    assert stepper.test_loss_history.tobytes() == test.tobytes()
