"""Every printed formula means its value: each chain factor's text, evaluated, is the factor.

The chain pane and the trace print each factor as ``symbol = formula``.  Here a
small evaluator reads the formula text exactly as printed (node names, parameter
names, x, y, z_<node>, sigmoid / softplus, [z > 0], (1 if z > 0 else 0.01), ²,
·, −, /, Σ over k or j) on the recorded node values and compares the result,
point by point, with the factor's values — for every hidden activation, every
output and every loss.  A missing bracket (``1 − h1.1²·x1`` for
(1 − h1.1²)·x1) evaluates to another number and fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

from bptui.engine import functions as fn
from bptui.engine.chain import ChainBuilder
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper
from bptui.scenario.loading import parse_scenario

Array = np.ndarray
Env = dict[str, str]  # index bindings: "k" -> a node name, "ⱼ" -> an output's number
Node = Callable[[Env], Array]

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?![\d.]))"
    r"|(?P<dvar>∂Loss/∂[^\s·()]+)"
    r"|(?P<weight>w\(k←[^)]+\))"
    r"|(?P<sum>Σ[ₖⱼ])"
    r"|(?P<name>[A-Za-zŷ_][A-Za-z0-9_.ŷⱼ]*)"
    r"|(?P<op>[()\[\]·/+−>²]))"
)


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        assert m and m.end() > pos, f"cannot read {text[pos:]!r} in {text!r}"
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Formula:
    """A recursive-descent reader of one formula, resolving names on a record."""

    FUNCTIONS = {"sigmoid": fn.sigmoid, "softplus": fn.softplus}

    def __init__(self, text: str, record: StepRecord, builder: ChainBuilder) -> None:
        self.record, self.builder = record, builder
        self.net = record.network
        main, *clauses = text.split(",  ") if ",  " in text else text.split(", ")
        self.ranges: dict[str, list[str]] = {}
        self.templates: dict[str, Node] = {}
        for clause in clauses:
            left, right = (part.strip() for part in clause.split(" = ", 1))
            if left == "k":
                first, last = right.split("…") if "…" in right else (right, right)
                names = [n for layer in self.net.node_names for n in layer]
                self.ranges["k"] = names[names.index(first) : names.index(last) + 1]
            else:
                self.templates[left] = Formula(right, record, builder).tree
        outputs = self.net.layers[-1]
        self.ranges["ⱼ"] = [str(j + 1) for j in range(outputs)]
        self.toks = tokens(main)
        self.i = 0
        self.tree = self.expression()
        assert self.i == len(self.toks), f"unread {self.toks[self.i :]} in {text!r}"

    # ---------------------------------------------------------------- grammar
    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        tok = self.toks[self.i]
        assert expected is None or tok[1] == expected, (tok, expected)
        self.i += 1
        return tok

    def expression(self) -> Node:
        value = self.additive()
        if self.peek() == "if":
            self.take("if")
            cond = self.comparison()
            self.take("else")
            other = self.additive()
            return lambda env: np.where(cond(env), value(env), other(env))
        return value

    def comparison(self) -> Node:
        left = self.additive()
        self.take(">")
        right = self.additive()
        return lambda env: (left(env) > right(env)).astype(np.float64)

    def additive(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "−"):
            op = self.take()[1]
            right, left = self.term(), node
            node = (
                (lambda e, a=left, b=right: a(e) + b(e))
                if op == "+"
                else (lambda e, a=left, b=right: a(e) - b(e))
            )
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek() in ("·", "/", "("):
            op = self.take()[1] if self.peek() != "(" else "·"  # 2(y − g): implicit ·
            right, left = self.unary(), node
            node = (
                (lambda e, a=left, b=right: a(e) * b(e))
                if op == "·"
                else (lambda e, a=left, b=right: a(e) / b(e))
            )
        return node

    def unary(self) -> Node:
        if self.peek() == "−":
            self.take()
            inner = self.unary()
            return lambda e: -inner(e)
        if self.peek() in ("Σₖ", "Σⱼ"):
            index = self.take()[1][1:]
            index = "k" if index == "ₖ" else "ⱼ"
            body = self.term()
            names = self.ranges[index]
            return lambda e: sum(body({**e, index: name}) for name in names)
        return self.power()

    def power(self) -> Node:
        node = self.atom()
        while self.peek() == "²":
            self.take()
            node = _squared(node)
        return node

    def atom(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            return lambda e, v=float(text): np.full(self.record.x.shape[0], v)
        if text in ("(", "["):
            inner = self.expression() if text == "(" else self.comparison()
            self.take(")" if text == "(" else "]")
            return inner
        if kind == "name" and text in self.FUNCTIONS and self.peek() == "(":
            self.take("(")
            arg = self.expression()
            self.take(")")
            return lambda e, f=self.FUNCTIONS[text]: f(arg(e))
        assert kind in ("name", "dvar", "weight"), (kind, text)
        return lambda e: self.resolve(text, e)

    # ------------------------------------------------------------------ names
    def resolve(self, name: str, env: Env) -> Array:
        rec = self.record
        if "ⱼ" in name and "ⱼ" in env:
            if name in self.templates:
                return self.templates[name](env)
            j = int(env["ⱼ"])
            return self.resolve(
                name.replace("ŷⱼ", self.net.node_names[-1][j - 1]).replace("ⱼ", env["ⱼ"]), env
            )
        if name.startswith("w(k←"):
            return np.full(rec.x.shape[0], rec.params[self.weight(env["k"], name[4:-1])])
        if name.endswith("z_k"):
            name = name[:-1] + env["k"]
        if name.startswith("∂Loss/∂z_"):
            return self.dz(name.removeprefix("∂Loss/∂z_"))
        if name.startswith("∂Loss/∂"):
            outputs = self.net.node_names[-1]
            node = name.removeprefix("∂Loss/∂")
            j = outputs.index(node) + 1
            return self.templates["∂Loss/∂ŷⱼ"]({**env, "ⱼ": str(j)})
        return self.value(name)

    def value(self, name: str) -> Array:
        rec, n = self.record, self.record.x.shape[0]
        if name in rec.params:
            return np.full(n, rec.params[name])
        if name in rec.nodes:
            return np.asarray(rec.nodes[name], dtype=np.float64)
        if name.startswith("z_") and name[2:] in rec.pre_activations:
            return np.asarray(rec.pre_activations[name[2:]], dtype=np.float64)
        if name == "y" and rec.y.shape[1] == 1:
            return rec.y[:, 0]
        if re.fullmatch(r"y\d+", name) and rec.y.shape[1] > 1:
            return rec.y[:, int(name[1:]) - 1]
        raise AssertionError(f"formula names {name!r}, which is nothing in this state")

    def dz(self, node: str) -> Array:
        for layer, names in enumerate(self.net.node_names[1:]):
            if node in names:
                return self.record.layers[layer].dz[:, names.index(node)]
        raise AssertionError(node)

    def weight(self, to: str, source: str) -> str:
        for layer, names in enumerate(self.net.node_names[1:], start=1):
            if to in names:
                col = self.net.node_names[layer - 1].index(source)
                start = self.net.weight_slices[layer - 1].start
                return self.net.param_names[
                    start + names.index(to) * self.net.layers[layer - 1] + col
                ]
        raise AssertionError(to)

    def __call__(self) -> Array:
        return np.broadcast_to(self.tree({}), (self.record.x.shape[0],))


def _squared(node: Node) -> Node:
    return lambda e: node(e) ** 2


def _rows(a: Array) -> str:
    return "[" + ", ".join("[" + ", ".join(f"{v:.6f}" for v in r) + "]" for r in a) + "]"


# ----------------------------------------------------------------- networks
COMBOS = [
    ("identity", "ssr"),
    ("identity", "mse"),
    ("sigmoid", "ssr"),
    ("sigmoid", "mse"),
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
    ("softmax", "mse"),
    ("softmax", "ssr"),
]


def record_for(activation: str, output: str, loss: str, layers: list[int]) -> StepRecord:
    """A record of a small net whose hidden pre-activations straddle 0 (both kink sides)."""
    inputs, outputs = layers[0], layers[-1]
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.5, 1.5, size=(5, inputs))
    if output == "softmax" or outputs > 1:
        y = np.eye(outputs)[rng.integers(0, outputs, size=5)]
    else:
        y = rng.uniform(0.1, 0.9, size=(5, 1))
    text = f"""
name = "words"
[network]
layers = {layers}
activation = "{activation}"
output_activation = "{output}"
loss = "{loss}"
[training]
learning_rate = 0.1
seed = 11
[data]
x = {_rows(x)}
y = {_rows(y)}
"""
    stepper = Stepper(parse_scenario(text, "words", None).training())
    return stepper.record()


SHAPES = {"wide": [2, 3, 2, None], "narrow": [1, 2, 1, None]}


def cases():
    for activation in fn.ACTIVATIONS:
        for output, loss in COMBOS:
            for shape, layers in SHAPES.items():
                outputs = 2 if output == "softmax" else (1 if shape == "narrow" else 2)
                if loss == "bce" and outputs > 1:
                    outputs = 1
                yield pytest.param(
                    activation,
                    output,
                    loss,
                    [*layers[:-1], outputs],
                    id=f"{activation}-{output}-{loss}-{shape}",
                )


@pytest.mark.parametrize(("activation", "output", "loss", "layers"), list(cases()))
def test_every_factor_formula_evaluates_to_its_value(
    activation: str, output: str, loss: str, layers: list[int]
) -> None:
    record = record_for(activation, output, loss, layers)
    builder = ChainBuilder(record, len(record.batch))
    for param, chain in builder.all_chains().items():
        for factor in chain:
            evaluated = Formula(factor.formula, record, builder)()
            np.testing.assert_allclose(
                evaluated,
                factor.values,
                rtol=1e-9,
                atol=1e-12,
                err_msg=f"{param}: {factor.symbol} = {factor.formula}",
            )


def test_the_tanh_factor_of_softmax3_is_bracketed() -> None:
    """The reported case: ∂h1.1/∂w1 reads (1 − h1.1²)·x1, and means it."""
    from bptui.scenario.loading import load_builtin

    record = Stepper(load_builtin("softmax3").training()).record()
    builder = ChainBuilder(record, len(record.batch))
    local = builder["w1"][-1]
    assert (local.symbol, local.formula) == ("∂h1.1/∂w1", "(1 − h1.1²)·x1")
    h, x = record.nodes["h1.1"], record.x[:, 0]
    np.testing.assert_allclose(local.values, (1 - h**2) * x, rtol=1e-12)
    assert builder["w9"][0].formula == "(ŷ1 − y1) / 9"
