"""Scenario files (docs/scenarios.md): TOML with inline or CSV data, validated strictly.

Every mistake becomes a :class:`ScenarioError` whose message names the file,
the key or the row, because the CLI prints it as the one line a user sees.
"""

from __future__ import annotations

import csv
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.events import KINDS, OPTIMIZER_FIELDS, EditError, Event, checked_value, point_of
from bptui.engine.network import Architecture, Network
from bptui.engine.optimizers import Optimizer, setting_problem
from bptui.engine.watches import Watch
from bptui.errors import ScenarioError
from bptui.scenario import datasets
from bptui.scenario.model import Data, Scenario
from bptui.scenario.watches import parse_watches

Array = np.ndarray


#: Larger networks are not what a step-by-step viewer is for: a record holds
#: every parameter's chain for every point, so memory grows with their product
#: (a [1, 2000, 2000, 2000, 1] net was OOM-killed), and a one-line typo such as
#: ``[1, 2000000000, 1]`` must be a message, not an allocation.
MAX_PARAMETERS = 100_000
#: ... and the same holds for points: a 784-64-10 net's record of 256 points
#: (13 million parameter-points) took 1.9 GB and 32 s to build and write, and
#: at 1,000 points it ran out of memory.  So parameters × points is capped too.
MAX_PARAMETER_POINTS = 16_000_000
#: Values of data (points × (inputs + targets)) a file may give: 80 MB of floats.
MAX_DATA_VALUES = 10_000_000


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# ---------------------------------------------------------------- loading
#: The package's own files (importlib.resources would import zipfile and more at launch).
BUILTINS = Path(__file__).parent / "builtins"


def builtin_names() -> list[str]:
    files = BUILTINS.iterdir()
    return sorted(f.name[: -len(".toml")] for f in files if f.name.endswith(".toml"))


def builtin_description(name: str) -> str:
    text = BUILTINS.joinpath(f"{name}.toml").read_text("utf-8")
    return str(tomllib.loads(text).get("description", ""))


def load_builtin(name: str) -> Scenario:
    if name not in builtin_names():
        known = ", ".join(builtin_names())
        if name.endswith(".toml"):
            raise ScenarioError(f"unknown scenario {name!r}: for a file use --config {name}")
        raise ScenarioError(f"unknown scenario {name!r} (built-ins: {known})")
    text = BUILTINS.joinpath(f"{name}.toml").read_text("utf-8")
    return parse_scenario(text, where=name, base_dir=None)


def read_input_file(path: Path, what: str, error: type[ScenarioError] = ScenarioError) -> str:
    """A user's text file, or one line saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not {what}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file") from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror})") from None


def load_file(path: str | Path) -> Scenario:
    path = Path(path)
    text = read_input_file(path, "a scenario file")
    return parse_scenario(text, where=str(path), base_dir=path.parent)


TOP_KEYS = {"name", "description", "network", "training", "data", "init", "watch", "event"}
NETWORK_KEYS = {"layers", "activation", "output_activation", "loss", "node_names"}
TRAINING_KEYS = {"learning_rate", "seed", "batch_size", "trainable", *OPTIMIZER_FIELDS}
EVENT_KEYS = {"step", "kind", "name", "new"}
DATA_KEYS = {"x", "y", "csv", "generate", "n", "noise", "seed", "test_fraction"}


def read_toml(text: str, where: str) -> dict[str, Any]:
    """A TOML document, or a ScenarioError naming ``where``, whatever is wrong with it."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{where}: invalid TOML: {e}") from None
    except RecursionError:  # tomllib recurses into nested arrays and tables
        raise ScenarioError(f"{where}: invalid TOML: nested too deeply") from None


def parse_scenario(text: str, where: str, base_dir: Path | None) -> Scenario:
    """Parse and validate a scenario's TOML text; ``where`` prefixes every error."""
    return scenario_from_document(read_toml(text, where), where, base_dir)


def scenario_from_document(doc: dict[str, Any], where: str, base_dir: Path | None) -> Scenario:
    """Validate an already-parsed scenario document (a lesson embeds one)."""
    return _Parser(doc, where, base_dir).scenario()


class DocumentParser:
    """A parsed TOML document being validated; every error names ``where`` and the key."""

    def __init__(self, doc: dict[str, Any], where: str, base_dir: Path | None) -> None:
        self.doc = doc
        self.where = where
        self.base_dir = base_dir

    def fail(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.where}: {key}: {problem}")


class _Parser(DocumentParser):
    def table(self, key: str, allowed: set[str], required: bool = True) -> dict[str, Any]:
        value = self.doc.get(key)
        if value is None:
            if required:
                raise ScenarioError(f"{self.where}: missing [{key}] table")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        for k in value:
            if k not in allowed:
                raise self.fail(
                    f"{key}.{k}", f"unknown key (expected one of {', '.join(sorted(allowed))})"
                )
        return value

    def scenario(self) -> Scenario:
        for k in self.doc:
            if k not in TOP_KEYS:
                raise self.fail(k, f"unknown key (expected one of {', '.join(sorted(TOP_KEYS))})")
        name = self.doc.get("name", Path(self.where).stem)
        if not isinstance(name, str):
            raise self.fail("name", "must be a string")
        arch = self.architecture()
        training = self.table("training", TRAINING_KEYS, required=False)
        lr = self.number(training.get("learning_rate", 0.01), "training.learning_rate")
        if lr <= 0:
            raise self.fail("training.learning_rate", f"must be positive, got {lr:g}")
        seed = self.integer(training.get("seed", 42), "training.seed", 0, 2**32 - 1)
        data = self.data(arch)
        batch_size = self.integer(training.get("batch_size", 0), "training.batch_size", 0, None)
        net = Network(arch)
        trainable = self.trainable(training.get("trainable"), net.param_names)
        init = self.init(arch)
        watches = self.watches(net.param_names)
        optimizer = self.optimizer(training)
        events = self.events(net, data.x, data.y)
        return Scenario(
            name=name,
            arch=arch,
            learning_rate=lr,
            seed=seed,
            x=data.x,
            y=data.y,
            x_test=data.x_test,
            y_test=data.y_test,
            data_origin=data.origin,
            batch_size=batch_size,
            trainable=trainable,
            init_layers=init,
            source=self.where,
            watches=watches,
            optimizer=optimizer,
            events=events,
        )

    # -------------------------------------------------------------- pieces
    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:  # a TOML integer beyond float range
            raise self.fail(key, "is too large for a float") from None
        if not math.isfinite(number):
            raise self.fail(key, f"must be finite, got {value!r}")
        return number

    def integer(self, value: Any, key: str, low: int, high: int | None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(key, f"must be {bound}, got {value}")
        return value

    def choice(self, value: Any, key: str, options: tuple[str, ...]) -> str:
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def architecture(self) -> Architecture:
        net = self.table("network", NETWORK_KEYS)
        layers = net.get("layers")
        if (
            not isinstance(layers, list)
            or len(layers) < 2
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in layers)
        ):
            raise self.fail(
                "network.layers",
                f"must be a list of at least two positive whole numbers, got {layers!r}",
            )
        size = sum(a * b + b for a, b in zip(layers, layers[1:]))
        if size > MAX_PARAMETERS:
            raise self.fail(
                "network.layers",
                f"{layers} has {size:,} parameters; bptui is for networks up to {MAX_PARAMETERS:,}",
            )
        activation = self.choice(
            net.get("activation", "softplus"), "network.activation", tuple(fn.ACTIVATIONS)
        )
        output = self.choice(
            net.get("output_activation", "identity"),
            "network.output_activation",
            tuple(fn.OUTPUT_ACTIVATIONS),
        )
        loss = self.choice(net.get("loss", "ssr"), "network.loss", tuple(fn.LOSSES))
        needed = fn.LOSSES[loss].requires_output
        if needed and output != needed:
            raise self.fail(
                "network.output_activation",
                f"loss {loss!r} requires output_activation = {needed!r}, got {output!r}",
            )
        fewest = fn.OUTPUT_ACTIVATIONS[output].min_outputs
        if layers[-1] < fewest:
            raise self.fail(
                "network.layers", f"{output} output needs at least {fewest} output nodes"
            )
        names = net.get("node_names")
        if names is not None:
            total = sum(layers)
            if not isinstance(names, list) or any(
                not isinstance(n, str) or not n.strip() for n in names
            ):
                raise self.fail("network.node_names", "must be a list of non-empty strings")
            for n in names:
                if n != n.strip() or not n.isprintable():
                    raise self.fail(
                        "network.node_names",
                        f"{n!r}: no surrounding spaces or control characters in a name",
                    )
            if len(names) != total:
                raise self.fail(
                    "network.node_names",
                    f"needs one name per node: {total} for layers {layers}, got {len(names)}",
                )
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise self.fail("network.node_names", f"names must be unique, {dupes[0]!r} repeats")
            names = tuple(names)
        return Architecture(tuple(layers), activation, output, loss, names)

    def trainable(self, value: Any, known: list[str]) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
            raise self.fail("training.trainable", "must be a list of parameter names")
        for v in value:
            if v not in known:
                raise self.fail(
                    "training.trainable",
                    f"no parameter named {v!r} (this network has {', '.join(known)})",
                )
        if len(set(value)) != len(value):
            raise self.fail("training.trainable", "a parameter is listed twice")
        return tuple(value)

    def data(self, arch: Architecture) -> Data:
        data = self.table("data", DATA_KEYS)
        seed = self.integer(data.get("seed", 0), "data.seed", 0, 2**32 - 1)
        origin: dict[str, Any] = {}
        if "generate" in data:
            x, y, origin = self.generated(data, arch, seed)
        else:
            for key in ("n", "noise"):
                if key in data:
                    raise self.fail(f"data.{key}", "only goes with data.generate")
            x, y = self.given(data, arch)
        self.check_size(
            arch, x, "data.n" if "generate" in data else "data.csv" if "csv" in data else "data.x"
        )
        self.check_targets(arch, y)
        return self.split(data, x, y, seed, origin)

    def check_size(self, arch: Architecture, x: Array, key: str) -> None:
        """Parameters × points within MAX_PARAMETER_POINTS: a record holds every pair's chain."""
        size = sum(a * b + b for a, b in zip(arch.layers, arch.layers[1:]))
        points = x.shape[0]
        if size * points > MAX_PARAMETER_POINTS:
            raise self.fail(
                key,
                f"{points:,} points × {size:,} parameters = {size * points:,}; bptui keeps "
                f"every parameter's chain for every point, so at most {MAX_PARAMETER_POINTS:,} "
                f"(at most {max(MAX_PARAMETER_POINTS // size, 1):,} points for this network)",
            )

    def given(self, data: dict[str, Any], arch: Architecture) -> tuple[Array, Array]:
        """The points written in the file, inline or as CSV."""
        n_in, n_out = arch.layers[0], arch.layers[-1]
        if "csv" in data:
            if "x" in data or "y" in data:
                raise self.fail("data", "give either csv or x and y, not both")
            return self.csv(data["csv"], n_in, n_out)
        for key in ("x", "y"):
            if key not in data:
                raise self.fail(f"data.{key}", "missing (or give data.csv or data.generate)")
        x = self.matrix(data["x"], "data.x", n_in)
        y = self.matrix(data["y"], "data.y", n_out)
        if x.shape[0] != y.shape[0]:
            raise self.fail("data.y", f"has {y.shape[0]} points but data.x has {x.shape[0]}")
        return x, y

    def generated(
        self, data: dict[str, Any], arch: Architecture, seed: int
    ) -> tuple[Array, Array, dict[str, Any]]:
        """One of Playground's sets (datasets.py), checked against the network it feeds."""
        name = self.choice(data["generate"], "data.generate", tuple(datasets.DATASETS))
        others = sorted({"x", "y", "csv"} & set(data))
        if others:
            raise self.fail("data", f"give either generate or {others[0]}, not both")
        n = self.integer(data.get("n", 200), "data.n", 1, datasets.MAX_POINTS)
        noise = self.number(data.get("noise", 0.0), "data.noise")
        if noise < 0:
            raise self.fail("data.noise", f"must be at least 0, got {noise:g}")
        kind = datasets.DATASETS[name]
        if arch.layers[0] != 2 or arch.layers[-1] != 1:
            raise self.fail(
                "network.layers",
                f"data.generate = {name!r} gives 2 inputs and {kind.targets}, "
                f"so layers must be [2, …, 1], got {list(arch.layers)}",
            )
        if not kind.classification and arch.loss == "bce":
            raise self.fail(
                "network.loss",
                f"data.generate = {name!r} has real targets (about −1 … 1), "
                "not the 0/1 that bce needs: use mse or ssr",
            )
        x, y = datasets.generate(name, n, noise, seed)
        return x, y, {"generate": name, "n": n, "noise": noise, "seed": seed}

    def split(
        self, data: dict[str, Any], x: Array, y: Array, seed: int, origin: dict[str, Any]
    ) -> Data:
        """Hold out ``test_fraction`` of the points, chosen by the seed."""
        fraction = self.number(data.get("test_fraction", 0.0), "data.test_fraction")
        if not 0 <= fraction < 1:
            raise self.fail(
                "data.test_fraction", f"must be at least 0 and below 1, got {fraction:g}"
            )
        if fraction == 0:
            return Data(x, y, None, None, origin)
        n = x.shape[0]
        held = datasets.held_out_count(n, fraction)
        if not 1 <= held <= n - 1:
            raise self.fail(
                "data.test_fraction",
                f"{fraction:g} of {_count(n, 'point')} holds out {held}: "
                "the training and the test set each need at least one point",
            )
        test = np.zeros(n, dtype=bool)
        test[datasets.held_out(n, fraction, seed)] = True
        origin = {**origin, "seed": seed, "test_fraction": fraction}
        return Data(x[~test], y[~test], x[test], y[test], origin)

    def matrix(self, value: Any, key: str, columns: int) -> Array:
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list")
        if len(value) * columns > MAX_DATA_VALUES:
            raise self.fail(
                key,
                f"{len(value):,} rows × {columns} = {len(value) * columns:,} values, "
                f"more than {MAX_DATA_VALUES:,}",
            )
        rows = []
        for i, row in enumerate(value):
            cells = row if isinstance(row, list) else [row]
            if len(cells) != columns:
                raise self.fail(
                    f"{key}[{i}]", f"has {_count(len(cells), 'value')}, the network needs {columns}"
                )
            rows.append([self.number(c, f"{key}[{i}]") for c in cells])
        return np.array(rows, dtype=np.float64).reshape(len(rows), columns)

    def numbered_rows(self, reader: Any, path: Path, width: int) -> list[tuple[int, list[str]]]:
        """Each row with its line in the file (errors name the line a user sees), and
        no more than the header and MAX_DATA_VALUES values: reading stops there."""
        numbered = []
        for row in reader:
            numbered.append((reader.line_num, row))
            if (len(numbered) - 1) * width > MAX_DATA_VALUES:
                raise self.fail(
                    "data.csv",
                    f"{path}: more than {MAX_DATA_VALUES:,} values ({width} a row): "
                    f"stopped reading at line {reader.line_num}",
                )
        return numbered

    def csv(self, value: Any, n_in: int, n_out: int) -> tuple[Array, Array]:
        if not isinstance(value, str):
            raise self.fail("data.csv", "must be a file path")
        path = Path(value) if self.base_dir is None else self.base_dir / value
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle, strict=True)
                numbered = self.numbered_rows(reader, path, n_in + n_out)
        except FileNotFoundError:
            raise self.fail("data.csv", f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise self.fail("data.csv", f"{path}: cannot read ({e})") from None
        except csv.Error as e:
            raise ScenarioError(f"{path}: row {reader.line_num}: {e}") from None
        rows = [(line, r) for line, r in numbered if any(cell.strip() for cell in r)]
        if len(rows) < 2:
            raise ScenarioError(f"{path}: needs a header row and at least one data row")
        width = n_in + n_out
        header = rows[0][1]
        if len(header) != width:
            raise ScenarioError(
                f"{path}: header has {len(header)} columns, the network needs {n_in} inputs + {n_out} targets = {width}"
            )
        values = []
        for line, row in rows[1:]:
            if len(row) != width:
                raise ScenarioError(f"{path}: row {line}: has {len(row)} columns, expected {width}")
            parsed = []
            for col, cell in enumerate(row, start=1):
                try:
                    v = float(cell)
                except ValueError:
                    raise ScenarioError(
                        f"{path}: row {line}, column {col}: not a number: {cell.strip()!r}"
                    ) from None
                if not math.isfinite(v):
                    raise ScenarioError(
                        f"{path}: row {line}, column {col}: must be finite, got {cell.strip()}"
                    )
                parsed.append(v)
            values.append(parsed)
        table = np.array(values, dtype=np.float64)
        return table[:, :n_in].copy(), table[:, n_in:].copy()

    def check_targets(self, arch: Architecture, y: Array) -> None:
        loss = fn.LOSSES[arch.loss]
        i = loss.bad_target(y)
        if i is not None:
            raise self.fail(
                f"data.y[{i}]", f"{loss.name} targets must {loss.target_rule}, got {y[i].tolist()}"
            )

    def init(self, arch: Architecture) -> list[tuple[Array, Array]] | None:
        if "init" not in self.doc:
            return None
        init = self.table("init", {"layers"}, required=False)
        layers = init.get("layers")
        depth = len(arch.layers) - 1
        if not isinstance(layers, list) or len(layers) != depth:
            got = len(layers) if isinstance(layers, list) else layers
            raise self.fail(
                "init.layers", f"needs one [[init.layers]] table per layer ({depth}), got {got}"
            )
        result = []
        for l, table in enumerate(layers):
            key = f"init.layers[{l}]"
            if not isinstance(table, dict):
                raise self.fail(key, "must be a table with W and b")
            extra = set(table) - {"W", "b"}
            if extra:
                raise self.fail(f"{key}.{sorted(extra)[0]}", "unknown key (expected W and b)")
            out, inp = arch.layers[l + 1], arch.layers[l]
            if "W" not in table or "b" not in table:
                raise self.fail(key, "needs both W and b")
            W = table["W"]
            if (
                not isinstance(W, list)
                or len(W) != out
                or any(not isinstance(r, list) or len(r) != inp for r in W)
            ):
                raise self.fail(
                    f"{key}.W",
                    f"must be {_count(out, 'row')} of {_count(inp, 'value')} (shape (out, in) = ({out}, {inp}))",
                )
            Wm = np.array(
                [[self.number(v, f"{key}.W[{i}]") for v in row] for i, row in enumerate(W)],
                dtype=np.float64,
            ).reshape(out, inp)
            b = table["b"]
            if not isinstance(b, list) or len(b) != out:
                raise self.fail(f"{key}.b", f"must be a list of {_count(out, 'value')}")
            bv = np.array([self.number(v, f"{key}.b") for v in b], dtype=np.float64)
            result.append((Wm, bv))
        return result

    def watches(self, param_names: list[str]) -> list[Watch]:
        """The [[watch]] tables as watches; errors name the file."""
        watches = self.doc.get("watch", [])
        if not isinstance(watches, list) or any(not isinstance(w, dict) for w in watches):
            raise self.fail("watch", "must be an array of tables ([[watch]])")
        return parse_watches(watches, param_names, self.where)

    # ------------------------------------------------- optimizer and events
    def optimizer(self, training: dict[str, Any]) -> Optimizer:
        """[training] optimizer and its settings; each bad value names its key."""
        values: dict[str, Any] = {}
        for key in OPTIMIZER_FIELDS:
            if key not in training:
                continue
            problem = setting_problem(key, training[key], typographic=False)
            if problem:
                raise self.fail(f"training.{key}", problem)
            values["name" if key == "optimizer" else key] = (
                training[key] if key == "optimizer" else float(training[key])
            )
        return Optimizer(**values)

    def events(self, net: Network, x: Array, y: Array) -> tuple[Event, ...]:
        """The [[event]] tables (a saved session's edits), checked as a live edit would be.

        Their ``old`` is left None: the stepper knows it when it gets there.
        """
        tables = self.doc.get("event", [])
        if not isinstance(tables, list) or any(not isinstance(t, dict) for t in tables):
            raise self.fail("event", "must be an array of tables ([[event]])")
        events: list[Event] = []
        x, y = x.copy(), y.copy()
        for i, table in enumerate(tables):
            key = f"event[{i}]"
            extra = sorted(set(table) - EVENT_KEYS)
            if extra:
                raise self.fail(f"{key}.{extra[0]}", "unknown key (expected step, kind, name, new)")
            step = self.integer(table.get("step"), f"{key}.step", 0, None)
            if events and step < events[-1].step:
                raise self.fail(
                    f"{key}.step",
                    f"events must be in step order, {step} comes after {events[-1].step}",
                )
            kind = self.choice(table.get("kind"), f"{key}.kind", KINDS)
            name = table.get("name", kind)
            if "new" not in table:
                raise self.fail(key, "needs new (the value the event sets)")
            if not isinstance(name, str):
                raise self.fail(f"{key}.name", f"must be a string, got {name!r}")
            try:
                new = checked_value(kind, name, table["new"], net, x, y)
            except EditError as e:  # a file's messages keep the ASCII minus
                raise self.fail(key, str(e).replace("\u2212", "-")) from None
            if kind in ("x", "y"):  # later events see the change, as a replay would
                data = x if kind == "x" else y
                data[point_of(name, kind, data.shape)] = new
            canonical = kind if kind in ("learning_rate", "trainable") else name
            events.append(Event(step, kind, canonical, None, new))
        return tuple(events)
