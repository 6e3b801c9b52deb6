"""The command palette, guarded against two crashes of Textual's own (8.2).

Textual's palette dies on keys that arrive faster than it draws, which is
how a key repeat or a paste delivers them:

- **Enter twice** (``ctrl+p``, Enter, Enter): both submits run the command
  and both dismiss the palette; the second dismiss pops the app's own screen
  (``ScreenStackError``), or whatever screen the command just opened.
- **PageUp / PageDown before the list is drawn**: the option list pages from
  a line table it fills only once it has a size (``KeyError: 0`` in
  ``OptionList._move_page``).

Textual calls the parent class's ``@on`` handlers itself, so the guard is a
handler of its own that runs first and stops a late submit with
``prevent_default``; paging waits until the list has lines to page through.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.await_complete import AwaitComplete
from textual.command import CommandList, CommandPalette
from textual.widgets import Button, Input, OptionList


class GuardedCommandPalette(CommandPalette):
    """Textual's palette that answers once and pages only a drawn list."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Set by the first dismiss: later submits and dismisses are late keys.
        self.closing = False

    @on(Input.Submitted)
    @on(Button.Pressed)
    def _answer_once(self, event: Input.Submitted | Button.Pressed) -> None:
        """A submit after the palette has answered does nothing (not even run the command)."""
        if self.closing:
            event.prevent_default()  # the parent's _select_or_command never sees it
            event.stop()

    @on(OptionList.OptionSelected)
    def _select_once(self, event: OptionList.OptionSelected) -> None:
        """A second pick queued before the first closed the palette is a late key too."""
        if self.closing:
            event.prevent_default()
            event.stop()

    def dismiss(self, result: Any = None) -> AwaitComplete:
        """Dismiss once: a second dismiss would pop the screen under the palette."""
        if self.closing or not self.is_current:
            return AwaitComplete.nothing()
        self.closing = True
        return super().dismiss(result)

    def _action_command_list(self, action: str) -> None:
        """Page only through a list that has been laid out (else the key waits for nothing)."""
        if action in ("page_up", "page_down") and not self._list_is_laid_out():
            return
        super()._action_command_list(action)

    def _list_is_laid_out(self) -> bool:
        commands = self.query_one(CommandList)
        if not commands.option_count or not commands.scrollable_content_region:
            return False
        return (commands.highlighted or 0) in commands._index_to_line
