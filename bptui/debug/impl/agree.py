"""The project's one agreement rule, :func:`bptui.debug.gradcheck.close`, over whole arrays.

A tensor of the user's agrees when every entry is ``close`` to the correct
one.  Calling ``close`` per entry is too slow for a 784×64 weight gradient, so
:func:`close_entries` applies the same rule with the same two constants, at
once; tests/test_impl.py checks the two never disagree.
"""

from __future__ import annotations

import numpy as np

from bptui.debug.gradcheck import ABS_FLOOR, AGREE_REL

Array = np.ndarray

#: A tensor's verdict: it agrees, it differs, bptui has no such tensor to compare
#: (a fused softmax output's dA), or it comes after the first wrong one (not judged).
AGREES, DIFFERS, NOT_CHECKED, AFTER = "agrees", "differs", "not checked", "after"


def close_entries(yours: Array, correct: Array) -> Array:
    """Per entry, ``gradcheck.close(yours, correct)`` (same shapes or broadcastable)."""
    with np.errstate(all="ignore"):
        diff = np.abs(yours - correct)
        scale = np.maximum(np.abs(yours), np.abs(correct))
        return (diff <= ABS_FLOOR) | (diff <= AGREE_REL * scale)


def same(yours: Array, correct: Array) -> bool:
    """The same shape and every entry close."""
    return yours.shape == correct.shape and bool(close_entries(yours, correct).all())
