"""Opening the job store the settings pick, and a Scheduler over it.

Both stores are checked on open (Redis answers a ping, the SQLite file can be created), so an unreachable
store fails at once with a StoreUnavailableError that says what to do, not on the first real call. A Redis
that would lose jobs (a maxmemory-policy other than noeviction) or is too old for the scripts fails with a
ConfigError naming the setting (scheduler.redis_requirements).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import redis

from ebbflow.config import RedisSettings, Settings, SQLiteSettings
from ebbflow.job_types import load_registry
from scheduler.config import SchedulerConfig
from scheduler.errors import StoreUnavailableError
from scheduler.leader import LeaderLease
from scheduler.leader_redis import RedisLeaderLease
from scheduler.leader_sqlite import SQLiteLeaderLease
from scheduler.queue import Scheduler
from scheduler.redis_errors import as_store_error
from scheduler.redis_store import RedisStore
from scheduler.sqlite_store import SQLiteStore
from scheduler.store import JobStore
from workloads.resources import ResourcesSource
from workloads.settings import PacksSettings, secret_value

REDIS_CONNECT_TIMEOUT_S = 5.0  # an address that drops packets must not hang the CLI for minutes


def open_store(settings: Settings) -> JobStore:
    """The configured JobStore, reachable; the caller closes it."""
    if settings.store == "redis":
        return _open_redis(settings)
    return _open_sqlite(settings)


def open_scheduler(settings: Settings, store: JobStore | None = None) -> Scheduler:
    """A Scheduler on `store` (or on a newly opened configured store) with the configured policy."""
    registry = load_registry(settings.job_types, ResourcesSource.from_settings(settings.packs))
    return Scheduler(store if store is not None else open_store(settings), settings.scheduler, registry)


def open_leader_lease(settings: Settings, store: JobStore) -> LeaderLease:
    """The head's leader lease in the configured store (docs/heads.md): on Redis beside the jobs, on the job
    store's own client; on SQLite a table in the same file. The caller closes it."""
    if isinstance(store, RedisStore):
        return RedisLeaderLease(store.client, settings.redis.namespace)
    return SQLiteLeaderLease(settings.sqlite.path)


@dataclass(frozen=True)
class StoreSource:
    """The head's store settings as a small picklable value, so a job on a Ray worker can open the same
    store to save its checkpoint and progress. Taken once from the head's settings (a worker's own
    environment must not point it at another store); the SQLite path is made absolute for the same reason.
    """

    settings_json: str

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreSource:
        sqlite = SQLiteSettings(path=str(Path(settings.sqlite.path).resolve()))
        part = settings.model_copy(update={"sqlite": sqlite, "cron": []})
        data = json.loads(part.model_dump_json(include={"store", "sqlite", "redis", "scheduler"}))
        # model_dump masks the Redis password as well; it travels too, or a worker could not open the queue.
        data["redis"]["password"] = secret_value(settings.redis.password) or None
        # The packs' settings travel with their secrets (model_dump would mask them) and absolute paths.
        data["packs"] = json.loads(ResourcesSource.from_settings(settings.packs).settings_json)
        return cls(json.dumps(data))

    def __repr__(self) -> str:  # the JSON holds the packs' credentials
        return "StoreSource(...)"

    def open_scheduler(self) -> Scheduler:
        data = json.loads(self.settings_json)
        # model_construct: the parts are validated one by one, and the environment is not consulted.
        settings = Settings.model_construct(
            store=data["store"],
            sqlite=SQLiteSettings.model_validate(data["sqlite"]),
            redis=RedisSettings.model_validate(data["redis"]),
            scheduler=SchedulerConfig.model_validate(data["scheduler"]),
            packs=PacksSettings.model_validate(data["packs"]),
        )
        return open_scheduler(settings)


def _open_redis(settings: Settings) -> RedisStore:
    client = redis.Redis.from_url(
        settings.redis.url,
        decode_responses=True,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        **settings.redis.connection_options(),
    )
    where = client.connection_pool.connection_kwargs
    address = where.get("path") or f"{where.get('host', 'localhost')}:{where.get('port', 6379)}"
    try:
        client.ping()
    except (redis.BusyLoadingError, redis.ResponseError) as err:
        client.close()
        # BUSY, LOADING, MASTERDOWN...: an outage, named; anything else: e.g. a password to a server without one
        raise as_store_error(client, err) or StoreUnavailableError(
            f"Redis at {address} refused ebbflow's AUTH ({err}); check redis.password (EBBFLOW_REDIS__PASSWORD) "
            "and redis.username against the server's requirepass or ACL"
        ) from err
    except redis.AuthenticationError as err:  # before ConnectionError: it is one
        client.close()
        raise StoreUnavailableError(
            f"Redis at {address} refused ebbflow ({err}); set redis.password (EBBFLOW_REDIS__PASSWORD) and "
            "redis.username to what the server expects"
        ) from err
    except (redis.ConnectionError, redis.TimeoutError) as err:
        client.close()
        hint = "check redis.tls_ca_file and that the server speaks TLS" if "SSL" in str(err) else ""
        raise StoreUnavailableError(
            f"Redis at {address} is unreachable ({err}); " + (hint or "start redis-server or set EBBFLOW_STORE=sqlite")
        ) from err
    try:  # the store checks the server (noeviction, version) and raises a ConfigError naming the fix
        return RedisStore(
            client,
            levels=len(settings.scheduler.levels),
            namespace=settings.redis.namespace,
            finished_retention=settings.scheduler.finished_retention,
        )
    except BaseException:
        client.close()
        raise


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
