"""Hostile scenario files, CSV files and command lines: each loads or is one line, exit 2.

Hypothesis writes random TOML documents (a valid scenario with wrong types at
any key, nested tables, huge and non-finite numbers, unicode, empty and large
arrays, unknown keys), random CSV files and random command lines.  Every one
must either work or exit 2 with one line on stderr that names the file (and,
for a scenario, the key); never a traceback, never a numpy warning (the suite
turns those into errors), and quickly (a deadline per example).
"""

from __future__ import annotations

import json
import math
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE: dict[str, Any] = {
    "name": "fuzz",
    "network": {
        "layers": [1, 2, 1],
        "activation": "softplus",
        "output_activation": "identity",
        "loss": "ssr",
    },
    "training": {"learning_rate": 0.01, "seed": 42, "batch_size": 0},
    "data": {"x": [0.1, 0.53, 0.82], "y": [1.2, 3.2, 1.1]},
}

#: Every key path a scenario may have, and a few it may not.
PATHS = [
    ("name",),
    ("description",),
    ("network",),
    ("network", "layers"),
    ("network", "activation"),
    ("network", "output_activation"),
    ("network", "loss"),
    ("network", "node_names"),
    ("training",),
    ("training", "learning_rate"),
    ("training", "seed"),
    ("training", "batch_size"),
    ("training", "trainable"),
    ("data",),
    ("data", "x"),
    ("data", "y"),
    ("data", "csv"),
    ("init",),
    ("init", "layers"),
    ("watch",),
    ("bogus",),
    ("network", "bogus"),
]


def toml_value(value: Any) -> str:
    """One value in TOML inline syntax (tables inline, so any nesting is one line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(doc: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in doc.items())


safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2, 3, 1e308, -1e308, 5e-324, 10**18, 2**53 + 1]),
    safe_text,
    st.sampled_from(["softplus", "relu", "sigmoid", "softmax", "bce", "ssr", "w1", "b3", "x"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(
            st.sampled_from(["kind", "W", "b", "x", "layers", "value"]), inner, max_size=3
        ),
    ),
    max_leaves=12,
)


@st.composite
def hostile_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    doc = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        target = doc
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if draw(st.booleans()) and path[-1] in target:
            del target[path[-1]]
        else:
            target[path[-1]] = draw(values)
    return doc


def assert_works_or_one_line(result, where: str) -> None:
    assert result.code in (0, 2), (result.code, result.err)
    if result.code == 2:
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        assert lines[0].startswith("bptui: error: "), lines[0]
        assert where in lines[0], (where, lines[0])
        assert result.out == ""


FUZZ = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(doc=hostile_scenarios())
def test_hostile_scenario_documents(run_cli, tmp_path: Path, doc: dict[str, Any]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(toml_document(doc), encoding="utf-8")
    result = run_cli("trace", "--config", path, "--steps", "1", "--format", "csv")
    assert_works_or_one_line(result, str(path))


@FUZZ
@given(text=st.text(max_size=200))
def test_random_text_as_a_scenario(run_cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    result = run_cli("check", "--config", path)
    assert result.code in (0, 1, 2), result
    if result.code == 2:
        assert_works_or_one_line(result, str(path))


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.text(alphabet=string.printable, max_size=8),
    st.just(""),
    st.just('"'),
)


@FUZZ
@given(rows=st.lists(st.lists(cells, max_size=4), max_size=8))
def test_hostile_csv_files(run_cli, tmp_path: Path, rows: list[list[str]]) -> None:
    (tmp_path / "points.csv").write_text("\n".join(",".join(row) for row in rows), encoding="utf-8")
    path = tmp_path / "s.toml"
    doc = {**BASE, "data": {"csv": "points.csv"}}
    path.write_text(toml_document(doc), encoding="utf-8")
    result = run_cli("trace", "--config", path, "--steps", "1", "--format", "csv")
    assert result.code in (0, 2), result
    if result.code == 2:
        lines = result.err.splitlines()
        assert len(lines) == 1 and "points.csv" in lines[0], result.err


OPTIONS = ["--steps", "--format", "--output", "--config", "--grads", "--list", "--version"]
WORDS = ["trace", "check", "article", "xor", "-1", "0", "3", "json", "csv", "x.toml", "", "--"]


@FUZZ
@given(argv=st.lists(st.sampled_from(OPTIONS + WORDS) | safe_text, max_size=6))
def test_hostile_command_lines(run_cli, tmp_path: Path, monkeypatch, argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    if "trace" not in argv[:1] and "check" not in argv[:1]:
        argv = ["trace", *argv]  # never start the TUI from a test
    if "--steps" not in argv:
        argv += ["--steps", "2"]
    try:
        result = run_cli(*argv)
    except SystemExit as e:  # --help / --version print and exit 0
        assert e.code == 0
        return
    assert result.code in (0, 1, 2), result
    if result.code == 2:
        lines = result.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("bptui: error: "), result.err


def deep_layers() -> str:
    doc = json.loads(json.dumps(BASE))
    doc["network"]["layers"] = [1] * 495
    return toml_document(doc)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (deep_layers(), "network.layers"),
        (toml_document(BASE) + "nested = " + "[" * 495 + "]" * 495 + "\n", "invalid TOML"),
        (toml_document(BASE) + '[[watch]]\nkind = ["loss_rises"]\n', "watch[0].kind"),
        (toml_document(BASE) + "[[watch]]\nkind = {a = 1}\n", "watch[0].kind"),
    ],
    ids=["495-width-1-layers", "array-nested-495-deep", "watch-kind-list", "watch-kind-table"],
)
def test_known_hostile_documents(run_cli, tmp_path: Path, text: str, needle: str) -> None:
    """The rows of the hostile-input report: each was a traceback."""
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("trace", "--config", path, "--steps", "1")
    assert_works_or_one_line(result, str(path))
    if result.code == 2:
        assert needle in result.err
