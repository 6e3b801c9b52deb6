"""Lesson files: a scenario plus ordered stops, each a step, a phase, a selection and a text.

A teacher writes the walk through a worked example once; ``bptui lesson FILE``
shows each stop's text beside the live app, and every key still works in
between.  The lesson's scenario is a built-in or file (``scenario = "article"``)
or inline ``[network]``/``[training]``/``[data]`` tables, exactly as in a
scenario file.  Every mistake names the file, the stop and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bptui.engine.stepper import Phase, Stepper, phases_for
from bptui.scenario.loading import (
    DocumentParser,
    load_builtin,
    load_file,
    read_input_file,
    read_toml,
    scenario_from_document,
)
from bptui.scenario.model import Scenario

LESSONS = Path(__file__).parent / "lessons"

STOP_KEYS = {"step", "phase", "param", "point", "text", "title"}
TOP_KEYS = {"title", "scenario", "stop"}
#: Keys an inline scenario may use (as in a scenario file).
SCENARIO_KEYS = {"name", "description", "network", "training", "data", "init", "watch"}


@dataclass(frozen=True)
class Stop:
    """One stop: where the run goes, what is selected, and what the text says."""

    step: int
    phase: Phase | None
    param: str | None
    point: int | None  # 0-based; lesson files count points from 1
    title: str
    text: str


@dataclass(frozen=True)
class Lesson:
    """A scenario and its stops, in order."""

    title: str
    scenario: Scenario
    stops: tuple[Stop, ...]
    source: str


def builtin_lesson_names() -> list[str]:
    return sorted(f.name[: -len(".toml")] for f in LESSONS.iterdir() if f.name.endswith(".toml"))


def load_lesson(path: str | Path | None = None) -> Lesson:
    """A lesson file, or the built-in lesson on the article when ``path`` is None."""
    if path is None:
        text = LESSONS.joinpath("article.toml").read_text("utf-8")
        return parse_lesson(text, where="lesson article", base_dir=None)
    path = Path(path)
    text = read_input_file(path, "a lesson file")
    return parse_lesson(text, where=str(path), base_dir=path.parent)


def parse_lesson(text: str, where: str, base_dir: Path | None) -> Lesson:
    return _LessonParser(read_toml(text, where), where, base_dir).lesson()


def parse_phase(text: str, depth: int) -> Phase:
    """``update``, ``forward 2``, ``loss``, ``backward 1`` (``forward layer 2`` too)."""
    for phase in phases_for(depth):
        if text.split() in (phase_name(phase).split(), phase.label.split()):
            return phase
    names = ", ".join(phase_name(p) for p in phases_for(depth))
    raise ValueError(f"must be one of {names}, got {text!r}")


def phase_name(phase: Phase) -> str:
    """A phase as a lesson file writes it."""
    return f"{phase.kind} {phase.layer}" if phase.layer else phase.kind


class _LessonParser(DocumentParser):
    def lesson(self) -> Lesson:
        for key in self.doc:
            if key not in TOP_KEYS | SCENARIO_KEYS:
                allowed = ", ".join(sorted(TOP_KEYS | SCENARIO_KEYS))
                raise self.fail(key, f"unknown key (expected one of {allowed})")
        scenario = self.scenario()
        title = self.doc.get("title", scenario.name)
        if not isinstance(title, str):
            raise self.fail("title", "must be a string")
        tables = self.doc.get("stop")
        if (
            not isinstance(tables, list)
            or not tables
            or any(not isinstance(t, dict) for t in tables)
        ):
            raise self.fail("stop", "needs at least one [[stop]] table")
        stepper = Stepper(scenario.training())
        stops = tuple(self.stop(i, t, scenario, stepper) for i, t in enumerate(tables))
        return Lesson(title, scenario, stops, self.where)

    def scenario(self) -> Scenario:
        inline = {k: v for k, v in self.doc.items() if k in SCENARIO_KEYS}
        name = self.doc.get("scenario")
        if name is not None and inline:
            raise self.fail(
                "scenario", f"give scenario or inline tables ({', '.join(inline)}), not both"
            )
        if name is None:
            if not inline:
                raise self.fail(
                    "scenario",
                    'missing: name one (scenario = "article") or give [network] and [data]',
                )
            return scenario_from_document(inline, self.where, self.base_dir)
        if not isinstance(name, str) or not name:
            raise self.fail("scenario", f"must be a built-in name or a .toml path, got {name!r}")
        if name.endswith(".toml"):
            return load_file(name if self.base_dir is None else self.base_dir / name)
        return load_builtin(name)

    def stop(self, i: int, table: dict[str, Any], scenario: Scenario, stepper: Stepper) -> Stop:
        key = f"stop[{i}]"
        for k in table:
            if k not in STOP_KEYS:
                raise self.fail(
                    f"{key}.{k}", f"unknown key (expected one of {', '.join(sorted(STOP_KEYS))})"
                )
        step = self.step(table, key, stepper)
        phase = self.phase(table, key, step, stepper.network.depth)
        param = table.get("param")
        names = stepper.network.param_names
        if param is not None and param not in names:
            raise self.fail(
                f"{key}.param",
                f"no parameter named {param!r} (this network has {', '.join(names)})",
            )
        point = self.point(table, key, scenario.x.shape[0])
        text = table.get("text")
        if not isinstance(text, str) or not text.strip():
            raise self.fail(
                f"{key}.text", "missing: every stop says something (a few sentences of Markdown)"
            )
        title = table.get("title", f"Stop {i + 1}")
        if not isinstance(title, str):
            raise self.fail(f"{key}.title", "must be a string")
        return Stop(step, phase, param, point, title, text.strip())

    def step(self, table: dict[str, Any], key: str, stepper: Stepper) -> int:
        step = table.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise self.fail(f"{key}.step", f"must be a whole number, 0 or more, got {step!r}")
        if step > stepper.step:
            stepper.goto(step)  # the stops are in order, so the run is walked once
        if stepper.diverged is not None and stepper.diverged < step:
            raise self.fail(
                f"{key}.step", f"the run diverges at step {stepper.diverged}, before step {step}"
            )
        return step

    def phase(self, table: dict[str, Any], key: str, step: int, depth: int) -> Phase | None:
        text = table.get("phase")
        if text is None:
            return None
        if not isinstance(text, str):
            raise self.fail(f"{key}.phase", f'must be a string such as "forward 1", got {text!r}')
        if step == 0:
            raise self.fail(
                f"{key}.phase",
                "step 0 is computed at the start and has no phases to walk; "
                "use step 1 to walk its update, forward, loss and backward",
            )
        try:
            return parse_phase(text, depth)
        except ValueError as e:
            raise self.fail(f"{key}.phase", str(e)) from None

    def point(self, table: dict[str, Any], key: str, count: int) -> int | None:
        point = table.get("point")
        if point is None:
            return None
        if isinstance(point, bool) or not isinstance(point, int) or not 1 <= point <= count:
            raise self.fail(
                f"{key}.point", f"must be a data point from 1 to {count}, got {point!r}"
            )
        return point - 1
