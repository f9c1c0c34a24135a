"""Build leases and job types for the dispatcher's pure tests without a store."""

from __future__ import annotations

import itertools

from scheduler.job import Job, JobState, Lease
from scheduler.registry import JobType

_tokens = itertools.count(1)


def make_lease(job_type: str = "noop", level: int = 3, tenant: str = "t1", job_id: str | None = None) -> Lease:
    token = next(_tokens)
    job = Job(
        id=job_id or f"j{token}",
        type=job_type,
        tenant=tenant,
        job_class="batch",
        level=level,
        submitted_level=level,
        payload=None,
        key=None,
        deadline_ms=None,
        max_attempts=5,
        attempts=0,
        preemptions=0,
        checkpoint=None,
        error=None,
        created_ms=0,
        enqueued_ms=0,
        state=JobState.RUNNING,
    )
    return Lease(job=job, token=token, leased_ms=0, expires_ms=30_000)


def types(*job_types: JobType) -> dict[str, JobType]:
    return {job_type.name: job_type for job_type in job_types}
