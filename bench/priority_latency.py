"""Priority latency: with a backlog of background jobs queued on Redis, how long does it take to submit one
urgent job and lease it? p50/p99 over many tries, with an empty queue and behind the backlog.

    python bench/priority_latency.py [--backlog 1000000] [--tries 1000] [--tenants 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.redis_probe import RedisProbe
from scheduler.queue import Scheduler
from scheduler.redis_store import RedisStore

BATCH = 1000
console = Console(width=None if sys.stdout.isatty() else 120)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def urgent_tries(scheduler: Scheduler, tries: int) -> tuple[list[float], list[float]]:
    """Lease latency and submit+lease latency (µs) of one urgent job at a time; each is acked after."""
    lease_us, total_us = [], []
    for i in range(tries):
        started = time.perf_counter()
        submitted = scheduler.submit("noop", {"user_id": i}, tenant=f"signup-{i}", job_class="new-signup")
        leased_at = time.perf_counter()
        leases = scheduler.lease(1, worker="bench")
        finished = time.perf_counter()
        if len(leases) != 1 or leases[0].job.id != submitted.job_id:
            raise RuntimeError(f"the urgent job was not leased first: got {leases}")
        scheduler.ack(leases)
        lease_us.append((finished - leased_at) * 1e6)
        total_us.append((finished - started) * 1e6)
    return lease_us, total_us


def fill(scheduler: Scheduler, backlog: int, tenants: int) -> float:
    """Queue `backlog` background jobs over `tenants` tenants; returns seconds taken."""
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"queueing {backlog:,} background jobs", total=backlog)
        for start in range(0, backlog, BATCH):
            count = min(BATCH, backlog - start)
            jobs = [
                scheduler.prepare(
                    "noop", {"video_id": start + i}, tenant=f"t{(start + i) % tenants}", job_class="batch"
                )
                for i in range(count)
            ]
            scheduler.submit_many(jobs)
            progress.advance(task, count)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--tries", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=1000, help="tenants sharing the backlog")
    args = parser.parse_args()
    client = redis.Redis(host="127.0.0.1", port=6379)
    store = RedisStore(client, levels=4, namespace=f"bench-prio-{uuid.uuid4().hex[:8]}")
    scheduler = Scheduler(store)
    probe = RedisProbe(client)
    results = {}
    try:
        results["empty queue"] = urgent_tries(scheduler, args.tries)
        memory_before = probe.used_memory()
        fill_s = fill(scheduler, args.backlog, args.tenants)
        memory = (probe.used_memory() - memory_before) / max(args.backlog, 1)
        results[f"behind {args.backlog:,} background jobs"] = urgent_tries(scheduler, args.tries)
        depth = sum(store.stats().pending.values())
    finally:
        store.purge()
    table = Table(title=f"Urgent job latency on Redis, {args.tries:,} tries each (µs)")
    for column in ("queue", "lease p50", "lease p99", "lease max", "submit+lease p50", "submit+lease p99"):
        table.add_column(column, justify="right")
    for name, (lease_us, total_us) in results.items():
        table.add_row(
            name,
            *(f"{v:,.0f}" for v in (percentile(lease_us, 50), percentile(lease_us, 99), max(lease_us))),
            *(f"{v:,.0f}" for v in (percentile(total_us, 50), percentile(total_us, 99))),
        )
    console.print(table)
    (empty_lease, _), (full_lease, _) = results.values()
    console.print(
        f"backlog queued in {fill_s:.1f} s ({args.backlog / fill_s:,.0f} jobs/s), still pending after the tries: "
        f"{depth:,}; Redis memory per queued job: {memory:.0f} bytes"
    )
    ratio = percentile(full_lease, 99) / percentile(empty_lease, 99)
    met = percentile(full_lease, 99) <= 1000
    console.print(
        f"target: urgent lease p99 ≤ 1 ms behind the backlog, as with an empty queue — "
        f"p99 {percentile(full_lease, 99):,.0f} µs ({ratio:.2f}× the empty queue's; "
        f"median ratio {statistics.median(full_lease) / statistics.median(empty_lease):.2f}×): "
        f"{'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
