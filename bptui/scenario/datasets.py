"""TensorFlow Playground's data sets, generated with its formulas (docs/scenarios.md).

Playground draws its points with ``Math.random``; here numpy draws the same
quantities, in the order written in each generator, from one seeded stream, so a
scenario's data is the same on every machine.  Two differences, both on
purpose: Playground labels classes ±1, bptui 1 and 0 (so ``bce`` and a sigmoid
output fit them); and an odd ``n`` gives exactly ``n`` points, the first class
one more than the second (Playground makes ``n + 1``).

``noise`` is Playground's slider divided by 100, as Playground itself passes
it to these functions: the slider's 0–50 % is 0 … 0.5 here (larger values are
allowed and keep the same formulas).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
#: (quoted: numpy.random loads when a scenario draws, not with every launch)
Maker = Callable[[int, float, "np.random.Generator"], tuple[Array, Array]]

#: Generated points per scenario at most: every record holds each parameter's
#: chain for every point, so points cost memory as parameters do.
MAX_POINTS = 10_000


def _halves(n: int) -> tuple[int, int]:
    """Points of the first and second class: the first gets the odd one."""
    return n - n // 2, n // 2


def _on_circle(r: Array, angle: Array) -> Array:
    """Playground's polar points: x = r·sin(angle), y = r·cos(angle)."""
    return np.column_stack([r * np.sin(angle), r * np.cos(angle)])


def circle(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Half the points inside radius 2.5, half in the ring 3.5 … 5 around it.

    A point is labelled 1 when its noisy copy lies inside radius 2.5 (half of
    Playground's radius 5), so with noise 0 exactly the inner points are 1.
    """
    radius = 5.0
    parts = []
    for count, low, high in zip(_halves(n), (0.0, radius * 0.7), (radius * 0.5, radius)):
        r = rng.uniform(low, high, count)
        angle = rng.uniform(0.0, 2 * np.pi, count)
        shift = rng.uniform(-radius, radius, (count, 2)) * noise
        parts.append((_on_circle(r, angle), shift))
    x = np.concatenate([p for p, _ in parts])
    seen = x + np.concatenate([s for _, s in parts])
    return x, (np.hypot(seen[:, 0], seen[:, 1]) < radius * 0.5).astype(np.float64)


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Points in [−5, 5]², pushed 0.3 away from both axes; 1 where x·y ≥ 0."""
    x = rng.uniform(-5.0, 5.0, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)
    seen = x + rng.uniform(-5.0, 5.0, (n, 2)) * noise
    return x, (seen[:, 0] * seen[:, 1] >= 0).astype(np.float64)


def gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Two Gaussian clouds: class 1 around (2, 2), class 0 around (−2, −2).

    Their variance grows with noise as Playground's does: 0.5 at noise 0, 4 at 0.5.
    """
    variance = 0.5 + noise * (4.0 - 0.5) / 0.5
    first, second = _halves(n)
    x = np.concatenate(
        [
            rng.normal(2.0, np.sqrt(variance), (first, 2)),
            rng.normal(-2.0, np.sqrt(variance), (second, 2)),
        ]
    )
    return x, np.concatenate([np.ones(first), np.zeros(second)])


def spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Two interleaved spirals 1.75 turns long out to radius 5; noise jitters each point."""
    half = n / 2
    parts = []
    for count, turn in zip(_halves(n), (0.0, np.pi)):
        i = np.arange(count)
        r = i / half * 5
        t = 1.75 * i / half * 2 * np.pi + turn
        parts.append(_on_circle(r, t) + rng.uniform(-1.0, 1.0, (count, 2)) * noise)
    first, second = _halves(n)
    return np.concatenate(parts), np.concatenate([np.ones(first), np.zeros(second)])


def _noisy_square(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Regression points in [−6, 6]² and the noisy copies their targets are read at."""
    x = rng.uniform(-6.0, 6.0, (n, 2))
    return x, x + rng.uniform(-6.0, 6.0, (n, 2)) * noise


def plane(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Target (x₁ + x₂) / 10 at the noisy copy: a tilted plane, about −1.2 … 1.2."""
    x, seen = _noisy_square(n, noise, rng)
    return x, (seen[:, 0] + seen[:, 1]) / 10


#: Playground's six bumps: centre x, centre y and the sign of the bump.
BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]]
)


def multigauss(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Six bumps of height ±1 falling to 0 at distance 2; the tallest one at a point wins."""
    x, seen = _noisy_square(n, noise, rng)
    distance = np.hypot(seen[:, :1] - BUMPS[:, 0], seen[:, 1:] - BUMPS[:, 1])
    heights = BUMPS[:, 2] * np.clip(1 - distance / 2, 0.0, 1.0)
    tallest = np.argmax(np.abs(heights), axis=1)  # the first of equals, as Playground
    return x, heights[np.arange(n), tallest]


@dataclass(frozen=True)
class DataSet:
    """One of Playground's sets: what its targets are, and how it is made."""

    name: str
    classification: bool
    make: Maker

    @property
    def targets(self) -> str:
        return "one 0/1 target" if self.classification else "one real target"


DATASETS: dict[str, DataSet] = {
    d.name: d
    for d in (
        DataSet("circle", True, circle),
        DataSet("xor", True, xor),
        DataSet("gauss", True, gauss),
        DataSet("spiral", True, spiral),
        DataSet("plane", False, plane),
        DataSet("multigauss", False, multigauss),
    )
}


def streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent streams of one seed: the first makes points, the second splits them."""
    making, splitting = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(making), np.random.default_rng(splitting)


def generate(name: str, n: int, noise: float, seed: int) -> tuple[Array, Array]:
    """``n`` points of the set ``name`` as (x of shape (n, 2), y of shape (n, 1)).

    The points come in a seeded shuffled order, as Playground shuffles them,
    so a mini-batch is not all one class.
    """
    rng, _ = streams(seed)
    x, y = DATASETS[name].make(n, noise, rng)
    order = rng.permutation(n)
    return x[order], y[order].reshape(n, 1)


def held_out(n: int, fraction: float, seed: int) -> Array:
    """Indices (ascending) of the n · fraction points (rounded half up) kept for testing."""
    _, rng = streams(seed)
    return np.sort(rng.permutation(n)[: held_out_count(n, fraction)])


def held_out_count(n: int, fraction: float) -> int:
    """How many of ``n`` points a test fraction holds out: n · fraction, rounded half up."""
    return int(n * fraction + 0.5)
