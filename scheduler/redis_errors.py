"""Which Redis failures are an outage to wait out, and which are ours to fix.

A lost connection or a timeout is an outage. So are the replies with which a live Redis refuses a command for a
while, each named by its error code: BUSY (another Lua script runs past `busy-reply-threshold`), OOM (`maxmemory`
reached under `noeviction`), LOADING (the dataset is loading after a restart), READONLY (this server is a replica,
say after a failover), MASTERDOWN (a replica that lost its primary), MISCONF (the last snapshot failed to save
and `stop-writes-on-bgsave-error` is on) and NOREPLICAS (`min-replicas-to-write` not met). They become a
StoreUnavailableError whose `reason` names the condition and whose message says what an operator does; the
dispatcher and the head wait it out as they wait out a lost connection. Every other reply (NOSCRIPT, a bug in one
of our scripts, a wrong type) is raised as it is: waiting would not fix it.

Why waiting and then calling again cannot apply a script twice: under each listed condition the command did
nothing. BUSY, LOADING and MASTERDOWN refuse the command before it runs. A script (ours declare no flags) meets
OOM, READONLY, MISCONF or NOREPLICAS at its first write that the condition forbids, and Redis raises it only
while the script has written nothing yet; once a script has written, it runs to its end, so a script is all or
nothing either way. A script that runs long enough to make others BUSY can be ended by SCRIPT KILL only before
its first write, so it too did nothing. Only a reply lost after the server ran the command (a connection
error, the outage there was before) can leave its effect behind; the scripts are made safe against that: an
ack, fail, release or heartbeat carries its lease's fencing token and the second one finds the lease gone, and
a submit with an idempotency key returns the job the first one created (one without a key, sent again after a
lost reply, writes its jobs again under the same ids: a job leased in between could be queued once more).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from scheduler.errors import StoreUnavailableError

# error code -> (reason, what an operator does about it)
CONDITIONS: dict[str, tuple[str, str]] = {
    "BUSY": (
        "busy",
        "a Lua script has run past busy-reply-threshold; it ends by itself, or run SCRIPT KILL "
        "(SHUTDOWN NOSAVE if it has written)",
    ),
    "OOM": (
        "oom",
        "it reached maxmemory under noeviction; raise maxmemory (CONFIG SET maxmemory) or free memory "
        "(retry or purge dead letters, lower scheduler.dead_letter_max_count or scheduler.finished_retention)",
    ),
    "LOADING": ("loading", "it is loading its dataset after a restart; wait for it"),
    "READONLY": (
        "readonly",
        "it is a replica (after a failover?); point redis.url at the primary (EBBFLOW_REDIS__URL)",
    ),
    "MASTERDOWN": (
        "masterdown",
        "it is a replica that lost its primary; bring the primary back or point redis.url at the new one",
    ),
    "MISCONF": (
        "misconf",
        "its last RDB snapshot failed to save (disk full?); fix the disk, see the Redis log",
    ),
    "NOREPLICAS": ("noreplicas", "fewer replicas than min-replicas-to-write answer; bring them back"),
}
_PIPELINE_PREFIX = "of pipeline caused error: "  # redis-py's note on an error from inside a pipeline


def address_of(client: redis.Redis) -> str:
    where = client.connection_pool.connection_kwargs
    return str(where.get("path") or f"{where.get('host', 'localhost')}:{where.get('port', 6379)}")


def error_code(err: redis.ResponseError) -> str:
    """The reply's error code (BUSY, OOM, ERR...): redis-py keeps it as `status_code` (older: the text's)."""
    code = getattr(err, "status_code", None)
    return str(code) if code else _reply(err).split(" ", 1)[0]


def _reply(err: redis.RedisError) -> str:
    """The server's words, without redis-py's note on which command of a pipeline it answered."""
    text = " ".join(str(err).split())
    return text.split(_PIPELINE_PREFIX, 1)[1] if _PIPELINE_PREFIX in text else text


def as_store_error(client: redis.Redis, err: redis.RedisError) -> StoreUnavailableError | None:
    """The StoreUnavailableError that `err` means, or None when it is no outage (raise it as it is)."""
    address = address_of(client)
    if isinstance(err, redis.BusyLoadingError):  # redis-py makes LOADING a ConnectionError: look at it first
        return _condition(address, "LOADING", err)
    if isinstance(err, (redis.ConnectionError, redis.TimeoutError)):
        return StoreUnavailableError(f"Redis at {address} is unreachable ({err}); is redis-server running?")
    if isinstance(err, redis.ResponseError) and error_code(err) in CONDITIONS:
        return _condition(address, error_code(err), err)
    return None


def _condition(address: str, code: str, err: redis.RedisError) -> StoreUnavailableError:
    reason, action = CONDITIONS[code]
    detail = _reply(err).removeprefix(code + " ")  # redis-py keeps the code in the text of codes it does not know
    return StoreUnavailableError(f"Redis at {address} refused the command ({code}: {detail}); {action}", reason)


@contextmanager
def outages_as_store_errors(client: redis.Redis) -> Iterator[None]:
    """Raise an outage (lost connection, BUSY, OOM, LOADING, READONLY...) as a StoreUnavailableError."""
    try:
        yield
    except redis.RedisError as err:
        mapped = as_store_error(client, err)
        if mapped is None:
            raise
        raise mapped from err
