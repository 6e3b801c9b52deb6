"""bptui: backpropagation, visible and debuggable, one step at a time."""

__version__ = "0.1.0"
