"""Modal screens: help (?), go to (g), gradient check (c), watches (w).

A screen answers through ``dismiss()``; the app applies the answer.  Screens
may use widgets; widgets never import screens.
"""
