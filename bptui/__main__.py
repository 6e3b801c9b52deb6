"""``python -m bptui``."""

from bptui.cli import run

run()
