"""The fault suite's long runs. Exits 1 if a promise broke (a job lost, an effect twice, a lease left...).

Default: the queue on a private Redis (append-only file on) with `ebbflow work` processes kept running by a
supervisor, and repeated faults while the jobs run: kill -9 of redis-server with a start from its AOF, and
pauses longer than the lease TTL, alternating. The same jobs run once without faults first, in the same run,
so the table shows what the faults cost.

    python bench/faults.py [--jobs 3000] [--workers 2] [--kills 3] [--pauses 3]

--suite: every fault at once (bench/fault_suite.py) on a cluster whose autoscaler launches the nodes, with
two heads (the second on a wall clock a minute ahead): spot nodes lost with and without notice, the leading
head killed, redis-server killed, paused, held BUSY by a long script and demoted to a replica, and
misbehaving jobs, `--rounds` times each kind, under fault.record jobs and a minutely cron schedule (the
packs run in tests/faults/test_fault_suite.py, which checks their results against the world).

    python bench/faults.py --suite [--jobs 600] [--rounds 2] [--seed 9]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from itertools import zip_longest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench.fault_harness import Fault, FaultRun, run_faults
from bench.fault_suite import ALL_FAULTS, SuiteRun, run_suite

console = Console(width=None if sys.stdout.isatty() else 130)
DEFAULT_JOBS = 3000
DEFAULT_SUITE_JOBS = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kills", type=int, default=3, help="kill -9 of redis-server, each followed by a start")
    parser.add_argument("--pauses", type=int, default=3, help="SIGSTOP of redis-server past the lease TTL")
    parser.add_argument("--suite", action="store_true", help="every fault at once, on an autoscaled cluster")
    parser.add_argument("--rounds", type=int, default=2, help="--suite: faults of each kind")
    parser.add_argument("--seed", type=int, default=9, help="--suite: the faults' order and victims")
    args = parser.parse_args()
    if args.suite:
        whole_suite(args.jobs if args.jobs != DEFAULT_JOBS else DEFAULT_SUITE_JOBS, args.rounds, args.seed)
        return
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


def whole_suite(records: int, rounds: int, seed: int) -> None:
    # 1 s jobs: each wave keeps the spot fleet busy for several seconds, so most faults find work waiting
    run = SuiteRun(records=records, record_sleep_s=1.0, waves=6 * rounds, faults=ALL_FAULTS * rounds, seed=seed)
    with console.status("the same load on the same schedule without faults (the baseline)"):
        calm = run_suite(replace(run, calm=True))
    started = time.monotonic()
    with console.status("starting the cluster, the head and the private Redis") as status:
        report = run_suite(run, on_event=lambda what: status.update(f"{time.monotonic() - started:.0f} s: {what}"))
    report.print(f"every fault at once: {len(run.faults)} faults, seed {seed}", console)
    console.print(
        f"without faults the same load settled in {calm.elapsed_s:.0f} s; with them {report.elapsed_s:.0f} s "
        f"({report.elapsed_s / calm.elapsed_s:.2f}x)"
    )
    if report.failures() or calm.failures():
        console.print(f"[red]FAILED: {'; '.join(report.failures() + calm.failures())}[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
