"""The Scheduler: the queue's public face. It validates submissions, leases in MLFQ order, turns
failures into retries or dead letters, and applies the policy's moves; the store keeps the state."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Unpack

from scheduler.backoff import compute_backoff
from scheduler.clock import Clock, StoreClock
from scheduler.config import SchedulerConfig
from scheduler.errors import JobNotFoundError
from scheduler.history import merge, percentile
from scheduler.job import Job, JobState, JSONValue, Lease, LeaseRef, NewJob, SubmitResult
from scheduler.payload import encode
from scheduler.policy import DEFAULT_EXPECTED_RUN_MS, Plan, PolicyInput, plan
from scheduler.registry import JobTypeRegistry
from scheduler.retention import drop_dead_letters
from scheduler.store import ArrivalBucket, JobStore, WaitingJob
from scheduler.validation import SubmissionValidator, SubmitOptions

POLICY_SCAN_LIMIT = 1000  # candidates per level and rule per maintenance pass
EXPECTED_RUN_WINDOW_MS = 3_600_000  # history window for expected run times


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    reaped: int
    plan: Plan
    moved: int  # jobs moved: the plan's, and those of demotions cut short before (resumed first)
    dead_dropped: int = 0  # dead letters dropped by retention (scheduler.retention)


class Scheduler:
    def __init__(
        self,
        store: JobStore,
        config: SchedulerConfig | None = None,
        registry: JobTypeRegistry | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = config or SchedulerConfig()
        self.registry = registry or JobTypeRegistry.from_entry_points()
        # the store's clock unless a test moves time: no caller's clock decides who holds a job
        self.clock = clock or StoreClock(store.time_ms)
        self.rng = rng or random.Random()
        self.validator = SubmissionValidator(self.config, self.registry)
        self._ttl_ms = round(self.config.lease_ttl_s * 1000)

    # -- submit ---------------------------------------------------------------------------------------

    def prepare(
        self, job_type: str, payload: JSONValue = None, *, tenant: str, **options: Unpack[SubmitOptions]
    ) -> NewJob:
        """Validate one submission without storing it; raises InvalidJobError naming the field."""
        return self.validator.new_job(job_type, payload, tenant=tenant, now_ms=self.clock.now_ms(), **options)

    def submit(
        self, job_type: str, payload: JSONValue = None, *, tenant: str, **options: Unpack[SubmitOptions]
    ) -> SubmitResult:
        return self.submit_many([self.prepare(job_type, payload, tenant=tenant, **options)])[0]

    def submit_many(self, jobs: Sequence[NewJob]) -> list[SubmitResult]:
        """Store prepared jobs; validation happened in `prepare`, so a bad one never gets this far."""
        return self.store.submit(jobs, self.clock.now_ms())

    # -- run ------------------------------------------------------------------------------------------

    def lease(self, n: int = 1, worker: str = "worker", levels: Sequence[int] | None = None) -> list[Lease]:
        return self.store.lease(n, worker, self._ttl_ms, self.clock.now_ms(), levels)

    def heartbeat(self, leases: Iterable[Lease | LeaseRef]) -> list[bool]:
        return self.store.heartbeat(_refs(leases), self._ttl_ms, self.clock.now_ms())

    def ack(self, leases: Iterable[Lease | LeaseRef]) -> list[bool]:
        return self.store.ack(_refs(leases), self.clock.now_ms())

    def fail(self, lease: Lease, error: str, retryable: bool = True) -> JobState:
        """Record a failed run: retry after a backoff, or dead-letter once attempts are used up."""
        attempts = lease.job.attempts + 1
        now = self.clock.now_ms()
        if not retryable or attempts >= lease.job.max_attempts:
            self.store.fail(lease.ref, error, now, None)
            return JobState.DEAD
        delay_s = compute_backoff(attempts, self.config.backoff_base_s, self.config.backoff_max_s, self.rng)
        self.store.fail(lease.ref, error, now, now + round(delay_s * 1000))
        return JobState.DELAYED

    def release(self, lease: Lease, reason: str = "preempted") -> JobState:
        """Give a job back at once without counting an attempt (spot preemption, drain)."""
        preemptions = lease.job.preemptions + 1
        if preemptions > self.config.max_preemptions:
            bound = self.config.max_preemptions
            self.store.release(
                lease.ref, f"{reason}: released {preemptions} times (bound {bound})", self.clock.now_ms(), dead=True
            )
            return JobState.DEAD
        self.store.release(lease.ref, reason, self.clock.now_ms())
        return JobState.PENDING

    def give_back(self, lease: Lease, reason: str, delay_s: float = 0.0) -> JobState:
        """Hand a job back without counting anything: no attempt and no preemption.

        For giving work back when the job is not at fault and was not preempted: a dispatcher deferring a
        job whose type is at its concurrency cap, or draining before it stops. `release` counts a preemption
        and dead-letters a job released more than max_preemptions times; a job given back any number of
        times never can be. With delay_s > 0 the job waits (DELAYED) that long before it can be leased
        again, then keeps its old place in its tenant's queue; otherwise it is PENDING at once.
        `reason` is not stored. Raises StaleLeaseError when the lease no longer holds the job.
        """
        now = self.clock.now_ms()
        retry_at_ms = now + round(delay_s * 1000) if delay_s > 0 else None
        self.store.release(lease.ref, reason, now, counted=False, retry_at_ms=retry_at_ms)
        return JobState.PENDING if retry_at_ms is None else JobState.DELAYED

    def save_checkpoint(self, lease: Lease, checkpoint: JSONValue) -> None:
        self.store.save_checkpoint(lease.ref, encode(checkpoint, "checkpoint", self.config.max_checkpoint_bytes))

    def save_progress(self, lease: Lease, progress: JSONValue) -> None:
        """Report a running job's progress (small JSON, e.g. {"done": 40, "total": 500}); the last report
        replaces the one before and stays readable through `get`, also after the job ends. Limited to
        max_checkpoint_bytes; raises StaleLeaseError when the lease no longer holds the job."""
        self.store.save_progress(lease.ref, encode(progress, "progress", self.config.max_checkpoint_bytes))

    # -- look ----------------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[Job]:
        return self.store.dead_letters(limit, offset)

    def retry_dead(self, job_ids: Sequence[str]) -> int:
        return self.store.retry_dead(job_ids, self.clock.now_ms())

    def expected_run_ms(self) -> dict[str, float]:
        """p90 run time per job type over the last hour, or the type's declared estimate."""
        expected = {name: self.registry.get(name).expected_run_s * 1000 for name in self.registry.names()}
        by_type: dict[str, list[dict[int, int]]] = {}
        for bucket in self.store.history(self.clock.now_ms() - EXPECTED_RUN_WINDOW_MS):
            by_type.setdefault(bucket.type, []).append(bucket.run_hist)
        for job_type, hists in by_type.items():
            p90 = percentile(merge(hists), 90)
            if p90 is not None:
                expected[job_type] = p90
        return expected

    def arrivals_by_hour(self, since_s: float) -> list[ArrivalBucket]:
        """Jobs created per hour, type and level (with their estimated work) from the hour holding since_s
        (seconds since the Unix epoch, as the clock reads) on; kept 15 days (scheduler.store)."""
        return self.store.arrivals(round(since_s * 1000))

    # -- maintain ------------------------------------------------------------------------------------

    def maintain(self) -> MaintenanceReport:
        """Re-queue expired leases, finish demotions cut short, apply demotion, aging and deadline promotion
        once, then drop what retention no longer keeps (dead letters, ended demotion records)."""
        now = self.clock.now_ms()
        reaped = self.store.reap(now)
        resumed = self.store.resume_demotions(now)
        expected = self.expected_run_ms()
        data = PolicyInput(
            now_ms=now,
            usage_ms=self.store.usage(now - round(self.config.demotion_window_s * 1000)),
            demotions=self.store.demotions(now),
            waiting=self._aging_candidates(now),
            due=self._deadline_candidates(now, max([*expected.values(), DEFAULT_EXPECTED_RUN_MS])),
            expected_run_ms=expected,
        )
        decided = plan(data, self.config)
        moved = 0
        for demotion in decided.demotions:
            moved += self.store.demote_tenant(
                demotion.tenant, demotion.level, demotion.to_level, demotion.until_ms, demotion.reason, now
            )
        for move in decided.moves:
            moved += self.store.move([move.job_id], move.to_level, move.reason, now)
        dropped = drop_dead_letters(self.store, self.config, now)
        self.store.prune_expired(now)
        return MaintenanceReport(reaped=reaped, plan=decided, moved=resumed + moved, dead_dropped=dropped)

    def _aging_candidates(self, now: int) -> list[WaitingJob]:
        found: list[WaitingJob] = []
        for index, level in enumerate(self.config.levels):
            if index > 0 and level.max_wait_s is not None:
                found += self.store.waiting(index, now - round(level.max_wait_s * 1000), POLICY_SCAN_LIMIT)
        return found

    def _deadline_candidates(self, now: int, longest_run_ms: float) -> list[WaitingJob]:
        cutoff = now + 2 * round(longest_run_ms) + 1  # due before it could run twice (policy rule 5)
        found: list[WaitingJob] = []
        for index in range(1, len(self.config.levels)):
            found += self.store.due(index, cutoff, POLICY_SCAN_LIMIT)
        return found


def _refs(leases: Iterable[Lease | LeaseRef]) -> list[LeaseRef]:
    return [item.ref if isinstance(item, Lease) else item for item in leases]
