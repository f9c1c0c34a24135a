"""End-to-end dispatch: no-op jobs/s through scheduler (Redis) + dispatcher + a local Ray, beside raw Ray
task throughput (`f.remote()` no-ops) in the same Ray, and an urgent job's submit-to-start latency while
that load runs. Rounds alternate ebbflow and raw Ray; medians are reported.

    python bench/dispatch_throughput.py [--jobs 20000] [--tasks 3000] [--rounds 3] [--urgent 40]

The local Ray offers 2 spot slots and 1 on-demand slot (3 CPUs' worth on this 2-core machine). Raw Ray
tasks take 1 CPU each, so 3 run at once; ebbflow's background no-ops may use only the 2 spot slots (the
on-demand slot is the top level's floor). The urgent latency is measured twice: with that floor, and with
no floor (the urgent job must wait for a spot slot to free up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray
import redis
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.stamp_jobs import TYPES as STAMP_TYPES
from dispatcher.config import DispatcherConfig
from dispatcher.dispatcher import Dispatcher
from dispatcher.markets import Market
from dispatcher.runtime import connect
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.queue import Scheduler
from scheduler.redis_store import RedisStore
from scheduler.registry import JobTypeRegistry

console = Console(width=None if sys.stdout.isatty() else 120)
URGENT_EVERY_S = 0.05
URGENT_START_S = 0.5
SUBMIT_CHUNK = 5000


@ray.remote
def noop() -> None:
    return None


def raw_ray(tasks: int) -> float:
    """Raw Ray no-op tasks per second: submit them all, wait for all."""
    ray.get([noop.remote() for _ in range(100)])  # warm the worker pool
    started = time.perf_counter()
    ray.get([noop.remote() for _ in range(tasks)])
    return tasks / (time.perf_counter() - started)


def new_scheduler(client: redis.Redis) -> Scheduler:
    store = RedisStore(client, levels=4, namespace=f"bench-dispatch-{uuid.uuid4().hex}")
    return Scheduler(store, registry=JobTypeRegistry([*BUILTIN_TYPES, *STAMP_TYPES]))


def ebbflow_round(client: redis.Redis, jobs: int, urgent: int, floor: int) -> tuple[float, list[float]]:
    """(no-op jobs/s end to end, urgent submit-to-start latencies in seconds) for one round."""
    scheduler = new_scheduler(client)
    stamps = f"bench-dispatch-stamps-{uuid.uuid4().hex}"
    try:
        for start in range(0, jobs, SUBMIT_CHUNK):
            batch = min(SUBMIT_CHUNK, jobs - start)
            scheduler.submit_many([scheduler.prepare("noop", None, tenant=f"t{i % 10}") for i in range(batch)])
        dispatcher = Dispatcher(scheduler, DispatcherConfig(ondemand_floor_slots=floor), name="bench")
        sent: dict[str, float] = {}
        next_urgent = [time.perf_counter() + URGENT_START_S]  # once the pools are full

        def submit_urgent() -> None:
            # only while background jobs still wait: the latency asked for is the one under load
            if len(sent) < urgent and time.perf_counter() >= next_urgent[0] and backlog() > 0:
                job_id = scheduler.submit("bench-stamp", {"key": stamps}, tenant="u", job_class="new-signup").job_id
                sent[job_id] = time.time()
                next_urgent[0] = time.perf_counter() + URGENT_EVERY_S

        def backlog() -> int:
            return sum(scheduler.store.stats().pending.values())

        def drained() -> bool:
            return scheduler.store.stats().settled

        started = time.perf_counter()
        counts = dispatcher.run(until=drained, every=[submit_urgent])
        elapsed = time.perf_counter() - started
        started_at = {_text(k): float(v) for k, v in client.hgetall(stamps).items()}
        latencies = [started_at[j] - sent[j] for j in sent if j in started_at]
        return (counts.done - len(sent)) / elapsed, latencies
    finally:
        scheduler.store.purge()
        client.delete(stamps)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--urgent", type=int, default=60, help="urgent jobs per round at most, one every 50 ms")
    args = parser.parse_args()
    connect(None, {Market.SPOT: 2, Market.ON_DEMAND: 1})
    client = redis.Redis(host="127.0.0.1", port=6379)
    ebb, raw, floor_lat, nofloor_lat = [], [], [], []
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("rounds", total=args.rounds * 3)
        for _ in range(args.rounds):
            rate, latencies = ebbflow_round(client, args.jobs, args.urgent, floor=1)
            ebb.append(rate)
            floor_lat += latencies
            progress.advance(bar)
            raw.append(raw_ray(args.tasks))
            progress.advance(bar)
            _, latencies = ebbflow_round(client, args.jobs, args.urgent, floor=0)
            nofloor_lat += latencies
            progress.advance(bar)
    ray.shutdown()
    report(args, ebb, raw, floor_lat, nofloor_lat)


def report(
    args: argparse.Namespace, ebb: list[float], raw: list[float], floor: list[float], nofloor: list[float]
) -> None:
    table = Table(title=f"dispatch: {args.jobs:,} no-op jobs per round, {args.rounds} rounds (medians)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    ratio = statistics.median(ebb) / statistics.median(raw)
    table.add_row("ebbflow end to end, jobs/s", f"{statistics.median(ebb):,.0f}", "")
    table.add_row("raw Ray no-op tasks/s (same Ray, same run)", f"{statistics.median(raw):,.0f}", "")
    table.add_row("ratio ebbflow / raw Ray", f"{ratio:.2f}x", ">= 2x")
    for name, values in (("with the on-demand floor", floor), ("no floor (waits for a spot slot)", nofloor)):
        table.add_row(
            f"urgent submit-to-start p50 / p99, {name} (n={len(values)})",
            f"{p(values, 50) * 1000:.0f} / {p(values, 99) * 1000:.0f} ms",
            "p99 <= 100 ms",
        )
    console.print(table)


if __name__ == "__main__":
    main()
