"""The Ray task: runs a batch of leased jobs one after another on a worker and reports each outcome.

It never acks or fails anything itself; the dispatcher does that with the results, so a task on a node that
vanishes changes nothing in the store. Job types reach the worker as a map of names to the run functions
the head registered (shipped once with `ray.put`): a name from the queue can only select one of those.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from dispatcher.context import DrainNotice, JobCannotSucceed, JobInterrupted, SchedulerSource, TaskContext
from scheduler.job import Lease
from scheduler.registry import Runner

MAX_ERROR_CHARS = 8000  # a traceback's last lines say the most; keep the store's records small

RunOutcome = Literal["ok", "error", "fatal", "interrupted"]  # fatal: raised JobCannotSucceed


@dataclass(frozen=True, slots=True)
class JobResult:
    job_id: str
    token: int
    outcome: RunOutcome
    run_s: float
    error: str | None = None


def run_jobs(runners: Mapping[str, Runner], source: SchedulerSource | None, leases: Sequence[Lease]) -> list[JobResult]:
    """Run each job; an exception from one job is its result, not the batch's end."""
    notice = DrainNotice()
    return [_run_one(runners, source, lease, notice) for lease in leases]


def _run_one(
    runners: Mapping[str, Runner], source: SchedulerSource | None, lease: Lease, notice: DrainNotice
) -> JobResult:
    job = lease.job
    run = runners.get(job.type)
    started = time.perf_counter()
    if run is None:
        return JobResult(job.id, lease.token, "error", 0.0, f"job type {job.type!r} has no run function on this head")
    try:
        run(job.payload, TaskContext(lease, source, notice))
    except JobInterrupted as stop:
        return JobResult(job.id, lease.token, "interrupted", time.perf_counter() - started, str(stop) or None)
    except JobCannotSucceed as hopeless:
        error = f"{type(hopeless).__name__}: {hopeless}"
        return JobResult(job.id, lease.token, "fatal", time.perf_counter() - started, error)
    except Exception:
        error = traceback.format_exc()[-MAX_ERROR_CHARS:]
        return JobResult(job.id, lease.token, "error", time.perf_counter() - started, error)
    return JobResult(job.id, lease.token, "ok", time.perf_counter() - started)
