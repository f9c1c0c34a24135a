"""The contexts a pack's code gets: `PlanContext` for `plan` (the resources: index, rankings, archive and the
sources; and the time), `PackContext` for `run` (that, plus the job's checkpoint, progress, the node's drain
notice, submit and a logger).

`PackContext` wraps whatever context the runner got: the dispatcher's `TaskContext` on a Ray worker, or
the in-process worker's `JobContext`. Both offer the `RunContext` methods below.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from scheduler.job import Job, JSONValue, NewJob, SubmitResult
from scheduler.queue import Scheduler
from workloads.pack import PlannedJob
from workloads.resources import Resources


class RunContext(Protocol):
    job: Job
    checkpoint: JSONValue | None

    def save_checkpoint(self, value: JSONValue) -> None: ...

    def report_progress(self, value: JSONValue) -> None: ...

    def stop_requested(self) -> bool: ...

    def scheduler(self) -> Scheduler: ...


@dataclass
class PlanContext:
    resources: Resources
    now_ms: int
    dry_run: bool = False  # `pack submit --dry-run`: a plan must change no store (a crawl claims no seeds)

    @classmethod
    def now(cls, resources: Resources, dry_run: bool = False) -> PlanContext:
        return cls(resources, round(time.time() * 1000), dry_run)


class PackContext:
    """What `run(payload, ctx)` of a pack's job type gets."""

    def __init__(self, run: RunContext, resources: Resources, pack: str) -> None:
        self._run = run
        self.resources = resources
        self.job: Job = run.job
        self.log = logging.getLogger(f"ebbflow.packs.{pack}")

    @property
    def checkpoint(self) -> JSONValue | None:
        return self._run.checkpoint

    def save_checkpoint(self, value: JSONValue) -> None:
        self._run.save_checkpoint(value)

    def report_progress(self, value: JSONValue) -> None:
        self._run.report_progress(value)

    def stop_requested(self) -> bool:
        return self._run.stop_requested()

    def now_ms(self) -> int:
        return round(time.time() * 1000)

    def plan_context(self) -> PlanContext:
        return PlanContext(self.resources, self.now_ms())

    def submit(self, jobs: Sequence[PlannedJob]) -> list[SubmitResult]:
        """Queue more jobs (a scheduled planner's batches): all are validated before any is stored."""
        return submit_planned(self._run.scheduler(), jobs)


def prepare_planned(scheduler: Scheduler, jobs: Sequence[PlannedJob]) -> list[NewJob]:
    """Validate every planned job as a submit would (InvalidJobError names the field); store nothing."""
    return [
        scheduler.prepare(
            job.type, job.payload, tenant=job.tenant, job_class=job.job_class, key=job.key, deadline_s=job.deadline_s
        )
        for job in jobs
    ]


def submit_planned(scheduler: Scheduler, jobs: Sequence[PlannedJob]) -> list[SubmitResult]:
    """Validate every planned job, then store them all: one bad job queues none."""
    prepared = prepare_planned(scheduler, jobs)
    return scheduler.submit_many(prepared) if prepared else []
