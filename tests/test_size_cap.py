"""The size cap covers parameters × points and the data itself, not parameters alone.

A record holds every parameter's chain for every point, so a net under the
parameter cap could still not be built: 1,000 points of 784 inputs into a
784-64-10 net asked for ~7 GB and ended in a MemoryError traceback.  Each case
is exit 2 with one line naming the file and the key, before anything is built.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_one_line_error

from bptui.scenario import loading
from bptui.scenario.loading import MAX_PARAMETER_POINTS, load_file

MNIST_LIKE = """\
name = "mnist-shaped"
[network]
layers = [784, 64, 10]
activation = "relu"
output_activation = "softmax"
loss = "cross_entropy"
[data]
csv = "points.csv"
"""


def mnist_like(folder: Path, points: int) -> Path:
    rng = np.random.default_rng(0)
    table = np.hstack([rng.random((points, 784)), np.eye(10)[rng.integers(0, 10, points)]])
    header = ",".join([f"x{i}" for i in range(784)] + [f"y{i}" for i in range(10)])
    np.savetxt(folder / "points.csv", table, fmt="%.3g", delimiter=",", header=header, comments="")
    path = folder / "net.toml"
    path.write_text(MNIST_LIKE, encoding="utf-8")
    return path


def test_a_thousand_784_input_points_are_one_line_not_a_memory_error(run_cli, tmp_path) -> None:
    path = mnist_like(tmp_path, 1000)
    start = time.monotonic()
    result = run_cli("trace", "--steps", "0", "--config", path)
    assert time.monotonic() - start < 20
    line = assert_one_line_error(result, f"{path}: data.csv: ")
    assert "1,000 points × 50,890 parameters = 50,890,000" in line
    assert f"at most {MAX_PARAMETER_POINTS:,}" in line
    assert f"at most {MAX_PARAMETER_POINTS // 50_890:,} points for this network" in line


def test_the_largest_benchmarked_net_still_loads(tmp_path) -> None:
    """784-64-10 with 256 points (13,027,840 parameter-points) is under the cap."""
    scenario = load_file(mnist_like(tmp_path, 256))
    assert scenario.x.shape == (256, 784)
    assert scenario.network().size * 256 <= MAX_PARAMETER_POINTS


def test_as_many_points_as_the_message_allows_load(tmp_path) -> None:
    """The message's "at most N points" is true: N load, N + 1 do not."""
    allowed = MAX_PARAMETER_POINTS // 50_890
    load_file(mnist_like(tmp_path, allowed))
    with pytest.raises(loading.ScenarioError, match="data.csv"):
        load_file(mnist_like(tmp_path, allowed + 1))


def test_generated_points_count_too(run_cli, write_file) -> None:
    path = write_file(
        "wide.toml",
        '[network]\nlayers = [2, 300, 300, 1]\nloss = "bce"\noutput_activation = "sigmoid"\n'
        '[data]\ngenerate = "circle"\nn = 200\n',
    )
    line = assert_one_line_error(run_cli("trace", "--config", path), f"{path}: data.n: ")
    assert "200 points × 91,501 parameters = 18,300,200" in line


def test_inline_points_count_too(run_cli, write_file) -> None:
    rows = ", ".join(["[0.5]"] * 1400)
    path = write_file(
        "inline.toml", f"[network]\nlayers = [1, 4000, 1]\n[data]\nx = [{rows}]\ny = [{rows}]\n"
    )
    line = assert_one_line_error(run_cli("trace", "--config", path), f"{path}: data.x: ")
    assert "1,400 points × 12,001 parameters = 16,801,400" in line


def test_a_csv_past_the_data_cap_stops_being_read(run_cli, write_file, monkeypatch) -> None:
    monkeypatch.setattr(loading, "MAX_DATA_VALUES", 100)
    write_file("points.csv", "x,y\n" + "".join(f"{i},{i}\n" for i in range(60)))
    path = write_file("net.toml", '[network]\nlayers = [1, 1]\n[data]\ncsv = "points.csv"\n')
    line = assert_one_line_error(run_cli("trace", "--config", path), f"{path}: data.csv: ")
    assert line.endswith("more than 100 values (2 a row): stopped reading at line 52")
    write_file("points.csv", "x,y\n" + "".join(f"{i},{i}\n" for i in range(50)))
    assert load_file(path).x.shape == (50, 1)  # exactly 100 values: read


def test_inline_data_past_the_data_cap_is_one_line(run_cli, write_file, monkeypatch) -> None:
    monkeypatch.setattr(loading, "MAX_DATA_VALUES", 100)
    rows = ", ".join(["[0.5]"] * 101)
    path = write_file(
        "net.toml", f"[network]\nlayers = [1, 1]\n[data]\nx = [{rows}]\ny = [{rows}]\n"
    )
    assert_one_line_error(
        run_cli("trace", "--config", path),
        f"{path}: data.x: 101 rows × 1 = 101 values, more than 100",
    )
