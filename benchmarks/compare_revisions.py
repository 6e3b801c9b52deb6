"""Run the benchmarks of two source trees side by side and tabulate old against new.

Why: a restructuring must be "no slower than before", and two benchmark runs
made minutes apart on a shared 2-core machine differ by more than most code
changes do.  This script runs the OLD tree's bench script and the NEW tree's
one in turns, swapping which goes first every round so load hits both alike,
and reports the best figure of each side, their ratio and the spread.

Each run is a subprocess with cwd and PYTHONPATH set to its tree, so
``import bptui`` resolves to that tree and not to the editable install; a
probe checks that up front, and every run reports which ``bptui`` it imported.
Only the bench scripts' printed output and CLI flags are relied on, never
their imports, so the NEW tree's scripts may follow the new package layout.

Run (from the repository root):

    .venv/bin/python benchmarks/compare_revisions.py --base 8630d6a
    .venv/bin/python benchmarks/compare_revisions.py --old /tmp/bptui-old --bench engine \\
        --rounds 3 -- --rounds 5
    .venv/bin/python benchmarks/compare_revisions.py --old /tmp/bptui-old --bench all \\
        --engine-args=--quick --tui-args="--rounds 1 --seconds 1"

Arguments after ``--`` go to every bench script run; ``--engine-args`` and
``--tui-args`` go to one of them (for flags only one script has; write them
with ``=``, as above, since their values start with a dash).  Timings are
reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

#: Bench name → script path relative to a tree's root.
SCRIPTS = {"engine": "benchmarks/bench_engine.py", "tui": "benchmarks/bench_tui.py"}
MARKER = "@@compare_revisions bptui="

#: Runs a bench script as ``python script.py`` would, then reports which bptui it imported.
RUNNER = f"""
import atexit, os, runpy, sys
script = sys.argv[1]
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(script))
def _report():
    print("{MARKER}" + str(getattr(sys.modules.get("bptui"), "__file__", None)), file=sys.stderr)
atexit.register(_report)
runpy.run_path(script, run_name="__main__")
"""

PROBE = "import bptui; print(bptui.__file__)"

NUMBER = r"\d[\d,]*(?:\.\d+)?"

#: Figures that run no bptui code: their new/old ratio shows how evenly load hit the sides.
CONTROLS = re.compile(r"torch µs|numpy calls|GEMMs|bare Textual")


class Figure(NamedTuple):
    """One printed figure and which way is better."""

    value: float
    higher_is_better: bool


# ------------------------------------------------------------------ parsing
def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _short(label: str) -> str:
    """Drop parenthesised asides: 'frames painted / s (network ...)' → 'frames painted / s'."""
    return re.sub(r"\s*\([^)]*\)", "", label).strip()


_ENGINE_PAIR = re.compile(rf"({NUMBER}) \(({NUMBER})\)")
_ENGINE_RECORD = re.compile(
    rf"^(?P<case>[^:]+): step \+ full record with (?P<what>.+?) (?P<v>{NUMBER}) \({NUMBER}\) µs"
)
_ENGINE_FLOOR = re.compile(
    rf"^(?P<case>[^:]+): its (?P<what>.+?) alone.*? take (?P<v>{NUMBER})(?: \({NUMBER}\))? µs"
)


def parse_engine(text: str) -> dict[str, Figure]:
    """Figures of bench_engine.py: µs per step of each case and contender (best round)."""
    figures: dict[str, Figure] = {}
    columns: list[str] = []
    in_table = False
    for line in text.splitlines():
        if line.startswith("case") and "µs" in line:
            columns, in_table = re.findall(r"(\S+) µs", line), True
            continue
        if in_table:
            if not line.strip():
                in_table = False
                continue
            pairs = list(_ENGINE_PAIR.finditer(line))
            if not pairs:
                continue
            case = line[: pairs[0].start()].strip()
            for column, pair in zip(columns, pairs):
                figures[f"{case}: {column} µs/step"] = Figure(_num(pair.group(1)), False)
        elif match := _ENGINE_RECORD.match(line):
            name = f"{match['case']}: step + record, {match['what']} µs"
            figures[name] = Figure(_num(match["v"]), False)
        elif match := _ENGINE_FLOOR.match(line):
            figures[f"{match['case']}: {match['what']} µs"] = Figure(_num(match["v"]), False)
    return figures


_TUI_LAUNCH = re.compile(
    rf"^\| (?P<key>[^|]+?) \| (?P<v>{NUMBER}) ms \| {NUMBER} ms \| {NUMBER} ms \|"
)
_TUI_MEASURE = re.compile(rf"^\| (?P<key>[^|]+?) \| \**(?P<v>{NUMBER})\** \|\s*$")
_TUI_RATIO = re.compile(
    rf"(?P<key>[\w ]+? (?:/ bare|÷ engine alone))(?: imports)? = \**(?P<v>{NUMBER})×"
)


def parse_tui(text: str) -> dict[str, Figure]:
    """Figures of bench_tui.py: median launch times, flat-out rates, and its own ratios."""
    figures: dict[str, Figure] = {}
    for line in text.splitlines():
        if match := _TUI_LAUNCH.match(line):
            figures[f"launch ms: {match['key']}"] = Figure(_num(match["v"]), False)
        elif (match := _TUI_MEASURE.match(line)) and "/ s" in match["key"]:
            figures[f"flat out: {_short(match['key'])}"] = Figure(_num(match["v"]), True)
        else:
            for match in _TUI_RATIO.finditer(line):
                key = match["key"].strip()
                figures[f"ratio: {key}"] = Figure(_num(match["v"]), key.endswith("engine alone"))
    return figures


PARSERS = {"engine": parse_engine, "tui": parse_tui}


# ------------------------------------------------------------------ running
@dataclass
class Side:
    """One tree under test and everything measured on it."""

    label: str
    tree: Path
    pycache: Path
    figures: dict[str, list[float]] = field(default_factory=dict)
    better: dict[str, bool] = field(default_factory=dict)
    wall: dict[str, list[float]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment a run sees: this tree, and only it, on PYTHONPATH.

        Bytecode is cached, but outside the trees (PYTHONPYCACHEPREFIX): with
        PYTHONDONTWRITEBYTECODE set and no __pycache__, every launch would
        recompile bptui and the launch figures would measure source size.
        """
        env = dict(os.environ, PYTHONPATH=str(self.tree), PYTHONPYCACHEPREFIX=str(self.pycache))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def describe(self) -> str:
        rev = _git(self.tree, "rev-parse", "--short", "HEAD") or "not a git tree"
        dirty = _git(self.tree, "--no-optional-locks", "status", "--porcelain", "-uno")
        return f"{self.tree} @ {rev}{' + uncommitted changes' if dirty else ''}"


def _git(tree: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def probe(side: Side, python: str) -> Path:
    """Import bptui as a run would and fail loudly unless it comes from the side's tree."""
    done = subprocess.run(
        [python, "-c", PROBE], cwd=side.tree, env=side.env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{side.label}: `import bptui` fails in {side.tree}:\n{done.stderr}")
    found = Path(done.stdout.strip()).resolve()
    if not found.is_relative_to(side.tree.resolve()):
        raise SystemExit(f"{side.label}: bptui resolves to {found}, outside {side.tree}")
    # warm the bytecode cache so the first timed run does not pay for compiling bptui
    subprocess.run(
        [python, "-m", "compileall", "-q", str(found.parent)],
        cwd=side.tree,
        env=side.env(),
        capture_output=True,
    )
    return found


def run_bench(side: Side, bench: str, args: list[str], python: str, timeout: float) -> None:
    """Run one bench script of one tree, check which bptui it used, and keep its figures."""
    script = side.tree / SCRIPTS[bench]
    command = [python, "-c", RUNNER, str(script), *args]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=side.tree,
            env=side.env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(f"{side.label} {bench}: no result in {timeout:g} s") from None
    seconds = time.perf_counter() - start
    stderr = "\n".join(l for l in done.stderr.splitlines() if not l.startswith(MARKER))
    if done.returncode != 0:
        shown = shlex.join([python, SCRIPTS[bench], *args])
        raise SystemExit(
            f"{side.label} {bench} failed (exit {done.returncode}) in {side.tree}: {shown}\n"
            f"{done.stdout[-2000:]}\n{stderr[-4000:]}"
        )
    used = [l[len(MARKER) :] for l in done.stderr.splitlines() if l.startswith(MARKER)]
    if not used or used[-1] == "None":
        print(f"  warning: {side.label} {bench} never imported bptui", file=sys.stderr)
    elif not Path(used[-1]).resolve().is_relative_to(side.tree.resolve()):
        raise SystemExit(f"{side.label} {bench} imported bptui from {used[-1]}, not {side.tree}")
    figures = PARSERS[bench](done.stdout)
    if not figures:
        raise SystemExit(
            f"{side.label} {bench}: no figures found in its output (format changed?):\n"
            f"{done.stdout[:3000]}"
        )
    for name, figure in figures.items():
        key = f"{bench} · {name}"
        side.figures.setdefault(key, []).append(figure.value)
        side.better[key] = figure.higher_is_better
    side.wall.setdefault(bench, []).append(seconds)
    print(
        f"  {side.label:<3} {bench:<6} {seconds:6.1f} s  ({len(figures)} figures)", file=sys.stderr
    )


def add_worktree(repo: Path, rev: str) -> Path:
    """A detached worktree of ``rev`` in a fresh temporary directory."""
    target = Path(tempfile.mkdtemp(prefix="bptui-base-"))
    done = subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(target), rev],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        target.rmdir()
        raise SystemExit(f"git worktree add {rev} failed:\n{done.stderr}")
    return target


def remove_worktree(repo: Path, target: Path) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "worktree", "remove", "--force", str(target)],
        capture_output=True,
    )


# ------------------------------------------------------------------ report
def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def table(old: Side, new: Side) -> str:
    """The comparison: best of rounds per side, new/old, and each side's min–max."""
    names = list(dict.fromkeys([*old.figures, *new.figures]))
    rows = [("metric", "better", "old best", "new best", "new/old", "old spread", "new spread")]
    for name in names:
        higher = old.better.get(name, new.better.get(name, False))
        best = max if higher else min
        cells = [f"{name} *" if CONTROLS.search(name) else name, "higher" if higher else "lower"]
        bests = []
        for side in (old, new):
            values = side.figures.get(name)
            bests.append(best(values) if values else None)
            cells.append(_fmt(bests[-1]) if values else "—")
        ratio = bests[1] / bests[0] if None not in bests and bests[0] else None
        cells.append(f"{ratio:.3f}" if ratio is not None else "—")
        for side in (old, new):
            values = side.figures.get(name)
            cells.append(f"{_fmt(min(values))}–{_fmt(max(values))}" if values else "—")
        rows.append(tuple(cells))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        first, *rest = row
        lines.append(
            f"{first:<{widths[0]}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(rest, widths[1:]))
        )
        if n == 0:
            lines.append("-" * len(lines[0]))
    if any(CONTROLS.search(name) for name in names):
        lines.append("* runs no bptui code: its new/old shows how evenly load hit both sides")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Our flags before ``--``; everything after it is kept for the bench scripts."""
    passthrough: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, passthrough = argv[:at], argv[at + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="tree of the old revision")
    parser.add_argument("--base", help="without --old: git worktree of this revision (temporary)")
    parser.add_argument(
        "--new",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="tree of the new revision (default: the one holding this script)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs per side and bench (default 3)")
    parser.add_argument("--bench", choices=["engine", "tui", "all"], default="all")
    parser.add_argument(
        "--engine-args",
        default="",
        help="extra flags for bench_engine.py only: --engine-args='--quick'",
    )
    parser.add_argument(
        "--tui-args", default="", help="extra flags for bench_tui.py only: --tui-args='--seconds 1'"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter for every run")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--keep-worktree", action="store_true", help="keep the --base worktree")
    args = parser.parse_args(argv)
    if args.old is None and args.base is None:
        parser.error("give --old DIR or --base REV (e.g. --base HEAD)")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.benches = ["engine", "tui"] if args.bench == "all" else [args.bench]
    args.bench_args = {
        "engine": passthrough + shlex.split(args.engine_args),
        "tui": passthrough + shlex.split(args.tui_args),
    }
    return args


def run_rounds(old: Side, new: Side, args: argparse.Namespace) -> None:
    """Check both trees, then run every bench on both, swapping who goes first each round."""
    for side in (old, new):
        for bench in args.benches:
            if not (side.tree / SCRIPTS[bench]).is_file():
                raise SystemExit(f"{side.label}: no {SCRIPTS[bench]} in {side.tree}")
        print(f"{side.label}: {side.describe()}; bptui = {probe(side, args.python)}")
    print(f"python: {args.python}")
    for bench in args.benches:
        print(f"{bench} args: {shlex.join(args.bench_args[bench]) or '(defaults)'}")
    for n in range(args.rounds):
        order = (old, new) if n % 2 == 0 else (new, old)
        print(f"round {n + 1}/{args.rounds}", file=sys.stderr)
        for bench in args.benches:
            for side in order:
                run_bench(side, bench, args.bench_args[bench], args.python, args.timeout)


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the table; the exit code reflects errors, never timings."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    new_tree = args.new.resolve()
    worktree = None
    pycache = Path(tempfile.mkdtemp(prefix="bptui-pycache-"))
    try:
        if args.old is None:
            worktree = add_worktree(new_tree, args.base)
            print(f"worktree of {args.base} at {worktree}", file=sys.stderr)
        old = Side("old", (args.old or worktree).resolve(), pycache)
        new = Side("new", new_tree, pycache)
        run_rounds(old, new, args)
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
        if worktree is not None and not args.keep_worktree:
            remove_worktree(new_tree, worktree)

    print(f"\nbest of {args.rounds} round(s) per side; ratio = new best / old best\n")
    print(table(old, new))
    print()
    for bench in args.benches:
        for side in (old, new):
            wall = side.wall[bench]
            print(
                f"wall time per {bench} run, {side.label}: "
                f"{min(wall):.1f}–{max(wall):.1f} s over {len(wall)} run(s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
