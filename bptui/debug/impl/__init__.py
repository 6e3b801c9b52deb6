"""Checking a user's whole forward/backward implementation (``bptui check --impl FILE``).

The user's file is course-style code (``forward(params, X)`` and
``backward(params, X, Y, cache)``).  It runs in a worker process
(:mod:`~bptui.debug.impl.runner`), its arrays are read in its own layout
(:mod:`~bptui.debug.impl.interface`), compared with the engine's tensors in
that layout (:mod:`~bptui.debug.impl.reference`) in backprop order, and the
first one that disagrees is named with its likely cause
(:mod:`~bptui.debug.impl.causes`, :mod:`~bptui.debug.impl.check`).
"""
