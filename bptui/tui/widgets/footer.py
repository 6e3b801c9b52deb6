"""Textual's Footer, with its keys in the first frame and rebuilt only when they change.

Textual's Footer starts empty and builds its keys once the screen first
announces its bindings, a call after a refresh later; then each of the
launch's binding changes (the focus, the dimming of keys) queued another full
rebuild of about 20–40 ms.  The launch painted every pane at about 0.5 s and
the keys only at about 0.75 s, after three rebuilds that showed the same keys.

This Footer composes its keys at once (the screen's bindings are known when
it mounts) and skips a rebuild whose keys, labels, dimming and palette key
would be those already shown.  It also rebuilds when the palette key is
switched on or off (Textual's only repaints, so the key never came back).
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.widgets import Footer


class CoalescingFooter(Footer):
    """A Footer whose keys are there from the first frame and rebuilt only to change."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._bindings_ready = True  # compose the keys now, not after the first announcement
        self._shown: Hashable | None = None

    def shown_keys(self) -> Hashable:
        """Everything :meth:`Footer.compose` reads, so equal values compose the same keys."""
        keys = tuple(
            (
                binding.key,
                binding.key_display,
                binding.description,
                binding.action,
                binding.group,
                enabled,
                tooltip,
            )
            for _, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show
        )
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        palette_key = None if palette is None else palette[1:]
        return keys, self.show_command_palette, palette_key, self.compact

    def compose(self) -> ComposeResult:
        self._shown = self.shown_keys()
        yield from super().compose()

    def watch_show_command_palette(self) -> None:
        """Show or hide the palette key when the app toggles it on a resize.

        Textual's Footer only repaints on this change, so a terminal widened
        past 100 columns never got the key back.
        """
        if self.is_attached:
            self.call_after_refresh(self.recompose)

    async def recompose(self) -> None:
        if self.is_attached and self._shown == self.shown_keys():
            return  # the keys shown are already these
        await super().recompose()
