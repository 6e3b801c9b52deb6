"""The backprop engine: plain numpy, importable without the TUI or any file format.

It holds the math (activation and loss tables, the network's forward and
backward pass), what a step records (node values, gradients, chain-rule
factors), the stepper (phases, history, time travel) and watches.  It imports
nothing of bptui above it; speed tricks live in :mod:`bptui.engine.fast`,
tested against the readable code.
"""
