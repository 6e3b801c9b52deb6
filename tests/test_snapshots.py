"""Snapshot tests: the real app's screen, as SVG, at the moments that matter.

Update on purpose with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the changed SVGs before committing them.  No timer runs while a
snapshot is taken (divergence is reached by stepping, not by running).
"""

from __future__ import annotations

from typing import Any

from bptui.scenario.loading import load_builtin
from bptui.tui.app import make_app

WIDE = (140, 45)
SMALL = (80, 24)


def article() -> Any:
    return make_app(load_builtin("article"))


def test_start(snap_compare: Any) -> None:
    assert snap_compare(article(), terminal_size=WIDE)


def test_after_one_step(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["s"], terminal_size=WIDE)


def test_update_phase_shows_old_to_new(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["n"], terminal_size=WIDE)


def test_mid_forward(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["n", "n"], terminal_size=WIDE)


def test_mid_backward(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["n"] * 5, terminal_size=WIDE)


def test_chain_pane_on_b1(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["4"], terminal_size=SMALL)


def test_fit_view(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["s", "s", "f"], terminal_size=WIDE)


def test_diverged(snap_compare: Any) -> None:
    async def diverge(pilot: Any) -> None:
        app = pilot.app
        app.stepper.run(1000)  # stops at the first non-finite step
        app.refresh_view()
        await pilot.pause()

    app = make_app(load_builtin("diverge"))
    assert snap_compare(app, terminal_size=WIDE, run_before=diverge)


def test_xor(snap_compare: Any) -> None:
    assert snap_compare(make_app(load_builtin("xor")), press=["s"], terminal_size=WIDE)


def test_deep(snap_compare: Any) -> None:
    assert snap_compare(make_app(load_builtin("deep")), terminal_size=WIDE)


def test_80x24(snap_compare: Any) -> None:
    assert snap_compare(article(), terminal_size=SMALL)


def test_help(snap_compare: Any) -> None:
    assert snap_compare(article(), press=["question_mark"], terminal_size=WIDE)
