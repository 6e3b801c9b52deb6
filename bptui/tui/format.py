"""Every way the TUI writes a number, in one place.

Panes, screens and the status line never format a float themselves: they
pick one of these, so a column that shows a value in one pane shows it the
same way in every other, and a change of style is one edit.

Two rules hold for everything on screen:

- **One minus.**  Every negative sign is the typographic minus (−), the
  exponent's too: ``−1.76e−04``, never ``-1.76e-04``.  A reader sees one
  glyph for "negative" wherever it appears (``−2·SSR = −6.1335776``); the
  ASCII form is for files (``bptui trace`` and ``check`` keep it).  Text made
  outside the TUI (a diagnosis, an error) passes through :func:`typographic`.
- **One style per column.**  A column or a list of numbers is written in one
  style, fixed or scientific, chosen from its largest and smallest magnitude
  (:func:`fmt_column`): ``[1.000e−01, 5.300e−01, 8.200e−01]`` or
  ``[0.1000, 0.5300, 0.8200]``, never a mix.

And one rule for words: text the user wrote (node names, titles, the
messages of their code's errors) is shown as written, never read as markup
(:func:`plain`; notifications are plain text too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import numpy as np
from rich.text import Text

#: An ASCII hyphen used as a minus: before a digit, not inside a word (``h1-2``),
#: or an exponent's sign (``1e-05``).
_ASCII_MINUS = re.compile(r"(?<![\w.)\]])-(?=\.?\d)|(?<=\de)-(?=\d)")


def _minus(text: str) -> str:
    """``-1.5e-04`` → ``−1.5e−04``: the typographic minus every pane prints."""
    return text.replace("-", "−")


def typographic(text: str) -> str:
    """Text from outside the TUI with every minus sign made typographic.

    A diagnosis or an error message is written once for the command line
    (ASCII); on screen its numbers follow the one-minus rule.  Hyphens inside
    words and ranges (``leaky-relu``, ``h1-2``) are left alone.
    """
    return _ASCII_MINUS.sub("−", text)


def plain(text: str, style: str = "") -> Text:
    """Text written by the user (a name, a title, an error message) exactly as written.

    Rich and Textual read ``[...]`` in a plain string as markup, so a node
    named ``[/]`` or an error saying ``[red]`` crashed the pane that showed it
    (``MarkupError``).  Every such text enters a table, a label or a border
    title as this :class:`~rich.text.Text`, which is never parsed.
    """
    return Text(text, style=style)


def _needs_scientific(magnitude: float, decimals: int) -> bool:
    """Fixed point keeps ≥ 4 significant digits and ≤ 7 integer digits, else scientific."""
    return magnitude != 0.0 and (magnitude < 10.0 ** (3 - decimals) or magnitude >= 1e6)


def fmt_value(value: float, decimals: int = 6) -> str:
    """A number as the panes print it: fixed point, scientific when huge or tiny.

    Fixed point keeps columns aligned and shows the article's digits; values
    that would keep fewer than four significant digits (below 10⁻³ at six
    decimals) or grow too wide switch to scientific notation.
    """
    if not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "−inf")
    if value == 0.0:
        value = 0.0  # never print −0.000000
    if _needs_scientific(abs(value), decimals):
        return _scientific(value)
    return _minus(f"{value:.{decimals}f}")


def _scientific(value: float) -> str:
    """Three significant digits: fits the 10-character column of a fixed value."""
    return _minus(f"{value:.2e}")


def column_is_scientific(values: Iterable[float], decimals: int = 6) -> bool:
    """Whether a column of these numbers is written in scientific notation.

    It is when any finite non-zero entry needs it (too small to keep four
    significant digits, or too wide); zeros and non-finite entries do not
    choose.  A pane that fills a column cell by cell asks this once for the
    whole column, then writes each cell with :func:`fmt_in_column`.
    """
    numbers = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
    with np.errstate(invalid="ignore"):
        sizes = np.abs(numbers[np.isfinite(numbers) & (numbers != 0.0)])
    return bool(np.any((sizes < 10.0 ** (3 - decimals)) | (sizes >= 1e6)))


def fmt_in_column(value: float, scientific: bool, decimals: int = 6) -> str:
    """One cell of a column whose style :func:`column_is_scientific` chose."""
    value = float(value)
    if scientific and math.isfinite(value):
        return _scientific(0.0 if value == 0.0 else value)
    return fmt_value(value, decimals)


def fmt_signed_in_column(value: float, scientific: bool, decimals: int = 6) -> str:
    """Like :func:`fmt_in_column` with an explicit + for positive changes."""
    text = fmt_in_column(value, scientific, decimals)
    return text if text[0] in "−n" or value == 0 else "+" + text


def fmt_column(values: Iterable[float], decimals: int = 6) -> list[str]:
    """A column (or list) of numbers in one style, chosen from its extremes.

    Scientific for all entries when any finite non-zero entry needs it (too
    small to keep four significant digits, or too wide), fixed otherwise; so
    ``0.049671`` never stands above ``−1.76e−04``.  Zeros and non-finite
    entries do not choose the style.
    """
    numbers = [float(v) for v in values]
    scientific = column_is_scientific(numbers, decimals)
    return [fmt_in_column(v, scientific, decimals) for v in numbers]


def fmt_loss(value: float) -> str:
    """The loss with at least four significant digits, however small it gets."""
    if np.isfinite(value) and value != 0.0 and not 1e-3 <= abs(value) < 1e6:
        return _minus(f"{value:.4e}")
    return fmt_value(value)


def fmt_list(values: Iterable[float], decimals: int = 4) -> str:
    """``[0.1000, 0.5300, 0.8200]``: a bracketed list in one style (:func:`fmt_column`)."""
    return "[" + ", ".join(fmt_column(values, decimals)) + "]"


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
    return _minus(f"{float(value):.4g}")


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
    return _minus(f"{value:g}")


def fmt_precise(value: float) -> str:
    """Six significant digits: the diagram's loss of the active loss phase."""
    return _minus(f"{value:.6g}")


def fmt_significant(value: float) -> str:
    """A loss with at least 4 significant digits (the plot's label), compact when huge."""
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "−inf")
    return _minus(f"{value:.7g}")


def fmt_tick(value: float) -> str:
    """A plot axis label of at most ~7 characters: 3.067, 0.0012, 1.5e+42."""
    if value == 0:
        return "0"
    size = abs(value)
    if 1e-3 <= size < 1e5:
        return _minus(f"{value:.4g}")
    return _minus(f"{value:.2g}")


def fmt_error(value: float, digits: int = 1) -> str:
    """A relative error in scientific notation: 3.2e−09 (``digits`` after the point)."""
    return _minus(f"{value:.{digits}e}")


def fmt_percent(value: float) -> str:
    """A share as a whole percentage, right-aligned in three characters: `` 42%``."""
    return f"{value:3.0f}%"
