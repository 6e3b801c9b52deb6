"""How long ``bptui check --impl`` takes on a 784-64-10 relu/softmax net with 256 points.

Writes the scenario (a CSV of random data) and a correct rows-layout
implementation into a temporary folder and times the whole check, as the CLI
runs it: starting the worker process, importing the file, forward, backward
and every comparison.  Prints the best of 3 runs and their spread, for the
whole command (building the scenario's network included) and for the check
alone on an already built stepper.

    .venv/bin/python benchmarks/bench_impl.py
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bptui.debug.impl.check import check_impl, impl_report
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import load_file

LAYERS = (784, 64, 10)
POINTS = 256
RUNS = 3

SCENARIO = f"""\
name = "mnist-shaped"
[network]
layers = {list(LAYERS)}
activation = "relu"
output_activation = "softmax"
loss = "cross_entropy"
[training]
learning_rate = 0.1
seed = 0
[data]
csv = "points.csv"
"""

IMPLEMENTATION = """\
import numpy as np

LAYOUT = "rows"


def forward(params, X):
    Z1 = X @ params["W1"] + params["b1"]
    A1 = np.maximum(Z1, 0)
    Z2 = A1 @ params["W2"] + params["b2"]
    e = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), (Z1, A1)


def backward(params, X, Y, cache):
    Z1, A1 = cache
    A2, _ = forward(params, X)
    dZ2 = (A2 - Y) / X.shape[0]
    dA1 = dZ2 @ params["W2"].T
    dZ1 = dA1 * (Z1 > 0)
    return {
        "dZ2": dZ2, "dW2": A1.T @ dZ2, "db2": dZ2.sum(axis=0),
        "dA1": dA1, "dZ1": dZ1, "dW1": X.T @ dZ1, "db1": dZ1.sum(axis=0),
        "dA0": dZ1 @ params["W1"].T,
    }
"""


def write_files(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.random((POINTS, LAYERS[0]))
    y = np.eye(LAYERS[-1])[rng.integers(0, LAYERS[-1], POINTS)]
    header = [f"x{i}" for i in range(LAYERS[0])] + [f"y{i}" for i in range(LAYERS[-1])]
    rows = [",".join(header)] + [",".join(f"{v:.6g}" for v in row) for row in np.hstack([x, y])]
    (folder / "points.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "net.toml").write_text(SCENARIO, encoding="utf-8")
    (folder / "impl.py").write_text(IMPLEMENTATION, encoding="utf-8")
    return folder / "net.toml", folder / "impl.py"


def timed(run: Callable[[], bool]) -> list[float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        ok = run()
        times.append(time.perf_counter() - start)
        assert ok
    return times


def show(what: str, times: list[float]) -> None:
    best, worst = min(times), max(times)
    print(f"  {what:<44} best {best * 1000:5.0f} ms, spread {(worst - best) * 1000:4.0f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scenario_path, impl_path = write_files(Path(tmp))
        scenario = load_file(scenario_path)
        whole = timed(lambda: impl_report(scenario, str(impl_path))[1])
        stepper = Stepper(scenario.training())
        alone = timed(lambda: check_impl(str(impl_path), stepper, "bench").ok)
    print(f"bptui check --impl, {'-'.join(map(str, LAYERS))}, {POINTS} points, {RUNS} runs")
    show("as the CLI runs it (bar: 1000 ms)", whole)
    show("the check alone (net and stepper built before)", alone)


if __name__ == "__main__":
    main()
