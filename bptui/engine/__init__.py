"""The backprop engine: plain numpy, importable without the TUI."""
