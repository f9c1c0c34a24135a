"""What a Redis must be to hold the queue, checked once when a RedisStore opens (one round trip).

- `maxmemory-policy noeviction`: under any other policy a full Redis deletes keys to make room, and an evicted
  job record, queue or lease index loses jobs without a trace. Under noeviction it refuses writes instead (OOM),
  which the store reports as an outage to wait out (scheduler.redis_errors).
- Redis 6.2 or newer: ack.lua trims the finished-job log with `LPOP key count` and redis_reads.py reads ages
  with `ZMSCORE`, both new in 6.2.

Managed services often disable CONFIG; then `INFO memory` (maxmemory_policy) tells the policy. The version comes
from `INFO server` (redis_version). When neither tells, a warning is logged and the store opens all the same.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis

from scheduler.errors import ConfigError
from scheduler.redis_errors import address_of, as_store_error, outages_as_store_errors

REQUIRED_POLICY = "noeviction"
MIN_VERSION = (6, 2, 0)
_log = logging.getLogger(__name__)


def check_server(client: redis.Redis) -> None:
    """Raise ConfigError (one line: the setting and the fix) if the server would lose or refuse our data."""
    address = address_of(client)
    with outages_as_store_errors(client):
        pipe = client.pipeline(transaction=False)
        pipe.config_get("maxmemory-policy")
        pipe.info("server")
        config, server = pipe.execute(raise_on_error=False)
        for answer in (config, server):
            _raise_outage(client, answer)
        policy = _policy(client, config)
    version = _answer(server, "redis_version")
    if policy is None or version is None:
        missing = " and ".join(name for name, v in (("maxmemory-policy", policy), ("version", version)) if v is None)
        _log.warning(
            "Redis at %s does not tell its %s (CONFIG and INFO refused): make sure it runs Redis >= %s with "
            "maxmemory-policy noeviction, or jobs may be lost",
            address,
            missing,
            _dotted(MIN_VERSION),
        )
    for problem in (policy_problem(address, policy), version_problem(address, version)):
        if problem is not None:
            raise ConfigError(problem)


def policy_problem(address: str, policy: str | None) -> str | None:
    """What is wrong with this maxmemory-policy, and the fix, in one line; None if nothing (or unknown)."""
    if policy is None or policy == REQUIRED_POLICY:
        return None
    return (
        f"Redis at {address} has maxmemory-policy {policy}; ebbflow needs {REQUIRED_POLICY} (an evicted key "
        f"loses jobs): set `maxmemory-policy {REQUIRED_POLICY}` in redis.conf or "
        f"`CONFIG SET maxmemory-policy {REQUIRED_POLICY}`"
    )


def version_problem(address: str, version: str | None) -> str | None:
    """What is wrong with this server version, and the fix, in one line; None if nothing (or unknown)."""
    if version is None or _parsed(version) >= MIN_VERSION:
        return None
    return (
        f"Redis at {address} is version {version}; ebbflow needs {_dotted(MIN_VERSION)} or newer (its scripts "
        "use LPOP with a count and ZMSCORE): upgrade redis-server"
    )


def _policy(client: redis.Redis, config: Any) -> str | None:
    if isinstance(config, dict) and config.get("maxmemory-policy"):
        return _text(config["maxmemory-policy"])
    try:  # CONFIG refused (a managed service) or hidden: INFO memory says it too
        memory: Any = client.info("memory")
    except redis.ResponseError as refused:
        _raise_outage(client, refused)
        return None
    return _answer(memory, "maxmemory_policy")


def _raise_outage(client: redis.Redis, answer: object) -> None:
    """A server busy, loading... at open is an outage (StoreUnavailableError), not a server that hides facts."""
    if isinstance(answer, redis.RedisError) and as_store_error(client, answer) is not None:
        raise answer


def _answer(info: Any, field: str) -> str | None:
    if not isinstance(info, dict) or info.get(field) is None:
        return None
    return _text(info[field])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parsed(version: str) -> tuple[int, ...]:
    """(major, minor, patch): "7.2" is (7, 2, 0), "7.0.15-rc1" (7, 0, 15)."""
    parts = [int(m.group()) if (m := re.match(r"\d+", part)) else 0 for part in version.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(v) for v in version)
