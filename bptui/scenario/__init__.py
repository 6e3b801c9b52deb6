"""Scenarios: TOML and CSV files read and validated, the built-ins, and the trace export.

Everything that knows about file formats lives here, so the engine below
takes plain arrays and the TUI above takes a :class:`Scenario`.  Every
mistake in a user's file is a :class:`~bptui.errors.ScenarioError` that names
the file and the key or row.
"""
