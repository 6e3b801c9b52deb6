"""The app's exception boundary: a bug costs one notice, not the session.

An exception that escapes an action, a pane's ``show`` or the run loop is a
bug of bptui's (bad input never gets that far), but the state it leaves is
usually whole: the stepper moves in one call, the panes redraw from it.  So
the app says so in one line and goes on (:func:`survived_line`).  Where
Textual itself must stop (an exception in its own machinery: a render, a
mount), the app exits with status 1 and one line on stderr
(:func:`fatal_line`); the traceback goes to a file named in that line, for a
bug report, instead of a screenful of locals.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from pathlib import Path

#: The longest an exception's message is quoted in a notice or the exit line.
MAX_MESSAGE = 160


def describe(error: BaseException) -> str:
    """``KeyError: 0``: the exception's type and its first line, bounded."""
    message = str(error).strip().splitlines()
    first = message[0] if message else ""
    if len(first) > MAX_MESSAGE:
        first = first[: MAX_MESSAGE - 1] + "…"
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def survived_line(where: str, error: BaseException) -> str:
    """The notice of an error the session survives."""
    return f"internal error in {where}: {describe(error)}; the session goes on"


def save_traceback(error: BaseException) -> Path | None:
    """Write the traceback to a new file in the temp folder; None where that fails."""
    try:
        fd, name = tempfile.mkstemp(prefix="bptui-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return Path(name)


def fatal_line(error: BaseException, report: Path | None) -> str:
    """The one line bptui leaves on stderr when the app had to stop."""
    where = f"; the traceback is in {report}" if report else ""
    return f"bptui: internal error: {describe(error)} (the app stopped{where})"
