"""Queue throughput: the whole life of a no-op job (submit, lease from the highest non-empty level, ack with
its history entry) on Redis and SQLite, one at a time and batched, beside the peers measured in the same run.

    python bench/queue_throughput.py [--scale 1.0] [--skip-peers]

Prints jobs/s with ratios to the raw Lua floor and the redis-benchmark ceiling, Redis commands and CPU per
job, and memory per queued job. Figures, not assertions: docs/benchmarks.md quotes them.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from rich.console import Console
from rich.table import Table

from bench import peers
from bench.redis_probe import RedisCost, RedisProbe
from scheduler.clock import SystemClock
from scheduler.job import Lease
from scheduler.queue import Scheduler
from scheduler.redis_store import RedisStore
from scheduler.sqlite_store import SQLiteStore
from scheduler.store import JobStore

BATCH = 1000
LEVELS = 4
console = Console(width=None if sys.stdout.isatty() else 150)


@dataclass
class Row:
    name: str
    jobs_per_s: float
    note: str = ""


def single(scheduler: Scheduler, jobs: int) -> float:
    started = time.perf_counter()
    for _ in range(jobs):
        scheduler.submit("noop", None, tenant="bench")
        scheduler.ack(scheduler.lease(1))
    return peers.rate(jobs, time.perf_counter() - started)


def batched(scheduler: Scheduler, jobs: int) -> tuple[float, float, float]:
    """(full life, submit, lease+ack) jobs/s, `BATCH` jobs per call."""
    submit_s = drain_s = 0.0
    done = 0
    while done < jobs:
        t0 = time.perf_counter()
        scheduler.submit_many([scheduler.prepare("noop", None, tenant="bench") for _ in range(BATCH)])
        t1 = time.perf_counter()
        acked = scheduler.ack(scheduler.lease(BATCH))
        t2 = time.perf_counter()
        if len(acked) != BATCH or not all(acked):
            raise RuntimeError(f"lost jobs: {len(acked)} leased of {BATCH}")
        submit_s, drain_s, done = submit_s + t1 - t0, drain_s + t2 - t1, done + BATCH
    return peers.rate(jobs, submit_s + drain_s), peers.rate(jobs, submit_s), peers.rate(jobs, drain_s)


def pipelined_drain(scheduler: Scheduler, jobs: int) -> float:
    """lease+ack jobs/s with a leasing thread and an acking thread, as a dispatcher overlaps them."""
    for _ in range(0, jobs, BATCH):
        scheduler.submit_many([scheduler.prepare("noop", None, tenant="bench") for _ in range(BATCH)])
    handoff: queue.Queue[list[Lease] | None] = queue.Queue(maxsize=4)
    acked = [0]

    def ack_loop() -> None:
        while (leases := handoff.get()) is not None:
            acked[0] += sum(scheduler.ack(leases))

    acker = threading.Thread(target=ack_loop)
    started = time.perf_counter()
    acker.start()
    while leases := scheduler.lease(BATCH):
        handoff.put(leases)
    handoff.put(None)
    acker.join()
    elapsed = time.perf_counter() - started
    if acked[0] != jobs:
        raise RuntimeError(f"acked {acked[0]} of {jobs}")
    return peers.rate(jobs, elapsed)


def memory_per_job(store: RedisStore, scheduler: Scheduler, probe: RedisProbe, jobs: int) -> float:
    store.purge()
    before = probe.used_memory()
    for start in range(0, jobs, BATCH):
        batch = [scheduler.prepare("noop", {"user_id": i}, tenant=f"t{i % 100}") for i in range(start, start + BATCH)]
        scheduler.submit_many(batch)
    after = probe.used_memory()
    store.purge()
    return (after - before) / jobs


def median_rounds(rounds: int, measure: Callable[[], tuple[float, ...]]) -> tuple[float, ...]:
    """Each figure's median over `rounds` runs of `measure`; a run measures ebbflow and its yardstick back to
    back, so both see the same machine (this one is shared and noisy)."""
    runs = [measure() for _ in range(rounds)]
    return tuple(statistics.median(values) for values in zip(*runs, strict=True))


def measure_redis(
    scale: float, rounds: int, rows: list[Row], costs: dict[str, tuple[RedisCost, int]]
) -> dict[str, float]:
    client = redis.Redis(host="127.0.0.1", port=6379)
    probe = RedisProbe(client)
    store = RedisStore(client, levels=LEVELS, namespace=f"bench-{uuid.uuid4().hex[:8]}")
    scheduler = Scheduler(store)  # on the store's clock (Redis TIME, read once a second), as in production
    own_clock = Scheduler(store, clock=SystemClock())  # on this process's clock, as before there was one clock
    figures: dict[str, float] = {}
    n_single, n_batch = max(200, int(3000 * scale)), max(BATCH, int(100_000 * scale) // BATCH * BATCH)

    rounds_done = [0]

    def single_round() -> tuple[float, float, float, float, float]:
        floor = peers.raw_floor(client, n_single, batch=1)
        # the two clocks take turns going first: whichever runs right after the floor is a little faster
        rounds_done[0] += 1
        if rounds_done[0] % 2:
            ours, before = single(scheduler, n_single), single(own_clock, n_single)
        else:
            before, ours = single(own_clock, n_single), single(scheduler, n_single)
        return floor, ours, ours / floor, before, ours / before

    def batched_round() -> tuple[float, ...]:
        floor = peers.raw_floor(client, n_batch, batch=BATCH)
        return (floor, *batched(scheduler, n_batch), pipelined_drain(scheduler, n_batch))

    try:
        single_figures = median_rounds(rounds, single_round)
        figures["floor_single"], figures["single"], figures["single_ratio"] = single_figures[:3]
        figures["single_own_clock"], figures["store_clock_ratio"] = single_figures[3:]
        batched_figures = median_rounds(rounds, batched_round)
        figures["floor_batched"], figures["full"], figures["submit"], figures["drain"] = batched_figures[:4]
        figures["pipelined"] = batched_figures[4]
        probe.start()
        single(scheduler, n_single)
        costs["ebbflow Redis, one at a time"] = (probe.stop(), n_single)
        probe.start()
        batched(scheduler, n_batch)
        costs[f"ebbflow Redis, batches of {BATCH}"] = (probe.stop(), n_batch)
        figures["memory"] = memory_per_job(store, scheduler, probe, max(BATCH, int(100_000 * scale) // BATCH * BATCH))
    finally:
        store.purge()
    rows += [
        Row("raw Lua floor, one at a time (LPUSH + lease script + ack script)", figures["floor_single"]),
        Row(
            "ebbflow Redis, one at a time: submit + lease + ack",
            figures["single"],
            f"{figures['single_ratio']:.2f}× floor (median of per-round ratios)",
        ),
        Row(
            "ebbflow Redis, one at a time, on the caller's own clock (before one clock)",
            figures["single_own_clock"],
            f"the store's clock: {figures['store_clock_ratio']:.2f}× this (median of per-round ratios)",
        ),
        Row(f"raw Lua floor, batches of {BATCH}", figures["floor_batched"]),
        Row(
            f"ebbflow Redis, batches of {BATCH}: whole life",
            figures["full"],
            f"{figures['full'] / figures['floor_batched']:.2f}× floor",
        ),
        Row(f"ebbflow Redis, batches of {BATCH}: submit", figures["submit"]),
        Row(f"ebbflow Redis, batches of {BATCH}: lease + ack", figures["drain"]),
        Row(f"ebbflow Redis, batches of {BATCH}: lease + ack, lease and ack threads", figures["pipelined"]),
    ]
    return figures


def measure_sqlite(scale: float, rows: list[Row]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store: JobStore = SQLiteStore(Path(folder) / "bench.db", levels=LEVELS)
        scheduler = Scheduler(store)
        n_single, n_batch = max(100, int(2000 * scale)), max(BATCH, int(50_000 * scale) // BATCH * BATCH)
        rows.append(Row("ebbflow SQLite, one at a time: submit + lease + ack", single(scheduler, n_single)))
        full, submit, drain = batched(scheduler, n_batch)
        rows.append(
            Row(
                f"ebbflow SQLite, batches of {BATCH}: whole life",
                full,
                f"submit {submit:,.0f}/s, lease+ack {drain:,.0f}/s",
            )
        )
        store.close()


def measure_peers(scale: float, rows: list[Row]) -> dict[str, float]:
    plain = peers.redis_benchmark(max(10_000, int(200_000 * scale)), pipeline=1)
    piped = peers.redis_benchmark(max(100_000, int(2_000_000 * scale)), pipeline=100)
    huey_in, huey_out = peers.huey_rates(max(500, int(20_000 * scale)))
    rq_in, rq_out = peers.rq_rates(max(200, int(3_000 * scale)))
    rows += [
        Row("redis-benchmark LPUSH, 50 clients", plain["LPUSH"], "ceiling, no queue logic"),
        Row("redis-benchmark RPOP, 50 clients", plain["RPOP"]),
        Row("redis-benchmark LPUSH, pipeline 100", piped["LPUSH"]),
        Row("redis-benchmark RPOP, pipeline 100", piped["RPOP"]),
        Row("Huey enqueue", huey_in),
        Row("Huey drain (dequeue + execute)", huey_out, "no lease, no ack"),
        Row("RQ enqueue", rq_in),
        Row("RQ drain (SimpleWorker, burst)", rq_out),
    ]
    return {"huey_drain": huey_out, "rpop_piped": piped["RPOP"]}


def report(rows: list[Row], costs: dict[str, tuple[RedisCost, int]], figures: dict[str, float]) -> None:
    table = Table(title="Queue throughput (no-op jobs, this machine)")
    for column in ("what", "jobs/s", "note"):
        table.add_column(column, justify="right" if column == "jobs/s" else "left")
    for row in rows:
        table.add_row(row.name, f"{row.jobs_per_s:,.0f}", row.note)
    console.print(table)
    cost_table = Table(title="Redis work per job (whole life)")
    for column in ("phase", "commands/job (incl. inside Lua)", "round trips/job", "Redis CPU µs/job"):
        cost_table.add_column(column)
    for name, (cost, jobs) in costs.items():
        cost_table.add_row(
            name, f"{cost.commands_per_job(jobs):.2f}", f"{cost.scripts / jobs:.3f}", f"{cost.cpu_us_per_job(jobs):.1f}"
        )
    console.print(cost_table)
    console.print(f'memory per queued job (Redis used_memory, payload {{"user_id": n}}): {figures["memory"]:.0f} bytes')
    batched_cost, batched_jobs = costs[f"ebbflow Redis, batches of {BATCH}"]
    targets = Table(title="Targets (issue 2)")
    for column in ("target", "measured", "met"):
        targets.add_column(column)
    best_drain = max(figures["drain"], figures["pipelined"])
    checks = [
        (
            "batched lease+ack ≥ 50,000 jobs/s, one process",
            f"{figures['drain']:,.0f} (one thread), {figures['pipelined']:,.0f} (two)",
            best_drain >= 50_000,
        ),
        (
            "one at a time ≥ 0.75× raw Lua floor",
            f"{figures['single_ratio']:.2f}×",
            figures["single_ratio"] >= 0.75,
        ),
        (
            "≤ 3 Redis commands per job (batched)",
            f"{batched_cost.commands_per_job(batched_jobs):.2f}",
            batched_cost.commands_per_job(batched_jobs) <= 3,
        ),
        (
            "≤ 30 µs Redis CPU per job (batched)",
            f"{batched_cost.cpu_us_per_job(batched_jobs):.1f}",
            batched_cost.cpu_us_per_job(batched_jobs) <= 30,
        ),
    ]
    for name, value, met in checks:
        targets.add_row(name, value, "yes" if met else "NO")
    console.print(targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every job count (0.01 for a smoke run)")
    parser.add_argument("--skip-peers", action="store_true", help="skip redis-benchmark, Huey and RQ")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per Redis figure; the median is printed")
    args = parser.parse_args()
    rows: list[Row] = []
    costs: dict[str, tuple[RedisCost, int]] = {}
    with console.status("measuring on Redis…"):
        figures = measure_redis(args.scale, args.rounds, rows, costs)
    with console.status("measuring on SQLite…"):
        measure_sqlite(args.scale, rows)
    if not args.skip_peers:
        with console.status("measuring redis-benchmark, Huey and RQ…"):
            figures |= measure_peers(args.scale, rows)
    report(rows, costs, figures)


if __name__ == "__main__":
    main()
