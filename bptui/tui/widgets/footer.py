"""Textual's Footer, rebuilt once however often the bindings changed before it could.

At launch the bindings change three times before the Footer's first rebuild
(the app's bindings, the focus, the dimming of keys): Textual's Footer queues
a full rebuild of its keys for each, so the launch painted the keys after
three rebuilds of about 20 ms each.  This Footer counts the changes and skips
a queued rebuild that has nothing new to show.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class CoalescingFooter(Footer):
    """A Footer whose queued rebuilds coalesce: the first shows every change so far."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._changes = 0
        self._shown_changes = -1

    def bindings_changed(self, screen: Screen) -> None:
        self._changes += 1
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        if self._shown_changes == self._changes:
            return  # an earlier rebuild in this queue already showed them
        self._shown_changes = self._changes
        await super().recompose()
