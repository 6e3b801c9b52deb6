"""The answer to "what is my wrong value consistent with?", and how it writes numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Diagnosis:
    """What a user's value is consistent with.

    ``factor`` is the chain factor implicated (its symbol), or None when the
    mistake is not in one factor (the sum over points) or cannot be told.
    ``implied`` and ``correct`` are that factor's value as the user's number
    implies it and as it really is (one number, or one per point).
    """

    kind: str
    message: str
    factor: str | None = None
    implied: float | tuple[float, ...] | None = None
    correct: float | tuple[float, ...] | None = None


def fmt(value: float) -> str:
    """One number in a diagnosis."""
    return f"{value:.8g}"


def fmt_points(values: np.ndarray) -> str:
    """One number per point in a diagnosis."""
    return "[" + ", ".join(f"{v:.5g}" for v in values) + "]"


def per_point(values: np.ndarray) -> tuple[float, ...]:
    """Per-point values as a Diagnosis holds them."""
    return tuple(float(v) for v in values)
