"""A net at the parameter cap in the TUI: launch, a step, a frame of the parameters pane.

``[1, 314, 314, 1]`` (99,853 parameters, three points) at 140×45, driven by
Textual's pilot: seconds from creating the app to the first status line with
``Loss``, from pressing ``s`` to ``Step N`` on screen, one ``refresh_view``
and one ``ParametersPane.show``.  ``--tree DIR`` measures another checkout
(its ``bptui`` is imported first), so before and after run the same code.

    .venv/bin/python benchmarks/bench_bignet.py [--tree /tmp/old] [--steps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

SCENARIO = """name = "cap"
[network]
layers = [1, 314, 314, 1]
activation = "tanh"
output_activation = "identity"
loss = "mse"
[training]
learning_rate = 0.01
seed = 1
[data]
x = [0.1, 0.5, 0.9]
y = [0.2, 0.4, 0.1]
"""


def screen_text(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def until(pilot, condition) -> None:  # type: ignore[no-untyped-def]
    while not condition():
        await pilot.pause(0.01)


async def measure(steps: int) -> dict[str, float | list[float]]:
    from bptui.scenario.loading import parse_scenario
    from bptui.tui.app import make_app
    from bptui.tui.widgets.parameters import ParametersPane

    started = time.perf_counter()
    app = make_app(parse_scenario(SCENARIO, "cap.toml", None), size=(140, 45))
    result: dict[str, float | list[float]] = {}
    async with app.run_test() as pilot:
        await until(pilot, lambda: "Loss" in screen_text(app).split("\n")[0])
        result["launch_s"] = time.perf_counter() - started
        step_times = []
        for n in range(1, steps + 1):
            pressed = time.perf_counter()
            await pilot.press("s")
            await until(pilot, lambda n=n: f"Step {n} " in screen_text(app).split("\n")[0])
            step_times.append(time.perf_counter() - pressed)
        result["step_s"] = step_times
        began = time.perf_counter()
        app.refresh_view()
        result["refresh_view_s"] = time.perf_counter() - began
        pane = app.query_one(ParametersPane)
        began = time.perf_counter()
        pane.show(app.view)
        result["parameters_show_s"] = time.perf_counter() - began
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="a checkout to measure instead of this one")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    if args.tree:
        sys.path.insert(0, str(args.tree.resolve()))
    result = asyncio.run(measure(args.steps))
    import bptui

    print(f"tree: {Path(bptui.__file__).parent.parent}")
    for key, value in result.items():
        shown = ", ".join(f"{v:.2f}" for v in value) if isinstance(value, list) else f"{value:.3f}"
        print(f"{key:>18}: {shown}")


if __name__ == "__main__":
    main()
