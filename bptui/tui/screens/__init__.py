"""Debugging screens: gradient check (c), watches (w), the article's errata (? tab)."""
