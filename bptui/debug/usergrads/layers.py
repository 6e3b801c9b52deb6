"""Which functions of a ``--grads`` file return a whole layer: ``d_W<l>`` and ``d_b<l>``.

``d_W<l>`` (a capital W: no parameter is named that) returns layer l's
(out, in) matrix of ∂Loss/∂W.  ``d_b<l>`` returns layer l's (out,) vector of
∂Loss/∂b beside a ``d_W<l>`` of the same layer; without one it is the scalar
function of the bias parameter b<l>, as it always was, since a bias's number
and a layer's number are spelled alike.  The worker process and the judge
both ask this module, so they never disagree about what a function returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MATRIX = re.compile(r"d_W([1-9][0-9]*)")
VECTOR = re.compile(r"d_b([1-9][0-9]*)")


def layer_functions(names: Iterable[str]) -> dict[str, tuple[str, int]]:
    """``name → (kind, layer)``, kind "W" or "b", for each function returning a whole layer."""
    names = list(names)
    found: dict[str, tuple[str, int]] = {}
    for name in names:
        if match := MATRIX.fullmatch(name):
            found[name] = ("W", int(match[1]))
    layers = {layer for _, layer in found.values()}
    for name in names:
        if (match := VECTOR.fullmatch(name)) and int(match[1]) in layers:
            found[name] = ("b", int(match[1]))
    return found
