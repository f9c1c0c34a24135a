"""What `ebbflow cron` shows: each schedule's next tick, and which tick each submitted job belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

from scheduler.cron import CronSchedule
from scheduler.job import SubmitResult
from scheduler.store import JobStore
from scheduler.validation import RESERVED_KEY_PREFIX

KEY_PREFIX = RESERVED_KEY_PREFIX  # CronRunner keys each tick's job `cron:<name>:<tick ms>`


@dataclass(frozen=True, slots=True)
class TickResult:
    job_id: str
    created: bool
    schedule: str | None  # None when the job has finished and is no longer kept
    tick_ms: int | None


def next_tick_ms(schedule: CronSchedule, now_ms: int) -> int:
    it = croniter(schedule.cron, datetime.fromtimestamp(now_ms / 1000, UTC))
    return round(it.get_next(float) * 1000)


def tick_results(store: JobStore, results: Sequence[SubmitResult]) -> list[TickResult]:
    """Each result with the schedule and tick read back from its job's idempotency key."""
    out = []
    for result in results:
        job = store.get(result.job_id)
        name, tick = _parse_key(job.key if job is not None else None)
        out.append(TickResult(result.job_id, result.created, name, tick))
    return out


def _parse_key(key: str | None) -> tuple[str | None, int | None]:
    if key is None or not key.startswith(KEY_PREFIX):
        return None, None
    name, _, tick = key.removeprefix(KEY_PREFIX).rpartition(":")
    return (name, int(tick)) if tick.isdigit() else (None, None)
