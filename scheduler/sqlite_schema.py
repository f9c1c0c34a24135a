"""The SQLite store's schema, how its connections are opened, and its per-transaction bookkeeping.

Kept apart from `scheduler.sqlite_store` so the store module holds only the transitions.

Connections: a `Database` keeps a small pool (one connection per concurrent caller, so threads never share
one at the same time) and hands out transactions: `write` is BEGIN IMMEDIATE, taking SQLite's write lock up
front and waiting up to the busy timeout for it, so what a transition reads cannot go stale before it
writes, across threads and processes alike.

Layout: one `jobs` row per job, whatever its state; the JobStore record is kept verbatim and the fields the
store filters or sorts on are copied into columns beside it. Lease columns (token, worker, leased_ms,
expires_ms) mean something only while state = 'running': every check on them also checks the state, so they
are left behind instead of being cleared. `rr` holds the round-robin turn order: one row per (level, tenant)
with pending jobs at that level, the smallest `turn` being served next.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from scheduler.errors import StoreUnavailableError
from scheduler.history import bucket_of

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 4  # 2: jobs.progress; 3: the arrivals table; 4: idempotency keys per tenant
BUSY_TIMEOUT_S = 30.0
MINUTE_MS = 60_000
HISTORY_KEPT_MINUTES = 2 * 24 * 60  # history and usage older than two days are dropped (as in Redis)
MOVES_KEPT = 10_000  # the move log keeps its newest entries only (as in Redis)
ACTIVE_STATES = "('pending', 'delayed', 'running')"

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        type TEXT NOT NULL,
        tenant TEXT NOT NULL,
        max_attempts INTEGER NOT NULL,
        submitted_level INTEGER NOT NULL,
        key TEXT,
        deadline_ms INTEGER,
        state TEXT NOT NULL,
        level INTEGER NOT NULL,
        enqueued_ms INTEGER NOT NULL,
        ready_ms INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        preemptions INTEGER NOT NULL DEFAULT 0,
        checkpoint TEXT,
        progress TEXT,
        error TEXT,
        token INTEGER,
        worker TEXT,
        leased_ms INTEGER,
        expires_ms INTEGER,
        finished_ms INTEGER,
        done_seq INTEGER
    )""",
    # Partial indexes: each access path only ever looks at jobs in one state, so each index stays as
    # small as that state's population and costs nothing for jobs in other states.
    "CREATE INDEX IF NOT EXISTS jobs_pending_fifo ON jobs (level, tenant, enqueued_ms, id) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS jobs_pending_age ON jobs (level, enqueued_ms, id) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS jobs_pending_deadline ON jobs (level, deadline_ms, id)"
    " WHERE state = 'pending' AND deadline_ms IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS jobs_running_expiry ON jobs (expires_ms, id) WHERE state = 'running'",
    "CREATE INDEX IF NOT EXISTS jobs_delayed_ready ON jobs (ready_ms, id) WHERE state = 'delayed'",
    "CREATE INDEX IF NOT EXISTS jobs_dead_recent ON jobs (finished_ms, id) WHERE state = 'dead'",
    "CREATE INDEX IF NOT EXISTS jobs_done_seq ON jobs (done_seq) WHERE state = 'done'",
    # Idempotency keys are per tenant: a submit looks its key up with its tenant (version 4; version 3's
    # jobs_active_key on key alone is dropped by _scope_keys_by_tenant).
    "CREATE INDEX IF NOT EXISTS jobs_active_tenant_key ON jobs (tenant, key)"
    f" WHERE key IS NOT NULL AND state IN {ACTIVE_STATES}",
    # stats() counts per (level, type): covering indexes keep that off the wide record rows. No index may
    # lead with `state` alone: the planner would prefer it to the partial ones above and scan a whole state.
    "CREATE INDEX IF NOT EXISTS jobs_pending_types ON jobs (level, type) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS jobs_running_types ON jobs (level, type) WHERE state = 'running'",
    """CREATE TABLE IF NOT EXISTS rr (
        level INTEGER NOT NULL,
        tenant TEXT NOT NULL,
        turn INTEGER NOT NULL,
        PRIMARY KEY (level, tenant)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS rr_turn ON rr (level, turn)",
    # Keys held after their job ended (key_ttl_ms; cron ticks), per tenant since version 4.
    """CREATE TABLE IF NOT EXISTS tick_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        job_id TEXT NOT NULL,
        held_until_ms INTEGER NOT NULL,
        PRIMARY KEY (tenant, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS tick_keys_expiry ON tick_keys (held_until_ms)",
    """CREATE TABLE IF NOT EXISTS demotions (
        tenant TEXT NOT NULL,
        level INTEGER NOT NULL,
        to_level INTEGER NOT NULL,
        until_ms INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (tenant, level)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS demotions_until ON demotions (until_ms)",  # pruning the ended ones
    # A demotion whose pending jobs are still being moved, a batch per transaction (SQLiteStore.demote_tenant);
    # the row goes when the move finishes. Created on open for files of an older version, as `arrivals` is.
    """CREATE TABLE IF NOT EXISTS demoting (
        tenant TEXT NOT NULL,
        level INTEGER NOT NULL,
        to_level INTEGER NOT NULL,
        until_ms INTEGER NOT NULL,
        moved INTEGER NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (tenant, level)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS moves (
        seq INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        job_id TEXT,
        tenant TEXT NOT NULL,
        from_level INTEGER NOT NULL,
        to_level INTEGER NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS history (
        minute INTEGER NOT NULL,
        type TEXT NOT NULL,
        level INTEGER NOT NULL,
        leased INTEGER NOT NULL,
        finished INTEGER NOT NULL,
        run_ms_total INTEGER NOT NULL,
        PRIMARY KEY (minute, type, level)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS history_hist (
        minute INTEGER NOT NULL,
        type TEXT NOT NULL,
        level INTEGER NOT NULL,
        kind TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (minute, type, level, kind, bucket)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS usage (
        minute INTEGER NOT NULL,
        level INTEGER NOT NULL,
        tenant TEXT NOT NULL,
        run_ms INTEGER NOT NULL,
        PRIMARY KEY (minute, level, tenant)
    ) WITHOUT ROWID""",
    # Jobs created per hour, type and level (scheduler.sqlite_arrivals). Added by version 3: CREATE TABLE IF
    # NOT EXISTS gives a file of an older version the table when it is opened.
    """CREATE TABLE IF NOT EXISTS arrivals (
        hour INTEGER NOT NULL,
        type TEXT NOT NULL,
        level INTEGER NOT NULL,
        submitted INTEGER NOT NULL,
        work_ms INTEGER NOT NULL,
        PRIMARY KEY (hour, type, level)
    ) WITHOUT ROWID""",
    # Counters survive purge(): fencing tokens must never be handed out twice by one store file.
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    # dead_dropped: dead letters forgotten by retention (the metrics' counter)
    "INSERT OR IGNORE INTO counters (name, value) VALUES ('token', 0), ('turn', 0), ('done', 0), ('dead_dropped', 0)",
)

DATA_TABLES = (
    "jobs",
    "rr",
    "tick_keys",
    "demotions",
    "demoting",
    "moves",
    "history",
    "history_hist",
    "usage",
    "arrivals",
)

# Columns added to `jobs` after schema version 1, with their DDL: CREATE TABLE IF NOT EXISTS leaves the table
# of an older file as it was, so opening one adds them (nullable, no default: no row is rewritten).
ADDED_JOB_COLUMNS: tuple[tuple[str, str], ...] = (("progress", "TEXT"),)


def connect(path: str, synchronous: str) -> sqlite3.Connection:
    """Open one connection: autocommit (transactions are explicit BEGIN IMMEDIATE), WAL, busy timeout."""
    try:
        # check_same_thread=False: connections are pooled and handed to one thread at a time.
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
    except sqlite3.OperationalError as exc:
        raise StoreUnavailableError(f"cannot open SQLite store {path!r}: {exc}") from exc
    return db


def ensure_schema(db: sqlite3.Connection) -> None:
    """Create the tables on first open, bring a file of an older schema up to date (in the same
    transaction), and refuse a file written by a newer schema."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version: int = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreUnavailableError(f"SQLite store has schema version {version}, newer than {SCHEMA_VERSION}")
        unscoped = _set_aside_unscoped_tick_keys(db)
        for statement in SCHEMA:
            db.execute(statement)
        _add_missing_job_columns(db)
        if unscoped:
            _scope_keys_by_tenant(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _add_missing_job_columns(db: sqlite3.Connection) -> None:
    """Version 1 -> 2: add the columns an older `jobs` table lacks (checked by name, so it is idempotent)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    for name, ddl in ADDED_JOB_COLUMNS:
        if name not in present:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {ddl}")


def _set_aside_unscoped_tick_keys(db: sqlite3.Connection) -> bool:
    """Version 3 -> 4, first step: rename a `tick_keys` table without a tenant column out of the way (with
    its index, whose name the new table's takes), so SCHEMA creates the new one. True when it did."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(tick_keys)")}
    if not columns or "tenant" in columns:
        return False
    db.execute("DROP INDEX IF EXISTS tick_keys_expiry")
    db.execute("ALTER TABLE tick_keys RENAME TO tick_keys_unscoped")
    return True


def _scope_keys_by_tenant(db: sqlite3.Connection) -> None:
    """Version 3 -> 4, second step: every held key becomes a key of its job's tenant (jobs.tenant; the
    active keys need nothing more, their lookup now reads tenant and key). A held key whose job was already
    forgotten has no tenant to go to and is dropped: its tick or key may then be submitted once more."""
    db.execute(
        "INSERT OR IGNORE INTO tick_keys (tenant, key, job_id, held_until_ms)"
        " SELECT jobs.tenant, t.key, t.job_id, t.held_until_ms FROM tick_keys_unscoped AS t"
        " JOIN jobs ON jobs.id = t.job_id"
    )
    db.execute("DROP TABLE tick_keys_unscoped")
    db.execute("DROP INDEX IF EXISTS jobs_active_key")


# What a lost or garbled counter starts again from: the largest value of it still stored (a full scan of jobs
# for the token, done only after such damage). Every job keeps the token of its latest lease, and older
# leases of a job had smaller tokens, so no stale lease can match a token granted after the repair.
COUNTER_FLOORS = {
    "token": "SELECT MAX(token) FROM jobs WHERE typeof(token) = 'integer'",
    "turn": "SELECT MAX(turn) FROM rr WHERE typeof(turn) = 'integer'",
    "done": "SELECT MAX(done_seq) FROM jobs WHERE typeof(done_seq) = 'integer'",
}


class Tally:
    """History and usage deltas gathered during one transaction and written once at its end."""

    __slots__ = ("counts", "hist", "usage")

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str, int], list[int]] = {}  # -> [leased, finished, run_ms_total]
        self.hist: dict[tuple[int, str, int, str, int], int] = {}
        self.usage: dict[tuple[int, int, str], int] = {}

    def _row(self, minute: int, job_type: str, level: int) -> list[int]:
        return self.counts.setdefault((minute, job_type, level), [0, 0, 0])

    def _bump(self, key: tuple[int, str, int, str, int]) -> None:
        self.hist[key] = self.hist.get(key, 0) + 1

    def wait(self, now_ms: int, job_type: str, level: int, wait_ms: int) -> None:
        minute = now_ms // MINUTE_MS
        self._row(minute, job_type, level)[0] += 1
        self._bump((minute, job_type, level, "wait", bucket_of(wait_ms)))

    def run(self, now_ms: int, job_type: str, level: int, tenant: str, run_ms: int) -> None:
        minute, run_ms = now_ms // MINUTE_MS, max(run_ms, 0)  # clocks of two hosts may disagree
        row = self._row(minute, job_type, level)
        row[1] += 1
        row[2] += run_ms
        self._bump((minute, job_type, level, "run", bucket_of(run_ms)))
        key = (minute, level, tenant)
        self.usage[key] = self.usage.get(key, 0) + run_ms

    def flush(self, db: sqlite3.Connection, now_ms: int) -> None:
        if not self.counts:
            return
        # Pruning here costs one index seek per table and keeps the tables from growing without bound.
        oldest = now_ms // MINUTE_MS - HISTORY_KEPT_MINUTES
        for table in ("history", "history_hist", "usage"):
            db.execute(f"DELETE FROM {table} WHERE minute < ?", (oldest,))
        db.executemany(
            "INSERT INTO history (minute, type, level, leased, finished, run_ms_total) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (minute, type, level) DO UPDATE SET leased = leased + excluded.leased,"
            " finished = finished + excluded.finished, run_ms_total = run_ms_total + excluded.run_ms_total",
            [(*key, *row) for key, row in self.counts.items()],
        )
        db.executemany(
            "INSERT INTO history_hist (minute, type, level, kind, bucket, count) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (minute, type, level, kind, bucket) DO UPDATE SET count = count + excluded.count",
            [(*key, count) for key, count in self.hist.items()],
        )
        db.executemany(
            "INSERT INTO usage (minute, level, tenant, run_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (minute, level, tenant) DO UPDATE SET run_ms = run_ms + excluded.run_ms",
            [(*key, run_ms) for key, run_ms in self.usage.items()],
        )


class Tx:
    """One write transaction: the connection, the caller's clock reading, counters and history deltas.

    Counters are read once and written back once at commit; BEGIN IMMEDIATE holds the write lock for the
    whole transaction, so no other connection can interleave between the read and the write.
    """

    __slots__ = ("_counters", "db", "now_ms", "tally")

    def __init__(self, db: sqlite3.Connection, now_ms: int) -> None:
        self.db = db
        self.now_ms = now_ms
        self.tally = Tally()
        self._counters: dict[str, int] = {}

    def next(self, name: str) -> int:
        value = self._counters.get(name)
        if value is None:
            row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            value = row[0] if row is not None and type(row[0]) is int else self._counter_floor(name)
        value += 1
        self._counters[name] = value
        return value

    def _counter_floor(self, name: str) -> int:
        """A counter lost or garbled (damage) starts again above every value of it still stored, so no
        fencing token is granted twice to the same job and turns keep their order."""
        sql = COUNTER_FLOORS.get(name)
        floor = self.db.execute(sql).fetchone()[0] if sql else None
        _log.warning("counter %r was lost or garbled; it starts again from %s", name, floor or 0)
        return floor if type(floor) is int else 0

    def flush(self) -> None:
        self.db.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [(name, value) for name, value in self._counters.items()],
        )
        self.tally.flush(self.db, self.now_ms)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return any(word in message for word in ("locked", "busy", "unable to open", "disk i/o"))


class Database:
    """A pool of connections to one SQLite file, and the transactions taken on them."""

    def __init__(self, path: str, synchronous: str) -> None:
        self._path = path
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        with self.connection() as db:
            ensure_schema(db)

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StoreUnavailableError("the SQLite store is closed")
            if self._pid != os.getpid():
                # A connection must not cross fork(): the child opens its own and never touches these.
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return connect(self._path, self._synchronous)

    def _checkin(self, db: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed and not db.in_transaction and self._pid == os.getpid():
                self._idle.append(db)
                return
        db.close()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode: each statement is its own transaction."""
        db = self._checkout()
        try:
            yield db
        finally:
            self._checkin(db)

    @contextmanager
    def write(self, now_ms: int) -> Iterator[Tx]:
        """One atomic transition: committed when the block ends, rolled back if it raises."""
        with self.connection() as db:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailableError(f"SQLite store {self._path!r} is busy: {exc}") from exc
            try:
                tx = Tx(db, now_ms)
                yield tx
                tx.flush()
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise StoreUnavailableError(f"SQLite store {self._path!r}: {exc}") from exc
                raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for queries that take several statements."""
        with self.connection() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def close(self) -> None:
        """Close the idle connections now; ones in use close when their caller is done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()
