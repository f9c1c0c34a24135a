"""SQLiteStore behaviour the shared contract suite does not cover: the file itself (schema version, WAL),
several threads and processes on one file, and serve order checked against a small reference model."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.errors import StaleLeaseError, StoreUnavailableError
from scheduler.job import JobState, NewJob
from scheduler.sqlite_schema import SCHEMA, SCHEMA_VERSION
from scheduler.sqlite_store import SQLiteStore
from scheduler.store import HOUR_MS, ArrivalBucket
from tests.stores import T0, StoreSpec, drain, new_job


def test_a_new_file_gets_the_schema_version_and_wal(tmp_path):
    path = tmp_path / "s.db"
    SQLiteStore(path, levels=3).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_reopening_keeps_the_jobs(tmp_path):
    path = tmp_path / "s.db"
    job = new_job()
    with SQLiteStore(path, levels=4) as store:
        store.submit([job], now_ms=T0)
    with SQLiteStore(path, levels=4) as store:
        got = store.get(job.id)
        assert got is not None and got.state is JobState.PENDING


def test_a_file_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreUnavailableError, match="newer"):
        SQLiteStore(path, levels=4)


# The schema as versions 1 and 2 wrote it: without the arrivals table that version 3 added.
BEFORE_V3 = tuple(statement for statement in SCHEMA if "arrivals" not in statement)

# The jobs table as schema version 1 created it (before jobs.progress); the other tables are unchanged.
V1_JOBS_DDL = """CREATE TABLE jobs (
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
    error TEXT,
    token INTEGER,
    worker TEXT,
    leased_ms INTEGER,
    expires_ms INTEGER,
    finished_ms INTEGER,
    done_seq INTEGER
)"""


def _v1_file(path, jobs: list[NewJob]) -> None:
    """A store file as schema version 1 wrote it, holding `jobs` pending at their level since T0."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(V1_JOBS_DDL)
        for statement in BEFORE_V3:  # CREATE ... IF NOT EXISTS: the v1 jobs table stays as it is
            db.execute(statement)
        db.executemany(
            "INSERT INTO jobs (id, record, type, tenant, max_attempts, submitted_level, key, deadline_ms, state,"
            " level, enqueued_ms, checkpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, '{\"page\": 2}')",
            [
                (j.id, j.record(), j.type, j.tenant, j.max_attempts, j.level, j.key, j.deadline_ms, j.level, T0)
                for j in jobs
            ],
        )
        db.execute("INSERT INTO rr (level, tenant, turn) VALUES (3, 't1', 1)")
        db.execute("PRAGMA user_version = 1")
    finally:
        db.close()


def _columns(path: Path, table: str = "jobs") -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def _user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def test_a_file_of_schema_version_1_gains_the_progress_column_and_keeps_its_jobs(tmp_path):
    # given a file written by schema version 1, with two pending jobs
    path = tmp_path / "v1.db"
    jobs = [new_job(level=3), new_job(level=3)]
    _v1_file(path, jobs)
    assert "progress" not in _columns(path)
    # when the store opens it
    with SQLiteStore(path, levels=4) as store:
        # then its jobs read back as before, with no progress
        got = store.get(jobs[0].id)
        assert got is not None
        assert (got.state, got.checkpoint, got.progress) == (JobState.PENDING, {"page": 2}, None)
        # and progress can be reported and read back
        [lease] = store.lease(1, "w", ttl_ms=60_000, now_ms=T0 + 1)
        assert lease.job.id == jobs[0].id
        store.save_progress(lease.ref, '{"done": 3}')
        assert store.get(jobs[0].id).progress == {"done": 3}
    # and the file is at the current version, with the column added once
    assert _columns(path).count("progress") == 1
    assert _user_version(path) == SCHEMA_VERSION == 4
    # when it is opened again / then nothing is added twice and the data is still there
    with SQLiteStore(path, levels=4) as store:
        assert store.get(jobs[0].id).progress == {"done": 3}
        assert store.get(jobs[1].id).state is JobState.PENDING
    assert _columns(path).count("progress") == 1


def _v2_file(path: Path, jobs: list[NewJob]) -> None:
    """A store file as schema version 2 wrote it (no arrivals table), holding `jobs` pending since T0."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in BEFORE_V3:
            db.execute(statement)
        db.executemany(
            "INSERT INTO jobs (id, record, type, tenant, max_attempts, submitted_level, state, level, enqueued_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            [(j.id, j.record(), j.type, j.tenant, j.max_attempts, j.level, j.level, T0) for j in jobs],
        )
        db.execute("INSERT INTO rr (level, tenant, turn) VALUES (3, 't1', 1)")
        db.execute("PRAGMA user_version = 2")
    finally:
        db.close()


def test_a_file_of_schema_version_2_gains_the_arrivals_table_and_keeps_its_jobs(tmp_path):
    # given a file written by schema version 2, with a pending job and no arrivals table
    path = tmp_path / "v2.db"
    old = new_job(level=3)
    _v2_file(path, [old])
    assert _columns(path, "arrivals") == []
    # when the store opens it
    with SQLiteStore(path, levels=4) as store:
        # then the old job is still there, and no arrivals are made up for it
        got = store.get(old.id)
        assert got is not None and got.state is JobState.PENDING
        assert store.arrivals(0) == []
        # and a new submit is counted
        store.submit([new_job(level=3, type="email")], now_ms=T0 + 1)
        expected = [ArrivalBucket(T0 // HOUR_MS, "email", 3, submitted=1, work_ms=0)]
        assert store.arrivals(0) == expected
    # and the file is at the current version; opened again, it keeps its arrivals
    assert _columns(path, "arrivals") == ["hour", "type", "level", "submitted", "work_ms"]
    assert _user_version(path) == SCHEMA_VERSION
    with SQLiteStore(path, levels=4) as store:
        assert store.arrivals(0) == expected
        assert [lease.job.id for lease in store.lease(1, "w", ttl_ms=60_000, now_ms=T0 + 2)] == [old.id]


def test_a_submit_refused_for_a_stored_id_counts_no_arrivals(tmp_path):
    # given a stored job
    with SQLiteStore(tmp_path / "s.db", levels=4) as store:
        job = new_job(estimate_ms=10)
        store.submit([job], now_ms=T0)
        # when a batch holding a new job and that job's id again is refused
        with pytest.raises(sqlite3.IntegrityError):
            store.submit([new_job(estimate_ms=20), job], now_ms=T0 + 1)
        # then the arrivals count the first job only: the counts are part of the submit's transaction
        assert store.arrivals(0) == [ArrivalBucket(T0 // HOUR_MS, "noop", 3, submitted=1, work_ms=10)]


def test_a_closed_store_refuses_calls(tmp_path):
    store = SQLiteStore(tmp_path / "s.db", levels=4)
    store.close()
    with pytest.raises(StoreUnavailableError):
        store.get("x")


def test_tokens_grow_across_store_objects_and_purge(tmp_path):
    first = SQLiteStore(tmp_path / "s.db", levels=4)
    second = SQLiteStore(tmp_path / "s.db", levels=4)
    tokens = []
    for store in (first, second, first):
        store.submit([new_job()], now_ms=T0)
        tokens += [lease.token for lease in store.lease(1, "w", ttl_ms=1000, now_ms=T0)]
        store.purge()
    assert tokens == sorted(tokens) and len(set(tokens)) == 3
    first.close()
    second.close()


def _assert_each_job_leased_once(jobs: list[NewJob], results: list[tuple[str, int, bool]], store: SQLiteStore) -> None:
    leased = Counter(job_id for job_id, _, _ in results)
    assert set(leased) == {job.id for job in jobs}
    assert max(leased.values()) == 1
    assert all(ok for _, _, ok in results)
    tokens = [token for _, token, _ in results]
    assert len(set(tokens)) == len(tokens)
    assert store.stats().pending == {}


def test_threads_lease_each_job_once_through_one_store_object_or_several(tmp_path):
    path = str(tmp_path / "s.db")
    spec = StoreSpec("sqlite", path=path)
    store = SQLiteStore(path, levels=4)
    jobs = [new_job(tenant=f"t{i % 5}", level=i % 4) for i in range(400)]
    store.submit(jobs, now_ms=T0)

    def drain_shared(worker: str) -> list[tuple[str, int, bool]]:
        done = []
        while leases := store.lease(3, worker, ttl_ms=3_600_000, now_ms=T0 + 1):
            acked = store.ack([lease.ref for lease in leases], now_ms=T0 + 1)
            done += [(lease.job.id, lease.token, ok) for lease, ok in zip(leases, acked, strict=True)]
        return done

    with ThreadPoolExecutor(6) as pool:
        own = [pool.submit(drain, spec, f"own{i}", 3, T0 + 1) for i in range(3)]
        shared = [pool.submit(drain_shared, f"shared{i}") for i in range(3)]
        results = [item for future in own + shared for item in future.result()]
    _assert_each_job_leased_once(jobs, results, store)
    store.close()


@pytest.mark.slow
def test_processes_sharing_one_file_lease_each_job_once(tmp_path):
    path = str(tmp_path / "s.db")
    spec = StoreSpec("sqlite", path=path)
    store = SQLiteStore(path, levels=4)
    jobs = [new_job(tenant=f"t{i % 7}", level=i % 4) for i in range(600)]
    store.submit(jobs, now_ms=T0)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        pending = [pool.apply_async(drain, (spec, f"p{i}", 5, T0 + 1)) for i in range(3)]
        here = drain(spec, "main", 5, T0 + 1)
        results = here + [item for result in pending for item in result.get(timeout=120)]
    _assert_each_job_leased_once(jobs, results, store)
    states = [got.state if got else None for got in map(store.get, [job.id for job in jobs])]
    assert states == [JobState.DONE] * len(jobs)
    store.close()


def test_a_stale_token_changes_nothing(tmp_path):
    store = SQLiteStore(tmp_path / "s.db", levels=4)
    store.submit([new_job(max_attempts=9)], now_ms=T0)
    [old] = store.lease(1, "w1", ttl_ms=10, now_ms=T0)
    [new] = store.lease(1, "w2", ttl_ms=10_000, now_ms=T0 + 10)  # the first lease expired and was reaped
    assert new.token > old.token and new.job.attempts == 1
    with pytest.raises(StaleLeaseError):
        store.fail(old.ref, "late", now_ms=T0 + 20, retry_at_ms=None)
    with pytest.raises(StaleLeaseError):
        store.release(old.ref, "late", now_ms=T0 + 20)
    with pytest.raises(StaleLeaseError):
        store.save_checkpoint(old.ref, "{}")
    with pytest.raises(StaleLeaseError):
        store.save_progress(old.ref, "{}")
    with pytest.raises(StaleLeaseError):
        store.release(old.ref, "late", now_ms=T0 + 20, counted=False, retry_at_ms=T0 + 30)
    assert store.ack([old.ref], now_ms=T0 + 20) == [False]
    assert store.heartbeat([old.ref, new.ref], ttl_ms=5, now_ms=T0 + 20) == [False, True]
    got = store.get(new.job.id)
    assert got is not None and got.lease is not None and got.lease.expires_ms == T0 + 25
    store.close()


# -- query plans ------------------------------------------------------------------------------------------


def test_every_secondary_index_on_jobs_is_partial(tmp_path):
    # A full index leading with `state` looks as good as the partial ones to the planner (no ANALYZE), which
    # then picks it and walks a whole state, e.g. every done job on each ack.
    SQLiteStore(tmp_path / "s.db", levels=4).close()
    db = sqlite3.connect(tmp_path / "s.db")
    try:
        rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'").fetchall()
    finally:
        db.close()
    full = [name for name, sql in rows if sql is not None and " WHERE " not in sql]
    assert rows and full == []


def _exercise(store: SQLiteStore) -> None:
    jobs = [new_job(tenant=f"t{i % 3}", level=i % 4, key=f"k{i}", deadline_ms=T0 + i) for i in range(12)]
    store.submit(jobs, now_ms=T0)
    store.demote_tenant("t1", 1, 2, until_ms=T0 + 10**6, reason="hog", now_ms=T0)
    leases = store.lease(6, "w", ttl_ms=1000, now_ms=T0)
    store.heartbeat([leases[0].ref], ttl_ms=1000, now_ms=T0)
    store.save_checkpoint(leases[0].ref, "{}")
    store.ack([leases[0].ref], now_ms=T0)
    store.fail(leases[1].ref, "e", now_ms=T0, retry_at_ms=T0 + 5)
    store.fail(leases[2].ref, "e", now_ms=T0, retry_at_ms=None)
    store.release(leases[3].ref, "r", now_ms=T0)
    store.save_progress(leases[4].ref, "{}")
    store.release(leases[4].ref, "deferred", now_ms=T0, counted=False, retry_at_ms=T0 + 5)
    store.release(leases[5].ref, "deferred", now_ms=T0, counted=False)
    store.reap(now_ms=T0 + 5_000)
    store.lease(2, "w", ttl_ms=1000, now_ms=T0 + 6_000)
    store.move([jobs[-1].id], to_level=0, reason="aging", now_ms=T0)
    store.retry_dead([leases[2].job.id], now_ms=T0)
    store.get(jobs[0].id)
    store.waiting(1, T0 + 1, 5)
    store.due(1, T0 + 50, 5)
    store.stats()
    store.dead_letters()


def test_no_query_scans_the_jobs_table(tmp_path, monkeypatch):
    import scheduler.sqlite_schema as schema

    statements: set[str] = set()
    connect = schema.connect

    def traced(path: str, synchronous: str) -> sqlite3.Connection:
        db = connect(path, synchronous)
        db.set_trace_callback(statements.add)
        return db

    monkeypatch.setattr(schema, "connect", traced)
    store = SQLiteStore(tmp_path / "s.db", levels=4)
    _exercise(store)
    store.close()
    db = sqlite3.connect(tmp_path / "s.db")
    try:
        bad = {}
        for sql in statements:
            if " jobs " not in f"{sql} " or not sql.lstrip().startswith(("SELECT", "UPDATE", "DELETE")):
                continue
            plan = " | ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
            if "TEMP B-TREE" in plan or ("SCAN jobs" in plan and "USING" not in plan):
                bad[sql] = plan
    finally:
        db.close()
    assert bad == {}


def test_arrival_queries_seek_the_primary_key(tmp_path, monkeypatch):
    # a submit after a long gap forgets expired hours by one seek and one key range, never a scan of the table
    import scheduler.sqlite_schema as schema

    statements: set[str] = set()
    connect = schema.connect

    def traced(path: str, synchronous: str) -> sqlite3.Connection:
        db = connect(path, synchronous)
        db.set_trace_callback(statements.add)
        return db

    monkeypatch.setattr(schema, "connect", traced)
    with SQLiteStore(tmp_path / "s.db", levels=4) as store:
        for day in (0, 1, 40):
            store.submit([new_job()], now_ms=T0 + day * 24 * HOUR_MS)
        store.arrivals(T0)
    db = sqlite3.connect(tmp_path / "s.db")
    try:
        plans = {
            sql: [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            for sql in statements
            if sql.lstrip().startswith(("SELECT", "DELETE")) and " arrivals " in f"{sql} "
        }
    finally:
        db.close()
    assert {sql.split()[0] for sql in plans} == {"DELETE", "SELECT"}  # the forgetting (with values) and the read
    assert all(step.startswith(("SEARCH arrivals", "SCALAR")) for plan in plans.values() for step in plan), plans


# -- serve order against a reference model --------------------------------------------------------------


@dataclass
class Model:
    """The serve order rules written as plainly as possible: per level, a list of tenants in turn order."""

    pending: dict[str, tuple[int, str, int, str]] = field(default_factory=dict)  # id -> (level, tenant, enq, id)
    turns: dict[int, list[str]] = field(default_factory=dict)

    def add(self, job_id: str, level: int, tenant: str, enqueued_ms: int) -> None:
        self.pending[job_id] = (level, tenant, enqueued_ms, job_id)
        order = self.turns.setdefault(level, [])
        if tenant not in order:
            order.append(tenant)

    def take(self, job_id: str) -> tuple[int, str, int, str]:
        level, tenant, _, _ = entry = self.pending.pop(job_id)
        if not any(lv == level and t == tenant for lv, t, _, _ in self.pending.values()):
            self.turns[level].remove(tenant)
        return entry

    def lease_one(self, levels: list[int]) -> str | None:
        for level in sorted(levels):
            order = self.turns.get(level, [])
            if order:
                tenant = order[0]
                job = min(e for e in self.pending.values() if e[0] == level and e[1] == tenant)
                self.take(job[3])
                if tenant in order:  # served and still waiting: to the end of the turn order
                    order.remove(tenant)
                    order.append(tenant)
                return job[3]
        return None


operations = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 2)), max_size=6)),
        st.tuples(st.just("lease"), st.integers(1, 6), st.sampled_from([None, [0], [1, 2], [2]])),
        st.tuples(st.just("release"), st.integers(0, 50)),
        st.tuples(st.just("move"), st.integers(0, 50), st.integers(0, 2)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_serve_order_matches_the_reference_model(tmp_path_factory, ops):
    store = SQLiteStore(tmp_path_factory.mktemp("rr") / "s.db", levels=3, synchronous="NORMAL")
    model, running, now = Model(), [], T0
    try:
        for op in ops:
            now += 1
            if op[0] == "submit":
                jobs = [new_job(tenant=tenant, level=level) for tenant, level in op[1]]
                store.submit(jobs, now_ms=now)
                for job in jobs:
                    model.add(job.id, job.level, job.tenant, now)
            elif op[0] == "lease":
                levels = op[2] if op[2] is not None else [0, 1, 2]
                expected = [job_id for _ in range(op[1]) if (job_id := model.lease_one(levels)) is not None]
                leases = store.lease(op[1], "w", ttl_ms=10**9, now_ms=now, levels=op[2])
                assert [lease.job.id for lease in leases] == expected
                running += [(lease, lease.job.level, lease.job.enqueued_ms or 0) for lease in leases]
            elif op[0] == "release" and running:
                lease, level, enqueued_ms = running.pop(op[1] % len(running))
                store.release(lease.ref, "preempted", now_ms=now)
                model.add(lease.job.id, level, lease.job.tenant, enqueued_ms)
            elif op[0] == "move" and model.pending:
                job_id = sorted(model.pending)[op[1] % len(model.pending)]
                level, tenant, enqueued_ms, _ = model.pending[job_id]
                moved = store.move([job_id], to_level=op[2], reason="test", now_ms=now)
                assert moved == (level != op[2])
                if moved:
                    model.take(job_id)
                    model.add(job_id, op[2], tenant, enqueued_ms)
        rest = store.lease(1000, "w", ttl_ms=10**9, now_ms=now + 1)
        expected = [job_id for _ in range(1000) if (job_id := model.lease_one([0, 1, 2])) is not None]
        assert [lease.job.id for lease in rest] == expected
    finally:
        store.close()


def test_the_store_creates_the_folder_of_its_file(tmp_path):
    # given a path whose folder does not exist yet (the embedded default in a fresh checkout)
    path = tmp_path / "fresh" / "nested" / "queue.db"
    # when the store opens it / then the folder and the database are created
    SQLiteStore(path, levels=4).close()
    assert path.exists()
