"""Shared, generic test helpers: run the CLI in-process and write scenario files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from bptui.cli import main

# No example database: a failure found once must not replay on every later run
# from a stale .hypothesis/ folder, and in CI every run draws the same examples
# (derandomize), so a green CI run means green.  Locally, seeds vary
# (pytest --hypothesis-seed=N reproduces one).
settings.register_profile("bptui", database=None)
settings.register_profile("ci", database=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "bptui")


@dataclass(frozen=True)
class CliResult:
    """What one in-process ``bptui …`` call did: exit status and both streams."""

    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Call ``bptui.cli.main(args)`` and capture what it printed."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` to ``tmp_path / name`` and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
