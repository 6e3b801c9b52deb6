"""Worked examples out: one step of backprop written down, number by number.

``bptui export`` writes what a teacher writes on the board: the network, the
data, the forward pass node by node, the loss, each parameter's chain rule
with every factor's formula and numbers, their sum (the gradient) and the
update.  Every number comes from the engine's record of the step; the
factors' formulas are the engine's :class:`~bptui.engine.chain.Factor`
formulas, read into a small math model.

One model (:class:`Document`: blocks of prose and equations over math atoms),
built once by :func:`worked_example`; :func:`exercise` turns it into a
worksheet (computed numbers blank, numbered) and its answer key; one renderer
per format writes it: Markdown with ``$…$`` math for KaTeX/MathJax, a
standalone LaTeX document (amsmath), or a standalone HTML page whose math is
MathML, which every current browser renders offline without a script.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from html import escape as html_escape
from pathlib import Path

import numpy as np

from bptui.engine.chain import Factor
from bptui.engine.record import StepRecord
from bptui.engine.stepper import Stepper
from bptui.errors import UsageError
from bptui.scenario.model import Scenario

FORMATS = ("md", "tex", "html")

#: Nets with more parameters than this get a default of the first weight and bias.
SMALL_NET = 12
#: Significant digits of every computed number (the TUI shows six decimals).
DIGITS = 6


# ------------------------------------------------------------------ math atoms
@dataclass(frozen=True)
class Name:
    """A variable: ``base`` upright when longer than one letter, digits as ``index``."""

    base: str
    hat: bool = False
    index: str | None = None
    sub: Name | None = None


@dataclass(frozen=True)
class Num:
    """A number; ``computed`` numbers show all their digits, given ones as given."""

    value: float
    computed: bool = False


@dataclass(frozen=True)
class Op:
    """An operator or bracket as the engine writes it (·, −, ∂, …), or a word (if, else)."""

    text: str


@dataclass(frozen=True)
class Func:
    """A function name such as softplus, with an optional index (softmax₁)."""

    name: str
    index: str | None = None


@dataclass(frozen=True)
class Frac:
    """numerator over denominator (here always a derivative: ∂Loss over ∂θ)."""

    numerator: Expr
    denominator: Expr


@dataclass(frozen=True)
class Sup:
    """base to a power; a negative number as the base is bracketed."""

    base: Expr
    exponent: Expr


@dataclass(frozen=True)
class Sum:
    """Σ over ``index`` from 1 to ``upper`` (the points)."""

    index: str
    upper: int


@dataclass(frozen=True)
class Subst:
    """A symbol with its value at one point: the formula shows it, the numbers replace it.

    ``key`` names a computed value (so a worksheet can point at the blank where
    it was computed); given values (data, parameters, α) have none.
    """

    symbol: Expr
    value: float
    key: tuple | None = None


@dataclass(frozen=True)
class Result:
    """A number the reader computes: the last side of an equation."""

    key: tuple
    value: float
    label: Expr
    point: int | None = None


@dataclass(frozen=True)
class Blank:
    """A worksheet's blank ``number`` to fill in, or (``ref``) its value used later on."""

    number: int
    ref: bool = False


Atom = Name | Num | Op | Func | Frac | Sup | Sum | Subst | Result | Blank
Expr = tuple[Atom, ...]
#: A run of prose (str) or inline math (Expr).
Part = str | tuple


# ---------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Heading:
    level: int
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Para:
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[Part, ...]
    rows: tuple[tuple[Part, ...], ...]


@dataclass(frozen=True)
class Equation:
    """``sides[0] relation sides[1] = sides[2] = …``."""

    sides: tuple[Expr, ...]
    relation: str = "="


@dataclass(frozen=True)
class Equations:
    lines: tuple[Equation, ...]


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Para | Table | Equations | PageBreak


@dataclass(frozen=True)
class Document:
    title: str
    blocks: tuple[Block, ...]


# ----------------------------------------------------------------- small makers
def name_of(text: str) -> Name:
    """The math name of a node, parameter or ``z_node``: x1 → x₁, ŷ1 → ŷ₁, blue → blue."""
    if text.startswith("z_") and len(text) > 2:
        return Name("z", sub=name_of(text[2:]))
    m = re.fullmatch(r"([^\W\d_])(\d+)?", text)
    if m is None:
        return Name(text)
    letter, digits = m.groups()
    if letter == "ŷ":
        return Name("y", hat=True, index=digits)
    return Name(letter, index=digits)


LOSS = Name("Loss")


def deriv(top: Atom, bottom: Atom) -> Frac:
    return Frac((Op("∂"), top), (Op("∂"), bottom))


def symbol_of(engine_symbol: str) -> Frac:
    """``∂Loss/∂z_ŷ1`` → a fraction of two names."""
    top, bottom = engine_symbol.split("/∂", 1)
    return deriv(name_of(top.removeprefix("∂")), name_of(bottom))


def joined(terms: Sequence[Expr], op: str) -> Expr:
    out: list[Atom] = []
    for i, term in enumerate(terms):
        if i:
            out.append(Op(op))
        out.extend(term)
    return tuple(out)


def symbolic(expr: Expr) -> Expr:
    """The formula before numbers go in: every substitution shows its symbol."""
    out: list[Atom] = []
    for atom in expr:
        if isinstance(atom, Subst):
            out.extend(atom.symbol)
        elif isinstance(atom, Sup):
            out.append(Sup(symbolic(atom.base), symbolic(atom.exponent)))
        elif isinstance(atom, Frac):
            out.append(Frac(symbolic(atom.numerator), symbolic(atom.denominator)))
        else:
            out.append(atom)
    return tuple(out)


def _has(expr: Expr, wanted: Callable[[Atom], bool]) -> bool:
    for atom in expr:
        if wanted(atom):
            return True
        if isinstance(atom, Sup) and (_has(atom.base, wanted) or _has(atom.exponent, wanted)):
            return True
        if isinstance(atom, Frac) and (
            _has(atom.numerator, wanted) or _has(atom.denominator, wanted)
        ):
            return True
    return False


def _computed_subst(atom: Atom) -> bool:
    return isinstance(atom, Subst) and atom.key is not None


def _paren(expr: Expr) -> Expr:
    return (Op("("), *expr, Op(")"))


# ------------------------------------------------------- the engine's formulas
class FormulaReader:
    """Reads a Factor formula (``sigmoid(z_blue)·x``) into atoms with values at one point.

    The engine joins a chain factor's terms with ``·`` (``1 − h1.1²·x1`` means
    (1 − h1.1²)·x1), so a term holding a bare + or − gets brackets here.
    """

    def __init__(self, values: Callable[[str], Subst | None], vocabulary: Sequence[str]) -> None:
        self.values = values
        names = "|".join(re.escape(v) for v in sorted(vocabulary, key=len, reverse=True))
        self.token = re.compile(
            rf"(?P<name>{names})(?![^\W²]|\.)|(?P<square>²)|(?P<num>\d+(?:\.\d+)?)"
            rf"|(?P<word>[^\W\d_²]+)"
            rf"|(?P<space>\s+)|(?P<op>.)"
        )

    def read(self, formula: str) -> Expr:
        atoms: list[Atom] = []
        tokens = list(self.token.finditer(formula))
        for k, m in enumerate(tokens):
            kind, text = m.lastgroup, m.group()
            if kind == "name":
                found = self.values(text)
                atoms.append(found if found is not None else name_of(text))
            elif kind == "num":
                atoms.append(Num(float(text)))
            elif kind == "word":
                follows = tokens[k + 1].group() if k + 1 < len(tokens) else ""
                atoms.append(Func(text) if follows == "(" else Op(text))
            elif kind == "square":
                atoms.append(Sup((atoms.pop(),), (Num(2.0),)))
            elif kind == "op":
                atoms.append(Op(text))
        return guard_products(tuple(atoms))


def _top_level(expr: Expr) -> Iterator[tuple[int, Atom]]:
    """(position, atom) of the atoms outside every bracket."""
    depth = 0
    for i, atom in enumerate(expr):
        if isinstance(atom, Op) and atom.text in "([":
            depth += 1
        elif isinstance(atom, Op) and atom.text in ")]":
            depth -= 1
        elif depth == 0:
            yield i, atom


def guard_products(expr: Expr) -> Expr:
    """Brackets around a sum that is one factor of a · product."""
    cuts = [i for i, a in _top_level(expr) if a == Op("·")]
    if not cuts:
        return expr
    terms, start = [], 0
    for cut in [*cuts, len(expr)]:
        terms.append(expr[start:cut])
        start = cut + 1
    guarded = []
    for term in terms:
        sums = [i for i, a in _top_level(term) if a in (Op("−"), Op("+")) and i > 0]
        guarded.append(_paren(term) if sums else term)
    return joined(guarded, "·")


# ------------------------------------------------------------- numbers as text
def number_text(value: float, computed: bool) -> str:
    """Six significant digits (kept to the last zero when computed), ``-`` and ``e-05``."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    return f"{value:#.{DIGITS}g}" if computed else f"{value:.{DIGITS}g}"


def split_number(text: str) -> tuple[bool, str, int | None]:
    """(negative, digits, power of ten or None) of :func:`number_text`'s text."""
    negative = text.startswith("-")
    body = text.lstrip("-")
    if "e" in body:
        mantissa, power = body.split("e")
        return negative, mantissa, int(power)
    return negative, body, None


# ---------------------------------------------------------------- the losses
def _squared(y: Atom, yhat: Atom) -> Expr:
    return (Sup(_paren((y, Op("−"), yhat)), (Num(2.0),)),)


def _log_likelihood(y: Atom, yhat: Atom) -> Expr:
    return (y, Op("·"), Func("log"), *_paren((yhat,)))


def _ssr_term(pairs: Sequence[tuple[Atom, Atom]], count: int, points: int) -> Expr:
    return joined([_squared(y, p) for y, p in pairs], "+")


def _mse_term(pairs: Sequence[tuple[Atom, Atom]], count: int, points: int) -> Expr:
    return (*_paren(_ssr_term(pairs, count, points)), Op("/"), Num(float(count)))


def _bce_term(pairs: Sequence[tuple[Atom, Atom]], count: int, points: int) -> Expr:
    terms = []
    for y, p in pairs:
        one_minus_y, one_minus_p = _paren((Num(1.0), Op("−"), y)), _paren((Num(1.0), Op("−"), p))
        terms.append(
            (
                Op("−"),
                *_paren(
                    (
                        *_log_likelihood(y, p),
                        Op("+"),
                        *one_minus_y,
                        Op("·"),
                        Func("log"),
                        *one_minus_p,
                    )
                ),
            )
        )
    return (*_paren(joined(terms, "+")), Op("/"), Num(float(count)))


def _cross_entropy_term(pairs: Sequence[tuple[Atom, Atom]], count: int, points: int) -> Expr:
    inner = joined([_log_likelihood(y, p) for y, p in pairs], "+")
    return (Op("−"), *_paren(inner), Op("/"), Num(float(points)))


#: One point's loss term from its (target, output) pairs, the count of averaged
#: elements and of points.  The engine computes the values; this only writes them.
LOSS_TERMS: dict[str, Callable[[Sequence[tuple[Atom, Atom]], int, int], Expr]] = {
    "ssr": _ssr_term,
    "mse": _mse_term,
    "bce": _bce_term,
    "cross_entropy": _cross_entropy_term,
}

#: Losses whose targets are free numbers, so --seed may move them.
FREE_TARGETS = ("ssr", "mse")


def loss_term(loss: str) -> Callable[[Sequence[tuple[Atom, Atom]], int, int], Expr]:
    try:
        return LOSS_TERMS[loss]
    except KeyError:
        raise ValueError(
            f"no written form for loss {loss!r} (known: {', '.join(LOSS_TERMS)})"
        ) from None


# --------------------------------------------------------------- the builder
def backward_order(stepper: Stepper) -> list[str]:
    """Parameters as backprop meets them: output layer first, each node's bias first."""
    net = stepper.network
    order = []
    for layer in range(net.depth, 0, -1):
        for row in range(net.layers[layer]):
            mine = [p for p in net.params if p.layer == layer and p.row == row]
            order += [p.name for p in mine if p.kind == "b"] + [
                p.name for p in mine if p.kind == "W"
            ]
    return order


def choose_params(stepper: Stepper, asked: Sequence[str] | None) -> tuple[list[str], str | None]:
    """The parameters to work out, and a sentence when the default left some out."""
    net = stepper.network
    if asked:
        unknown = [a for a in asked if a not in net.param_index]
        if unknown:
            raise UsageError(
                f"--param {unknown[0]}: no such parameter (known: {', '.join(net.param_names)})"
            )
        return list(dict.fromkeys(asked)), None
    if net.size <= SMALL_NET:
        return backward_order(stepper), None
    first_w = next(p.name for p in net.params if p.kind == "W")
    first_b = next(p.name for p in net.params if p.kind == "b")
    note = (
        f"This network has {net.size} parameters; this document works out {first_w} and "
        f"{first_b} only (give --param NAME to choose others)."
    )
    return [first_w, first_b], note


def perturbed(scenario: Scenario, seed: int) -> Scenario:
    """The scenario with its data moved deterministically by ``seed``; network and init kept.

    Inputs move by up to a quarter of their spread, rounded to two decimals;
    targets move too when the loss takes any number (ssr, mse), never class labels.
    """
    rng = np.random.default_rng(seed)

    def shake(values: np.ndarray) -> np.ndarray:
        spread = np.ptp(values, axis=0)
        spread = np.where(spread > 0, spread, 1.0)
        moved = values + rng.uniform(-0.25, 0.25, values.shape) * spread
        return np.round(moved, 2)

    x = shake(scenario.x)
    y = shake(scenario.y) if scenario.arch.loss in FREE_TARGETS else scenario.y.copy()
    return replace(scenario, x=x, y=y)


@dataclass
class _Point:
    """What a formula's names mean at one data point."""

    i: int
    output: int = 0


class _Builder:
    """Builds the worked example of one record, section by section."""

    def __init__(self, scenario: Scenario, stepper: Stepper, params: list[str]) -> None:
        self.scenario = scenario
        self.stepper = stepper
        self.rec: StepRecord = stepper.record()
        self.net = stepper.network
        self.params = params
        self.n = self.rec.x.shape[0]
        self.where = {
            name: (layer, row)
            for layer, names in enumerate(self.net.node_names)
            for row, name in enumerate(names)
        }
        self.param_at = {(p.layer, p.kind, p.row, p.col): p.name for p in self.net.params}
        self.point = _Point(0)
        vocabulary = [*self.where, *(f"z_{n}" for n in self.where), *self.net.param_names, "y"]
        self.reader = FormulaReader(self.value, vocabulary)
        self.multi_output = self.net.layers[-1] > 1

    # values of names at the current point
    def target(self, column: int) -> Name:
        return Name("y", index=str(column + 1) if self.multi_output else None)

    def param(self, name: str) -> Subst:
        return Subst((name_of(name),), self.rec.params[name])

    def activation(self, layer: int) -> str:
        arch = self.net.arch
        return arch.output_activation if layer == self.net.depth else arch.activation

    def node(self, name: str, i: int) -> Subst:
        """A node's value; under the identity it is its z, so it shares z's blank."""
        layer, _ = self.where[name]
        if layer == 0:
            key = None
        else:
            key = ("z" if self.activation(layer) == "identity" else "a", name, i)
        return Subst((name_of(name),), float(self.rec.nodes[name][i]), key)

    def pre(self, name: str, i: int) -> Subst:
        return Subst(
            (name_of(f"z_{name}"),), float(self.rec.pre_activations[name][i]), ("z", name, i)
        )

    def value(self, token: str) -> Subst | None:
        i = self.point.i
        if token == "y":
            col = self.point.output
            return Subst((self.target(col),), float(self.rec.y[i, col]))
        if token in self.net.param_index:
            return self.param(token)
        if token.startswith("z_") and token[2:] in self.where and self.where[token[2:]][0]:
            return self.pre(token[2:], i)
        if token in self.where:
            return self.node(token, i)
        return None

    # sections
    def document(self, notes: Sequence[str]) -> Document:
        title = f"Worked example: {self.scenario.name}, step {self.rec.step}"
        blocks: list[Block] = [Heading(1, (title,)), Para((self._intro(),))]
        blocks += [Para((note,)) for note in notes]
        for section in (self.network, self.data, self.forward, self.loss, self.chains, self.update):
            blocks += section()
        return Document(title, tuple(blocks))

    def _intro(self) -> str:
        return (
            f"Every number below is bptui's record of step {self.rec.step}: the state before "
            f"update {self.rec.step + 1}. Computed numbers carry {DIGITS} significant digits; "
            "given numbers (data, parameters, learning rate) are written as given."
        )

    def network(self) -> list[Block]:
        net, arch = self.net, self.net.arch
        rows = []
        for layer, names in enumerate(net.node_names):
            kind = "input" if layer == 0 else ("output" if layer == net.depth else "hidden")
            act = (
                "—"
                if layer == 0
                else (arch.output_activation if kind == "output" else arch.activation)
            )
            rows.append((str(layer), kind, joined([(name_of(n),) for n in names], ","), act))
        blocks: list[Block] = [
            Heading(2, ("The network",)),
            Para(
                (
                    f"Layers {'-'.join(map(str, net.layers))}, hidden activation {arch.activation}, "
                    f"output activation {arch.output_activation}, loss {arch.loss}.",
                )
            ),
            Table(("layer", "kind", "nodes", "activation"), tuple(rows)),
            Para((f"Parameters at step {self.rec.step} (given):",)),
            Table(
                ("parameter", "connects", "value"), tuple(self._param_row(p) for p in net.params)
            ),
        ]
        return blocks

    def _param_row(self, p) -> tuple[Part, ...]:
        to = name_of(self.net.node_names[p.layer][p.row])
        if p.kind == "W":
            source = name_of(self.net.node_names[p.layer - 1][p.col])
            connects: Expr = (source, Op("→"), to)
        else:
            connects = (Op("bias"), Op("→"), to)
        return ((name_of(p.name),), connects, (Num(self.rec.params[p.name]),))

    def data(self) -> list[Block]:
        inputs = self.net.node_names[0]
        header = ("point", *((name_of(n),) for n in inputs))
        header += tuple((self.target(k),) for k in range(self.net.layers[-1]))
        rows = []
        for i in range(self.n):
            cells = [(Num(float(v)),) for v in (*self.rec.x[i], *self.rec.y[i])]
            rows.append((str(i + 1), *cells))
        return [Heading(2, ("The data",)), Table(header, tuple(rows))]

    def forward(self) -> list[Block]:
        blocks: list[Block] = [
            Heading(2, ("Forward pass",)),
            Para(
                (
                    "Each node sums its weighted inputs and its bias into z, then applies its activation.",
                )
            ),
        ]
        for i in range(self.n):
            lines = []
            for layer in range(1, self.net.depth + 1):
                for name in self.net.node_names[layer]:
                    lines += [self._z_line(name, i), self._activation_line(name, i)]
            blocks += [Heading(3, (f"Point {i + 1}",)), Equations(tuple(lines))]
        return blocks

    def _z_line(self, name: str, i: int) -> Equation:
        layer, row = self.where[name]
        terms = []
        for col, source in enumerate(self.net.node_names[layer - 1]):
            terms.append(
                (self.param(self.param_at[(layer, "W", row, col)]), Op("·"), self.node(source, i))
            )
        terms.append((self.param(self.param_at[(layer, "b", row, None)]),))
        expr = joined(terms, "+")
        lhs = name_of(f"z_{name}")
        value = float(self.rec.pre_activations[name][i])
        result = Result(("z", name, i), value, (lhs,), i)
        return Equation(((lhs,), symbolic(expr), expr, (result,)))

    def _activation_line(self, name: str, i: int) -> Equation:
        layer, row = self.where[name]
        act = self.activation(layer)
        lhs = name_of(name)
        if act == "identity":  # nothing to compute: the node is its z
            return Equation(((lhs,), (name_of(f"z_{name}"),), (self.pre(name, i),)))
        if act == "softmax":
            args = joined([(self.pre(n, i),) for n in self.net.node_names[layer]], ",")
            expr = (Func("softmax", str(row + 1)), *_paren(args))
        else:
            expr = (Func(act), *_paren((self.pre(name, i),)))
        result = Result(("a", name, i), float(self.rec.nodes[name][i]), (lhs,), i)
        return Equation(((lhs,), symbolic(expr), expr, (result,)))

    def loss(self) -> list[Block]:
        rec, outputs = self.rec, self.net.node_names[-1]
        write = loss_term(self.net.loss)
        count, points = rec.y.size, self.n
        ell = Name("ℓ")
        lines = [Equation(((LOSS,), (Sum("i", self.n), Name("ℓ", index="i"))))]
        for i in range(self.n):
            pairs = [
                (Subst((self.target(k),), float(rec.y[i, k])), self.node(n, i))
                for k, n in enumerate(outputs)
            ]
            expr = write(pairs, count, points)
            if i == 0:
                lines.append(Equation(((ell,), symbolic(expr))))
            label = (Name("ℓ", index=str(i + 1)),)
            lines.append(
                Equation((label, expr, (Result(("loss", i), float(rec.point_loss[i]), label, i),)))
            )
        terms = [
            (Subst((Name("ℓ", index=str(i + 1)),), float(rec.point_loss[i]), ("loss", i)),)
            for i in range(self.n)
        ]
        total = joined(terms, "+")
        lines.append(
            Equation(((LOSS,), symbolic(total), total, (Result(("loss",), rec.loss, (LOSS,)),)))
        )
        return [
            Heading(2, ("Loss",)),
            Para((f"The {self.net.loss} loss over all {self.n} points, one term per point:",)),
            Equations(tuple(lines)),
        ]

    def chains(self) -> list[Block]:
        blocks: list[Block] = [
            Heading(2, ("Gradients by the chain rule",)),
            Para(
                (
                    "Each gradient is a sum over the points of a product of factors; "
                    "each factor is written as its formula, then with the numbers in.",
                )
            ),
        ]
        for name in self.params:
            blocks += self._chain(name)
        return blocks

    def _chain(self, name: str) -> list[Block]:
        factors = self.rec.factors[name]
        symbols = [symbol_of(f.symbol) for f in factors]
        product = joined([(s,) for s in symbols], "·")
        grad = deriv(LOSS, name_of(name))
        blocks: list[Block] = [
            Heading(3, ((grad,),)),
            Equations(
                (
                    Equation(((grad,), (Sum("i", self.n), *product))),
                    *(Equation(((s,), self._symbolic_factor(f))) for s, f in zip(symbols, factors)),
                )
            ),
        ]
        reused = [
            ((s,), f" is reused from the chain of {f.first_use}; ")
            for s, f in zip(symbols, factors)
            if f.reused
        ]
        if reused:
            parts = [part for pair in reused for part in pair]
            blocks.append(Para((*parts, "backprop computes each factor once.")))
        in_batch = set(int(b) for b in self.rec.batch)
        for i in range(self.n):
            if i not in in_batch:
                blocks.append(Para((f"Point {i + 1} is not in this step's batch: it adds 0.",)))
                continue
            blocks += [
                Para((f"Point {i + 1}:",)),
                Equations(tuple(self._point_chain(name, factors, symbols, i))),
            ]
        terms = [
            (Subst((), float(self.rec.chain_product(name)[i]), self._product_key(name, i)),)
            for i in sorted(in_batch)
        ]
        total = joined(terms, "+")
        value = self.rec.grads[name]
        blocks.append(
            Equations((Equation(((grad,), total, (Result(("grad", name), value, (grad,)),))),))
        )
        return blocks

    def _product_key(self, name: str, i: int) -> tuple:
        p = self.net.params[self.net.param_index[name]]
        if p.kind == "b":
            return ("dz", self.net.node_names[p.layer][p.row], i)
        return ("product", name, i)

    def _symbolic_factor(self, factor: Factor) -> Expr:
        return symbolic(self._factor_expr(factor, 0))

    def _factor_expr(self, factor: Factor, i: int) -> Expr:
        node = factor.symbol.split("/∂", 1)[1]
        top = factor.symbol.split("/∂", 1)[0].removeprefix("∂")
        if top == "Loss" and node in self.where and self.where[node][0] < self.net.depth:
            return self._summed_upstream(node, i)
        output = self.where.get(node.removeprefix("z_"), (0, 0))
        self.point = _Point(i, output[1] if output[0] == self.net.depth else 0)
        return self.reader.read(factor.formula)

    def _summed_upstream(self, node: str, i: int) -> Expr:
        """∂Loss/∂node = Σₖ ∂Loss/∂z_k · w(k←node), written out term by term."""
        layer, row = self.where[node]
        nxt = self.rec.layers[layer]
        terms = []
        for k, target in enumerate(self.net.node_names[layer + 1]):
            dz = Subst(
                (deriv(LOSS, name_of(f"z_{target}")),), float(nxt.dz[i, k]), ("dz", target, i)
            )
            terms.append((dz, Op("·"), self.param(self.param_at[(layer + 1, "W", k, row)])))
        return joined(terms, "+")

    def _point_chain(
        self, name: str, factors: list[Factor], symbols: list[Frac], i: int
    ) -> list[Equation]:
        lines = []
        used = []
        for factor, symbol in zip(factors, symbols):
            expr = self._factor_expr(factor, i)
            key = ("factor", factor.symbol, i)
            value = float(factor.values[i])
            if len(expr) == 1 and isinstance(expr[0], Subst):  # a value looked up: no work
                key = expr[0].key
                lines.append(Equation(((symbol,), symbolic(expr), expr)))
            elif _has(expr, _computed_subst):
                result = Result(key, value, (symbol,), i)
                lines.append(Equation(((symbol,), symbolic(expr), expr, (result,))))
            else:  # a constant: nothing to compute
                key = None
                lines.append(Equation(((symbol,), symbolic(expr), expr)))
            used.append((Subst((symbol,), value, key),))
        product = joined(used, "·")
        label = symbolic(product)
        value = float(self.rec.chain_product(name)[i])
        lines.append(
            Equation((label, product, (Result(self._product_key(name, i), value, label, i),)))
        )
        return lines

    def update(self) -> list[Block]:
        alpha = Subst((Name("α"),), self.stepper.learning_rate)
        mask = self.stepper.trainable_mask
        lines, frozen = [], []
        for name in self.params:
            if not mask[self.net.param_index[name]]:
                frozen.append(name)
                continue
            grad = deriv(LOSS, name_of(name))
            expr = (
                self.param(name),
                Op("−"),
                alpha,
                Op("·"),
                Subst((grad,), self.rec.grads[name], ("grad", name)),
            )
            new = self.rec.params[name] - self.stepper.learning_rate * self.rec.grads[name]
            label = (name_of(name),)
            lines.append(
                Equation((label, symbolic(expr), expr, (Result(("new", name), new, label),)), "←")
            )
        blocks: list[Block] = [
            Heading(2, ("Update",)),
            Para(
                (
                    "Gradient descent moves each parameter against its gradient, with learning rate ",
                    (alpha.symbol[0], Op("="), Num(self.stepper.learning_rate)),
                    ":",
                )
            ),
        ]
        if lines:
            blocks.append(Equations(tuple(lines)))
        if frozen:
            blocks.append(
                Para((f"Not trainable in this scenario, so unchanged: {', '.join(frozen)}.",))
            )
        return blocks


def worked_example(
    scenario: Scenario,
    step: int = 0,
    params: Sequence[str] | None = None,
    seed: int | None = None,
) -> Document:
    """The worked example of ``scenario`` at ``step``: network, data, forward, loss, chains, update."""
    notes = []
    if seed is not None:
        scenario = perturbed(scenario, seed)
        notes.append(
            f"The data are this scenario's, moved by seed {seed} (network and initial parameters kept)."
        )
    stepper = Stepper(scenario.training())
    if step:
        stepper.goto(step)
    if stepper.step != step:
        raise UsageError(
            f"--step {step}: the run diverges at step {stepper.diverged}, so step {step} is never reached"
        )
    chosen, note = choose_params(stepper, params)
    if note:
        notes.append(note)
    batch = stepper.record().batch
    if len(batch) < stepper.record().x.shape[0]:
        points = ", ".join(str(int(b) + 1) for b in batch)
        notes.append(
            f"This step descends the mini-batch of points {points}; the loss is over all points."
        )
    return _Builder(scenario, stepper, chosen).document(notes)


# ----------------------------------------------------------------- worksheets
@dataclass
class _Numbering:
    """Blank numbers, in document order, for every computed result."""

    numbers: dict[tuple, int] = field(default_factory=dict)
    answers: list[Result] = field(default_factory=list)
    blank: bool = False
    written: set[tuple] = field(default_factory=set)

    def assign(self, doc: Document) -> None:
        for block in doc.blocks:
            if isinstance(block, Equations):
                for line in block.lines:
                    self._assign(line.sides)

    def _assign(self, sides: tuple[Expr, ...]) -> None:
        for side in sides:
            for atom in side:
                if isinstance(atom, Result) and atom.key not in self.numbers:
                    self.numbers[atom.key] = len(self.numbers) + 1
                    self.answers.append(atom)

    def result(self, atom: Result) -> Atom:
        """A result as a number, or on a worksheet its blank (a reference once written)."""
        if not self.blank:
            return Num(atom.value, True)
        number = self.numbers[atom.key]
        if atom.key in self.written:
            return Blank(ref=True, number=number)
        self.written.add(atom.key)
        return Blank(number)


_OPENERS = (Op("("), Op("["), Op(","))
_CLOSERS = (Op(")"), Op("]"), Op(","))


def resolve(expr: Expr, numbering: _Numbering, bracket: bool = False) -> Expr:
    """Substitutions and results made into numbers (or blanks on a worksheet)."""
    out: list[Atom] = []
    for k, atom in enumerate(expr):
        if isinstance(atom, Subst):
            follows = expr[k + 1] if k + 1 < len(expr) else None
            opened = k == 0 or expr[k - 1] in _OPENERS
            closed = follows is None or follows in _CLOSERS
            out += _resolve_subst(atom, numbering, bracket or not (opened and closed or k == 0))
            if follows == Op("(") and isinstance(out[-1], Num | Op):
                out.append(Op("·"))
        elif isinstance(atom, Result):
            out.append(numbering.result(atom))
        elif isinstance(atom, Sup):
            out.append(Sup(resolve(atom.base, numbering, True), resolve(atom.exponent, numbering)))
        elif isinstance(atom, Frac):
            out.append(
                Frac(resolve(atom.numerator, numbering), resolve(atom.denominator, numbering))
            )
        else:
            out.append(atom)
    return tuple(out)


def _resolve_subst(atom: Subst, numbering: _Numbering, bracket: bool) -> list[Atom]:
    if numbering.blank and atom.key in numbering.numbers:
        return [Blank(ref=True, number=numbering.numbers[atom.key])]
    number = Num(atom.value, atom.key is not None)
    if bracket and (atom.value < 0 or math.isnan(atom.value)):
        return [Op("("), number, Op(")")]
    return [number]


def _resolve_block(block: Block, numbering: _Numbering) -> Block:
    if isinstance(block, Equations):
        lines = []
        for line in block.lines:
            sides: list[Expr] = []
            for side in line.sides:
                done = resolve(side, numbering)
                if not sides or done != sides[-1]:
                    sides.append(done)
            lines.append(Equation(tuple(sides), line.relation))
        return Equations(tuple(lines))
    if isinstance(block, Table):
        rows = tuple(tuple(_resolve_part(c, numbering) for c in row) for row in block.rows)
        return Table(block.header, rows)
    return block


def _resolve_part(part: Part, numbering: _Numbering) -> Part:
    return part if isinstance(part, str) else resolve(part, numbering)


def finished(doc: Document) -> Document:
    """The worked example with every number written in."""
    numbering = _Numbering()
    numbering.assign(doc)
    return Document(doc.title, tuple(_resolve_block(b, numbering) for b in doc.blocks))


def exercise(doc: Document) -> tuple[Document, Document]:
    """A worksheet (computed numbers blank and numbered) and its answer key."""
    numbering = _Numbering(blank=True)
    numbering.assign(doc)
    how = Para(
        (
            "Exercise: fill in every blank. Data, parameters and the learning rate are given; "
            "a numbered blank ",
            (Blank(1),),
            " is yours to compute, and ",
            (Blank(ref=True, number=1),),
            " inside a later formula means the value of blank 1. The answer key lists every blank.",
        )
    )
    blocks = (doc.blocks[0], how, *(_resolve_block(b, numbering) for b in doc.blocks[1:]))
    sheet = Document(f"Exercise — {doc.title}", blocks)
    rows = tuple(
        (
            (Blank(ref=True, number=numbering.numbers[r.key]),),
            r.label,
            "" if r.point is None else str(r.point + 1),
            (Num(r.value, True),),
        )
        for r in numbering.answers
    )
    key = Document(
        f"Answer key — {doc.title}",
        (
            Heading(1, (f"Answer key — {doc.title}",)),
            Table(("blank", "quantity", "point", "value"), rows),
        ),
    )
    return sheet, key


def together(sheet: Document, key: Document) -> Document:
    """Worksheet and key as one document, the key after a page break (for stdout)."""
    return Document(sheet.title, (*sheet.blocks, PageBreak(), *key.blocks))


# ------------------------------------------------------------------ renderers
def _latex_text(text: str) -> str:
    """Text made safe inside LaTeX's \\text{} and \\operatorname{}."""
    special = {
        "\\": r"\textbackslash{}",
        "{": r"\{",
        "}": r"\}",
        "_": r"\_",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "^": r"\^{}",
        "~": r"\~{}",
        "−": "-",
    }
    return "".join(special.get(ch, ch) for ch in text)


class LatexMath:
    """Math atoms as LaTeX (KaTeX and MathJax read the same subset)."""

    OPS = {
        "·": r"\cdot",
        "−": "-",
        "∂": r"\partial",
        "←": r"\leftarrow",
        "→": r"\to",
        "…": r"\ldots",
        "Σ": r"\sum",
        ",": r",\,",
        "{": r"\{",
        "}": r"\}",
    }
    LETTERS = {"α": r"\alpha", "ℓ": r"\ell"}

    def expr(self, expr: Expr) -> str:
        return " ".join(self.atom(a) for a in expr)

    def atom(self, atom: Atom) -> str:
        return getattr(self, f"_{type(atom).__name__.lower()}")(atom)

    def _name(self, a: Name) -> str:
        if a.hat:
            text = r"\hat{" + a.base + "}"
        elif a.base in self.LETTERS:
            text = self.LETTERS[a.base]
        else:
            text = a.base if len(a.base) == 1 else r"\text{" + _latex_text(a.base) + "}"
        if a.index is not None:
            text += "_{" + a.index + "}"
        if a.sub is not None:
            text += "_{" + self._name(a.sub) + "}"
        return text

    def _num(self, a: Num) -> str:
        text = number_text(a.value, a.computed)
        if text in ("nan", "inf", "-inf"):
            return {"nan": r"\text{NaN}", "inf": r"\infty", "-inf": r"-\infty"}[text]
        negative, digits, power = split_number(text)
        out = ("-" if negative else "") + digits
        return out if power is None else out + r" \times 10^{" + str(power) + "}"

    def _op(self, a: Op) -> str:
        if a.text.isalpha():
            return r"\text{ " + _latex_text(a.text) + " }"
        return self.OPS.get(a.text, a.text)

    def _func(self, a: Func) -> str:
        text = r"\operatorname{" + _latex_text(a.name) + "}"
        return text if a.index is None else text + "_{" + a.index + "}"

    def _frac(self, a: Frac) -> str:
        return r"\frac{" + self.expr(a.numerator) + "}{" + self.expr(a.denominator) + "}"

    def _sup(self, a: Sup) -> str:
        return "{" + self.expr(a.base) + "}^{" + self.expr(a.exponent) + "}"

    def _sum(self, a: Sum) -> str:
        return r"\sum_{" + a.index + "=1}^{" + str(a.upper) + "}"

    def _blank(self, a: Blank) -> str:
        number = r"\langle " + str(a.number) + r" \rangle"
        return number if a.ref else r"\underset{" + number + r"}{\underline{\hspace{3em}}}"


class MathML:
    """Math atoms as MathML Core, which browsers render natively (no script, offline)."""

    OPS = {"Σ": "∑", "…": "…"}
    UNDERLINE = "_______"

    def expr(self, expr: Expr) -> str:
        return "<mrow>" + "".join(self.atom(a) for a in expr) + "</mrow>"

    def atom(self, atom: Atom) -> str:
        return getattr(self, f"_{type(atom).__name__.lower()}")(atom)

    def _name(self, a: Name) -> str:
        if a.hat:
            text = f'<mover accent="true"><mi>{a.base}</mi><mo>^</mo></mover>'
        else:
            text = f"<mi>{html_escape(a.base)}</mi>"
        if a.index is not None:
            text = f"<msub>{text}<mn>{html_escape(a.index)}</mn></msub>"
        if a.sub is not None:
            text = f"<msub>{text}{self._name(a.sub)}</msub>"
        return text

    def _num(self, a: Num) -> str:
        text = number_text(a.value, a.computed)
        if text in ("nan", "inf", "-inf"):
            return {"nan": "<mi>NaN</mi>", "inf": "<mi>∞</mi>", "-inf": "<mo>−</mo><mi>∞</mi>"}[
                text
            ]
        negative, digits, power = split_number(text)
        out = ("<mo>−</mo>" if negative else "") + f"<mn>{digits}</mn>"
        if power is None:
            return out
        exponent = f"<mo>−</mo><mn>{-power}</mn>" if power < 0 else f"<mn>{power}</mn>"
        return out + f"<mo>×</mo><msup><mn>10</mn><mrow>{exponent}</mrow></msup>"

    def _op(self, a: Op) -> str:
        if a.text.isalpha():
            return f"<mtext>&#160;{html_escape(a.text)}&#160;</mtext>"
        return f"<mo>{html_escape(self.OPS.get(a.text, a.text))}</mo>"

    def _func(self, a: Func) -> str:
        text = f"<mi>{html_escape(a.name)}</mi>"
        return text if a.index is None else f"<msub>{text}<mn>{a.index}</mn></msub>"

    def _frac(self, a: Frac) -> str:
        return f"<mfrac>{self.expr(a.numerator)}{self.expr(a.denominator)}</mfrac>"

    def _sup(self, a: Sup) -> str:
        return f"<msup>{self.expr(a.base)}{self.expr(a.exponent)}</msup>"

    def _sum(self, a: Sum) -> str:
        low = f"<mrow><mi>{a.index}</mi><mo>=</mo><mn>1</mn></mrow>"
        return f"<munderover><mo>∑</mo>{low}<mn>{a.upper}</mn></munderover>"

    def _blank(self, a: Blank) -> str:
        number = f"<mrow><mo>⟨</mo><mn>{a.number}</mn><mo>⟩</mo></mrow>"
        return number if a.ref else f"<munder><mtext>{self.UNDERLINE}</mtext>{number}</munder>"


class _Writer:
    """One output format: how each block and each run of prose or math is written."""

    math: LatexMath | MathML

    def render(self, doc: Document) -> str:
        body = "".join(self.block(b) for b in doc.blocks)
        return self.head(doc) + body + self.tail()

    def head(self, doc: Document) -> str:
        return ""

    def tail(self) -> str:
        return ""

    def block(self, block: Block) -> str:
        return getattr(self, f"_{type(block).__name__.lower()}")(block)

    def parts(self, parts: Sequence[Part]) -> str:
        return "".join(self.prose(p) if isinstance(p, str) else self.inline(p) for p in parts)

    def prose(self, text: str) -> str:
        raise NotImplementedError

    def inline(self, expr: Expr) -> str:
        raise NotImplementedError

    def line_sides(self, line: Equation) -> tuple[str, str]:
        """(left side, the rest starting with the relation) of one equation."""
        first, *rest = (self.math.expr(s) for s in line.sides)
        relation = self.math.atom(Op(line.relation))
        return first, relation + " " + (" " + self.math.atom(Op("=")) + " ").join(rest)


class _LatexWriter(_Writer):
    """Prose with $…$ math, and aligned equations between ``ALIGN`` (opening, closing)."""

    math = LatexMath()
    ALIGN: tuple[str, str]

    def inline(self, expr: Expr) -> str:
        return "$" + self.math.expr(expr) + "$"

    def _para(self, b: Para) -> str:
        return self.parts(b.parts) + "\n\n"

    def _equations(self, b: Equations) -> str:
        lines = [" &".join(self.line_sides(line)) for line in b.lines]
        return self.ALIGN[0] + " \\\\\n".join(lines) + self.ALIGN[1]


class MarkdownWriter(_LatexWriter):
    """Markdown with $…$ / $$…$$ math (GitHub, KaTeX, MathJax, pandoc)."""

    ALIGN = ("$$\n\\begin{aligned}\n", "\n\\end{aligned}\n$$\n\n")

    def prose(self, text: str) -> str:
        return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)

    def _heading(self, b: Heading) -> str:
        return "#" * b.level + " " + self.parts(b.parts) + "\n\n"

    def _table(self, b: Table) -> str:
        rows = [b.header, *b.rows]
        lines = ["| " + " | ".join(self.parts((c,)) for c in row) + " |" for row in rows]
        lines.insert(1, "|" + " --- |" * len(b.header))
        return "\n".join(lines) + "\n\n"

    def _pagebreak(self, b: PageBreak) -> str:
        return '<div style="page-break-after: always"></div>\n\n---\n\n'


class TexWriter(_LatexWriter):
    """A standalone LaTeX document: article class, amsmath, longtable."""

    ALIGN = ("\\begin{align*}\n", "\n\\end{align*}\n\n")
    SECTIONS = {1: "section*", 2: "subsection*", 3: "subsubsection*"}

    def head(self, doc: Document) -> str:
        return (
            "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{amsmath}\n"
            "\\usepackage{longtable}\n\\allowdisplaybreaks\n\\setlength{\\parindent}{0pt}\n"
            "\\begin{document}\n\n"
        )

    def tail(self) -> str:
        return "\\end{document}\n"

    def prose(self, text: str) -> str:
        return _latex_text(text)

    def _heading(self, b: Heading) -> str:
        return "\\" + self.SECTIONS[b.level] + "{" + self.parts(b.parts) + "}\n\n"

    def _table(self, b: Table) -> str:
        def row(cells: Sequence[Part]) -> str:
            return " & ".join(self.parts((c,)) for c in cells) + " \\\\\n"

        spec = "l" * len(b.header)
        body = "".join(row(r) for r in b.rows)
        return (
            f"\\begin{{longtable}}{{{spec}}}\n{row(b.header)}\\hline\n{body}\\end{{longtable}}\n\n"
        )

    def _pagebreak(self, b: PageBreak) -> str:
        return "\\newpage\n\n"


class HtmlWriter(_Writer):
    """A standalone HTML page; math is MathML, so it needs no script and no network."""

    math = MathML()
    STYLE = (
        "body{font-family:serif;max-width:52em;margin:2em auto;padding:0 1em;line-height:1.5}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{padding:0.15em 0.8em;text-align:left}"
        "th{border-bottom:1px solid #888}.eqs{margin:0.5em 0 0.8em 1.5em}"
        ".eqs math{display:block;text-align:left;margin:0.3em 0}"
        ".page-break{break-before:page;border-top:1px solid #888;margin:2em 0}"
    )

    def head(self, doc: Document) -> str:
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html_escape(doc.title)}</title>\n<style>{self.STYLE}</style>\n"
            "</head>\n<body>\n"
        )

    def tail(self) -> str:
        return "</body>\n</html>\n"

    def prose(self, text: str) -> str:
        return html_escape(text, quote=False)

    def inline(self, expr: Expr) -> str:
        return "<math>" + self.math.expr(expr) + "</math>"

    def _heading(self, b: Heading) -> str:
        return f"<h{b.level}>{self.parts(b.parts)}</h{b.level}>\n"

    def _para(self, b: Para) -> str:
        return f"<p>{self.parts(b.parts)}</p>\n"

    def _table(self, b: Table) -> str:
        head = "".join(f"<th>{self.parts((c,))}</th>" for c in b.header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{self.parts((c,))}</td>" for c in row) + "</tr>\n"
            for row in b.rows
        )
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n"

    def _equations(self, b: Equations) -> str:
        lines = [
            '<math display="block">' + "".join(self.line_sides(line)) + "</math>\n"
            for line in b.lines
        ]
        return '<div class="eqs">\n' + "".join(lines) + "</div>\n"

    def _pagebreak(self, b: PageBreak) -> str:
        return '<div class="page-break"></div>\n'


WRITERS: dict[str, _Writer] = {"md": MarkdownWriter(), "tex": TexWriter(), "html": HtmlWriter()}


def render(doc: Document, fmt: str) -> str:
    """``doc`` (finished or a worksheet) in one of :data:`FORMATS`."""
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(WRITERS)})") from None
    return writer.render(doc)


def answers_path(output: str) -> str:
    """Where the answer key goes beside a worksheet: sheet.md → sheet.answers.md."""
    path = Path(output)
    return str(path.with_name(f"{path.stem}.answers{path.suffix or '.txt'}"))


def export(
    scenario: Scenario,
    fmt: str,
    *,
    step: int = 0,
    params: Sequence[str] | None = None,
    as_exercise: bool = False,
    seed: int | None = None,
    separate_key: bool = False,
) -> tuple[str, str | None]:
    """The rendered document, and the answer key when it is a separate file.

    A worksheet with ``separate_key`` comes with its key as a second text;
    otherwise the key follows the worksheet after a page break.
    """
    doc = worked_example(scenario, step, params, seed)
    if not as_exercise:
        return render(finished(doc), fmt), None
    sheet, key = exercise(doc)
    if separate_key:
        return render(sheet, fmt), render(key, fmt)
    return render(together(sheet, key), fmt), None
