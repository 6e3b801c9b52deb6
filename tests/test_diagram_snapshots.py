"""Snapshots of the whole app with the diagram at the moments backprop shows itself.

At four terminal sizes: mid-backward (gradients on the diagram, pending below
the layer just computed), a selected chain drawn from the loss back to its
parameter, and the update phase's old → new values.  Update on purpose with
``pytest tests/test_diagram_snapshots.py --snapshot-update`` and look at the
changed SVGs before committing them.
"""

from __future__ import annotations

from typing import Any

import pytest

from bptui.scenario.loading import load_builtin
from bptui.tui.app import make_app

SIZES = [(80, 24), (100, 30), (140, 45), (200, 55)]


def article() -> Any:
    return make_app(load_builtin("article"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_mid_backward_gradients(snap_compare: Any, size: tuple[int, int]) -> None:
    # update, forward 1, forward 2, loss, backward 2: layer 1's gradients still pending
    assert snap_compare(article(), press=["n"] * 5, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_chain_path_of_w1(snap_compare: Any, size: tuple[int, int]) -> None:
    async def select_w1(pilot: Any) -> None:
        pilot.app.selected_param = "w1"
        await pilot.pause()

    assert snap_compare(article(), terminal_size=size, run_before=select_w1)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_update_phase(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(article(), press=["s", "n"], terminal_size=size)
