"""A JobStore on one SQLite file: for a single machine, tests, and running without Redis.

Safe to share between threads and processes on one machine: each transition is one `BEGIN IMMEDIATE`
transaction, so SQLite's write lock serialises them across processes, and WAL lets readers run beside a
writer. Connections, the schema and the per-transaction bookkeeping live in `scheduler.sqlite_schema`, the
arrival history in `scheduler.sqlite_arrivals`.

Choices the JobStore contract leaves open, decided here:

* `release` and lease expiry record no history or usage; only `ack` and `fail` count run time.
* Submissions redirected by a demotion log one move per tenant and batch (job_id None, count n).
* A held tick key lasts until submit time + key_ttl_ms. Keys are per tenant: (tenant, key) is looked up.
* Only acked jobs count toward `finished_retention`; dead jobs stay until retried, dropped by retention
  (`prune_dead_letters`, scheduler.sqlite_retention) or purged.
* Moving a job to the level it is already at is not a move: it is skipped and not counted.
* `retry_dead` queues at the submitted level without applying demotions and logs no move.
* Fencing tokens survive `purge()`, so a token is never granted twice by one file.
* A level outside 0..levels-1 (submit, lease, move, demote_tenant), a demotion to the same level, and
  ttl_ms <= 0 raise ValueError; submitting an id that is already stored raises sqlite3.IntegrityError
  (nothing of that batch is stored).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from scheduler import sqlite_arrivals, sqlite_damage, sqlite_retention
from scheduler import sqlite_schema as schema
from scheduler.bounds import (
    DEMOTED_SCAN,
    LEASE_REAP_LIMIT,
    MOVE_BATCH,
    PRUNE_BATCH,
    PURGE_BATCH,
    RETRY_BATCH,
    chunks,
    demote_in_steps,
)
from scheduler.errors import StaleLeaseError
from scheduler.job import (
    DEAD_LETTERED,
    REASON_LOST,
    Job,
    JobState,
    Lease,
    LeaseInfo,
    LeaseRef,
    NewJob,
    SubmitResult,
    UnreadableRecordError,
    decode_stored,
    readable_record,
)
from scheduler.sqlite_schema import ACTIVE_STATES, MINUTE_MS, Database, Tx
from scheduler.store import ArrivalBucket, Demotion, HistoryBucket, Move, QueueStats, WaitingJob

# SQLite's own reading of the clock, in ms since the Unix epoch (3.40 has no unixepoch('subsec'))
_UNIX_MS_NOW = "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)"
_JOB_COLUMNS = (
    "id, record, state, level, attempts, preemptions, checkpoint, error, enqueued_ms,"
    " token, worker, leased_ms, expires_ms, finished_ms, progress"
)
_WAITING_COLUMNS = "id, type, tenant, level, enqueued_ms, deadline_ms, submitted_level"
_RUNNING = "id = ? AND state = 'running' AND token = ?"
_INSERT_JOB = (
    "INSERT INTO jobs (id, record, type, tenant, max_attempts, submitted_level, key, deadline_ms, state, level,"
    " enqueued_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)"
)
_INSERT_MOVE = (
    "INSERT INTO moves (at_ms, job_id, tenant, from_level, to_level, reason, count) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_DEMOTED_TENANT = "tenant demoted at level"
_log = logging.getLogger(__name__)


def _job(row: Sequence[Any]) -> Job:
    """The job of a row; raises UnreadableRecordError when its record, checkpoint or progress does not decode,
    or a column it is computed with is garbled (scheduler.sqlite_damage)."""
    problem = sqlite_damage.row_problem(row)
    if problem is not None:
        raise UnreadableRecordError(row[0], "row", problem)
    job_id, record, checkpoint, progress, known = _parts(row)
    return Job.from_record(
        job_id,
        record,
        checkpoint=decode_stored(job_id, "checkpoint", checkpoint),
        progress=decode_stored(job_id, "progress", progress),
        **known,
    )


def _shown_job(row: Sequence[Any]) -> Job:
    """The job of a row as a read shows it: an unreadable one as Job.unreadable, so one bad row cannot make
    `get` or the dead-letter view fail."""
    try:
        return _job(row)
    except UnreadableRecordError as problem:
        return Job.unreadable(row[0], problem, **_parts(row)[-1])


def _waiting_jobs(rows: Iterable[Sequence[Any]]) -> list[WaitingJob]:
    """Pending jobs as the policy sees them; one whose numbers are garbled (damage) is not the policy's to
    move: the audit repairs it, or the lease that reaches it dead-letters it."""
    ints = sqlite_damage.is_int
    return [WaitingJob(*row) for row in rows if ints(row[4]) and ints(row[6]) and (row[5] is None or ints(row[5]))]


def _parts(row: Sequence[Any]) -> tuple[str, str | None, str | None, str | None, dict[str, Any]]:
    """A row's id, record, checkpoint and progress (as stored), and the Job fields the store knows apart."""
    job_id, record, state, level, attempts, preemptions, checkpoint, error, enqueued_ms = row[:9]
    token, worker, leased_ms, expires_ms, finished_ms, progress = row[9:]
    # garbled columns (damage) show as dead, 0 or None here; _job refuses them before this (row_problem)
    job_state = JobState(state) if state in sqlite_damage.STATES else JobState.DEAD
    known = {
        "level": level if sqlite_damage.is_int(level) else 0,
        "attempts": attempts if sqlite_damage.is_int(attempts) else 0,
        "preemptions": preemptions if sqlite_damage.is_int(preemptions) else 0,
        "error": REASON_LOST if job_state is JobState.DEAD and not error else error,
        "enqueued_ms": enqueued_ms if sqlite_damage.is_int(enqueued_ms) else None,
        "state": job_state,
        "lease": LeaseInfo(token, worker, leased_ms, expires_ms) if job_state is JobState.RUNNING else None,
        "finished_ms": finished_ms if job_state in (JobState.DONE, JobState.DEAD) else None,
    }
    return job_id, record, checkpoint, progress, known


class SQLiteStore:
    """The JobStore port on SQLite (see scheduler.store for the contract)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        levels: int,
        finished_retention: int = 10_000,
        *,
        synchronous: Literal["NORMAL", "FULL"] = "FULL",
    ) -> None:
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        self.levels = levels
        self._retention = max(finished_retention, 0)
        if os.fspath(path) != ":memory:":  # the embedded default must work in a fresh directory
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = Database(os.fspath(path), synchronous)
        self._audit_after = ""  # the last job id the damage audit checked (scheduler.sqlite_damage)

    def _check_level(self, level: int) -> None:
        if not 0 <= level < self.levels:
            raise ValueError(f"level {level} is outside 0..{self.levels - 1}")

    # -- round robin -----------------------------------------------------------------------------------

    @staticmethod
    def _join(tx: Tx, level: int, tenant: str) -> None:
        """A tenant with a new pending job at a level takes the last turn there, unless it has a turn."""
        tx.db.execute(
            "INSERT OR IGNORE INTO rr (level, tenant, turn) VALUES (?, ?, ?)", (level, tenant, tx.next("turn"))
        )

    @staticmethod
    def _has_pending(tx: Tx, level: int, tenant: str) -> bool:
        sql = "SELECT 1 FROM jobs WHERE state = 'pending' AND level = ? AND tenant = ? LIMIT 1"
        return tx.db.execute(sql, (level, tenant)).fetchone() is not None

    def _leave(self, tx: Tx, level: int, tenant: str) -> None:
        """A tenant whose pending jobs at a level ran out gives up its turn there."""
        if not self._has_pending(tx, level, tenant):
            tx.db.execute("DELETE FROM rr WHERE level = ? AND tenant = ?", (level, tenant))

    def _requeue(self, tx: Tx, job_id: str, level: int, tenant: str, changes: str, *args: object) -> None:
        """Make a job pending again at `level` keeping its enqueue time (so its place in the tenant's FIFO)."""
        sql = f"UPDATE jobs SET state = 'pending', level = ?, ready_ms = NULL{changes} WHERE id = ?"
        tx.db.execute(sql, (level, *args, job_id))
        self._join(tx, level, tenant)

    # -- submit ----------------------------------------------------------------------------------------

    @staticmethod
    def _key_owner(tx: Tx, tenant: str, key: str) -> str | None:
        active_sql = f"SELECT id FROM jobs WHERE tenant = ? AND key = ? AND state IN {ACTIVE_STATES} LIMIT 1"
        row = tx.db.execute(active_sql, (tenant, key)).fetchone()
        if row is None:
            tick_sql = "SELECT job_id FROM tick_keys WHERE tenant = ? AND key = ? AND held_until_ms > ?"
            row = tx.db.execute(tick_sql, (tenant, key, tx.now_ms)).fetchone()
        return None if row is None else str(row[0])

    def submit(self, jobs: Sequence[NewJob], now_ms: int) -> list[SubmitResult]:
        for job in jobs:
            self._check_level(job.level)
        with self._db.write(now_ms) as tx:
            sql = "SELECT tenant, level, to_level FROM demotions WHERE until_ms > ?"
            rows = tx.db.execute(sql, (now_ms,))  # a demotion to no level of ours (damage) sends nothing there
            demoted = {(tenant, level): to for tenant, level, to in rows if to in range(self.levels)}
            batch_keys: dict[tuple[str, str], str] = {}  # a tenant's key repeated in the batch: its first job
            results: list[SubmitResult] = []
            created: list[tuple[NewJob, int]] = []
            for job in jobs:
                scoped = None if job.key is None else (job.tenant, job.key)
                owner = None if scoped is None else batch_keys.get(scoped) or self._key_owner(tx, *scoped)
                if owner is not None:
                    results.append(SubmitResult(owner, created=False))
                    continue
                if scoped is not None:
                    batch_keys[scoped] = job.id
                created.append((job, demoted.get((job.tenant, job.level), job.level)))
                results.append(SubmitResult(job.id, created=True))
            self._insert(tx, created)
        return results

    def _insert(self, tx: Tx, created: list[tuple[NewJob, int]]) -> None:
        rows = [
            (job.id, job.record(), job.type, job.tenant, job.max_attempts, job.level, job.key, job.deadline_ms, level)
            for job, level in created
        ]
        tx.db.executemany(_INSERT_JOB, [(*row, tx.now_ms) for row in rows])
        sqlite_arrivals.record(tx.db, tx.now_ms, [(job.type, level, job.estimate_ms) for job, level in created])
        joined: set[tuple[int, str]] = set()
        redirected: dict[tuple[str, int, int], int] = {}
        for job, level in created:
            if (level, job.tenant) not in joined:
                joined.add((level, job.tenant))
                self._join(tx, level, job.tenant)
            if level != job.level:
                group = (job.tenant, job.level, level)
                redirected[group] = redirected.get(group, 0) + 1
        # One entry per demoted tenant and batch, not per job: a hog's 10,000 submissions are one move.
        for (tenant, from_level, to_level), count in redirected.items():
            reason = f"{_DEMOTED_TENANT} {from_level}"
            self._log_move(tx, None, tenant, (from_level, to_level), reason, count)
        ticks = [
            (job.tenant, job.key, job.id, tx.now_ms + job.key_ttl_ms)
            for job, _ in created
            if job.key and job.key_ttl_ms
        ]
        if ticks:
            tx.db.execute("DELETE FROM tick_keys WHERE held_until_ms <= ?", (tx.now_ms,))
            tx.db.executemany(
                "INSERT OR REPLACE INTO tick_keys (tenant, key, job_id, held_until_ms) VALUES (?, ?, ?, ?)", ticks
            )

    @staticmethod
    def _log_move(
        tx: Tx, job_id: str | None, tenant: str, levels: tuple[int, int], reason: str, count: int = 1
    ) -> None:
        tx.db.execute(_INSERT_MOVE, (tx.now_ms, job_id, tenant, *levels, reason, count))
        tx.db.execute("DELETE FROM moves WHERE seq <= last_insert_rowid() - ?", (schema.MOVES_KEPT,))

    # -- lease -----------------------------------------------------------------------------------------

    def lease(self, n: int, worker: str, ttl_ms: int, now_ms: int, levels: Sequence[int] | None = None) -> list[Lease]:
        if ttl_ms <= 0:
            raise ValueError(f"ttl_ms must be positive, got {ttl_ms}")
        serve = sorted(set(range(self.levels) if levels is None else levels))
        for level in serve:
            self._check_level(level)
        leases: list[Lease] = []
        with self._db.write(now_ms) as tx:
            # a bounded number of each, as on Redis: a backlog is worked off over the next leases
            self._reap(tx, LEASE_REAP_LIMIT)
            self._wake_delayed(tx)
            # A level found empty stays empty for the rest of this transaction: leasing adds no pending job.
            while len(leases) < n and serve:
                picked = self._pick(tx, serve[0])
                if picked is None:
                    serve.pop(0)
                elif lease := self._grant(tx, serve[0], picked, worker, ttl_ms):
                    leases.append(lease)
        return leases

    @staticmethod
    def _pick(tx: Tx, level: int) -> Sequence[Any] | None:
        """The next job at a level: the oldest pending job of the tenant whose turn it is."""
        while True:
            turn = tx.db.execute("SELECT tenant FROM rr WHERE level = ? ORDER BY turn LIMIT 1", (level,)).fetchone()
            if turn is None:
                # a pending job whose tenant lost its turn (damage) is served once the level has no other turn;
                # the audit gives it its turn back sooner (scheduler.sqlite_damage)
                sql = "SELECT tenant FROM jobs WHERE state = 'pending' AND level = ? LIMIT 1"
                turn = tx.db.execute(sql, (level,)).fetchone()
                if turn is None:
                    return None
                tx.db.execute(
                    "INSERT INTO rr (level, tenant, turn) VALUES (?, ?, ?)", (level, turn[0], tx.next("turn"))
                )
            row = tx.db.execute(
                "SELECT id, tenant, type, enqueued_ms FROM jobs"
                " WHERE state = 'pending' AND level = ? AND tenant = ? ORDER BY enqueued_ms, id LIMIT 1",
                (level, turn[0]),
            ).fetchone()
            if row is not None:
                return row  # type: ignore[no-any-return]
            # A turn without pending jobs should not exist; drop it rather than stall the level.
            tx.db.execute("DELETE FROM rr WHERE level = ? AND tenant = ?", (level, turn[0]))

    def _grant(self, tx: Tx, level: int, row: Sequence[Any], worker: str, ttl_ms: int) -> Lease | None:
        """Leases the picked job; None when its stored parts do not decode, and then it is dead-lettered (in
        this transaction, so it is never leased to anyone and cannot block the queue)."""
        job_id, tenant, job_type, enqueued_ms = row
        token, now_ms = tx.next("token"), tx.now_ms
        sql = "UPDATE jobs SET state = 'running', token = ?, worker = ?, leased_ms = ?, expires_ms = ? WHERE id = ?"
        [leased] = tx.db.execute(f"{sql} RETURNING {_JOB_COLUMNS}", (token, worker, now_ms, now_ms + ttl_ms, job_id))
        if self._has_pending(tx, level, tenant):  # served: its next turn is the last one
            tx.db.execute("UPDATE rr SET turn = ? WHERE level = ? AND tenant = ?", (tx.next("turn"), level, tenant))
        else:
            tx.db.execute("DELETE FROM rr WHERE level = ? AND tenant = ?", (level, tenant))
        if sqlite_damage.is_int(enqueued_ms):  # else garbled (damage): no wait to count
            tx.tally.wait(now_ms, job_type, level, now_ms - enqueued_ms)
        try:
            job = _job(leased)
        except UnreadableRecordError as problem:
            garbled = sqlite_damage.row_problem(leased)
            if garbled is not None:  # its columns are made readable again too
                sqlite_damage.bury_damaged(tx, job_id, garbled)
                return None
            sql = "UPDATE jobs SET state = 'dead', error = ?, finished_ms = ? WHERE id = ?"
            tx.db.execute(sql, (f"{problem}: {DEAD_LETTERED}", now_ms, job_id))
            _log.warning("job %s dead-lettered: %s", job_id, problem)
            return None
        return Lease(job=job, token=token, leased_ms=now_ms, expires_ms=now_ms + ttl_ms)

    def _wake_delayed(self, tx: Tx) -> None:
        due = tx.db.execute(
            "SELECT id, level, tenant FROM jobs WHERE state = 'delayed' AND ready_ms <= ?"
            " ORDER BY ready_ms, id LIMIT ?",
            (tx.now_ms, LEASE_REAP_LIMIT),
        ).fetchall()
        for job_id, level, tenant in due:
            self._requeue(tx, job_id, level, tenant, "")

    def _reap(self, tx: Tx, limit: int) -> int:
        expired = tx.db.execute(
            "SELECT id, tenant, level, attempts, max_attempts, worker FROM jobs"
            " WHERE state = 'running' AND expires_ms <= ? ORDER BY expires_ms, id LIMIT ?",
            (tx.now_ms, limit),
        ).fetchall()
        for job_id, tenant, level, attempts, max_attempts, worker in expired:
            error = f"lease expired (worker {worker} stopped heartbeating)"
            garbled = [v for v in (level, attempts, max_attempts) if not sqlite_damage.is_int(v)]
            if garbled:  # damage: it cannot be counted or queued again
                sqlite_damage.bury_damaged(tx, job_id, f"{error}; a number column reads {str(garbled[0])[:80]!r}")
            elif attempts + 1 >= max_attempts:
                tx.db.execute(
                    "UPDATE jobs SET state = 'dead', attempts = attempts + 1, error = ?, finished_ms = ? WHERE id = ?",
                    (error, tx.now_ms, job_id),
                )
            else:
                self._requeue(tx, job_id, level, tenant, ", attempts = attempts + 1, error = ?", error)
        return len(expired)

    def reap(self, now_ms: int, limit: int = 1000) -> int:
        with self._db.write(now_ms) as tx:
            reaped = self._reap(tx, limit)
            # and the next slice of the audit (scheduler.sqlite_damage); where it stands is kept in memory:
            # a new store object starts its sweep again from the first id
            self._audit_after, repaired = sqlite_damage.audit(tx, self._audit_after, limit, self.levels)
        if repaired:
            _log.warning("store audit repaired %d damaged jobs", repaired)
        return reaped

    # -- lease holders ---------------------------------------------------------------------------------

    def heartbeat(self, refs: Sequence[LeaseRef], ttl_ms: int, now_ms: int) -> list[bool]:
        with self._db.write(now_ms) as tx:
            sql = f"UPDATE jobs SET expires_ms = ? WHERE {_RUNNING}"
            return [tx.db.execute(sql, (now_ms + ttl_ms, ref.job_id, ref.token)).rowcount == 1 for ref in refs]

    @staticmethod
    def _running(tx: Tx, ref: LeaseRef) -> Sequence[Any] | None:
        sql = f"SELECT type, tenant, level, leased_ms FROM jobs WHERE {_RUNNING}"
        return tx.db.execute(sql, (ref.job_id, ref.token)).fetchone()  # type: ignore[no-any-return]

    def _finish_run(self, tx: Tx, ref: LeaseRef) -> bool:
        """Count the run of a job held under `ref` in history and usage; False if the token is stale."""
        row = self._running(tx, ref)
        if row is None:
            return False
        job_type, tenant, level, leased_ms = row
        if sqlite_damage.is_int(level) and sqlite_damage.is_int(leased_ms):  # else garbled: no run to count
            tx.tally.run(tx.now_ms, job_type, level, tenant, tx.now_ms - leased_ms)
        return True

    def ack(self, refs: Sequence[LeaseRef], now_ms: int) -> list[bool]:
        results: list[bool] = []
        with self._db.write(now_ms) as tx:
            done_seq = None
            for ref in refs:
                results.append(self._finish_run(tx, ref))
                if results[-1]:
                    done_seq = tx.next("done")
                    sql = "UPDATE jobs SET state = 'done', finished_ms = ?, done_seq = ? WHERE id = ?"
                    tx.db.execute(sql, (now_ms, done_seq, ref.job_id))
            if done_seq is not None:
                # Only the newest `finished_retention` acked jobs stay readable; seqs have no gaps. Bounded, so a
                # lowered retention is worked off over the next acks rather than in one long transaction.
                sql = (
                    "DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE state = 'done' AND done_seq <= ?"
                    " ORDER BY done_seq LIMIT ?)"
                )
                tx.db.execute(sql, (done_seq - self._retention, len(refs) + PRUNE_BATCH))
        return results

    def fail(self, ref: LeaseRef, error: str, now_ms: int, retry_at_ms: int | None) -> None:
        with self._db.write(now_ms) as tx:
            if not self._finish_run(tx, ref):
                raise StaleLeaseError(ref.job_id, ref.token)
            if retry_at_ms is None:
                sql = "UPDATE jobs SET state = 'dead', attempts = attempts + 1, error = ?, finished_ms = ? WHERE id = ?"
                tx.db.execute(sql, (error, now_ms, ref.job_id))
            else:
                sql = "UPDATE jobs SET state = 'delayed', attempts = attempts + 1, error = ?, ready_ms = ? WHERE id = ?"
                tx.db.execute(sql, (error, retry_at_ms, ref.job_id))

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
        if dead and retry_at_ms is not None:
            raise ValueError("release: a dead job cannot also wait for a retry (dead=True with retry_at_ms)")
        count = ", preemptions = preemptions + 1" if counted else ""
        with self._db.write(now_ms) as tx:
            row = self._running(tx, ref)
            if row is None:
                raise StaleLeaseError(ref.job_id, ref.token)
            _, tenant, level, _ = row
            if dead:
                sql = f"UPDATE jobs SET state = 'dead', error = ?, finished_ms = ?{count}"
                tx.db.execute(f"{sql} WHERE id = ?", (reason, now_ms, ref.job_id))
            elif retry_at_ms is not None:
                # as a failed run's backoff: _wake_delayed makes it pending again, keeping its enqueue time
                sql = f"UPDATE jobs SET state = 'delayed', ready_ms = ?{count} WHERE id = ?"
                tx.db.execute(sql, (retry_at_ms, ref.job_id))
            else:
                self._requeue(tx, ref.job_id, level, tenant, count)

    def save_checkpoint(self, ref: LeaseRef, checkpoint_json: str) -> None:
        self._save_running_field("checkpoint", ref, checkpoint_json)

    def save_progress(self, ref: LeaseRef, progress_json: str) -> None:
        self._save_running_field("progress", ref, progress_json)

    def _save_running_field(self, column: Literal["checkpoint", "progress"], ref: LeaseRef, value: str) -> None:
        with self._db.write(0) as tx:  # no clock: nothing here is timed
            sql = f"UPDATE jobs SET {column} = ? WHERE {_RUNNING}"
            if tx.db.execute(sql, (value, ref.job_id, ref.token)).rowcount != 1:
                raise StaleLeaseError(ref.job_id, ref.token)

    # -- moves -----------------------------------------------------------------------------------------

    def move(self, job_ids: Sequence[str], to_level: int, reason: str, now_ms: int) -> int:
        self._check_level(to_level)
        return sum(self._move(part, to_level, reason, now_ms) for part in chunks(job_ids, MOVE_BATCH))

    def _move(self, job_ids: Sequence[str], to_level: int, reason: str, now_ms: int) -> int:
        moved = 0
        with self._db.write(now_ms) as tx:
            for job_id in job_ids:
                sql = "SELECT tenant, level FROM jobs WHERE id = ? AND state = 'pending'"
                row = tx.db.execute(sql, (job_id,)).fetchone()
                if row is None or row[1] == to_level:
                    continue
                tenant, from_level = row
                tx.db.execute("UPDATE jobs SET level = ? WHERE id = ?", (to_level, job_id))
                self._leave(tx, from_level, tenant)
                self._join(tx, to_level, tenant)
                self._log_move(tx, job_id, tenant, (from_level, to_level), reason)
                moved += 1
        return moved

    def demote_tenant(
        self, tenant: str, level: int, to_level: int, until_ms: int, reason: str, now_ms: int, limit: int | None = None
    ) -> int:
        self._check_level(level)
        self._check_level(to_level)
        if level == to_level:
            raise ValueError(f"cannot demote tenant {tenant!r} from level {level} to itself")
        start = (to_level, until_ms, reason)
        return demote_in_steps(
            lambda take, first: self._demote_step(tenant, level, now_ms, take, start if first else None), limit
        )

    def resume_demotions(self, now_ms: int) -> int:
        with self._db.connection() as db:
            under_way = db.execute("SELECT tenant, level FROM demoting").fetchall()
        return sum(self._resume(tenant, level, now_ms) for tenant, level in under_way)

    def _resume(self, tenant: str, level: int, now_ms: int) -> int:
        return demote_in_steps(lambda take, _: self._demote_step(tenant, level, now_ms, take, None), None)

    def _demote_step(
        self, tenant: str, level: int, now_ms: int, take: int, start: tuple[int, int, str] | None
    ) -> tuple[int, bool]:
        """One transaction of a demotion: record it (start), then move up to `take` of the tenant's pending jobs
        at the level, oldest first. Returns how many moved and whether the move is finished (the `demoting`
        row goes then, and the one move entry logs the total)."""
        with self._db.write(now_ms) as tx:
            if start is not None:
                to_level, until_ms, reason = start
                sql = "INSERT OR REPLACE INTO demotions (tenant, level, to_level, until_ms, reason) VALUES"
                tx.db.execute(f"{sql} (?, ?, ?, ?, ?)", (tenant, level, to_level, until_ms, reason))
                sql = "INSERT OR REPLACE INTO demoting (tenant, level, to_level, until_ms, moved, reason) VALUES"
                tx.db.execute(f"{sql} (?, ?, ?, ?, 0, ?)", (tenant, level, to_level, until_ms, reason))
            key = (tenant, level)
            sql = "SELECT to_level, until_ms, moved, reason FROM demoting WHERE tenant = ? AND level = ?"
            row = tx.db.execute(sql, key).fetchone()
            if row is None:
                return 0, True
            to_level, until_ms, total, reason = row
            count = 0
            # a demotion that ended while its move was under way stops: its tenant's new jobs stay here again
            if start is not None or until_ms > now_ms:
                sql = (
                    "UPDATE jobs SET level = ? WHERE id IN (SELECT id FROM jobs WHERE state = 'pending' AND level = ?"
                    " AND tenant = ? ORDER BY enqueued_ms, id LIMIT ?) RETURNING id"
                )
                count = len(tx.db.execute(sql, (to_level, level, tenant, take)).fetchall())
                if count:
                    self._join(tx, to_level, tenant)
                if self._has_pending(tx, level, tenant):
                    tx.db.execute("UPDATE demoting SET moved = moved + ? WHERE tenant = ? AND level = ?", (count, *key))
                    return count, False
            self._leave(tx, level, tenant)
            tx.db.execute("DELETE FROM demoting WHERE tenant = ? AND level = ?", key)
            self._log_move(tx, None, tenant, (level, to_level), reason, total + count)
            return count, True

    def prune_expired(self, now_ms: int) -> int:
        # history and usage are pruned as they are written (sqlite_schema.Tally.flush)
        with self._db.write(now_ms) as tx:
            return sqlite_retention.prune_demotions(tx.db, now_ms, DEMOTED_SCAN)

    def prune_dead_letters(self, died_before_ms: int, keep: int, limit: int) -> tuple[int, bool]:
        with self._db.write(died_before_ms) as tx:
            return sqlite_retention.prune_dead(tx.db, died_before_ms, keep, limit)

    def demotions(self, now_ms: int) -> list[Demotion]:
        with self._db.connection() as db:
            sql = "SELECT tenant, level, to_level, until_ms FROM demotions WHERE until_ms > ? ORDER BY level, tenant"
            rows = db.execute(sql, (now_ms,))  # a garbled row (damage) is no demotion
            return [Demotion(*row) for row in rows if all(sqlite_damage.is_int(v) for v in row[1:])]

    # -- reads -----------------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._db.connection() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _shown_job(row)

    def waiting(self, level: int, enqueued_before_ms: int, limit: int) -> list[WaitingJob]:
        sql = (
            f"SELECT {_WAITING_COLUMNS} FROM jobs WHERE state = 'pending' AND level = ? AND enqueued_ms < ?"
            " ORDER BY enqueued_ms, id LIMIT ?"
        )
        with self._db.connection() as db:
            return _waiting_jobs(db.execute(sql, (level, enqueued_before_ms, limit)))

    def due(self, level: int, deadline_before_ms: int, limit: int) -> list[WaitingJob]:
        sql = (
            f"SELECT {_WAITING_COLUMNS} FROM jobs WHERE state = 'pending' AND level = ? AND deadline_ms IS NOT NULL"
            " AND deadline_ms < ? ORDER BY deadline_ms, id LIMIT ?"
        )
        with self._db.connection() as db:
            return _waiting_jobs(db.execute(sql, (level, deadline_before_ms, limit)))

    def usage(self, since_ms: int) -> dict[tuple[int, str], int]:
        sql = "SELECT level, tenant, SUM(run_ms) FROM usage WHERE minute >= ? GROUP BY level, tenant"
        with self._db.connection() as db:
            rows = db.execute(sql, (since_ms // MINUTE_MS,))  # a garbled level (damage) is no one's usage
            return {(level, tenant): total for level, tenant, total in rows if level in range(self.levels)}

    def moves(self, limit: int = 100) -> list[Move]:
        sql = "SELECT at_ms, job_id, tenant, from_level, to_level, reason, count FROM moves ORDER BY seq DESC LIMIT ?"
        with self._db.connection() as db:
            return [Move(*row) for row in db.execute(sql, (limit,))]

    def stats(self) -> QueueStats:
        counts: dict[str, dict[tuple[int, str], int]] = {"pending": {}, "running": {}}
        with self._db.read() as db:
            for state, by_type in counts.items():
                sql = f"SELECT level, type, COUNT(*) FROM jobs WHERE state = '{state}' GROUP BY level, type"
                rows = db.execute(sql)  # a garbled level (damage) is not counted: the audit repairs it
                by_type.update(((lvl, job_type), n) for lvl, job_type, n in rows if sqlite_damage.is_int(lvl))
            totals = {
                state: db.execute(f"SELECT COUNT(*) FROM jobs WHERE state = '{state}'").fetchone()[0]
                for state in ("delayed", "dead")
            }
            # Per level, so each MIN is one seek into jobs_pending_age rather than a scan of all pending jobs.
            oldest_sql = "SELECT MIN(enqueued_ms) FROM jobs WHERE state = 'pending' AND level = ?"
            oldest = {level: db.execute(oldest_sql, (level,)).fetchone()[0] for level in range(self.levels)}
            dropped = sqlite_retention.dropped(db)
        return QueueStats(
            pending=counts["pending"],
            running=counts["running"],
            delayed=totals["delayed"],
            dead=totals["dead"],
            oldest_enqueued_ms={level: ms for level, ms in oldest.items() if sqlite_damage.is_int(ms)},
            dead_dropped=dropped,
        )

    def history(self, since_ms: int) -> list[HistoryBucket]:
        minute = since_ms // MINUTE_MS
        buckets: dict[tuple[int, str, int], HistoryBucket] = {}
        with self._db.read() as db:
            sql = "SELECT minute, type, level, leased, finished, run_ms_total FROM history WHERE minute >= ?"
            for key_minute, job_type, level, leased, finished, run_ms_total in db.execute(sql, (minute,)):
                bucket = HistoryBucket(key_minute, job_type, level, leased, finished, run_ms_total)
                buckets[(key_minute, job_type, level)] = bucket
            sql = "SELECT minute, type, level, kind, bucket, count FROM history_hist WHERE minute >= ?"
            for key_minute, job_type, level, kind, index, count in db.execute(sql, (minute,)):
                bucket = buckets.setdefault((key_minute, job_type, level), HistoryBucket(key_minute, job_type, level))
                (bucket.wait_hist if kind == "wait" else bucket.run_hist)[index] = count
        return list(buckets.values())

    def arrivals(self, since_ms: int) -> list[ArrivalBucket]:
        with self._db.connection() as db:
            return sqlite_arrivals.read(db, since_ms)

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[Job]:
        sql = (
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'dead' ORDER BY finished_ms DESC, id DESC LIMIT ? OFFSET ?"
        )
        with self._db.connection() as db:
            return [_shown_job(row) for row in db.execute(sql, (limit, offset))]

    def retry_dead(self, job_ids: Sequence[str], now_ms: int) -> int:
        return sum(self._retry_dead(part, now_ms) for part in chunks(job_ids, RETRY_BATCH))

    def _retry_dead(self, job_ids: Sequence[str], now_ms: int) -> int:
        retried = 0
        with self._db.write(now_ms) as tx:
            for job_id in job_ids:
                sql = "SELECT tenant, submitted_level, record FROM jobs WHERE id = ? AND state = 'dead'"
                row = tx.db.execute(sql, (job_id,)).fetchone()
                # a record that does not decode stays dead: queued again, it would only be dead-lettered again
                if row is None or not readable_record(job_id, row[2]):
                    continue
                tenant, level, _ = row
                changes = ", attempts = 0, preemptions = 0, enqueued_ms = ?, finished_ms = NULL"
                self._requeue(tx, job_id, level, tenant, changes, now_ms)
                retried += 1
        return retried

    # -- lifecycle -------------------------------------------------------------------------------------

    def time_ms(self) -> int:
        """This machine's clock as SQLite reads it: a SQLite file is only ever opened by processes of one
        machine, so all of them share it, whatever clock a caller's own code is given (a process whose
        C library is given a fake clock, as libfaketime does, is not defended against)."""
        with self._db.connection() as db:
            (now_ms,) = db.execute(_UNIX_MS_NOW).fetchone()
        return int(now_ms)

    def purge(self) -> None:
        # jobs in batches (one long transaction would block every writer); the other tables are kept small
        sql = "DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs LIMIT ?)"
        while True:
            with self._db.write(0) as tx:
                if tx.db.execute(sql, (PURGE_BATCH,)).rowcount < PURGE_BATCH:
                    break
        with self._db.write(0) as tx:
            for table in schema.DATA_TABLES:
                tx.db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
