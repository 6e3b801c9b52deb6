"""Debugging backprop: the gradient check, the user's own derivatives, errata, reports.

It sits on the engine and the scenarios and below the TUI: everything here
works headless (``bptui check``) and the TUI only shows its answers.  The one
rule for "two gradients agree" and its tolerances live in
:mod:`bptui.debug.gradcheck`; a user's own code runs in worker processes
(:mod:`bptui.debug.worker`), never in bptui's.
"""
