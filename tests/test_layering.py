"""Data flows one way: the engine never imports the UI, and widgets never compute gradients.

Both checks are proven able to fail: the import probe sees Textual when it is
given a UI module, and the call scanner flags a synthetic offending widget.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import bptui

PACKAGE = Path(bptui.__file__).parent
UI_PACKAGES = ("textual", "textual_plotext", "plotext", "rich")

#: Calls that compute losses' derivatives; a widget that makes one is recomputing backprop.
GRADIENT_CALLS = {
    "loss_and_grad",
    "backward",
    "build_record",
    "numeric_gradient",
    "gradient_check",
    "output_delta",
    "dloss_dz_output",
    "dloss_dyhat",
    "ChainBuilder",
}

PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def engine_modules() -> list[str]:
    return sorted(
        f"bptui.engine.{path.stem}"
        for path in (PACKAGE / "engine").glob("*.py")
        if path.stem != "__init__"
    )


def top_level_imports(*modules: str) -> set[str]:
    """Import ``modules`` in a fresh interpreter; the top-level packages it loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(proc.stdout))


def test_engine_imports_no_ui() -> None:
    modules = engine_modules()
    for expected in ("functions", "network", "trace", "stepper", "scenario", "export", "gradcheck"):
        assert f"bptui.engine.{expected}" in modules
    loaded = top_level_imports("bptui.engine", *modules)
    assert "numpy" in loaded and "bptui" in loaded
    assert not loaded & set(UI_PACKAGES), sorted(loaded & set(UI_PACKAGES))


def test_import_probe_sees_textual_when_it_is_there() -> None:
    assert "textual" in top_level_imports("textual.app")


def gradient_calls(source: str) -> list[str]:
    """Names of gradient-computing functions a module calls or imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in GRADIENT_CALLS:
                found.append(f"call {name}() at line {node.lineno}")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in GRADIENT_CALLS:
                    found.append(f"import {alias.name} at line {node.lineno}")
    return found


def test_widgets_never_compute_gradients() -> None:
    widgets = sorted((PACKAGE / "tui" / "widgets").glob("*.py"))
    assert widgets, "bptui/tui/widgets has no modules"
    offenders = {
        path.name: calls
        for path in widgets
        if (calls := gradient_calls(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_gradient_call_scanner_flags_offenders() -> None:
    bad = (
        "from bptui.engine.trace import build_record\n"
        "def render(view, net, theta, x, y, g):\n"
        "    net.loss_and_grad(theta, x, y, g)\n"
        "    return backward(theta)\n"
    )
    assert gradient_calls(bad) == [
        "import build_record at line 1",
        "call loss_and_grad() at line 3",
        "call backward() at line 4",
    ]
    innocent = (
        "def render(view):\n"
        "    # backward( in a comment, loss_and_grad in a string\n"
        "    text = 'loss_and_grad(...)'\n"
        "    return view.shows_backward(2), view.record.grads, text\n"
    )
    assert gradient_calls(innocent) == []
