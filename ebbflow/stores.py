"""Opening the job store the settings pick, and a Scheduler over it.

Both stores are checked on open (Redis answers a ping, the SQLite file can be created), so an unreachable
store fails at once with a StoreUnavailableError that says what to do, not on the first real call.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redis

from ebbflow.config import Settings
from scheduler.errors import StoreUnavailableError
from scheduler.queue import Scheduler
from scheduler.redis_store import RedisStore
from scheduler.sqlite_store import SQLiteStore
from scheduler.store import JobStore

REDIS_CONNECT_TIMEOUT_S = 5.0  # an address that drops packets must not hang the CLI for minutes


def open_store(settings: Settings) -> JobStore:
    """The configured JobStore, reachable; the caller closes it."""
    if settings.store == "redis":
        return _open_redis(settings)
    return _open_sqlite(settings)


def open_scheduler(settings: Settings, store: JobStore | None = None) -> Scheduler:
    """A Scheduler on `store` (or on a newly opened configured store) with the configured policy."""
    return Scheduler(store if store is not None else open_store(settings), settings.scheduler)


def _open_redis(settings: Settings) -> RedisStore:
    client = redis.Redis.from_url(
        settings.redis.url, decode_responses=True, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S
    )
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as err:
        client.close()
        where = client.connection_pool.connection_kwargs
        address = where.get("path") or f"{where.get('host', 'localhost')}:{where.get('port', 6379)}"
        raise StoreUnavailableError(
            f"Redis at {address} is unreachable ({err}); start redis-server or set EBBFLOW_STORE=sqlite"
        ) from err
    return RedisStore(
        client,
        levels=len(settings.scheduler.levels),
        namespace=settings.redis.namespace,
        finished_retention=settings.scheduler.finished_retention,
    )


def _open_sqlite(settings: Settings) -> SQLiteStore:
    path = Path(settings.sqlite.path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(
            path, levels=len(settings.scheduler.levels), finished_retention=settings.scheduler.finished_retention
        )
    except (OSError, sqlite3.Error) as err:
        raise StoreUnavailableError(
            f"SQLite store {str(path)!r} cannot be opened ({err}); fix sqlite.path (EBBFLOW_SQLITE__PATH)"
        ) from err
