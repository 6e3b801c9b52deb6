"""Every way the TUI writes a number, in one place.

Panes, screens and the status line never format a float themselves: they
pick one of these, so a column that shows a value in one pane shows it the
same way in every other, and a change of style is one edit.  All of them use
the typographic minus (−) for negative numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _minus(text: str) -> str:
    """``-0.5`` → ``−0.5``: the typographic minus every pane prints."""
    return "−" + text[1:] if text.startswith("-") else text


def fmt_value(value: float, decimals: int = 6) -> str:
    """A number as the panes print it: fixed point, scientific when huge or tiny.

    Fixed point keeps columns aligned and shows the article's digits; values
    that would keep fewer than four significant digits (below 10⁻³ at six
    decimals) or grow too wide switch to scientific notation.
    """
    if not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "−inf")
    magnitude = abs(value)
    if magnitude == 0.0:
        value = 0.0  # never print −0.000000
    if magnitude != 0.0 and (magnitude < 10.0 ** (3 - decimals) or magnitude >= 1e6):
        text = f"{value:.2e}"  # three significant digits fit a 10-character column
    else:
        text = f"{value:.{decimals}f}"
    return _minus(text)


def fmt_loss(value: float) -> str:
    """The loss with at least four significant digits, however small it gets."""
    if np.isfinite(value) and value != 0.0 and not 1e-3 <= abs(value) < 1e6:
        return _minus(f"{value:.4e}")
    return fmt_value(value)


def fmt_signed(value: float, decimals: int = 6) -> str:
    """Like :func:`fmt_value` with an explicit + for positive changes."""
    text = fmt_value(value, decimals)
    return text if text[0] in "−n" or value == 0 else "+" + text


def fmt_short(value: float) -> str:
    """The diagram's short number: 3 decimals, scientific when huge or tiny."""
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("+inf" if value > 0 else "−inf")
    size = abs(value)
    text = f"{value:.1e}" if size >= 1e4 or (0 < size < 5e-4) else f"{value:.3f}"
    return _minus(text)


def fmt_input(value: float) -> str:
    """A data value (an x or a y) in four significant digits: 0.53, 1.2, −3.142."""
    return f"{float(value):.4g}".replace("-", "−", 1)


def fmt_inputs(values: Sequence[float] | np.ndarray) -> str:
    """One value as is, a few in parentheses, many as the first three and a count."""
    parts = [fmt_input(v) for v in values[:3]]
    if len(values) == 1:
        return parts[0]
    if len(values) > 4:
        parts.append(f"… {len(values)} values")
    elif len(values) == 4:
        parts.append(fmt_input(values[3]))
    return "(" + ", ".join(parts) + ")"


def fmt_point_x(value: float) -> str:
    """An input as the chain pane labels a point: ``0.53`` (no trailing zeros)."""
    return fmt_value(value, 4).rstrip("0").rstrip(".")


def fmt_plain(value: float) -> str:
    """A setting as written in a scenario file: the learning rate 0.01, h 1e-05."""
    return f"{value:g}"


def fmt_precise(value: float) -> str:
    """Six significant digits: the diagram's loss of the active loss phase."""
    return f"{value:.6g}"


def fmt_significant(value: float) -> str:
    """A loss with at least 4 significant digits (SPEC §5), compact when huge."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.7g}"


def fmt_tick(value: float) -> str:
    """A plot axis label of at most ~7 characters: 3.067, 0.0012, 1.5e+42."""
    if value == 0:
        return "0"
    size = abs(value)
    if 1e-3 <= size < 1e5:
        return f"{value:.4g}"
    return f"{value:.2g}"


def fmt_error(value: float, digits: int = 1) -> str:
    """A relative error in scientific notation: 3.2e-09 (``digits`` after the point)."""
    return f"{value:.{digits}e}"


def fmt_percent(value: float) -> str:
    """A share as a whole percentage, right-aligned in three characters: `` 42%``."""
    return f"{value:3.0f}%"
