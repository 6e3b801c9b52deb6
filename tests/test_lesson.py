"""Lesson files: the built-in lesson's numbers are the engine's, and bad files name stop and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bptui.engine.stepper import Phase, Stepper
from bptui.errors import ScenarioError
from bptui.scenario.lesson import load_lesson, parse_phase
from bptui.scenario.loading import load_builtin


def six(value: float) -> str:
    """A number as the lesson writes it: six decimals, typographic minus."""
    return f"{value:.6f}".replace("-", "−")


def test_builtin_lesson_walks_the_articles_story() -> None:
    lesson = load_lesson()
    assert lesson.scenario.name == "article"
    assert [s.title for s in lesson.stops] == [
        "The forward pass",
        "The loss: sum of squared residuals",
        "The derivative for b3",
        "The chain for w1, and what backprop reuses",
        "The update",
        "Where the article went wrong",
    ]
    assert [(s.step, s.phase, s.param) for s in lesson.stops] == [
        (0, None, "b3"),
        (0, None, None),
        (0, None, "b3"),
        (0, None, "w1"),
        (1, Phase("update"), "b3"),
        (1, None, "b3"),
    ]


def test_every_number_in_the_builtin_lesson_is_the_engines() -> None:
    stops = load_lesson().stops
    stepper = Stepper(load_builtin("article").training())
    rec = stepper.record()
    nodes, z = rec.nodes, rec.pre_activations
    forward = stops[0].text
    for value in (
        z["blue"][0],
        nodes["blue"][0],
        z["orange"][0],
        nodes["orange"][0],
        nodes["green"][0],
        rec.params["w1"],
        rec.params["w2"],
    ):
        assert six(value) in forward, six(value)
    loss_text = stops[1].text
    assert all(six(v) in loss_text for v in rec.point_loss)
    assert six(rec.loss) in loss_text
    b3 = stops[2].text
    assert all(six(v) in b3 for v in rec.factors["b3"][0].values)
    assert six(rec.grads["b3"]) in b3
    w1 = stops[3].text
    assert six(rec.grads["w1"]) in w1
    assert [f.reused for f in rec.factors["w1"]] == [True, True, False]
    assert "10 derivatives instead of 18" in w1
    update = stops[4].text
    alpha = stepper.learning_rate
    assert f"α = {alpha:g}" in update
    stepper.step_once()
    assert six(stepper.record().params["b3"]) in update
    assert f"α·∂Loss/∂θ = {six(alpha * rec.grads['b3'])}" in update  # the step size
    assert six(stepper.loss) in update


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('scenario = "article"\n', "stop: needs at least one [[stop]] table"),
        ('scenario = "article"\n[[stop]]\nstep = 0\n', "stop[0].text: missing"),
        ('scenario = "article"\n[[stop]]\nstep = -1\ntext = "a"\n', "stop[0].step: must be"),
        (
            'scenario = "article"\n[[stop]]\nstep = 1\nphase = "forward 3"\ntext = "a"\n',
            "stop[0].phase: must be one of update, forward 1, forward 2, loss, backward 2, backward 1",
        ),
        (
            'scenario = "article"\n[[stop]]\nstep = 0\nphase = "update"\ntext = "a"\n',
            "stop[0].phase: step 0",
        ),
        (
            'scenario = "article"\n[[stop]]\nstep = 0\nparam = "w9"\ntext = "a"\n',
            "stop[0].param: no parameter named 'w9'",
        ),
        (
            'scenario = "article"\n[[stop]]\nstep = 0\npoint = 4\ntext = "a"\n',
            "stop[0].point: must be a data point from 1 to 3",
        ),
        (
            'scenario = "article"\n[[stop]]\nstep = 0\ntext = "a"\nwhen = 1\n',
            "stop[0].when: unknown key",
        ),
        (
            'scenario = "diverge"\n[[stop]]\nstep = 500\ntext = "a"\n',
            "stop[0].step: the run diverges at step",
        ),
        ('scenario = "nope"\n[[stop]]\nstep = 0\ntext = "a"\n', "unknown scenario 'nope'"),
        ('[[stop]]\nstep = 0\ntext = "a"\n', "scenario: missing"),
        ("x = [[[", "invalid TOML"),
    ],
)
def test_bad_lesson_files_name_the_stop_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "lesson.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_lesson(path)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_inline_scenario_lesson(tmp_path: Path) -> None:
    path = tmp_path / "lesson.toml"
    path.write_text(
        'title = "tiny"\n[network]\nlayers = [1, 1]\n[data]\nx = [1.0]\ny = [2.0]\n'
        '[[stop]]\nstep = 1\nphase = "backward 1"\ntext = "done"\n',
        encoding="utf-8",
    )
    lesson = load_lesson(path)
    assert lesson.title == "tiny" and lesson.scenario.arch.layers == (1, 1)
    assert lesson.stops[0].phase == Phase("backward", 1)


def test_phase_names_follow_the_engines_order() -> None:
    assert parse_phase("forward layer 2", 2) == parse_phase("forward 2", 2) == Phase("forward", 2)
    with pytest.raises(ValueError, match="update, forward 1, loss, backward 1"):
        parse_phase("sideways", 1)
