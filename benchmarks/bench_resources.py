"""Memory and time of long runs: ``bptui trace --steps N`` and a million-step time travel.

(a) ``bptui trace`` (JSON and CSV) in a fresh process for growing N, its
    output read and counted through a pipe.  Reported: wall time, the
    process's peak resident memory (``wait4``'s ru_maxrss) and the bytes
    written.  The trace is streamed, one record built and written at a time,
    so the peak must not grow with N.
(b) The article run to step 999,999 in this process, then ``goto(0)``, then
    forward to 999,999 again, and a jump back to the middle.  Reported: the
    time of each move and the stepper's history (losses of every step plus a
    checkpoint every CHECKPOINT_EVERY steps), as allocated bytes per step per
    parameter; the budget is 16 bytes per step per parameter plus
    checkpoints.  Also for xor (9 parameters, four points).

Not a timed test: a million JSON records are ~3.8 GB and take minutes.

    .venv/bin/python benchmarks/bench_resources.py            # N up to 1,000,000
    .venv/bin/python benchmarks/bench_resources.py --quick    # N up to 100,000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MILLION = 1_000_000


def trace(steps: int, fmt: str) -> tuple[float, int, int]:
    """(seconds, peak RSS in bytes, bytes written) of one ``bptui trace`` process."""
    command = [sys.executable, "-m", "bptui", "trace", "--steps", str(steps), "--format", fmt]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None
    written = 0
    while chunk := process.stdout.read(1 << 20):
        written += len(chunk)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    assert process.returncode == 0, process.returncode
    return seconds, usage.ru_maxrss * 1024, written


def history_bytes(stepper) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Bytes the stepper's history holds: (per-step tables, checkpoints), capacity counted."""
    per_step = sum(
        t.data.nbytes for t in (stepper.losses, stepper.batch_losses, stepper.test_losses)
    )
    checkpoints = stepper.checkpoints.data.nbytes
    checkpoints += sum(s.nbytes for s in stepper.state_checkpoints if s is not None)
    return per_step, checkpoints


def time_travel(name: str, steps: int) -> None:
    from bptui.engine.stepper import Stepper
    from bptui.scenario.loading import load_builtin

    stepper = Stepper(load_builtin(name).training())
    params = stepper.network.size
    moves = [
        (f"run to step {steps - 1:,}", steps - 1),
        ("goto 0", 0),
        (f"forward again to {steps - 1:,}", steps - 1),
        (f"back to {steps // 2:,}", steps // 2),
    ]
    print(f"  {name} ({params} parameters):")
    theta_end = None
    for what, target in moves:
        start = time.perf_counter()
        stepper.goto(target)
        seconds = time.perf_counter() - start
        per_step, checkpoints = history_bytes(stepper)
        recorded = steps  # the tables keep their capacity when a jump back shortens them
        print(
            f"    {what:<28} {seconds:7.2f} s   history: {per_step / 1e6:6.1f} MB of losses"
            f" = {per_step / recorded / params:5.2f} B/step/param,"
            f" checkpoints {checkpoints / 1e6:6.1f} MB"
        )
        if target == steps - 1:
            if theta_end is not None:
                assert (stepper.theta == theta_end).all(), "replay must be bit-identical"
            theta_end = stepper.theta.copy()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N up to 100,000")
    args = parser.parse_args(argv)
    top = MILLION // 10 if args.quick else MILLION
    print("(a) bptui trace (article), streamed to a pipe")
    for fmt in ("csv", "json"):
        for steps in (1_000, 10_000, 100_000, MILLION):
            if steps > top:
                continue
            seconds, peak, written = trace(steps, fmt)
            print(
                f"  {fmt:<4} --steps {steps:>9,}  {seconds:8.1f} s   peak RSS {peak / 1e6:6.1f} MB"
                f"   {written / 1e6:9.1f} MB written"
            )
    print(f"(b) time travel over {top:,} steps, in this process")
    for name in ("article", "xor"):
        time_travel(name, top)
    import resource

    print(
        f"  this process's peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.1f} MB"
    )


if __name__ == "__main__":
    main()
