"""The TUI's speed tricks, in one place, each with what it buys.

None of this changes what is drawn; the panes would be correct without it,
only slower while running flat out.  Measured with
``benchmarks/bench_tui.py`` (article, 140×45, flat out) on the project's
2-core machine; see the README's Performance section.

- :func:`freeze_startup_objects` — ``gc.freeze()`` after mount.  Everything
  built at launch (imports, widgets, stylesheet) lives as long as the app, so
  keeping it out of later full collections makes the collections a run
  triggers short: without it a full collection walks ~1M objects and stalls
  a frame.
- :func:`drop_stale_renders` — clears a DataTable's render caches after a
  frame of ``update_cell``.  DataTable keys those caches by an update counter,
  so every cached row goes stale on each update yet is kept until thousands
  pile up: ~100k live objects while running, and full garbage collections of
  100+ ms.  It calls DataTable's private ``_clear_caches`` (Textual 8), the
  same call DataTable makes itself when its columns change.
"""

from __future__ import annotations

import gc

from textual.widgets import DataTable


def freeze_startup_objects() -> None:
    """Move every object alive now out of the garbage collector's view."""
    gc.freeze()


def drop_stale_renders(table: DataTable) -> None:
    """Forget a DataTable's cached renders after its cells were updated."""
    table._clear_caches()
