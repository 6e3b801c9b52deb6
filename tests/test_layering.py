"""The layers hold: cli > tui > debug > scenario > engine, no cycles, widgets only render.

The import-linter contracts in pyproject.toml are run here, and each is
proven able to fail on a copy of the package with one forbidden import; the
cycle finder is shown a cycle; the import probe sees Textual when given a UI
module; the call scanner flags a synthetic widget that computes gradients.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

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

ROOT = PACKAGE.parent
CONFIG = ROOT / "pyproject.toml"
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """Run the import-linter contracts of ``config`` on the package under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=root,
    )


def test_layer_contracts_hold() -> None:
    result = lint_imports(ROOT, CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "offending_import", "contract"),
    [
        ("engine/network.py", "import bptui.scenario.loading", "Layers"),
        ("scenario/model.py", "import bptui.debug.gradcheck", "Layers"),
        ("engine/record.py", "import rich", "never import a UI library"),
        ("tui/widgets/status.py", "import bptui.tui.screens.watches", "never import screens"),
    ],
)
def test_layer_contracts_fail_when_broken(
    tmp_path: Path, module: str, offending_import: str, contract: str
) -> None:
    """A copy of the package with one forbidden import breaks exactly that contract."""
    shutil.copytree(PACKAGE, tmp_path / "bptui", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "bptui" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{offending_import}\n")
    shutil.copy(CONFIG, tmp_path / "pyproject.toml")
    result = lint_imports(tmp_path, tmp_path / "pyproject.toml")
    assert result.returncode == 1, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken) == 1 and contract in broken[0], result.stdout


def import_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Every cycle of direct imports among ``modules`` (deferred imports included)."""
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph.find_modules_directly_imported_by(module) & modules):
            if state.get(imported) == "open":
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_import_cycles() -> None:
    """No module needs another that needs it back at run time (annotations aside)."""
    graph = grimp.build_graph("bptui", exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if m.startswith("bptui")}
    assert import_cycles(graph, modules) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert import_cycles(graph, {"p.a", "p.b", "p.c"}) == [["p.a", "p.b", "p.c", "p.a"]]


PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def below_ui_modules() -> list[str]:
    """Every module of the layers that must work headless."""
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for layer in ("engine", "scenario", "debug")
        for path in (PACKAGE / layer).rglob("*.py")
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


def test_headless_layers_load_no_ui() -> None:
    """Importing them for real (not just reading imports) loads no UI package."""
    modules = below_ui_modules()
    for expected in ("engine.network", "engine.stepper", "scenario.loading", "debug.gradcheck"):
        assert f"bptui.{expected}" in modules
    loaded = top_level_imports(*modules)
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
        "from bptui.engine.record import build_record\n"
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
