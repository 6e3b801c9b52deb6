"""Panes and pages: each draws what it is given (a View, rows) and owns no state.

Widgets never import screens or touch the stepper; the app hands them views.
"""
