"""The demo: queue a mix of short jobs across classes and tenants, run them in-process, summarise per level.

It shows the queue's promises on whatever store the settings pick: a bad submission is refused naming the
field, a repeated idempotency key returns the existing job, the urgent level is served before the rest,
and nothing ends in the dead-letter queue.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ebbflow.local_worker import Outcome, RunRecord
from scheduler.errors import InvalidJobError
from scheduler.history import TimingSummary, bucket_of, merge, summarize
from scheduler.job import JSONValue, Lease, NewJob
from scheduler.queue import Scheduler

CLASSES = ("new-signup", "daily-active", "weekly-active", "monthly-active", "batch")
MAX_SLEEP_S = 0.02
REPEATED_KEYS = 4  # jobs submitted twice with the same idempotency key
# Each breaks the `sleep` schema a different way: out of range, misspelt field, not an object.
INVALID_SLEEP_PAYLOADS: tuple[JSONValue, ...] = ({"seconds": -1}, {"secs": 0.01}, "ten")


@dataclass(frozen=True, slots=True)
class DemoSubmission:
    created: frozenset[str]  # ids of the jobs this demo queued
    repeated: int  # submissions that returned an existing job for their key
    refused: tuple[str, ...]  # the error of each refused submission


@dataclass(frozen=True, slots=True)
class LevelSummary:
    level: int
    done: int
    wait: TimingSummary
    run: TimingSummary


def submit_demo(scheduler: Scheduler, jobs: int, tenants: int, rng: random.Random) -> DemoSubmission:
    run_id = uuid.uuid4().hex[:8]  # keys from an earlier demo run must not collide with this one's
    prepared = [_prepare(scheduler, index, tenants, rng, run_id) for index in range(jobs)]
    results = scheduler.submit_many(prepared)
    # Second submissions of keyed jobs, sent separately so each finds the first one already stored.
    repeats = scheduler.submit_many([job for job in prepared[:REPEATED_KEYS] if job.key is not None])
    refused = tuple(_refusal(scheduler, payload) for payload in INVALID_SLEEP_PAYLOADS)
    return DemoSubmission(
        created=frozenset(r.job_id for r in results if r.created),
        repeated=sum(not r.created for r in repeats),
        refused=tuple(message for message in refused if message is not None),
    )


def _prepare(scheduler: Scheduler, index: int, tenants: int, rng: random.Random, run_id: str) -> NewJob:
    tenant = f"tenant-{rng.randrange(tenants) + 1}"
    job_class = rng.choice(CLASSES)
    key = f"demo-{run_id}-{index}" if index < REPEATED_KEYS else None
    if rng.random() < 0.5:
        return scheduler.prepare("noop", None, tenant=tenant, job_class=job_class, key=key)
    seconds = round(rng.uniform(0, MAX_SLEEP_S), 4)
    return scheduler.prepare("sleep", {"seconds": seconds}, tenant=tenant, job_class=job_class, key=key)


def _refusal(scheduler: Scheduler, payload: JSONValue) -> str | None:
    try:
        scheduler.prepare("sleep", payload, tenant="tenant-1", job_class="batch")
    except InvalidJobError as err:
        return str(err)
    return None  # accepted: the demo's summary reports it as a missing refusal


def level_summaries(records: Sequence[RunRecord], job_ids: frozenset[str]) -> list[LevelSummary]:
    """Per level, the demo's own finished jobs: how many, and their wait and run percentiles."""
    by_level: dict[int, list[RunRecord]] = {}
    for record in records:
        if record.job_id in job_ids and record.outcome == "done":
            by_level.setdefault(record.level, []).append(record)
    return [_summary(level, group) for level, group in sorted(by_level.items())]


def _summary(level: int, group: list[RunRecord]) -> LevelSummary:
    # The same log-scale histograms the store keeps, so these figures read like `ebbflow history`.
    waits = merge({bucket_of(r.wait_ms): 1} for r in group)
    runs = merge({bucket_of(round(r.run_ms)): 1} for r in group)
    return LevelSummary(level, len(group), summarize(waits), summarize(runs))


def record_of(lease: Lease, outcome: Outcome, run_s: float) -> RunRecord:
    """A dispatcher outcome as the local worker would have recorded it."""
    job = lease.job
    wait_ms = lease.leased_ms - (job.enqueued_ms if job.enqueued_ms is not None else job.created_ms)
    return RunRecord(job.id, job.type, job.tenant, job.level, wait_ms, run_s * 1000, outcome, lease.token)


def serve_order(records: Sequence[RunRecord]) -> list[tuple[int, int]]:
    """The levels in lease order as runs of (level, how many in a row)."""
    runs: list[tuple[int, int]] = []
    for record in records:
        if runs and runs[-1][0] == record.level:
            runs[-1] = (record.level, runs[-1][1] + 1)
        else:
            runs.append((record.level, 1))
    return runs
