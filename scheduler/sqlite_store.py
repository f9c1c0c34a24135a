"""A JobStore on one SQLite file: for a single machine, tests, and running without Redis.

Safe to share between threads and processes on one machine: each transition is one `BEGIN IMMEDIATE`
transaction, so SQLite's write lock serialises them across processes, and WAL lets readers run beside a
writer. Connections, the schema and the per-transaction bookkeeping live in `scheduler.sqlite_schema`, the
arrival history in `scheduler.sqlite_arrivals`.

Choices the JobStore contract leaves open, decided here:

* `release` and lease expiry record no history or usage; only `ack` and `fail` count run time.
* Submissions redirected by a demotion log one move per tenant and batch (job_id None, count n).
* A held tick key lasts until submit time + key_ttl_ms.
* Only acked jobs count toward `finished_retention`; dead jobs stay until retried or purged.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from scheduler import sqlite_arrivals
from scheduler import sqlite_schema as schema
from scheduler.errors import StaleLeaseError
from scheduler.job import (
    DEAD_LETTERED,
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
    """The job of a row; raises UnreadableRecordError when its record, checkpoint or progress does not decode."""
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


def _parts(row: Sequence[Any]) -> tuple[str, str | None, str | None, str | None, dict[str, Any]]:
    """A row's id, record, checkpoint and progress (as stored), and the Job fields the store knows apart."""
    job_id, record, state, level, attempts, preemptions, checkpoint, error, enqueued_ms = row[:9]
    token, worker, leased_ms, expires_ms, finished_ms, progress = row[9:]
    job_state = JobState(state)
    known = {
        "level": level,
        "attempts": attempts,
        "preemptions": preemptions,
        "error": error,
        "enqueued_ms": enqueued_ms,
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
    def _key_owner(tx: Tx, key: str) -> str | None:
        active_sql = f"SELECT id FROM jobs WHERE key = ? AND state IN {ACTIVE_STATES} LIMIT 1"
        row = tx.db.execute(active_sql, (key,)).fetchone()
        if row is None:
            tick_sql = "SELECT job_id FROM tick_keys WHERE key = ? AND held_until_ms > ?"
            row = tx.db.execute(tick_sql, (key, tx.now_ms)).fetchone()
        return None if row is None else str(row[0])

    def submit(self, jobs: Sequence[NewJob], now_ms: int) -> list[SubmitResult]:
        for job in jobs:
            self._check_level(job.level)
        with self._db.write(now_ms) as tx:
            sql = "SELECT tenant, level, to_level FROM demotions WHERE until_ms > ?"
            demoted = {(tenant, level): to_level for tenant, level, to_level in tx.db.execute(sql, (now_ms,))}
            batch_keys: dict[str, str] = {}  # a key repeated inside the batch resolves to its first job
            results: list[SubmitResult] = []
            created: list[tuple[NewJob, int]] = []
            for job in jobs:
                owner = None if job.key is None else batch_keys.get(job.key) or self._key_owner(tx, job.key)
                if owner is not None:
                    results.append(SubmitResult(owner, created=False))
                    continue
                if job.key is not None:
                    batch_keys[job.key] = job.id
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
        ticks = [(job.key, job.id, tx.now_ms + job.key_ttl_ms) for job, _ in created if job.key and job.key_ttl_ms]
        if ticks:
            tx.db.execute("DELETE FROM tick_keys WHERE held_until_ms <= ?", (tx.now_ms,))
            tx.db.executemany("INSERT OR REPLACE INTO tick_keys (key, job_id, held_until_ms) VALUES (?, ?, ?)", ticks)

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
            self._reap(tx, -1)
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
                return None
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
        tx.tally.wait(now_ms, job_type, level, now_ms - enqueued_ms)
        try:
            job = _job(leased)
        except UnreadableRecordError as problem:
            sql = "UPDATE jobs SET state = 'dead', error = ?, finished_ms = ? WHERE id = ?"
            tx.db.execute(sql, (f"{problem}: {DEAD_LETTERED}", now_ms, job_id))
            _log.warning("job %s dead-lettered: %s", job_id, problem)
            return None
        return Lease(job=job, token=token, leased_ms=now_ms, expires_ms=now_ms + ttl_ms)

    def _wake_delayed(self, tx: Tx) -> None:
        due = tx.db.execute(
            "SELECT id, level, tenant FROM jobs WHERE state = 'delayed' AND ready_ms <= ? ORDER BY ready_ms, id",
            (tx.now_ms,),
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
            if attempts + 1 >= max_attempts:
                tx.db.execute(
                    "UPDATE jobs SET state = 'dead', attempts = attempts + 1, error = ?, finished_ms = ? WHERE id = ?",
                    (error, tx.now_ms, job_id),
                )
            else:
                self._requeue(tx, job_id, level, tenant, ", attempts = attempts + 1, error = ?", error)
        return len(expired)

    def reap(self, now_ms: int, limit: int = 1000) -> int:
        with self._db.write(now_ms) as tx:
            return self._reap(tx, limit)

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
                # Only the newest `finished_retention` acked jobs stay readable; seqs have no gaps.
                sql = "DELETE FROM jobs WHERE state = 'done' AND done_seq <= ?"
                tx.db.execute(sql, (done_seq - self._retention,))
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

    def demote_tenant(self, tenant: str, level: int, to_level: int, until_ms: int, reason: str, now_ms: int) -> int:
        self._check_level(level)
        self._check_level(to_level)
        if level == to_level:
            raise ValueError(f"cannot demote tenant {tenant!r} from level {level} to itself")
        with self._db.write(now_ms) as tx:
            tx.db.execute("DELETE FROM demotions WHERE until_ms <= ?", (now_ms,))
            tx.db.execute(
                "INSERT OR REPLACE INTO demotions (tenant, level, to_level, until_ms, reason) VALUES (?, ?, ?, ?, ?)",
                (tenant, level, to_level, until_ms, reason),
            )
            sql = "UPDATE jobs SET level = ? WHERE state = 'pending' AND level = ? AND tenant = ? RETURNING id"
            count = len(tx.db.execute(sql, (to_level, level, tenant)).fetchall())
            tx.db.execute("DELETE FROM rr WHERE level = ? AND tenant = ?", (level, tenant))
            if count:
                self._join(tx, to_level, tenant)
            self._log_move(tx, None, tenant, (level, to_level), reason, count)
        return count

    def demotions(self, now_ms: int) -> list[Demotion]:
        with self._db.connection() as db:
            sql = "SELECT tenant, level, to_level, until_ms FROM demotions WHERE until_ms > ? ORDER BY level, tenant"
            return [Demotion(*row) for row in db.execute(sql, (now_ms,))]

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
            return [WaitingJob(*row) for row in db.execute(sql, (level, enqueued_before_ms, limit))]

    def due(self, level: int, deadline_before_ms: int, limit: int) -> list[WaitingJob]:
        sql = (
            f"SELECT {_WAITING_COLUMNS} FROM jobs WHERE state = 'pending' AND level = ? AND deadline_ms IS NOT NULL"
            " AND deadline_ms < ? ORDER BY deadline_ms, id LIMIT ?"
        )
        with self._db.connection() as db:
            return [WaitingJob(*row) for row in db.execute(sql, (level, deadline_before_ms, limit))]

    def usage(self, since_ms: int) -> dict[tuple[int, str], int]:
        sql = "SELECT level, tenant, SUM(run_ms) FROM usage WHERE minute >= ? GROUP BY level, tenant"
        with self._db.connection() as db:
            return {(level, tenant): total for level, tenant, total in db.execute(sql, (since_ms // MINUTE_MS,))}

    def moves(self, limit: int = 100) -> list[Move]:
        sql = "SELECT at_ms, job_id, tenant, from_level, to_level, reason, count FROM moves ORDER BY seq DESC LIMIT ?"
        with self._db.connection() as db:
            return [Move(*row) for row in db.execute(sql, (limit,))]

    def stats(self) -> QueueStats:
        counts: dict[str, dict[tuple[int, str], int]] = {"pending": {}, "running": {}}
        with self._db.read() as db:
            for state, by_type in counts.items():
                sql = f"SELECT level, type, COUNT(*) FROM jobs WHERE state = '{state}' GROUP BY level, type"
                by_type.update(((level, job_type), count) for level, job_type, count in db.execute(sql))
            totals = {
                state: db.execute(f"SELECT COUNT(*) FROM jobs WHERE state = '{state}'").fetchone()[0]
                for state in ("delayed", "dead")
            }
            # Per level, so each MIN is one seek into jobs_pending_age rather than a scan of all pending jobs.
            oldest_sql = "SELECT MIN(enqueued_ms) FROM jobs WHERE state = 'pending' AND level = ?"
            oldest = {level: db.execute(oldest_sql, (level,)).fetchone()[0] for level in range(self.levels)}
        return QueueStats(
            pending=counts["pending"],
            running=counts["running"],
            delayed=totals["delayed"],
            dead=totals["dead"],
            oldest_enqueued_ms={level: ms for level, ms in oldest.items() if ms is not None},
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

    def purge(self) -> None:
        with self._db.write(0) as tx:
            for table in schema.DATA_TABLES:
                tx.db.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
