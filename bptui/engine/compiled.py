"""Small nets as straight-line Python: the whole chain rule of one net, written out.

On a net of a few dozen parameters and a handful of points, numpy's cost is
its per-call overhead, not arithmetic: the article step is ~20 numpy calls on
2×3 arrays.  For such nets :func:`compile_step` writes the forward pass, the
loss and the backward pass as plain scalar Python, one line per node and per
gradient term, the way the article writes them (``bptui export --format
python`` prints it), and compiles it once.

Float results equal numpy's to ~1e-15 per step, not bit for bit (numpy sums a
product in a different order and has its own exp and log), so whichever path
a stepper picks it uses for everything: run, replay and the records it shows
all come from the same code, and time travel stays exact.  tests/test_compiled.py
holds it to the numpy reference over 10,000 steps.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bptui.engine import functions as fn
from bptui.engine.network import Network
from bptui.engine.record import RecordValues

Array = np.ndarray

#: Nets whose parameters × points stay under this compile (measured with
#: benchmarks/bench_engine.py: scalar Python beats numpy below about this
#: much work per step; the article net is 7 × 3 = 21, xor 9 × 4 = 36).
MAX_WORK = 200
#: …and whose parameters stay under this (the source grows with them).
MAX_PARAMS = 64


def _softplus(z: float) -> float:
    """log(1 + e^z) = logaddexp(0, z), without overflow."""
    if z > 0.0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z)) if z <= 0.0 else z  # the last: nan stays nan


def _sigmoid(z: float) -> float:
    """1 / (1 + e^−z) as exp(−logaddexp(0, −z)), as functions.sigmoid."""
    return math.exp(-_softplus(-z))


#: The names the generated code may use besides its own variables.
HELPERS: dict[str, object] = {
    "softplus": _softplus,
    "sigmoid": _sigmoid,
    "tanh": math.tanh,
    "exp": math.exp,
    "log": math.log,
}

#: Hidden activations: (value of z, slope ∂a/∂z from z and a), as expressions.
_HIDDEN: dict[str, tuple[str, str]] = {
    "softplus": ("softplus({z})", "sigmoid({z})"),
    "relu": ("({z} if not {z} <= 0.0 else 0.0)", "(1.0 if {z} > 0.0 else 0.0)"),
    "sigmoid": ("sigmoid({z})", "({a} * (1.0 - {a}))"),
    "tanh": ("tanh({z})", "(1.0 - {a} * {a})"),
    "identity": ("{z}", "1.0"),
    "leaky_relu": (
        f"({{z}} if {{z}} > 0.0 else {fn.LEAKY_SLOPE} * {{z}})",
        f"(1.0 if {{z}} > 0.0 else {fn.LEAKY_SLOPE})",
    ),
}


def compilable(network: Network, points: int) -> bool:
    """Is straight-line Python the faster step for this net and this many points?"""
    return network.size <= MAX_PARAMS and network.size * points <= MAX_WORK


def _identifier(name: str, taken: set[str]) -> str:
    """A Python name for a node: its own name where it is one, else a cleaned one."""
    clean = re.sub(r"\W", "_", name.replace("ŷ", "yhat"))
    if not clean.isidentifier() or not clean.isascii() or keyword.iskeyword(clean):
        clean = "n_" + re.sub(r"[^0-9A-Za-z_]", "_", clean)
    base, k = clean, 1
    while clean in taken:
        k += 1
        clean = f"{base}_{k}"
    taken.add(clean)
    return clean


@dataclass
class _Names:
    """Every variable of the generated code: per layer, per node."""

    x: list[str]
    y: list[str]
    z: list[list[str]]  # z[l][i], l = 0 for the first non-input layer
    a: list[list[str]]  # a[0] are the inputs x
    dz: list[list[str]]
    da: list[list[str]]
    params: list[str]
    grads: list[str]


def _names(network: Network) -> _Names:
    taken = set(HELPERS) | set(network.param_names)
    taken |= {f"rate_{p}" for p in network.param_names}
    taken |= set(
        "theta grad rates points count n rows loss total keep shares in_batch m s point "
        "outside batch_loss losses checkpoints finite step steps every done g".split()
    )
    xs = [_identifier(n, taken) for n in network.node_names[0]]
    ys = [_identifier(f"y{i + 1}", taken) for i in range(network.layers[-1])]
    acts = [xs]
    zs, dzs, das = [], [], []
    for names in network.node_names[1:]:
        own = [_identifier(n, taken) for n in names]
        acts.append(own)
        zs.append([_identifier(f"z_{v}", taken) for v in own])
        dzs.append([_identifier(f"d_z_{v}", taken) for v in own])
        das.append([_identifier(f"d_{v}", taken) for v in own])
    grads = [_identifier(f"d_{p}", taken) for p in network.param_names]
    return _Names(xs, ys, zs, acts, dzs, das, list(network.param_names), grads)


class _Writer:
    """The generated source of one net, written layer by layer."""

    def __init__(self, network: Network) -> None:
        self.net = network
        self.v = _names(network)
        self.fused = network.fused
        self.loss = network.loss_fn.name
        self.output = network.output_fn.name
        self.k = network.layers[-1]

    # ----------------------------------------------------------- pieces
    def weight(self, layer: int, row: int, col: int) -> str:
        ws, _, (out, inp) = self.net.layout[layer]
        return self.v.params[ws.start + row * inp + col]

    def bias(self, layer: int, row: int) -> str:
        return self.v.params[self.net.layout[layer][1].start + row]

    def grad_of(self, name: str) -> str:
        return self.v.grads[self.v.params.index(name)]

    def forward(self) -> list[str]:
        v, lines = self.v, []
        for l, (out, inp) in enumerate(self.net.shapes):
            last = l == self.net.depth - 1
            lines.append(f"# forward, layer {l + 1}")
            for i in range(out):
                terms = [f"{self.weight(l, i, j)} * {v.a[l][j]}" for j in range(inp)]
                lines.append(f"{v.z[l][i]} = {' + '.join(terms)} + {self.bias(l, i)}")
            if not last:
                value = _HIDDEN[self.net.hidden.name][0]
                lines += [f"{v.a[l + 1][i]} = {value.format(z=v.z[l][i])}" for i in range(out)]
        lines += self.output_activation()
        return lines

    def output_activation(self) -> list[str]:
        v, l = self.v, self.net.depth - 1
        z, a = v.z[l], v.a[l + 1]
        if self.output == "identity":
            return [f"{a[i]} = {z[i]}" for i in range(self.k)]
        if self.output == "sigmoid":
            return [f"{a[i]} = sigmoid({z[i]})" for i in range(self.k)]
        lines = [f"m = max({', '.join(z)})"]  # softmax, shifted by the largest logit
        lines += [f"e{i + 1} = exp({z[i]} - m)" for i in range(self.k)]
        lines.append(f"s = {' + '.join(f'e{i + 1}' for i in range(self.k))}")
        lines += [f"{a[i]} = e{i + 1} / s" for i in range(self.k)]
        return lines

    def point_loss(self) -> list[str]:
        """``point`` = this point's share of the loss (before any division by the count)."""
        v, l = self.v, self.net.depth - 1
        z, a, y = v.z[l], v.a[l + 1], v.y
        if self.loss in ("ssr", "mse"):
            lines = [f"r{i + 1} = {y[i]} - {a[i]}" for i in range(self.k)]
            return lines + [f"point = {' + '.join(f'r{i + 1} * r{i + 1}' for i in range(self.k))}"]
        if self.loss == "bce":
            terms = [f"(softplus({z[i]}) - {y[i]} * {z[i]})" for i in range(self.k)]
            return [f"point = {' + '.join(terms)}"]
        # cross-entropy: −Σ y·log softmax(z), log softmax = (z − m) − log s
        terms = [f"{y[i]} * (({z[i]} - m) - log(s))" for i in range(self.k)]
        return [f"point = -({' + '.join(terms)})"]

    def total(self, loss: str, count: str, n: str) -> str:
        """The loss of the points from the sum of their shares."""
        return {"ssr": loss, "mse": f"{loss} / {count}", "bce": f"{loss} / {count}"}.get(
            self.loss, f"{loss} / {n}"
        )

    def output_delta(self) -> list[str]:
        v, l = self.v, self.net.depth - 1
        a, y, dz, da = v.a[l + 1], v.y, v.dz[l], v.da[l]
        k = self.k
        if self.loss == "bce":
            return [f"{dz[i]} = ({a[i]} - {y[i]}) / count" for i in range(k)]
        if self.loss == "cross_entropy":
            total = " + ".join(y)
            return [f"{dz[i]} = ({a[i]} * ({total}) - {y[i]}) / n" for i in range(k)]
        slope = "(-2.0 * r{i}) / count" if self.loss == "mse" else "-2.0 * r{i}"
        lines = [f"{da[i]} = {slope.format(i=i + 1)}" for i in range(k)]
        if self.output == "identity":
            return lines + [f"{dz[i]} = {da[i]}" for i in range(k)]
        if self.output == "sigmoid":
            return lines + [f"{dz[i]} = {da[i]} * ({a[i]} * (1.0 - {a[i]}))" for i in range(k)]
        dot = " + ".join(f"{a[i]} * {da[i]}" for i in range(k))
        return lines + [f"{dz[i]} = {a[i]} * ({da[i]} - ({dot}))" for i in range(k)]

    def backward(self) -> list[str]:
        v, lines = self.v, ["# ∂Loss/∂z of the output layer"]
        lines += self.output_delta()
        for l in range(self.net.depth - 1, -1, -1):
            out, inp = self.net.shapes[l]
            lines.append(f"# backward, layer {l + 1}: ∂Loss/∂θ += ∂Loss/∂z · ∂z/∂θ")
            for i in range(out):
                for j in range(inp):
                    g = self.grad_of(self.weight(l, i, j))
                    lines.append(f"{g} += {v.dz[l][i]} * {v.a[l][j]}")
                lines.append(f"{self.grad_of(self.bias(l, i))} += {v.dz[l][i]}")
            if l:
                lines.append(f"# ∂Loss/∂a of layer {l}, then ∂Loss/∂z")
                slope = _HIDDEN[self.net.hidden.name][1]
                for j in range(inp):
                    terms = [f"{v.dz[l][i]} * {self.weight(l, i, j)}" for i in range(out)]
                    lines.append(f"{v.da[l - 1][j]} = {' + '.join(terms)}")
                for j in range(inp):
                    ds = slope.format(z=v.z[l - 1][j], a=v.a[l][j])
                    lines.append(f"{v.dz[l - 1][j]} = {v.da[l - 1][j]} * {ds}")
        return lines

    # -------------------------------------------------------- functions
    def unpack(self) -> list[str]:
        comma = "," if len(self.v.params) == 1 else ""
        return [f"{', '.join(self.v.params)}{comma} = theta"]

    def point_loop(self, extra: str = "") -> str:
        return f"for {', '.join(self.v.x + self.v.y)}{extra} in points:"

    def loss_and_grad(self) -> list[str]:
        grads = self.v.grads
        head = [
            "def loss_and_grad(theta, points, count, n):",
            '    """Loss of the n points (count targets) and its gradient, term by term."""',
        ]
        body = self.unpack() + ["loss = 0.0", f"{' = '.join(grads)} = 0.0", self.point_loop()]
        inner = self.forward() + ["# loss"] + self.point_loss() + ["loss += point"]
        inner += self.backward()
        tail = [f"return {self.total('loss', 'count', 'n')}, [{', '.join(grads)}]"]
        return head + _indent(body, 1) + _indent(inner, 2) + _indent(tail, 1)

    def run(self) -> list[str]:
        """``steps`` whole steps in one call: update, then loss_and_grad's lines, in a loop.

        θ and ∇ stay plain floats between steps; θ is handed back every
        ``every`` steps (the stepper's checkpoints).  Stops after a step whose
        loss or gradient is not finite.
        """
        v, grads = self.v, self.v.grads
        rates = [f"rate_{p}" for p in v.params]
        head = [
            "def run(theta, grad, rates, points, count, n, steps, every, done):",
            '    """Steps done+1 … done+steps; returns (losses, checkpoints, θ, ∇, finite)."""',
        ]
        body = self.unpack() + [
            f"{', '.join(grads)}{',' if len(grads) == 1 else ''} = grad",
            f"{', '.join(rates)}{',' if len(rates) == 1 else ''} = rates",
            "losses, checkpoints, finite = [], [], True",
            "for step in range(done + 1, done + steps + 1):",
        ]
        update = ["# update: θ ← θ − α·∂Loss/∂θ"]
        update += [f"{p} = {p} - {r} * {g}" for p, r, g in zip(v.params, rates, grads)]
        update += ["loss = 0.0", f"{' = '.join(grads)} = 0.0", self.point_loop()]
        inner = self.forward() + ["# loss"] + self.point_loss() + ["loss += point"]
        inner += self.backward()
        check = [
            f"loss = {self.total('loss', 'count', 'n')}",
            "losses.append(loss)",
            "if step % every == 0:",
            f"    checkpoints.append([{', '.join(v.params)}])",
            f"total = loss + {' + '.join(grads)}  # inf or nan when any term is",
            "if total - total != 0.0:",
            f"    finite = all(g - g == 0.0 for g in ({', '.join(grads)}, loss))",
            "    if not finite:",
            "        break",
        ]
        tail = [
            f"return losses, checkpoints, [{', '.join(v.params)}], [{', '.join(grads)}], finite"
        ]
        return (
            head
            + _indent(body, 1)
            + _indent(update, 2)
            + _indent(inner, 3)
            + _indent(check, 2)
            + _indent(tail, 1)
        )

    def loss_value(self) -> list[str]:
        head = [
            "def loss_value(theta, points, count, n):",
            '    """Loss of the n points (count targets): the forward pass alone."""',
        ]
        body = self.unpack() + ["loss = 0.0", self.point_loop()]
        inner = self.forward() + ["# loss"] + self.point_loss() + ["loss += point"]
        tail = [f"return {self.total('loss', 'count', 'n')}"]
        return head + _indent(body, 1) + _indent(inner, 2) + _indent(tail, 1)

    def record_columns(self) -> tuple[list[str], list[str]]:
        """What the record keeps per point: forward values, then backward ones."""
        v = self.v
        forward = [n for l in range(self.net.depth) for n in v.z[l] + v.a[l + 1]]
        backward = [n for l in range(self.net.depth) for n in v.dz[l] + v.da[l]]
        if self.fused:  # the output's ∂Loss/∂a is never computed: ∂Loss/∂z comes directly
            backward[-self.k :] = ["0.0"] * self.k
        return forward, backward

    def record(self) -> list[str]:
        """loss_value on every point and loss_and_grad on the batch, keeping each value.

        The same lines in the same order, so the same bits as those two.
        Points outside the batch run forward only: their ∂Loss/∂z is 0.
        """
        forward, backward = self.record_columns()
        grads = self.v.grads
        head = [
            "def record(theta, points, count, n):",
            '    """Every value of one step; points are (inputs, targets, in the batch?)."""',
        ]
        body = self.unpack() + [
            "loss = batch_loss = 0.0",
            f"{' = '.join(grads)} = 0.0",
            "keep, shares = [], []",
            self.point_loop(", in_batch"),
        ]
        inner = self.forward() + ["# loss"] + self.point_loss()
        inner += ["loss += point", "shares.append(point)", "if not in_batch:"]
        zeros = ", ".join(["0.0"] * len(backward))
        outside = [f"keep.append(({', '.join(forward)}, {zeros}))", "continue"]
        batch = ["batch_loss += point"] + self.backward()
        batch.append(f"keep.append(({', '.join(forward + backward)}))")
        tail = [
            f"return loss, {self.total('batch_loss', 'count', 'n')}, keep, shares, "
            f"[{', '.join(grads)}]"
        ]
        return (
            head
            + _indent(body, 1)
            + _indent(inner, 2)
            + _indent(outside, 3)
            + _indent(batch, 2)
            + _indent(tail, 1)
        )

    def module(self) -> str:
        arch = self.net.arch
        title = (
            f"# The {'-'.join(map(str, self.net.layers))} {arch.activation} net"
            f" ({arch.output_activation} output, {arch.loss} loss), written out by bptui.\n"
            "# theta is every parameter in order; points are (inputs…, targets…) rows.\n"
            "# softplus, sigmoid, tanh, exp and log act on one number each.\n"
        )
        parts = [self.loss_and_grad(), self.loss_value(), self.record(), self.run()]
        return title + "\n\n" + "\n\n\n".join("\n".join(p) for p in parts) + "\n"


def _indent(lines: list[str], depth: int) -> list[str]:
    return [("    " * depth + line) if line else "" for line in lines]


def python_source(network: Network) -> str:
    """The net's step as readable scalar Python: what ``bptui export --format python`` writes."""
    return _Writer(network).module()


class CompiledStep:
    """The stepper's step for a small net, from generated straight-line Python.

    Same interface as :class:`~bptui.engine.fast.FastStep` (``loss_and_grad``
    writes into ``grad``), plus :meth:`record_values` for the records, which
    come from the same lines so that what is shown is what was computed.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self.source = python_source(network)
        scope: dict[str, object] = dict(HELPERS)
        exec(compile(self.source, f"<bptui step of {network.layers}>", "exec"), scope)  # noqa: S102
        self._loss_and_grad: Callable = scope["loss_and_grad"]
        self._loss_value: Callable = scope["loss_value"]
        self._record: Callable = scope["record"]
        self.run_steps: Callable = scope["run"]
        self._rows: list[tuple[Array, Array, list[tuple[float, ...]]]] = []
        self._width = len(_Writer(network).record_columns()[0])

    def rows(self, x: Array, y: Array) -> list[tuple[float, ...]]:
        """(inputs…, targets…) per point as Python floats, remembered for the last few (x, y)."""
        for held_x, held_y, rows in self._rows:
            if held_x is x and held_y is y:
                return rows
        rows = [tuple(r) for r in np.concatenate([x, y], axis=1).tolist()]
        self._rows.insert(0, (x, y, rows))
        del self._rows[8:]
        return rows

    def loss_and_grad(self, theta: Array, x: Array, y: Array, grad: Array) -> float:
        loss, g = self._loss_and_grad(theta.tolist(), self.rows(x, y), y.size, y.shape[0])
        grad[:] = g
        return loss

    def loss_value(self, theta: Array, x: Array, y: Array) -> float:
        return self._loss_value(theta.tolist(), self.rows(x, y), y.size, y.shape[0])

    def divisor(self, y: Array) -> float:
        """What the loss of targets ``y`` divides its summed shares by (1 for ssr)."""
        name = self.network.loss_fn.name
        if name == "ssr":
            return 1.0
        return float(y.shape[0] if name == "cross_entropy" else y.size)

    def record_values(
        self, theta: Array, x: Array, y: Array, batch: Array, grad: Array, fresh: bool
    ) -> RecordValues:
        """Every value of the step at ``theta``, from the lines the step runs.

        Scalar code keeps no arrays, so this runs the step's lines once more
        (``grad`` and ``fresh`` are not needed): the same lines in the same
        order give the very bits the step computed.
        """
        inside = np.zeros(x.shape[0], dtype=bool)
        inside[batch] = True
        points = [(*r, b) for r, b in zip(self.rows(x, y), inside.tolist())]
        loss, batch_loss, keep, shares, g = self._record(
            theta.tolist(), points, len(batch) * y.shape[1], len(batch)
        )
        divisor = self.divisor(y)
        values = np.array(keep, dtype=float)
        layers, start = [], 0
        for width in self.network.layers[1:]:
            z, a = values[:, start : start + width], values[:, start + width : start + 2 * width]
            back = self._width + start
            dz = values[:, back : back + width]
            da = values[:, back + width : back + 2 * width]
            layers.append((z, a, dz, da))
            start += 2 * width
        if self.network.fused:
            layers[-1] = (*layers[-1][:3], None)
        return RecordValues(
            loss=loss if divisor == 1.0 else loss / divisor,
            batch_loss=batch_loss,
            point_loss=np.array(shares) / divisor,
            layers=layers,
            grad=np.array(g, dtype=float),
        )


_PROGRAM_HELPERS = '''from math import exp, log, log1p, tanh


def softplus(z):
    """log(1 + e^z) without overflow."""
    if z > 0.0:
        return z + log1p(exp(-z))
    return log1p(exp(z)) if z <= 0.0 else z


def sigmoid(z):
    """1 / (1 + e^-z), as exp(-softplus(-z))."""
    return exp(-softplus(-z))
'''


def python_program(network: Network, theta: Array, x: Array, y: Array, step: int) -> str:
    """A standalone script: the net's step as code, its data, θ at ``step``, and a check.

    Running it prints the loss and every ∂Loss/∂θ of that step: the trace's
    numbers, to the bit where bptui steps the net as this code (see
    :func:`compilable`), else to ~1e-15.
    """
    points = [tuple(r) for r in np.concatenate([x, y], axis=1).tolist()]
    names = ", ".join(network.param_names)
    main = (
        f"\n\n# The data, one (inputs…, targets…) row per point, and θ at step {step}.\n"
        f"POINTS = {points!r}\n"
        f"THETA = {theta.tolist()!r}  # {names}\n"
        f"PARAMETERS = {list(network.param_names)!r}\n\n\n"
        'if __name__ == "__main__":\n'
        f"    loss, grad = loss_and_grad(THETA, POINTS, {y.size}, {y.shape[0]})\n"
        f'    print("step {step}: loss", repr(loss))\n'
        "    for name, value in zip(PARAMETERS, grad):\n"
        '        print(f"dLoss/d{name} = {value!r}")\n'
    )
    return (
        python_source(network).replace("\n\n\ndef ", "\n\n" + _PROGRAM_HELPERS + "\n\ndef ", 1)
        + main
    )
