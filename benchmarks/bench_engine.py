"""One gradient-descent step of the bptui engine against the same step in PyTorch.

Why: bptui trains tiny networks one step at a time, where a framework's
per-call overhead dominates; this script proves the numpy engine is not the
slow part, and that building the full record a step shows stays cheap.

Run:  .venv/bin/python benchmarks/bench_engine.py [--rounds N] [--quick]

Both sides run in this process on the same data from the same initial
parameters, after an assertion that they compute the same loss, gradient and
update (to 1e-9).  PyTorch runs eager, float64, one thread, with the usual
``zero_grad / forward / loss / backward / SGD.step`` loop.  bptui runs the
path ``Stepper.run`` uses.  BLAS is pinned to one thread for both sides (the
environment variables below are set before numpy is imported; threadpoolctl
is used too if installed).  Timing is interleaved: every round times each
contender once, so a burst of load on the 2-core machine hits all contenders
alike; the best round is the figure (as timeit advises) and the median is
printed beside it.  If torch is missing, bptui is timed alone and the script
says so.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

from bptui.engine.fast import FastStep  # noqa: E402
from bptui.engine.network import Architecture  # noqa: E402
from bptui.engine.stepper import Stepper  # noqa: E402
from bptui.scenario.loading import load_builtin  # noqa: E402
from bptui.scenario.model import Scenario  # noqa: E402

try:  # optional: a hard guarantee on top of the environment variables
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - depends on the environment
    threadpool_limits = None

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

Array = np.ndarray

#: Target seconds per timed batch of steps; big enough to swamp timer noise.
BATCH_SECONDS = 0.04

#: bptui must be this many times faster than PyTorch (case name → bar).
SPEED_BARS = {"article": 50.0, "tanh 2-8-8-1": 6.0, "relu 784-64-10": 1.3}
#: The full record may cost at most this many plain steps.
RECORD_BAR = 2.5

AGREEMENT = 1e-9


# ------------------------------------------------------------------ cases
def tanh_case() -> Scenario:
    """2-8-8-1 tanh regression on 500 random points, mse."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-2.0, 2.0, size=(500, 2))
    y = (np.sin(x[:, 0]) * np.cos(x[:, 1]))[:, None]
    return Scenario(
        name="tanh 2-8-8-1",
        arch=Architecture((2, 8, 8, 1), "tanh", "identity", "mse"),
        learning_rate=0.05,
        seed=0,
        x=x,
        y=y,
        init_layers=_he_init((2, 8, 8, 1), rng),
    )


def relu_case() -> Scenario:
    """784-64-10 relu classifier on 256 MNIST-shaped points, softmax + cross-entropy."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 1.0, size=(256, 784))
    y = np.eye(10)[rng.integers(0, 10, size=256)]
    return Scenario(
        name="relu 784-64-10",
        arch=Architecture((784, 64, 10), "relu", "softmax", "cross_entropy"),
        learning_rate=0.01,
        seed=0,
        x=x,
        y=y,
        init_layers=_he_init((784, 64, 10), rng),
    )


def _he_init(layers: tuple[int, ...], rng: np.random.Generator) -> list[tuple[Array, Array]]:
    return [
        (rng.normal(0.0, np.sqrt(2.0 / inp), size=(out, inp)), rng.normal(0.0, 0.1, size=out))
        for inp, out in zip(layers[:-1], layers[1:])
    ]


def cases() -> list[Scenario]:
    return [load_builtin("article"), tanh_case(), relu_case()]


# ------------------------------------------------------------- PyTorch side
class TorchStep:
    """The same network, data and update in PyTorch eager (float64, one thread)."""

    ACTIVATIONS = {"softplus": "Softplus", "tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid"}

    def __init__(self, scenario: Scenario, theta: Array) -> None:
        net = scenario.network()
        arch = scenario.arch
        if arch.output_activation != ("softmax" if arch.loss == "cross_entropy" else "identity"):
            raise NotImplementedError("the benchmark covers identity and softmax outputs only")
        modules: list = []
        for l, (W, b) in enumerate(net.views(theta)):
            linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W))
                linear.bias.copy_(torch.from_numpy(b))
            modules.append(linear)
            if l < net.depth - 1:
                modules.append(getattr(torch.nn, self.ACTIVATIONS[arch.activation])())
        self.model = torch.nn.Sequential(*modules)
        self.linears = [m for m in modules if isinstance(m, torch.nn.Linear)]
        self.x = torch.from_numpy(scenario.x)
        self.y = torch.from_numpy(scenario.y)
        self.loss_fn: Callable = {
            "ssr": lambda out, y: ((y - out) ** 2).sum(),
            "mse": torch.nn.functional.mse_loss,
            # cross_entropy takes logits; softmax is folded in, as bptui fuses it
            "cross_entropy": torch.nn.functional.cross_entropy,
        }[arch.loss]
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=scenario.learning_rate)

    def step(self) -> float:
        """One step: loss and gradient at the current parameters, then the update."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def loss_and_grad(self) -> tuple[float, Array]:
        """Loss and flat gradient in SPEC order, without updating."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        return loss.item(), self._flat([p.grad for p in self._ordered()])

    def theta(self) -> Array:
        return self._flat([p.detach() for p in self._ordered()])

    def _ordered(self) -> list:
        return [m.weight for m in self.linears] + [m.bias for m in self.linears]

    @staticmethod
    def _flat(tensors: list) -> Array:
        return np.concatenate([t.numpy().ravel() for t in tensors])


def assert_agreement(scenario: Scenario) -> None:
    """Same loss and gradient at the start, same parameters after a few steps."""
    stepper = Stepper(scenario.training())
    ref = TorchStep(scenario, stepper.theta)
    loss, grad = ref.loss_and_grad()
    _close(f"{scenario.name}: loss", stepper.loss, loss)
    _close(f"{scenario.name}: gradient", stepper.grad, grad)
    for _ in range(5):
        ref.step()
    assert stepper.run(5) == 5
    _close(f"{scenario.name}: θ after 5 steps", stepper.theta, ref.theta())
    _close(f"{scenario.name}: loss after 5 steps", stepper.loss, ref.loss_and_grad()[0])


def _close(what: str, ours: Array | float, theirs: Array | float) -> None:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    scale = max(float(np.max(np.abs(theirs))), 1.0)
    error = float(np.max(np.abs(ours - theirs))) / scale
    if not error <= AGREEMENT:
        raise AssertionError(f"{what} disagrees with PyTorch: relative error {error:.3g}")


# ------------------------------------------------------------------ timing
@dataclass
class Contender:
    """A named way of taking ``count`` steps; times are seconds per step."""

    name: str
    steps: Callable[[int], None]
    count: int = 1
    times: list[float] | None = None

    def calibrate(self) -> None:
        """Pick a batch size that takes about BATCH_SECONDS (timeit.autorange style)."""
        self.steps(3)  # warm caches and lazy initialisation
        count = 1
        while True:
            start = time.perf_counter()
            self.steps(count)
            if time.perf_counter() - start >= BATCH_SECONDS / 4 or count >= 1 << 20:
                break
            count *= 2
        self.count = count * 4
        self.times = []

    def time_once(self) -> None:
        start = time.perf_counter()
        self.steps(self.count)
        self.times.append((time.perf_counter() - start) / self.count)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


def bptui_plain(scenario: Scenario) -> Callable[[int], None]:
    stepper = Stepper(scenario.training())

    def steps(count: int) -> None:
        if stepper.run(count) != count:
            raise RuntimeError(f"{scenario.name}: bptui stopped early (diverged?)")

    return steps


def bptui_numpy(scenario: Scenario) -> Callable[[int], None]:
    """The plain step on the numpy path (FastStep), for a net bptui would step as generated code."""
    stepper = Stepper(scenario.training())
    stepper.fast = FastStep(stepper.network)

    def steps(count: int) -> None:
        if stepper.run(count) != count:
            raise RuntimeError(f"{scenario.name}: bptui stopped early (diverged?)")

    return steps


def bptui_recorded(scenario: Scenario, chains: str = "shown") -> Callable[[int], None]:
    """The step the TUI takes: one whole step, then its full record.

    Chains are built on demand: the TUI reads the one chain it shows (b1 here,
    ``chains="shown"``); the JSON trace reads all of them (``chains="all"``).
    """
    stepper = Stepper(scenario.training())
    names = stepper.network.param_names if chains == "all" else ["b1"]

    def steps(count: int) -> None:
        for _ in range(count):
            stepper.step_once()
            record = stepper.record()
            for name in names:
                record.factors[name]

    return steps


def plain_count(scenario: Scenario) -> int:
    return scenario.network().size


def torch_steps(scenario: Scenario) -> Callable[[int], None]:
    ref = TorchStep(scenario, scenario.initial_theta())

    def steps(count: int) -> None:
        for _ in range(count):
            ref.step()

    return steps


def run_rounds(contenders: list[Contender], rounds: int) -> None:
    for c in contenders:
        c.calibrate()
    for _ in range(rounds):
        for c in contenders:
            c.time_once()


def article_floor(scenario: Scenario) -> Callable[[int], None]:
    """The article step as bare numpy calls: preallocated arrays, no Python logic.

    Every call here is one the engine must make in some form (update, two
    layers forward, loss, delta, two layers backward, finite check), so its
    time is the least a numpy engine can spend on the article step; if torch
    time / this is under a bar, no numpy engine meets that bar.  It is checked
    against the engine's gradient before it is timed.
    """
    stepper = Stepper(scenario.training())
    x, y = scenario.x, scenario.y
    alpha = stepper.learning_rate * stepper.trainable_mask
    theta, grad = stepper.theta.copy(), stepper.grad.copy()
    (W1, b1), (W2, b2) = scenario.network().views(theta)
    (dW1, db1), (dW2, db2) = scenario.network().views(grad)
    W1T, W2T = W1.T, W2.T
    step = np.empty_like(theta)
    z1, a1, s1, da1 = (np.empty((len(x), len(b1))) for _ in range(4))
    z2, r, r2, d2 = (np.empty((len(x), 1)) for _ in range(4))
    half, one, minus_two = np.array(0.5), np.array(1.0), np.array(-2.0)

    def steps(count: int) -> None:
        for _ in range(count):
            np.multiply(alpha, grad, out=step)
            np.subtract(theta, step, out=theta)
            np.dot(x, W1T, out=z1)
            np.add(z1, b1, out=z1)
            np.logaddexp(0.0, z1, out=a1)
            np.dot(a1, W2T, out=z2)
            np.add(z2, b2, out=z2)
            np.subtract(y, z2, out=r)
            np.multiply(r, r, out=r2)
            np.add.reduce(r2, axis=None)
            np.multiply(minus_two, r, out=d2)
            np.dot(d2.T, a1, out=dW2)
            np.add.reduce(d2, axis=0, out=db2)
            np.dot(d2, W2, out=da1)
            np.multiply(half, z1, out=s1)
            np.tanh(s1, out=s1)
            np.add(one, s1, out=s1)
            np.multiply(half, s1, out=s1)
            np.multiply(da1, s1, out=da1)
            np.dot(da1.T, x, out=dW1)
            np.add.reduce(da1, axis=0, out=db1)
            np.vdot(grad, grad)

    reference = Stepper(scenario.training())
    reference.run(1)
    steps(1)
    _close("article floor: gradient after one step", grad, reference.grad)
    return steps


def tanh_floor(scenario: Scenario) -> Callable[[int], None]:
    """A tanh net's step with mse as bare numpy calls: preallocated arrays, no Python logic.

    As :func:`article_floor` for the article: every call is one a numpy engine
    must make in some form (the update; per layer a product, the bias and the
    tanh; the residual and loss; per layer the weight and bias gradients and
    the slope 1 − a²; the finite check), on buffers made once.  Checked
    against the engine's gradient before it is timed.
    """
    stepper = Stepper(scenario.training())
    net = scenario.network()
    x, y = scenario.x, scenario.y
    alpha = stepper.learning_rate * stepper.trainable_mask
    theta, grad = stepper.theta.copy(), stepper.grad.copy()
    layers = [(W, W.T, b) for W, b in net.views(theta)]
    grads = net.views(grad)
    step = np.empty_like(theta)
    zs = [np.empty((len(x), len(b))) for _, _, b in layers]
    acts = [x, *(np.empty_like(z) for z in zs[:-1])]
    slopes = [np.empty_like(z) for z in zs[:-1]]
    deltas = [np.empty_like(z) for z in zs]
    r, r2 = np.empty_like(zs[-1]), np.empty_like(zs[-1])
    scale, one, last = np.array(-2.0 / y.size), np.array(1.0), len(layers) - 1

    def steps(count: int) -> None:
        for _ in range(count):
            np.multiply(alpha, grad, out=step)
            np.subtract(theta, step, out=theta)
            for l, (_, WT, b) in enumerate(layers):
                np.dot(acts[l], WT, out=zs[l])
                np.add(zs[l], b, out=zs[l])
                if l < last:
                    np.tanh(zs[l], out=acts[l + 1])
            np.subtract(y, zs[-1], out=r)
            np.multiply(r, r, out=r2)
            np.add.reduce(r2, axis=None)
            np.multiply(scale, r, out=deltas[-1])
            for l in range(last, -1, -1):
                dW, db = grads[l]
                np.dot(deltas[l].T, acts[l], out=dW)
                np.einsum("ij->j", deltas[l], out=db)
                if l:
                    np.dot(deltas[l], layers[l][0], out=deltas[l - 1])
                    np.multiply(acts[l], acts[l], out=slopes[l - 1])
                    np.subtract(one, slopes[l - 1], out=slopes[l - 1])
                    np.multiply(deltas[l - 1], slopes[l - 1], out=deltas[l - 1])
            np.vdot(grad, grad)

    reference = Stepper(scenario.training())
    reference.run(1)
    steps(1)
    _close(f"{scenario.name} floor: gradient after one step", grad, reference.grad)
    return steps


def gemm_floor(scenario: Scenario, rounds: int) -> float:
    """Seconds for the two float64 GEMMs every engine must do on a wide first layer.

    x·W₁ᵀ (forward) and δ₁ᵀ·x (∂Loss/∂W₁) of the relu case: no implementation,
    numpy or PyTorch, can take a step in less, so torch time / this time is the
    largest speed-up any numpy engine could show.
    """
    net = scenario.network()
    W1 = net.views(scenario.initial_theta())[0][0]
    x = scenario.x
    delta = np.ones((x.shape[0], W1.shape[0]))
    z, dW = np.empty(delta.shape), np.empty(W1.shape)

    xT = np.ascontiguousarray(x.T)

    def steps(count: int) -> None:
        for _ in range(count):
            np.dot(x, W1.T, out=z)
            np.matmul(xT, delta, out=dW.T)  # the faster of δᵀ·x and (xᵀ·δ)ᵀ here

    floor = Contender("gemm floor", steps)
    run_rounds([floor], rounds)
    return floor.best


# ------------------------------------------------------------------ report
#: One timed case: its scenario and its contenders by name.
Timed = tuple[Scenario, dict[str, Contender]]


def print_setup(rounds: int) -> object:
    """Pin BLAS and say what is timed against what; keep the returned limits alive."""
    if torch is not None:
        torch.set_num_threads(1)
        print(f"PyTorch {torch.__version__}, eager, float64, 1 thread")
    else:
        print("PyTorch is not installed: timing bptui alone (pip install -e '.[bench]')")
    limits = threadpool_limits(1) if threadpool_limits is not None else None
    blas = "threadpoolctl" if limits is not None else "OPENBLAS/OMP/MKL_NUM_THREADS=1"
    print(f"numpy {np.__version__}, BLAS pinned to 1 thread via {blas}")
    print(f"{rounds} interleaved rounds per case; µs per step, best round (median round)")
    return limits


def time_cases(scenarios: list[Scenario], rounds: int) -> list[Timed]:
    rows = []
    for scenario in scenarios:
        contenders = [Contender("bptui", bptui_plain(scenario))]
        if torch is not None:
            contenders.append(Contender("torch", torch_steps(scenario)))
        if scenario.name == "article":
            contenders.append(Contender("bptui numpy", bptui_numpy(scenario)))
            contenders.append(Contender("bptui+record", bptui_recorded(scenario)))
            contenders.append(Contender("bptui+all chains", bptui_recorded(scenario, "all")))
            contenders.append(Contender("numpy floor", article_floor(scenario)))
        elif scenario.arch.activation == "tanh":
            contenders.append(Contender("numpy floor", tanh_floor(scenario)))
        run_rounds(contenders, rounds)
        rows.append((scenario, {c.name: c for c in contenders}))
    return rows


def print_speed_table(rows: list[Timed]) -> int:
    """bptui against torch per case; returns how many speed bars were missed."""
    print()
    header = f"{'case':<16} {'bptui µs':>16} {'torch µs':>16} {'torch/bptui':>16} {'bar':>6}  met"
    print(header)
    print("-" * len(header))
    failures = 0
    for scenario, timed in rows:
        ours = timed["bptui"]
        line = f"{scenario.name:<16} {_us(ours):>16}"
        if "torch" in timed:
            theirs = timed["torch"]
            ratio, median_ratio = theirs.best / ours.best, theirs.median / ours.median
            bar = SPEED_BARS[scenario.name]
            failures += ratio < bar
            line += (
                f" {_us(theirs):>16} {f'{ratio:.1f}× ({median_ratio:.1f}×)':>16} "
                f"{bar:>5.1f}×  {'yes' if ratio >= bar else 'NO'}"
            )
        else:
            line += f" {'—':>16} {'—':>16} {'—':>6}  —"
        print(line)
    return failures


def print_record_cost(rows: list[Timed]) -> int:
    """The step with its full record against the plain step; returns bars missed."""
    failures = 0
    for scenario, timed in rows:
        if "bptui+record" in timed:
            recorded, plain = timed["bptui+record"], timed["bptui"]
            overhead = recorded.best / plain.best
            failures += overhead > RECORD_BAR
            every = timed["bptui+all chains"]
            numpy_step = timed["bptui numpy"]
            print(
                f"\n{scenario.name}: step + full record with the chain shown {_us(recorded)} µs = "
                f"{overhead:.2f}× ({recorded.median / plain.median:.2f}×) the plain step "
                f"(bar ≤ {RECORD_BAR:g}×)  {'yes' if overhead <= RECORD_BAR else 'NO'}"
                f"\n{scenario.name}: step + full record with all {plain_count(scenario)} chains "
                f"{_us(every)} µs = {every.best / plain.best:.2f}× the plain step (the JSON trace)"
                f"\n{scenario.name}: the plain step on the numpy path {_us(numpy_step)} µs: the "
                f"generated code is {numpy_step.best / plain.best:.1f}× faster; step + record + "
                f"chain = {recorded.best / numpy_step.best:.2f}× the numpy plain step"
            )
    return failures


def print_floors(rows: list[Timed], rounds: int) -> None:
    """The least any numpy engine could spend, where torch is there to compare."""
    for scenario, timed in rows:
        if "numpy floor" in timed and "torch" in timed:
            floor = timed["numpy floor"]
            print(
                f"\n{scenario.name}: its numpy calls alone, with no Python logic, take "
                f"{_us(floor)} µs, so no numpy engine can beat torch by more than "
                f"{timed['torch'].best / floor.best:.1f}× here "
                f"(bptui step = {timed['bptui'].best / floor.best:.2f}× the floor)"
            )
    for scenario, timed in rows:
        if scenario.arch.layers[0] >= 256 and "torch" in timed:
            floor = gemm_floor(scenario, rounds)
            print(
                f"\n{scenario.name}: its two float64 GEMMs alone take {floor * 1e6:.0f} µs in "
                f"numpy, so no numpy engine can beat torch by more than "
                f"{timed['torch'].best / floor:.2f}× here (bptui step = "
                f"{timed['bptui'].best / floor:.2f}× the GEMMs)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per contender")
    parser.add_argument("--quick", action="store_true", help="3 rounds (a smoke run)")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds

    limits = print_setup(rounds)  # noqa: F841 - the BLAS pin lasts as long as this object
    scenarios = cases()
    if torch is not None:
        for scenario in scenarios:
            assert_agreement(scenario)
        print(f"agreement: loss, gradient and 5 updates match PyTorch to {AGREEMENT:g} (all cases)")

    rows = time_cases(scenarios, rounds)
    failures = print_speed_table(rows) + print_record_cost(rows)
    print_floors(rows, rounds)
    if failures:
        print(f"\n{failures} bar(s) not met")
    return 0


def _us(contender: Contender) -> str:
    return f"{contender.best * 1e6:.1f} ({contender.median * 1e6:.1f})"


if __name__ == "__main__":
    sys.exit(main())
