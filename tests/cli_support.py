"""One check shared by the CLI tests: bad input is exit 2 and one clean line."""

from __future__ import annotations


def assert_one_line_error(result, *needles: str) -> str:
    """Exit 2, nothing on stdout, one stderr line with every needle, no traceback."""
    assert result.code == 2, (result.code, result.err)
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("bptui: error: ")
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
