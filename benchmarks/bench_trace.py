"""Records per second of `bptui trace` (JSON and CSV), an old source tree against this one.

Why: the trace is how every number on screen is checked from a script, and a
long trace of a built-in should take seconds, not minutes.  This script runs
`bptui trace NAME --steps N` of both trees in turns (swapping which goes
first every round, so load on the shared machine hits both alike), leaves
its imports out of the timing (each run times `main()` itself), and reports records
per second, best round, with the spread of the per-round ratios.

Run (from the repository root):

    git archive d6855fc | (mkdir -p /tmp/bptui-before && tar -x -C /tmp/bptui-before)
    .venv/bin/python benchmarks/bench_trace.py --old /tmp/bptui-before --rounds 3

Each run is a subprocess with PYTHONPATH set to its tree; its output goes to
/dev/null.  Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent

#: (scenario, steps): a tiny net where Python overhead rules, and a 105-parameter one.
CASES = [("article", 2000), ("deep", 300)]
FORMATS = ("json", "csv")
#: The speed-ups asked for, new records/s ÷ old records/s.
BARS = {"json": 2.0, "csv": 2.5}


def records_per_second(tree: Path, name: str, steps: int, fmt: str) -> float:
    """(steps + 1) records over the seconds of `bptui trace` of ``tree`` after its imports."""
    code = (
        "import sys, time\n"
        "import bptui.scenario.export\n"  # the trace's imports, outside the timing
        "from bptui.cli import main\n"
        "start = time.perf_counter()\n"
        f"main(['trace', {name!r}, '--steps', '{steps}', '--format', '{fmt}'])\n"
        "print(time.perf_counter() - start, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return (steps + 1) / float(done.stderr.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the old source tree")
    parser.add_argument("--new", type=Path, default=HERE, help="the new tree (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"old: {args.old}\nnew: {args.new}\n{args.rounds} interleaved rounds, records/s")
    header = f"{'case':<22} {'old rec/s':>18} {'new rec/s':>18} {'new/old':>16} {'bar':>5}  met"
    print(header + "\n" + "-" * len(header))
    for name, steps in CASES:
        for fmt in FORMATS:
            old, new = [], []
            for k in range(args.rounds):
                order = [(args.old, old), (args.new, new)]
                for tree, out in order if k % 2 == 0 else order[::-1]:
                    out.append(records_per_second(tree, name, steps, fmt))
            ratios = sorted(n / o for n, o in zip(new, old))
            spread = f"{ratios[0]:.2f}–{ratios[-1]:.2f}"
            ratio = max(new) / max(old)
            bar = BARS[fmt]
            print(
                f"{f'{name} {fmt} ({steps} steps)':<22} {max(old):>18.0f} {max(new):>18.0f} "
                f"{f'{ratio:.2f}× ({spread})':>16} {bar:>4}×  {'yes' if ratio >= bar else 'NO'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
