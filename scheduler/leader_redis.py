"""The leader lease on Redis: each step one small Lua script, so the check and the change are one atomic step.

Keys, beside the job store's in the same namespace (and so in the same hash slot on a Redis Cluster):

    leader:<name>          string "token|holder", with a PX expiry: the lease (absent: free)
    leader:<name>:token    string last fencing token granted (INCR on every take, never reset)
    leader:<name>:memory   zset   "seq|kind|data" scored by the entry's time (ms): the leader's memory
    leader:<name>:seq      string last memory sequence number (keeps members unique and in write order)

Expiry is the server's: PX counts on Redis's clock, and pruning the memory reads Redis `TIME`, so no
caller's clock decides who leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from scheduler.leader import (
    DEFAULT_LEASE,
    MEMORY_LIMIT,
    LeaseHolder,
    MemoryEntry,
    NotLeaderError,
    check_entries,
    check_ttl,
)
from scheduler.redis_errors import outages_as_store_errors
from scheduler.redis_keys import prefix
from scheduler.redis_store import decoded_client

BATCH = 1000  # entries per script call: keeps the argument list within Lua's limits

# KEYS: lease, token; ARGV: holder, ttl_ms. A free lease is taken with a new token (SET ... PX, as SET NX
# would, but atomically with the INCR); the holder's own lease is extended. Returns the token, or 0.
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if not current then
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], token .. '|' .. ARGV[1], 'PX', ARGV[2])
  return token
end
local bar = string.find(current, '|', 1, true)
if bar and string.sub(current, bar + 1) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(string.sub(current, 1, bar - 1))
end
return 0
"""

# KEYS: lease; ARGV: "token|holder", ttl_ms. Compare and extend.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# KEYS: lease; ARGV: "token|holder". Compare and delete.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS: lease, memory, seq; ARGV: token, keep_ms, limit, then (at_ms, kind, data) per entry. Fenced: refused
# (0) unless the lease is held with this token. Prunes what is older than keep_ms on Redis's clock, and
# beyond the limit the oldest; each write removes at most what writes added.
_REMEMBER = """
local current = redis.call('GET', KEYS[1])
if not current or string.sub(current, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. '|' then
  return 0
end
for i = 4, #ARGV, 3 do
  local seq = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[2], ARGV[i], string.format('%015d', seq) .. '|' .. ARGV[i + 1] .. '|' .. ARGV[i + 2])
end
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now_ms - tonumber(ARGV[2])))
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return 1
"""


class RedisLeaderLease:
    """The LeaderLease port (scheduler.leader) on Redis."""

    def __init__(self, client: redis.Redis | str, namespace: str = "ebbflow", name: str = DEFAULT_LEASE) -> None:
        self.client = decoded_client(client)
        base = f"{prefix(namespace)}leader:{name}"
        self.lease_key, self.token_key = base, f"{base}:token"
        self.memory_key, self.seq_key = f"{base}:memory", f"{base}:seq"
        self._acquire = self.client.register_script(_ACQUIRE)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)
        self._remember = self.client.register_script(_REMEMBER)

    def acquire(self, holder: str, ttl_ms: int) -> int | None:
        check_ttl(ttl_ms)
        token = int(self._call(self._acquire, [self.lease_key, self.token_key], [holder, ttl_ms]))
        return token or None

    def renew(self, holder: str, token: int, ttl_ms: int) -> bool:
        check_ttl(ttl_ms)
        return bool(self._call(self._renew, [self.lease_key], [f"{token}|{holder}", ttl_ms]) == 1)

    def release(self, holder: str, token: int) -> bool:
        return bool(self._call(self._release, [self.lease_key], [f"{token}|{holder}"]) == 1)

    def current(self) -> LeaseHolder | None:
        with outages_as_store_errors(self.client):
            value = self.client.get(self.lease_key)
        if value is None:
            return None
        token, _, holder = str(value).partition("|")
        return LeaseHolder(holder, int(token))

    def remember(self, token: int, entries: Sequence[MemoryEntry], keep_ms: int) -> None:
        check_entries(entries)
        keys = [self.lease_key, self.memory_key, self.seq_key]
        for start in range(0, max(len(entries), 1), BATCH):
            args: list[Any] = [token, keep_ms, MEMORY_LIMIT]
            for entry in entries[start : start + BATCH]:
                args += (entry.at_ms, entry.kind, entry.data)
            if self._call(self._remember, keys, args) != 1:
                raise NotLeaderError(f"fencing token {token} no longer holds the leader lease; nothing written")

    def recall(self) -> list[MemoryEntry]:
        with outages_as_store_errors(self.client):
            members: list[tuple[str, float]] = self.client.zrange(  # type: ignore[assignment]
                self.memory_key, -MEMORY_LIMIT, -1, withscores=True
            )
        entries = []
        for member, score in members:
            parts = str(member).split("|", 2)
            if len(parts) == 3:  # anything else was not written by remember(): skipped, never trusted
                entries.append(MemoryEntry(int(score), parts[1], parts[2]))
        return entries

    def close(self) -> None:
        """The client is the caller's (often the job store's): it stays open."""

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        with outages_as_store_errors(self.client):
            return script(keys=keys, args=args)
