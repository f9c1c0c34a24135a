"""The yardsticks measured beside ebbflow in the same run: a raw Lua lease/ack floor, redis-benchmark's
ceiling, and the Huey and RQ queues, all on the same Redis server."""

from __future__ import annotations

import csv
import io
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Callable

import redis

# The floor: the least a leasing queue can do. Submit is one LPUSH, a lease pops and records an
# expiry in a sorted set, an ack removes it. No levels, tenants, history, idempotency or retention.
FLOOR_LEASE = """
local ids = redis.call('RPOP', KEYS[1], tonumber(ARGV[2]))
if not ids then return {} end
local args = {}
for i, id in ipairs(ids) do args[2 * i - 1] = ARGV[1]; args[2 * i] = id end
redis.call('ZADD', KEYS[2], unpack(args))
return ids
"""
FLOOR_ACK = "return redis.call('ZREM', KEYS[1], unpack(ARGV))"


def rate(jobs: int, seconds: float) -> float:
    return jobs / seconds if seconds > 0 else float("inf")


def raw_floor(client: redis.Redis, jobs: int, batch: int) -> float:
    """Jobs/s for submit + lease + ack through the minimal scripts, `batch` jobs per call."""
    prefix = f"bench-floor-{uuid.uuid4().hex}"
    queue, leases = f"{prefix}:q", f"{prefix}:leases"
    # Plain EVALSHA, as ebbflow's store calls its scripts, so neither side pays for redis-py's Script wrapper.
    lease, ack = client.script_load(FLOOR_LEASE), client.script_load(FLOOR_ACK)
    started = time.perf_counter()
    for start in range(0, jobs, batch):
        ids = [f"job-{i}" for i in range(start, min(start + batch, jobs))]
        client.lpush(queue, *ids)
        got = client.evalsha(lease, 2, queue, leases, int(time.time() * 1000) + 30_000, len(ids))
        client.evalsha(ack, 1, leases, *got)
    elapsed = time.perf_counter() - started
    client.delete(queue, leases)
    return rate(jobs, elapsed)


def redis_benchmark(requests: int, pipeline: int) -> dict[str, float]:
    """redis-benchmark's LPUSH and RPOP requests/s (50 clients) on 127.0.0.1:6379."""
    command = ["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "-t", "lpush,rpop", "-n", str(requests)]
    command += ["-P", str(pipeline), "--csv"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300).stdout
    rows = csv.reader(io.StringIO(out))
    header = next(rows)
    col = header.index("rps")
    return {row[0]: float(row[col]) for row in rows}


def huey_rates(jobs: int) -> tuple[float, float]:
    """(enqueue/s, drain/s) for Huey's Redis queue: dequeue + execute, as its consumer does."""
    from huey import RedisHuey

    huey = RedisHuey(f"bench-{uuid.uuid4().hex}", host="127.0.0.1", port=6379, results=False)

    @huey.task()  # type: ignore[untyped-decorator]
    def noop() -> None:
        return None

    return _enqueue_and_drain(jobs, noop, lambda: _huey_drain(huey), huey.flush)


def _huey_drain(huey: object) -> int:
    done = 0
    while (task := huey.dequeue()) is not None:  # type: ignore[attr-defined]
        huey.execute(task)  # type: ignore[attr-defined]
        done += 1
    return done


def rq_noop() -> None:
    return None


def rq_rates(jobs: int) -> tuple[float, float]:
    """(enqueue/s, drain/s) for RQ: Queue.enqueue, then a SimpleWorker (no fork) in burst mode."""
    from rq import Queue, SimpleWorker

    connection = redis.Redis(host="127.0.0.1", port=6379)
    queue = Queue(f"bench-{uuid.uuid4().hex}", connection=connection)
    worker = SimpleWorker([queue], connection=connection)
    logging.getLogger("rq.worker").setLevel(logging.WARNING)

    def drain() -> int:
        worker.work(burst=True, logging_level="WARNING")
        return jobs

    def cleanup() -> None:
        worker.register_death()  # type: ignore[no-untyped-call]  # else its registration lingers for minutes
        connection.delete(worker.key)
        queue.empty()  # type: ignore[no-untyped-call]
        queue.delete(delete_jobs=True)
        for registry in (queue.finished_job_registry, queue.failed_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)

    return _enqueue_and_drain(jobs, lambda: queue.enqueue(rq_noop, result_ttl=0), drain, cleanup)


def _enqueue_and_drain(
    jobs: int, enqueue: Callable[[], object], drain: Callable[[], int], cleanup: Callable[[], object]
) -> tuple[float, float]:
    started = time.perf_counter()
    for _ in range(jobs):
        enqueue()
    enqueued = time.perf_counter()
    drained = drain()
    finished = time.perf_counter()
    cleanup()
    if drained != jobs:
        raise RuntimeError(f"drained {drained} of {jobs} jobs")
    return rate(jobs, enqueued - started), rate(jobs, finished - enqueued)


def cpu_count() -> int:
    return os.cpu_count() or 1
