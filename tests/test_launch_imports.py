"""What a launch imports: the app's modules load none of what only --grads needs.

The judging side of --grads (the sandbox's worker process, multiprocessing, the
known mistakes) was a tenth of the launch's imports; it loads with --grads.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import bptui.cli, bptui.tui.app
print(json.dumps(sorted(sys.modules)))
"""

ONLY_WITH_GRADS = [
    "bptui.debug.usergrads.judge",
    "bptui.debug.usergrads.sandbox",
    "bptui.debug.usergrads.hypotheses",
    "bptui.debug.usergrads.localise",
    "bptui.debug.worker",
    "multiprocessing",
]


def test_the_app_loads_the_grads_side_only_when_asked() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(json.loads(proc.stdout))
    assert "bptui.tui.app" in loaded and "bptui.debug.session" in loaded
    assert [m for m in ONLY_WITH_GRADS if m in loaded] == []


#: What the first frame does without: the loss plot comes just after it.
ONLY_AFTER_THE_FIRST_FRAME = ["plotext", "textual_plotext", "secrets"]


def test_plotext_is_not_imported_with_the_app() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(json.loads(proc.stdout))
    assert "bptui.tui.widgets.loss_plot" in loaded
    assert [m for m in ONLY_AFTER_THE_FIRST_FRAME if m in loaded] == []
