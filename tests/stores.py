"""Open the JobStore implementations for tests, and build submissions for them.

`make_store(kind, tmp_path)` opens a fresh, empty store of one kind ("sqlite" or "redis"); `dispose(store)`
purges and closes it (and its Redis client). `spec_of(store)` gives picklable parameters that re-open the
same backend (same SQLite file, same Redis namespace) as another store object, in this process or a child
one (`open_spec`). The store modules are imported lazily so one kind can be tested before the other exists.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scheduler.ids import new_job_id
from scheduler.job import NewJob
from scheduler.queue import Scheduler
from scheduler.store import JobStore

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, 20 s into its minute
MINUTE = T0 // 60_000  # epoch minute of T0
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
KINDS = ("sqlite", "redis")


class RedisUnavailableError(RuntimeError):
    pass


def new_job(
    tenant: str = "t1",
    level: int = 3,
    type: str = "noop",
    payload: str = "{}",
    key: str | None = None,
    key_ttl_ms: int | None = None,
    deadline_ms: int | None = None,
    max_attempts: int = 5,
    created_ms: int = T0,
    job_class: str = "batch",
    estimate_ms: int = 0,
) -> NewJob:
    return NewJob(
        id=new_job_id(),
        type=type,
        tenant=tenant,
        job_class=job_class,
        level=level,
        payload_json=payload,
        created_ms=created_ms,
        max_attempts=max_attempts,
        key=key,
        key_ttl_ms=key_ttl_ms,
        deadline_ms=deadline_ms,
        estimate_ms=estimate_ms,
    )


@dataclass(frozen=True)
class StoreSpec:
    """Everything needed to open (again) one store backend; picklable for child processes."""

    kind: str
    levels: int = 4
    finished_retention: int = 10_000
    path: str | None = None  # sqlite: the database file
    namespace: str | None = None  # redis: the key namespace


_opened: dict[int, tuple[StoreSpec, Any]] = {}  # id(store) -> (spec, redis client or None)


def new_spec(kind: str, tmp_path: Path, levels: int = 4, finished_retention: int = 10_000) -> StoreSpec:
    """Parameters of a new, unused backend of `kind`."""
    unique = uuid.uuid4().hex
    if kind == "sqlite":
        return StoreSpec(kind, levels, finished_retention, path=str(tmp_path / f"store-{unique}.db"))
    if kind == "redis":
        return StoreSpec(kind, levels, finished_retention, namespace=f"t-{unique}")
    raise ValueError(f"unknown store kind {kind!r}; kinds are {KINDS}")


_redis_problem: list[str] = []  # filled once per process by the first probe: "" when Redis answered


def _probe_redis() -> str:
    """ "" when Redis answers on REDIS_HOST:REDIS_PORT, else why not (probed once: a default client would
    retry with backoff for seconds on every test)."""
    if not _redis_problem:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        probe = redis.Redis(
            host=REDIS_HOST, port=REDIS_PORT, db=0, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
        )
        try:
            probe.ping()
            _redis_problem.append("")
        except redis.RedisError as exc:
            _redis_problem.append(str(exc))
        finally:
            probe.close()
    return _redis_problem[0]


def redis_client() -> Any:
    """A client for the test Redis; RedisUnavailableError (with how to start it) when it is not running."""
    import redis

    problem = _probe_redis()
    if problem:
        raise RedisUnavailableError(
            f"Redis is not running on {REDIS_HOST}:{REDIS_PORT}: start it with "
            f"`redis-server --daemonize yes` (apt-get install redis-server) or "
            f"`docker run -d -p {REDIS_PORT}:6379 redis:7`, then rerun the tests ({problem})"
        )
    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)


def open_spec(spec: StoreSpec) -> JobStore:
    """Open a store object on the backend named by `spec` (the data there is kept)."""
    client = None
    store: JobStore
    if spec.kind == "sqlite":
        from scheduler.sqlite_store import SQLiteStore

        assert spec.path is not None
        store = SQLiteStore(spec.path, levels=spec.levels, finished_retention=spec.finished_retention)
    elif spec.kind == "redis":
        from scheduler.redis_store import RedisStore

        assert spec.namespace is not None
        client = redis_client()
        try:
            store = RedisStore(
                client, levels=spec.levels, namespace=spec.namespace, finished_retention=spec.finished_retention
            )
        except BaseException:
            client.close()
            raise
    else:
        raise ValueError(f"unknown store kind {spec.kind!r}; kinds are {KINDS}")
    _opened[id(store)] = (spec, client)
    return store


def make_store(kind: str, tmp_path: Path, levels: int = 4, finished_retention: int = 10_000) -> JobStore:
    """A new, empty store of `kind` (a file in tmp_path, or a fresh Redis namespace)."""
    return open_spec(new_spec(kind, tmp_path, levels, finished_retention))


def spec_of(store: JobStore) -> StoreSpec:
    return _opened[id(store)][0]


def reopen(store: JobStore) -> JobStore:
    """Another store object on the same backend as `store`."""
    return open_spec(spec_of(store))


def close_store(store: JobStore) -> None:
    """Close a store object opened here, and its Redis client; the data stays."""
    _spec, client = _opened.pop(id(store), (None, None))
    try:
        store.close()
    finally:
        if client is not None:
            client.close()


def leftover_redis_keys(namespace: str) -> list[bytes]:
    client = redis_client()
    try:
        return list(client.scan_iter(match=f"*{namespace}*", count=1000))
    finally:
        client.close()


def delete_redis_keys(namespace: str) -> None:
    client = redis_client()
    try:
        keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def drain(spec: StoreSpec, worker: str, batch: int, now_ms: int, start: Any = None) -> list[tuple[str, int, bool]]:
    """Lease-and-ack on the backend of `spec` until nothing is left; (job id, token, ack result) per lease.

    Opens its own store object, then waits on the `start` barrier (if given) so workers begin together.
    Runs in threads and in spawned child processes (so it must stay importable and picklable).
    """
    store = open_spec(spec)
    try:
        if start is not None:
            start.wait(timeout=60)
        done: list[tuple[str, int, bool]] = []
        while True:
            leases = store.lease(batch, worker, ttl_ms=3_600_000, now_ms=now_ms)
            if not leases:
                return done
            acked = store.ack([lease.ref for lease in leases], now_ms)
            done.extend((lease.job.id, lease.token, ok) for lease, ok in zip(leases, acked, strict=True))
    finally:
        close_store(store)


def drain_into(results: Any, spec: StoreSpec, worker: str, batch: int, now_ms: int, start: Any = None) -> None:
    """`drain` for a child process: puts (worker, entries) or (worker, error text) on the `results` queue."""
    try:
        results.put((worker, drain(spec, worker, batch, now_ms, start)))
    except BaseException as exc:
        import traceback

        results.put((worker, f"{exc!r}\n{traceback.format_exc()}"))
        raise


def nonzero(counts: dict[Any, int]) -> dict[Any, int]:
    """A count map without zero entries (a store may or may not keep keys whose count fell to zero)."""
    return {key: value for key, value in counts.items() if value}


def lease_ids(
    store: JobStore, now_ms: int, n: int = 1, levels: list[int] | None = None, ttl_ms: int = 30_000
) -> list[str]:
    return [lease.job.id for lease in store.lease(n, "w", ttl_ms=ttl_ms, now_ms=now_ms, levels=levels)]


def written_around_submit(scheduler: Scheduler, job_type: str, payload_json: str) -> str:
    """A queue entry put straight into the store, as a writer that skips the submit API's checks would."""
    now_ms = scheduler.clock.now_ms()
    job = NewJob(new_job_id(), job_type, "intruder", "daily-active", 1, payload_json, now_ms, max_attempts=3)
    scheduler.store.submit([job], now_ms)
    return job.id


STORED_FIELD = {"record": "", "checkpoint": ":k", "progress": ":g"}  # Redis: the jobs-hash field suffix


def overwrite_stored(store: JobStore, job_id: str, part: str, text: str | None) -> None:
    """Write `text` over a stored part of a job (record, checkpoint or progress) behind the store's back, as
    a hand, a bug or another version could; None deletes it (Redis only: SQLite's record is NOT NULL)."""
    spec = spec_of(store)
    if spec.kind == "redis":
        from scheduler.redis_keys import Keys

        assert spec.namespace is not None
        client, field = redis_client(), job_id + STORED_FIELD[part]
        try:
            if text is None:
                client.hdel(Keys(spec.namespace).jobs, field)
            else:
                client.hset(Keys(spec.namespace).jobs, field, text)
        finally:
            client.close()
        return
    assert spec.path is not None and part in STORED_FIELD
    with contextlib.closing(sqlite3.connect(spec.path)) as db, db:
        db.execute(f"UPDATE jobs SET {part} = ? WHERE id = ?", (text, job_id))
