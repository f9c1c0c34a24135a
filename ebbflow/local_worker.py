"""An in-process worker: lease jobs, run their type's `run(payload, context)`, ack or fail them.

For one machine, the demo and tests; the dispatcher does the same onto Ray. Jobs of a leased batch run one
after another, so the batch's remaining leases are heartbeated once half the lease TTL has passed, and
whatever is still unfinished when the worker stops (Ctrl-C, or an error from the store) is released at
once instead of waiting out its TTL. A store outage is waited out for up to `store_outage_s`
(ebbflow.outage_wait), then the error ends the worker for its service manager to restart.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

from dispatcher.context import JobCannotSucceed
from ebbflow.outage_wait import OutageRider
from scheduler.errors import SchedulerError, StaleLeaseError
from scheduler.job import Job, JobState, JSONValue, Lease
from scheduler.queue import Scheduler

Outcome = Literal["done", "retry", "dead", "lost"]
MAX_ERROR_CHARS = 8000  # a traceback's last lines say the most; keep the store's records small
STOP_REASON = "worker stopped"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One leased job as the worker saw it."""

    job_id: str
    type: str
    tenant: str
    level: int
    wait_ms: int  # from entering its level queue to the lease
    run_ms: float
    outcome: Outcome  # lost: the lease was gone (expired, taken over) when the worker reported back
    token: int = 0  # the lease's fencing token: tokens rise in the order jobs were leased


@dataclass(slots=True)
class WorkerCounts:
    leased: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0
    released: int = 0
    interrupted: bool = False  # stopped by Ctrl-C (the worker's normal way to stop when not told to exit)
    outages: Counter[str] = field(default_factory=Counter)  # store outages waited out, by reason
    records: list[RunRecord] = field(default_factory=list)  # in lease order

    def add(self, record: RunRecord) -> None:
        self.records.append(record)
        match record.outcome:
            case "done":
                self.done += 1
            case "retry":
                self.retried += 1
            case "dead":
                self.dead += 1
            case "lost":
                self.lost += 1


class JobContext:
    """What a job's `run` gets besides its payload: the job, and its checkpoint to resume from."""

    def __init__(self, scheduler: Scheduler, lease: Lease) -> None:
        self._scheduler = scheduler
        self._lease = lease
        self.job: Job = lease.job
        self.checkpoint: JSONValue | None = lease.job.checkpoint

    def save_checkpoint(self, value: JSONValue) -> None:
        """Keep `value` with the job, so a retry after a failure or preemption starts from it."""
        self._scheduler.save_checkpoint(self._lease, value)
        self.checkpoint = value

    def report_progress(self, value: JSONValue) -> None:
        """Small JSON (e.g. {"done": 40, "total": 500}); `ebbflow jobs show` prints the latest."""
        self._scheduler.save_progress(self._lease, value)

    def stop_requested(self) -> bool:
        """Always False: this worker is not on a node that gets drained."""
        return False

    def scheduler(self) -> Scheduler:
        """The job store, for a job that queues more jobs (a scheduled planner)."""
        return self._scheduler


@dataclass
class LocalWorker:
    scheduler: Scheduler
    name: str = "local"
    # One at a time by default: jobs here run one after another, so a leased batch would hold jobs back from
    # the MLFQ (an urgent job submitted now would wait behind it), and its later jobs' run times (lease to
    # ack) would include their wait inside the batch.
    batch: int = 1
    max_jobs: int | None = None  # stop after leasing this many
    idle_exit: bool = False  # stop when a lease finds nothing pending
    poll_s: float = 0.5
    maintain_every_s: float = 5.0
    on_record: Callable[[RunRecord], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    store_outage_s: float = 120.0  # the dispatcher's setting of the same name
    _next_maintain: float = field(default=0.0, init=False)
    _beat_at: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.rider = OutageRider(self.store_outage_s, self.sleep, self.clock)

    def run(self) -> WorkerCounts:
        """Work until max_jobs, an empty queue with idle_exit, or Ctrl-C; the counts say which."""
        counts = WorkerCounts(outages=self.rider.outages)
        try:
            self._loop(counts)
        except KeyboardInterrupt:
            counts.interrupted = True
        return counts

    def _loop(self, counts: WorkerCounts) -> None:
        while self.max_jobs is None or counts.leased < self.max_jobs:
            self._maybe_maintain()
            leases = self.rider.call(partial(self.scheduler.lease, self._wanted(counts), self.name))
            if not leases and self.idle_exit:
                break
            if not leases:
                self.sleep(self.poll_s)
                continue
            counts.leased += len(leases)
            self._run_batch(leases, counts)

    def _wanted(self, counts: WorkerCounts) -> int:
        return self.batch if self.max_jobs is None else min(self.batch, self.max_jobs - counts.leased)

    def _maybe_maintain(self) -> None:
        # Reaping expired leases and applying MLFQ moves is the head's job; a lone worker does it itself.
        if self.clock() >= self._next_maintain:
            self.rider.call(self.scheduler.maintain)
            self._next_maintain = self.clock() + self.maintain_every_s

    def _run_batch(self, leases: Sequence[Lease], counts: WorkerCounts) -> None:
        self._beat_at = self.clock()
        for index, lease in enumerate(leases):
            try:
                self._keep_alive(leases[index:])
                counts.add(self._run_one(lease))
            except BaseException:
                counts.released += self._give_back(leases[index:])
                raise
            if self.on_record is not None:
                self.on_record(counts.records[-1])

    def _keep_alive(self, leases: Sequence[Lease]) -> None:
        if self.clock() - self._beat_at >= self.scheduler.config.lease_ttl_s / 2:
            self.rider.call(lambda: self.scheduler.heartbeat(leases))
            self._beat_at = self.clock()

    def _run_one(self, lease: Lease) -> RunRecord:
        started = self.clock()
        outcome = self._execute(lease)
        job = lease.job
        wait_ms = lease.leased_ms - (job.enqueued_ms if job.enqueued_ms is not None else job.created_ms)
        run_ms = (self.clock() - started) * 1000
        return RunRecord(job.id, job.type, job.tenant, job.level, wait_ms, run_ms, outcome, lease.token)

    def _execute(self, lease: Lease) -> Outcome:
        problem = self.scheduler.registry.why_not_runnable(lease.job.type, lease.job.payload)
        if problem is not None:
            # Retrying here cannot help; from the dead-letter queue it can be retried where it does run.
            return self._fail(lease, problem, retryable=False)
        run = self.scheduler.registry.get(lease.job.type).run
        assert run is not None  # why_not_runnable said so
        try:
            run(lease.job.payload, JobContext(self.scheduler, lease))
        except JobCannotSucceed as hopeless:
            return self._fail(lease, f"{type(hopeless).__name__}: {hopeless}", retryable=False)
        except Exception:
            return self._fail(lease, traceback.format_exc())
        return "done" if self.rider.call(lambda: self.scheduler.ack([lease]))[0] else "lost"

    def _fail(self, lease: Lease, error: str, retryable: bool = True) -> Outcome:
        try:
            state = self.rider.call(lambda: self.scheduler.fail(lease, error[-MAX_ERROR_CHARS:], retryable))
        except StaleLeaseError:
            return "lost"
        return "dead" if state is JobState.DEAD else "retry"

    def _give_back(self, leases: Sequence[Lease]) -> int:
        released = 0
        for lease in leases:
            # Best effort while stopping: a lease already acked or lost, or a store that went away,
            # must not hide the interrupt that got us here.
            with suppress(SchedulerError):
                self.scheduler.release(lease, STOP_REASON)
                released += 1
        return released
