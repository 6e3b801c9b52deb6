"""The Textual app: ``app`` (state, keys, running), ``widgets`` (panes), ``screens`` (modals).

``state`` is the immutable View every pane draws from, ``format`` every number
format, ``keys`` the key bindings and the lists made from them, ``runner`` the
run loop's pacing.
"""
