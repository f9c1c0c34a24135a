"""The JobStore port: the one narrow interface that both stores (Redis, SQLite) implement.

A store keeps jobs durable and applies each transition atomically; it decides nothing. What runs next
across levels is fixed by the rules below; which jobs move between levels (demotion, aging, deadline
promotion), how long a retry waits and when a job is dead are decided above the store, in
`scheduler.policy` and `scheduler.queue`, and reach the store as explicit moves.

Contract (tests/contracts/ checks it against every store):

* Serve order (`lease`): a lower level index is always served first. Inside a level, tenants with pending
  jobs take turns in round robin (the tenant served least recently goes first; a tenant that gets its first
  pending job at a level joins the end of the turn order); each tenant's jobs come out FIFO by enqueue time,
  then by id. A batch lease of n hands out jobs one turn at a time, exactly as n single leases would.
* Before serving, `lease` re-queues expired leases (as `reap` does) and makes delayed jobs whose retry
  time has come pending again, each at the level it left, keeping its original enqueue time.
* Every lease gets a fencing token that is larger than any token granted before by that store. `ack`,
  `fail`, `release`, `heartbeat`, `save_checkpoint` and `save_progress` act only when the job is running
  under that exact token; otherwise they refuse (False, or StaleLeaseError where noted) and change nothing.
* `release` gives a job back without counting an attempt. By default it counts a preemption; with
  counted=False it counts nothing (a dispatcher deferring a job or draining: not the job's fault). With
  retry_at_ms it waits in the delayed state until then, exactly like a failed job's backoff (so it keeps
  its place when it is pending again).
* A job's last progress report stays with it until overwritten: across retries and after it ends, until
  the job itself is forgotten. `get`, `lease` and `dead_letters` show it.
* An expired lease counts as a failed attempt: the job goes back to its level at once (no backoff)
  with error "lease expired", or to the dead-letter queue when attempts reach max_attempts.
* Idempotency: keys are per tenant. A submit whose key belongs to a pending, delayed or running job of the
  same tenant returns that job (created=False) and stores nothing; the same key from another tenant is
  another key. With key_ttl_ms the key is also held that long after the job ends, so a cron tick submits
  exactly once. Keys are released when their job is acked or dead-lettered. (The store takes any key: the
  reserved `cron:` prefix and the key_ttl maximum are enforced by scheduler.validation, above it.)
* A tenant demoted at a level (`demote_tenant`) has its pending jobs there moved down, and its new
  submissions to that level go to the lower level until the demotion ends. The demotion is recorded first,
  then the jobs move in atomic batches (scheduler.bounds.DEMOTE_BATCH); a move cut between batches (or
  limited) is finished by `resume_demotions`, unless the demotion ended first. One move entry per demotion
  records the total, when its move finishes.
* Dead letters are kept until `prune_dead_letters` forgets them (oldest first, with every record of the job);
  `stats().dead_dropped` counts them. Ended demotion records go with `prune_expired`.
* Every level change is appended to the move log with its reason.
* The newest `finished_retention` acked jobs stay readable through `get` (state done); older ones are
  forgotten (Redis forgets them in chunks of up to 1% of the retention, so a few may linger). An ack forgets
  at most 1,000 more jobs than it finished, so after a lowered retention the excess goes over several acks.
* A submit or ack of more than 1,000 jobs may be applied in atomic chunks of 1,000 (Redis keeps every
  script's arguments within Lua's limits); each job's own transition is always atomic.
* History: each lease adds the job's wait to the current minute's bucket for (type, level); each ack or
  fail adds its run time there and the run time to the tenant's usage at that level.
* Arrivals (`arrivals`): every submit that creates a job (not a duplicate by key, which returns an existing
  job) adds 1 to `submitted` and the job's `estimate_ms` to `work_ms` of the bucket for (hour of now_ms,
  type, the level the job was stored at: after a tenant demotion redirected it), in the same atomic step as
  the job itself. A bucket is kept while its hour contains or follows now_ms - ARRIVALS_RETENTION_MS (so at
  least that long after its last arrival); later submits forget older ones, at most ARRIVALS_PRUNE_HOURS
  hours per submit, oldest first (after a long gap a few may linger until the next submits). No call does
  work in proportion to the whole history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from scheduler.job import Job, Lease, LeaseRef, NewJob, SubmitResult

HOUR_MS = 3_600_000
ARRIVALS_RETENTION_MS = 15 * 24 * HOUR_MS
"""How long arrival buckets are kept: "same hour last week" needs a week and a bit; 15 days leaves a margin."""
ARRIVALS_PRUNE_HOURS = 24
"""At most this many expired hours of arrivals are forgotten per submit, so no submit does unbounded work."""


def first_kept_hour(now_ms: int) -> int:
    """The oldest epoch hour whose arrival bucket is still kept at now_ms (the one containing now - retention)."""
    return (now_ms - ARRIVALS_RETENTION_MS) // HOUR_MS


@dataclass(frozen=True, slots=True)
class WaitingJob:
    """A pending job as the MLFQ policy sees it when it looks for jobs to move."""

    job_id: str
    type: str
    tenant: str
    level: int
    enqueued_ms: int
    deadline_ms: int | None
    submitted_level: int | None = None  # the level its class gave it (aging counts waits from there)


@dataclass(frozen=True, slots=True)
class Move:
    """One recorded level change. job_id is None for a tenant-wide demotion (count says how many moved)."""

    at_ms: int
    job_id: str | None
    tenant: str
    from_level: int
    to_level: int
    reason: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class Demotion:
    tenant: str
    level: int
    to_level: int
    until_ms: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts at one moment. Keys of the per-(level, type) maps are (level index, job type)."""

    pending: dict[tuple[int, str], int]
    running: dict[tuple[int, str], int]
    delayed: int
    dead: int
    oldest_enqueued_ms: dict[int, int]  # per level with pending jobs
    dead_dropped: int = 0  # dead letters forgotten by retention since the store was created (a counter)

    @property
    def settled(self) -> bool:
        """Nothing pending, running or waiting to retry: every job has finished or is dead."""
        return not any(self.pending.values()) and not any(self.running.values()) and self.delayed == 0


@dataclass(slots=True)
class HistoryBucket:
    """One minute of history for one (type, level).

    wait_hist and run_hist map a log-scale bucket index (see scheduler.history) to a count.
    """

    minute: int  # epoch minutes
    type: str
    level: int
    leased: int = 0
    finished: int = 0  # acked or failed: runs that ended with a run time
    run_ms_total: int = 0
    wait_hist: dict[int, int] = field(default_factory=dict)
    run_hist: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArrivalBucket:
    """What was submitted in one hour for one (type, level): the autoscaler forecasts arrivals from these."""

    hour: int  # epoch hours
    type: str
    level: int  # where the jobs were stored (a demoted tenant's land below their class's level)
    submitted: int  # jobs created (idempotent duplicates are not counted)
    work_ms: int  # the sum of their estimated work (NewJob.estimate_ms)


class JobStore(Protocol):
    """Durable job state. Every method is atomic; `now_ms` comes from the caller's clock."""

    levels: int  # number of levels; level 0 is served first

    def submit(self, jobs: Sequence[NewJob], now_ms: int) -> list[SubmitResult]:
        """Queue jobs at their level (or the level their tenant is demoted to). One result per job."""
        ...

    def lease(self, n: int, worker: str, ttl_ms: int, now_ms: int, levels: Sequence[int] | None = None) -> list[Lease]:
        """Lease up to n jobs in serve order, from `levels` only when given.

        A job whose stored record, checkpoint or progress no longer decodes (scheduler.job.UnreadableRecordError)
        is never handed out: the lease that reaches it dead-letters it with the reason and serves the next one,
        so one bad record cannot stop every worker. Reads show such a job as `Job.unreadable`.
        """
        ...

    def heartbeat(self, refs: Sequence[LeaseRef], ttl_ms: int, now_ms: int) -> list[bool]:
        """Extend each lease to now + ttl; False where the token is stale."""
        ...

    def ack(self, refs: Sequence[LeaseRef], now_ms: int) -> list[bool]:
        """Finish jobs successfully; False where the token is stale (nothing changes for that job)."""
        ...

    def fail(self, ref: LeaseRef, error: str, now_ms: int, retry_at_ms: int | None) -> None:
        """Count a failed attempt and keep the error: delay until retry_at_ms, or dead-letter when None.

        Raises StaleLeaseError for a stale token.
        """
        ...

    def release(
        self,
        ref: LeaseRef,
        reason: str,
        now_ms: int,
        dead: bool = False,
        *,
        counted: bool = True,
        retry_at_ms: int | None = None,
    ) -> None:
        """Give a job back without counting an attempt: it is pending again at once, keeping its place.

        counted: count a preemption (True: the job was preempted); False counts nothing (the job was given
        back for a reason that is not its fault: a dispatcher deferring it or draining).
        retry_at_ms: wait in the delayed state until then instead (as a failed job's backoff does, keeping
        its enqueue time), still without counting an attempt.
        dead=True: go to the dead-letter queue with `reason` as its error instead; together with
        retry_at_ms that is a ValueError, raised before the store is touched.
        Raises StaleLeaseError for a stale token.
        """
        ...

    def save_checkpoint(self, ref: LeaseRef, checkpoint_json: str) -> None:
        """Store a running job's checkpoint (JSON text); a later lease returns it. StaleLeaseError if stale."""
        ...

    def save_progress(self, ref: LeaseRef, progress_json: str) -> None:
        """Store a running job's progress report (JSON text), replacing the last one; `get` shows it, also
        after the job ends. StaleLeaseError if stale (and nothing changes)."""
        ...

    def reap(self, now_ms: int, limit: int = 1000) -> int:
        """Re-queue (or dead-letter) up to `limit` expired leases; returns how many."""
        ...

    def get(self, job_id: str) -> Job | None:
        """The job's current state, or None if it never existed or finished long ago."""
        ...

    def move(self, job_ids: Sequence[str], to_level: int, reason: str, now_ms: int) -> int:
        """Move pending jobs to another level, keeping their enqueue time; jobs no longer pending are
        skipped. Returns how many moved."""
        ...

    def demote_tenant(
        self, tenant: str, level: int, to_level: int, until_ms: int, reason: str, now_ms: int, limit: int | None = None
    ) -> int:
        """Demote a tenant at one level until until_ms; returns how many pending jobs moved.

        The demotion is recorded first, then its pending jobs move in batches of DEMOTE_BATCH, one atomic call
        each; with `limit` at most that many move now and `resume_demotions` moves the rest.
        """
        ...

    def resume_demotions(self, now_ms: int) -> int:
        """Finish the moves of demotions cut short (between batches, or by a limit), in batches; a demotion
        that ended meanwhile moves nothing more. Returns how many jobs moved."""
        ...

    def prune_expired(self, now_ms: int) -> int:
        """Forget a bounded number (about DEMOTED_SCAN) of records whose time has passed: demotion records whose
        until_ms has passed, and on Redis the index entries of expired history minutes. Returns how many
        demotion records went."""
        ...

    def prune_dead_letters(self, died_before_ms: int, keep: int, limit: int) -> tuple[int, bool]:
        """Forget up to `limit` dead jobs that died before died_before_ms or are beyond the newest `keep`, oldest
        first, with every record they have (payload, checkpoint, progress, error). Returns how many were
        forgotten and whether more may be left (call again)."""
        ...

    def demotions(self, now_ms: int) -> list[Demotion]:
        """Demotions still in force."""
        ...

    def waiting(self, level: int, enqueued_before_ms: int, limit: int) -> list[WaitingJob]:
        """Pending jobs at a level enqueued before the cutoff, oldest first (aging candidates)."""
        ...

    def due(self, level: int, deadline_before_ms: int, limit: int) -> list[WaitingJob]:
        """Pending jobs at a level whose deadline is before the cutoff, earliest first."""
        ...

    def usage(self, since_ms: int) -> dict[tuple[int, str], int]:
        """Run milliseconds per (level, tenant) in the minutes from since_ms on."""
        ...

    def moves(self, limit: int = 100) -> list[Move]:
        """The most recent level changes, newest first."""
        ...

    def stats(self) -> QueueStats: ...

    def history(self, since_ms: int) -> list[HistoryBucket]:
        """History buckets from the minute of since_ms on."""
        ...

    def arrivals(self, since_ms: int) -> list[ArrivalBucket]:
        """Arrival buckets from the hour of since_ms on, sorted by hour, type and level."""
        ...

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[Job]:
        """Dead jobs, most recent first."""
        ...

    def retry_dead(self, job_ids: Sequence[str], now_ms: int) -> int:
        """Queue dead jobs again at their submitted level with attempts and preemptions reset to zero.
        Returns how many were dead and are pending now. Applied in atomic batches of RETRY_BATCH ids."""
        ...

    def time_ms(self) -> int:
        """The store's own clock, in milliseconds since the Unix epoch: the one clock every caller's times are
        on (scheduler.clock.StoreClock), whatever the caller's host clock says."""
        ...

    def purge(self) -> None:
        """Delete everything this store holds (tests and benchmarks)."""
        ...

    def close(self) -> None: ...
