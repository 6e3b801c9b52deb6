"""The TUI's speed tricks, in one place, each with what it buys.

None of this changes what is drawn; the panes would be correct without it,
only slower while running.  The cost of both tricks' absence is garbage
collection, so it was measured as collector pauses: 4 s flat out on the
article at 140×45 (``benchmarks/bench_tui.py``'s run), one fresh process per
variant, two alternating rounds on the shared 2-core machine:

=====================  ==================  ===================  =============
variant                longest gen-2 stop  gen-2 time in 4 s    live objects
=====================  ==================  ===================  =============
both tricks            30–34 ms            0.32–0.43 s          31k–37k
without the freeze     121–157 ms          1.24–1.33 s          76k
without the clearing   212–331 ms          1.69–2.05 s          220k–247k
=====================  ==================  ===================  =============

A stop longer than a frame (33 ms) is a visible stutter and a paused key.

- :func:`freeze_startup_objects` — ``gc.freeze()`` after mount.  Everything
  built at launch (imports, widgets, stylesheet) lives as long as the app;
  frozen, later full collections no longer walk it.
- :func:`drop_stale_renders` — clears a DataTable's render caches after a
  frame of ``update_cell``.  DataTable keys those caches by an update counter,
  so every cached row goes stale on each update yet is kept until thousands
  pile up.  It calls DataTable's private ``_clear_caches`` (Textual 8), the
  call DataTable makes itself when its columns change; every cell changed, so
  nothing still valid is lost.
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
