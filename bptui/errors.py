"""Bad input, of every kind, in one family: the CLI turns any of them into exit 2.

The message is the one line a user sees, so it names the problem and where it
is (file, key, row, function).  Raising one of these is how any layer says
"this is the user's input, not our bug".
"""

from __future__ import annotations


class BadInput(ValueError):
    """Input bptui cannot use; ``str(error)`` is the one line shown."""


class UsageError(BadInput):
    """Bad command-line usage (an option, a combination of options)."""


class ScenarioError(BadInput):
    """A scenario, CSV or watch table that does not validate."""


class UserCodeError(ScenarioError):
    """A user's Python file (derivatives, implementation) that cannot be used.

    A subclass of :class:`ScenarioError` because, to every caller, it is one
    more file the user gave that does not make sense.
    """


def one_line(message: str) -> str:
    """``message`` made safe to print as one line: control characters escaped.

    Messages quote what the user typed (a file name, a key, an option), which
    may hold a newline or a terminal escape; printed raw, one message could
    become several lines or repaint the terminal.
    """
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in message)
