"""Every bad scenario of the scenario format through the CLI: exit 2, one line on stderr
naming the file and the key or row, no traceback, nothing on stdout.

Each case starts from a valid article-like scenario and breaks one thing, so
the message must point at that one thing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bptui.engine import functions as fn
from bptui.engine.network import Architecture, Network

VALID = """\
name = "valid"
[network]
layers = [1, 2, 1]
activation = "softplus"
output_activation = "identity"
loss = "ssr"
node_names = ["x", "blue", "orange", "green"]

[training]
learning_rate = 0.01
seed = 42

[data]
x = [0.1, 0.53, 0.82]
y = [1.2, 3.2, 1.1]
"""

TWO_IN = """\
[network]
layers = [2, 2, 1]
activation = "tanh"
[data]
x = [[0.1, 0.2], [0.3, 0.4]]
y = [1.0, 2.0]
"""

XOR = """\
[network]
layers = [2, 2, 1]
activation = "sigmoid"
output_activation = "sigmoid"
loss = "bce"
[data]
x = [[0, 0], [0, 1], [1, 0], [1, 1]]
y = [0, 1, 1, 0]
"""

SOFTMAX = """\
[network]
layers = [2, 3]
output_activation = "softmax"
loss = "cross_entropy"
[data]
x = [[0, 0], [0, 1]]
y = [[1, 0, 0], [0, 1, 0]]
"""

INIT = """
[[init.layers]]
W = [[3.34], [-3.53]]
b = [-1.43, 0.57]
[[init.layers]]
W = [[-1.22, -2.30]]
b = [0.0]
"""


def changed(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


# (id, scenario text, substrings the one-line message must contain)
CASES = [
    ("unknown-top-key", "colour = 1\n" + VALID, ["colour", "unknown key"]),
    (
        "unknown-network-key",
        changed(VALID, "[network]\n", "[network]\nhidden = 3\n"),
        ["network.hidden", "unknown key"],
    ),
    (
        "unknown-training-key",
        changed(VALID, "seed = 42", "seed = 42\ndropout = 0.5"),
        ["training.dropout"],
    ),
    ("unknown-data-key", VALID + "z = [1]\n", ["data.z"]),
    (
        "unknown-activation",
        changed(VALID, '"softplus"', '"swish"'),
        ["network.activation", "swish"],
    ),
    (
        "unknown-output-activation",
        changed(VALID, 'output_activation = "identity"', 'output_activation = "tanh"'),
        ["network.output_activation", "tanh"],
    ),
    ("unknown-loss", changed(VALID, '"ssr"', '"hinge"'), ["network.loss", "hinge"]),
    (
        "bce-needs-sigmoid",
        changed(VALID, '"ssr"', '"bce"'),
        ["network.output_activation", "bce", "sigmoid"],
    ),
    (
        "cross-entropy-needs-softmax",
        changed(XOR, '"bce"', '"cross_entropy"'),
        ["network.output_activation", "cross_entropy", "softmax"],
    ),
    ("layers-too-short", changed(VALID, "layers = [1, 2, 1]", "layers = [1]"), ["network.layers"]),
    ("layers-zero", changed(VALID, "layers = [1, 2, 1]", "layers = [1, 0, 1]"), ["network.layers"]),
    (
        "layers-not-whole",
        changed(VALID, "layers = [1, 2, 1]", "layers = [1, 2.5, 1]"),
        ["network.layers"],
    ),
    ("layers-string", changed(VALID, "layers = [1, 2, 1]", 'layers = "1-2-1"'), ["network.layers"]),
    ("layers-missing", changed(VALID, "layers = [1, 2, 1]\n", ""), ["network.layers"]),
    (
        "softmax-one-output",
        changed(SOFTMAX, "layers = [2, 3]", "layers = [2, 1]"),
        ["network.layers", "softmax"],
    ),
    (
        "node-names-too-few",
        changed(VALID, '"orange", "green"', '"orange"'),
        ["network.node_names", "4", "3"],
    ),
    (
        "node-names-duplicate",
        changed(VALID, '"orange", "green"', '"blue", "green"'),
        ["network.node_names", "blue"],
    ),
    ("node-names-empty", changed(VALID, '"orange"', '""'), ["network.node_names"]),
    ("node-names-not-strings", changed(VALID, '"orange"', "3"), ["network.node_names"]),
    (
        "learning-rate-not-a-number",
        changed(VALID, "learning_rate = 0.01", 'learning_rate = "fast"'),
        ["training.learning_rate", "fast"],
    ),
    (
        "learning-rate-negative",
        changed(VALID, "learning_rate = 0.01", "learning_rate = -0.01"),
        ["training.learning_rate", "positive"],
    ),
    (
        "learning-rate-zero",
        changed(VALID, "learning_rate = 0.01", "learning_rate = 0"),
        ["training.learning_rate"],
    ),
    (
        "learning-rate-nan",
        changed(VALID, "learning_rate = 0.01", "learning_rate = nan"),
        ["training.learning_rate", "finite"],
    ),
    (
        "learning-rate-inf",
        changed(VALID, "learning_rate = 0.01", "learning_rate = inf"),
        ["training.learning_rate", "finite"],
    ),
    ("seed-negative", changed(VALID, "seed = 42", "seed = -1"), ["training.seed"]),
    ("seed-float", changed(VALID, "seed = 42", "seed = 4.2"), ["training.seed"]),
    (
        "batch-size-negative",
        changed(VALID, "seed = 42", "seed = 42\nbatch_size = -2"),
        ["training.batch_size"],
    ),
    (
        "trainable-unknown-name",
        changed(VALID, "seed = 42", 'seed = 42\ntrainable = ["b3", "b9"]'),
        ["training.trainable", "b9"],
    ),
    (
        "trainable-twice",
        changed(VALID, "seed = 42", 'seed = 42\ntrainable = ["b3", "b3"]'),
        ["training.trainable", "twice"],
    ),
    (
        "trainable-not-a-list",
        changed(VALID, "seed = 42", 'seed = 42\ntrainable = "b3"'),
        ["training.trainable"],
    ),
    (
        "x-not-a-number",
        changed(VALID, "x = [0.1, 0.53, 0.82]", 'x = [0.1, "a", 0.82]'),
        ["data.x[1]", "'a'"],
    ),
    ("x-boolean", changed(VALID, "x = [0.1, 0.53, 0.82]", "x = [0.1, true, 0.82]"), ["data.x[1]"]),
    (
        "y-nan",
        changed(VALID, "y = [1.2, 3.2, 1.1]", "y = [1.2, nan, 1.1]"),
        ["data.y[1]", "finite"],
    ),
    (
        "x-integer-too-large-for-a-float",
        changed(VALID, "x = [0.1, 0.53, 0.82]", "x = [0.1, 0.53, 1" + "0" * 400 + "]"),
        ["data.x[2]", "too large"],
    ),
    ("name-not-a-string", "name = 3\n" + VALID[VALID.index("[network]") :], ["name", "string"]),
    ("x-not-a-list", changed(VALID, "x = [0.1, 0.53, 0.82]", "x = 0.1"), ["data.x"]),
    (
        "csv-not-a-path",
        changed(VALID, "x = [0.1, 0.53, 0.82]\ny = [1.2, 3.2, 1.1]", "csv = 3"),
        ["data.csv", "path"],
    ),
    (
        "x-inf",
        changed(VALID, "x = [0.1, 0.53, 0.82]", "x = [0.1, 0.53, -inf]"),
        ["data.x[2]", "finite"],
    ),
    (
        "network-too-large",
        changed(VALID, "layers = [1, 2, 1]", "layers = [1, 2000, 2000, 2000, 1]"),
        ["network.layers", "8,010,001 parameters", "100,000"],
    ),
    (
        "node-name-with-spaces",
        changed(VALID, '"blue"', '" blue"'),
        ["network.node_names", "' blue'", "surrounding spaces"],
    ),
    (
        "empty-init-table",
        VALID + "[init]\n",
        ["init.layers", "one [[init.layers]] table per layer (2)"],
    ),
    (
        "ragged-rows",
        changed(TWO_IN, "x = [[0.1, 0.2], [0.3, 0.4]]", "x = [[0.1, 0.2], [0.3]]"),
        ["data.x[1]", "1 value,", "2"],
    ),
    (
        "flat-x-for-two-inputs",
        changed(TWO_IN, "x = [[0.1, 0.2], [0.3, 0.4]]", "x = [0.1, 0.2]"),
        ["data.x[0]"],
    ),
    (
        "x-y-length-mismatch",
        changed(VALID, "y = [1.2, 3.2, 1.1]", "y = [1.2, 3.2]"),
        ["data.y", "2", "3"],
    ),
    ("empty-x", changed(VALID, "x = [0.1, 0.53, 0.82]", "x = []"), ["data.x"]),
    ("empty-y", changed(VALID, "y = [1.2, 3.2, 1.1]", "y = []"), ["data.y"]),
    ("missing-y", changed(VALID, "y = [1.2, 3.2, 1.1]\n", ""), ["data.y"]),
    ("missing-data", VALID[: VALID.index("[data]")], ["[data]"]),
    ("missing-network", VALID[VALID.index("[training]") :], ["[network]"]),
    (
        "network-not-a-table",
        "network = 3\n" + VALID[VALID.index("[training]") :],
        ["network", "must be a table"],
    ),
    (
        "csv-and-inline",
        changed(VALID, "x = [0.1", 'csv = "points.csv"\nx = [0.1'),
        ["data", "csv"],
    ),
    (
        "bce-target-above-one",
        changed(XOR, "y = [0, 1, 1, 0]", "y = [0, 1, 1.5, 0]"),
        ["data.y[2]", "[0, 1]"],
    ),
    (
        "bce-target-negative",
        changed(XOR, "y = [0, 1, 1, 0]", "y = [0, -0.1, 1, 0]"),
        ["data.y[1]"],
    ),
    (
        "cross-entropy-row-not-summing-to-1",
        changed(SOFTMAX, "[0, 1, 0]]", "[0, 1, 0.5]]"),
        ["data.y[1]", "1"],
    ),
    (
        "cross-entropy-negative-probability",
        changed(SOFTMAX, "[0, 1, 0]]", "[-0.5, 1.5, 0]]"),
        ["data.y[1]"],
    ),
    (
        "init-wrong-layer-count",
        VALID + INIT[: INIT.index("[[init.layers]]", 5)],
        ["init.layers", "2", "1"],
    ),
    (
        "init-W-wrong-shape",
        VALID + changed(INIT, "W = [[3.34], [-3.53]]", "W = [[3.34, -3.53]]"),
        ["init.layers[0].W", "(2, 1)"],
    ),
    (
        "init-W-wrong-rows",
        VALID + changed(INIT, "W = [[-1.22, -2.30]]", "W = [[-1.22], [-2.30]]"),
        ["init.layers[1].W", "(1, 2)"],
    ),
    (
        "init-b-wrong-length",
        VALID + changed(INIT, "b = [-1.43, 0.57]", "b = [-1.43]"),
        ["init.layers[0].b", "2"],
    ),
    (
        "init-not-a-number",
        VALID + changed(INIT, "W = [[3.34], [-3.53]]", 'W = [[3.34], ["big"]]'),
        ["init.layers[0].W", "big"],
    ),
    (
        "init-nan",
        VALID + changed(INIT, "b = [0.0]", "b = [nan]"),
        ["init.layers[1].b", "finite"],
    ),
    (
        "init-missing-b",
        VALID + changed(INIT, "b = [0.0]\n", ""),
        ["init.layers[1]", "b"],
    ),
    (
        "init-unknown-key",
        VALID + changed(INIT, "b = [0.0]", "b = [0.0]\nc = 1"),
        ["init.layers[1].c"],
    ),
    ("invalid-toml", changed(VALID, "seed = 42", "seed = = 42"), ["invalid TOML"]),
    ("invalid-toml-unclosed", changed(VALID, "x = [0.1,", "x = [0.1,,"), ["invalid TOML"]),
]


def assert_one_line_error(result, *needles: str) -> str:
    """Exit 2, nothing on stdout, one stderr line with every needle, no traceback."""
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert result.err.endswith("\n")
    line = lines[0]
    assert line.startswith("bptui: error: "), line
    assert "Traceback" not in line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


@pytest.mark.parametrize(("text", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["trace", "check", "tui"])
def test_bad_scenario_file(run_cli, write_file, command, text, needles) -> None:
    path = write_file("bad.toml", text)
    args = ["--config", path] if command == "tui" else [command, "--config", path]
    assert_one_line_error(run_cli(*args), str(path), *needles)


def test_the_valid_base_scenarios_are_valid(run_cli, write_file) -> None:
    """The cases above fail for the one thing they change, not for their base."""
    for i, text in enumerate([VALID, TWO_IN, XOR, SOFTMAX, VALID + INIT]):
        path = write_file(f"ok{i}.toml", text)
        result = run_cli("trace", "--config", path, "--steps", "1")
        assert result.code == 0, result.err
        assert result.err == ""


# ------------------------------------------------------------------- CSV data
CSV_SCENARIO = changed(
    VALID, "x = [0.1, 0.53, 0.82]\ny = [1.2, 3.2, 1.1]\n", 'csv = "points.csv"\n'
)


def test_csv_data_loads(run_cli, write_file) -> None:
    write_file("points.csv", "x,y\n0.1,1.2\n0.53,3.2\n0.82,1.1\n")
    path = write_file("s.toml", CSV_SCENARIO)
    csv_trace = run_cli("trace", "--config", path, "--steps", "2")
    inline = run_cli("trace", "--config", write_file("i.toml", VALID), "--steps", "2")
    assert csv_trace.code == 0 and inline.code == 0
    assert csv_trace.out.split('"parameters"')[1] == inline.out.split('"parameters"')[1]


@pytest.mark.parametrize(
    ("csv_text", "needles"),
    [
        ("x,y,z\n0.1,1.2,3\n", ["header", "3 columns", "2"]),
        ("x\n0.1\n", ["header", "1 columns"]),
        ("x,y\n0.1,1.2\n0.53,oops\n", ["row 3", "column 2", "oops"]),
        ("x,y\n0.1,1.2\n0.53\n", ["row 3", "1 columns"]),
        ("x,y\n0.1,1.2\nnan,3.2\n", ["row 3", "column 1", "finite"]),
        ("x,y\n0.1,1.2\n\n0.53,oops\n", ["row 4", "column 2", "oops"]),
        ("x,y\n", ["header", "data row"]),
        ("", ["header"]),
    ],
    ids=[
        "header-too-wide",
        "header-too-narrow",
        "not-a-number",
        "short-row",
        "nan",
        "row-is-the-file-line-after-a-blank-line",
        "no-rows",
        "empty",
    ],
)
def test_bad_csv(run_cli, write_file, csv_text, needles) -> None:
    csv_path = write_file("points.csv", csv_text)
    path = write_file("s.toml", CSV_SCENARIO)
    assert_one_line_error(run_cli("trace", "--config", path), str(csv_path), *needles)


def test_missing_csv_file(run_cli, write_file, tmp_path: Path) -> None:
    path = write_file("s.toml", CSV_SCENARIO)
    line = assert_one_line_error(
        run_cli("trace", "--config", path), str(path), "data.csv", "points.csv"
    )
    assert "no such file" in line


def test_csv_path_is_relative_to_the_scenario_file(run_cli, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "points.csv").write_text("x,y\n0.1,1.2\n0.53,3.2\n0.82,1.1\n", encoding="utf-8")
    (folder / "s.toml").write_text(CSV_SCENARIO, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the CSV is not in the working directory
    result = run_cli("trace", "--config", "scenarios/s.toml", "--steps", "0")
    assert result.code == 0, result.err


def test_bce_targets_edges_are_allowed(run_cli, write_file) -> None:
    """0 and 1 themselves (and values between) are valid bce targets."""
    path = write_file("s.toml", changed(XOR, "y = [0, 1, 1, 0]", "y = [0, 1, 0.25, 1.0]"))
    assert run_cli("trace", "--config", path, "--steps", "0").code == 0


def test_probability_rows_are_valid_cross_entropy_targets(run_cli, write_file) -> None:
    path = write_file("s.toml", changed(SOFTMAX, "[0, 1, 0]]", "[0.2, 0.3, 0.5]]"))
    assert run_cli("trace", "--config", path, "--steps", "0").code == 0


def test_csv_reader_error_is_one_line(run_cli, write_file) -> None:
    """A cell beyond the csv module's field limit is bad input, not a traceback."""
    csv_path = write_file("points.csv", 'x,y\n0.1,1.2\n0.5,"' + "1" * 200_000 + '"\n')
    path = write_file("s.toml", CSV_SCENARIO)
    assert_one_line_error(run_cli("trace", "--config", path), str(csv_path), "row 3", "field")


# ------------------------------------------------ the tables the names come from
def test_an_unknown_name_fails_loudly_and_names_itself() -> None:
    """No name silently becomes another: the engine's lookups raise, naming the name."""
    for lookup, name, known in (
        (fn.hidden_activation, "swish", "softplus"),
        (fn.output_activation, "tanh", "softmax"),
        (fn.loss_function, "hinge", "cross_entropy"),
    ):
        with pytest.raises(ValueError, match=rf"unknown .*'{name}' \(known: .*{known}"):
            lookup(name)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        Network(Architecture((1, 1), loss="hinge"))


def test_softmax_has_no_elementwise_slope() -> None:
    """Softmax couples its outputs; asking it for an elementwise ∂ŷ/∂z is an error."""
    softmax = fn.OUTPUT_ACTIVATIONS["softmax"]
    assert softmax.coupled and softmax.min_outputs == 2
    with pytest.raises(ValueError, match="softmax couples its outputs"):
        softmax.slope(np.zeros((1, 2)))


def test_validation_takes_its_names_from_the_tables(run_cli, write_file) -> None:
    """The error lists exactly the tables' keys, in table order."""
    for key, table in (
        ("activation", fn.ACTIVATIONS),
        ("output_activation", fn.OUTPUT_ACTIVATIONS),
        ("loss", fn.LOSSES),
    ):
        text = VALID.replace(f'{key} = "', f'{key} = "nope-', 1)
        result = run_cli("check", "--config", write_file(f"{key}.toml", text))
        assert result.code == 2
        assert f"network.{key}: must be one of {', '.join(table)}, got 'nope-" in result.err


def test_deeply_nested_toml_is_one_line(run_cli, write_file) -> None:
    """tomllib recurses into nested arrays; too deep is a message, not a RecursionError."""
    text = VALID + "nested = " + "[" * 2000 + "]" * 2000 + "\n"
    result = run_cli("check", "--config", write_file("deep.toml", text))
    assert result.code == 2
    assert result.err.endswith("deep.toml: invalid TOML: nested too deeply\n")
