"""The fault suite's long run: the queue on a private Redis (append-only file on) with `ebbflow work` processes
kept running by a supervisor, and repeated faults while the jobs run: kill -9 of redis-server with a start from
its AOF, and pauses longer than the lease TTL, alternating. The same jobs run once without faults first, in the
same run, so the table shows what the faults cost. Exits 1 if a job was lost or had its effect twice.

    python bench/faults.py [--jobs 3000] [--workers 2] [--kills 3] [--pauses 3]
"""

from __future__ import annotations

import argparse
import sys
from itertools import zip_longest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench.fault_harness import Fault, FaultRun, run_faults

console = Console(width=None if sys.stdout.isatty() else 120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=3, help="kill -9 of redis-server, each followed by a start")
    parser.add_argument("--pauses", type=int, default=3, help="SIGSTOP of redis-server past the lease TTL")
    args = parser.parse_args()
    kills: list[Fault] = ["kill"] * args.kills
    pauses: list[Fault] = ["pause"] * args.pauses
    faults = [fault for pair in zip_longest(kills, pauses) for fault in pair if fault is not None]
    with console.status("the same jobs without faults (the baseline)"):
        calm = run_faults(FaultRun(jobs=args.jobs, workers=args.workers, faults=()))
    with console.status(f"{len(faults)} faults while {args.jobs} jobs run") as status:
        done: list[str] = []

        def injected(what: str) -> None:
            done.append(what)
            status.update(f"{len(done)} of {len(faults)} faults injected; last: {what}")

        report = run_faults(FaultRun(jobs=args.jobs, workers=args.workers, faults=faults), on_fault=injected)
    report.print(f"fault suite: {args.jobs} jobs, {args.workers} workers, {len(faults)} store faults", console)
    recoveries = sorted(seconds for _, seconds in report.recovery_s)
    if recoveries:
        console.print(f"recovery: median {recoveries[len(recoveries) // 2]:.1f} s, worst {recoveries[-1]:.1f} s")
    console.print(
        f"without faults the same jobs settled in {calm.elapsed_s:.1f} s; with them {report.elapsed_s:.1f} s "
        f"({report.elapsed_s / calm.elapsed_s:.2f}x)"
    )
    if report.lost or report.duplicated_effects or calm.lost:
        console.print("[red]FAILED: a job was lost or had its effect twice[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
