"""numpy's ``RandomState(seed).normal(0, 1, n)`` for a small net, without importing numpy.random.

The article's init draws one N(0, 1) per weight from numpy's legacy
generator.  Importing numpy.random costs about 20 ms, a tenth of what bptui
adds to a bare Textual app's launch, for the article's four numbers.  That
generator is MT19937 seeded by the reference ``init_genrand``, its doubles
are the reference ``genrand_res53`` and its normals come by the polar
Box–Muller method (numpy's ``legacy_gauss``).  Python's :mod:`random` is the
same MT19937 with the same 53-bit doubles, so the same state gives the same
numbers, and the polar method's arithmetic is a few lines in the same
IEEE doubles and the same C library's ``log`` and ``sqrt``.

tests/test_seeded.py checks every value bit for bit against numpy for
hundreds of seeds (0 and 2**32 − 1 among them) and counts.  Larger nets
still draw with numpy, which is faster there.
"""

from __future__ import annotations

import math
import random

#: MT19937's state length (624 32-bit words).
STATE_WORDS = 624


def _seeded_state(seed: int) -> tuple[int, ...]:
    """MT19937's ``init_genrand(seed)``: the state numpy's ``RandomState(seed)`` starts from."""
    word = seed & 0xFFFFFFFF
    state = []
    for i in range(1, STATE_WORDS + 1):
        state.append(word)
        word = (1812433253 * (word ^ (word >> 30)) + i) & 0xFFFFFFFF
    return tuple(state)


def legacy_normals(seed: int, count: int) -> list[float]:
    """``numpy.random.RandomState(seed).normal(0, 1, size=count)``, as Python floats.

    The polar method makes normals in pairs and hands out the second first,
    keeping the other for the next draw, as numpy's ``legacy_gauss`` does.
    """
    if not 0 <= seed <= 0xFFFFFFFF:
        raise ValueError("Seed must be between 0 and 2**32 - 1")
    generator = random.Random()
    # Position 624: the next draw regenerates the whole state first, as numpy's does.
    generator.setstate((3, (*_seeded_state(seed), STATE_WORDS), None))
    uniform, log, sqrt = generator.random, math.log, math.sqrt
    normals: list[float] = []
    while len(normals) < count:
        while True:
            x1 = 2.0 * uniform() - 1.0
            x2 = 2.0 * uniform() - 1.0
            r2 = x1 * x1 + x2 * x2
            if r2 < 1.0 and r2 != 0.0:
                break
        f = sqrt(-2.0 * log(r2) / r2)
        # loc + scale · gauss, as numpy computes it, with loc 0 and scale 1
        normals.append(0.0 + 1.0 * (f * x2))
        normals.append(0.0 + 1.0 * (f * x1))
    del normals[count:]
    return normals
