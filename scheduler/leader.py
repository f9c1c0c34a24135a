"""The leader lease: which head runs the singletons (autoscaler, maintenance, cron), and the memory they keep.

One holder at a time holds a named lease in the store for a TTL and renews it before it runs out; the store
judges expiry on its own clock (Redis: the key's PX expiry; SQLite: one machine), never the holder's. Each
time the lease changes hands the store hands out a new fencing token, larger than every earlier one, and the
holder's writes to the leader's memory carry it: a write with any token but the current holder's is refused,
so a deposed leader (paused, partitioned, or slow to notice) cannot add to what the next leader reads.

The memory is a short log of (time, kind, JSON text) entries: the autoscaler's recent actions, launch errors
and preemptions, which its guard reads for cooldowns and hourly caps. Entries older than `keep_ms` on the
store's clock are pruned on every write, and at most MEMORY_LIMIT are kept, so neither a write nor a read
grows with the hours a cluster has run.

Two implementations: scheduler.leader_redis.RedisLeaderLease and scheduler.leader_sqlite.SQLiteLeaderLease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from scheduler.errors import SchedulerError

MEMORY_LIMIT = 10_000  # entries kept per lease: an hour of a busy autoscaler is a few hundred
DEFAULT_LEASE = "head"  # the name of the head's singleton lease


class NotLeaderError(SchedulerError):
    """A write carried a fencing token that no longer holds the lease: this process is not the leader."""


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    at_ms: int  # when it happened, on the writer's clock
    kind: str  # what it is (the writer's vocabulary, e.g. "action"); no "|"
    data: str  # JSON text (never pickled: the store is shared)


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    holder: str
    token: int


class LeaderLease(Protocol):
    """One named lease in the store, and its holder's fenced memory."""

    def acquire(self, holder: str, ttl_ms: int) -> int | None:
        """Take the lease if nobody holds it (a new fencing token), or extend it if `holder` does (its token);
        None while another holder has it."""
        ...

    def renew(self, holder: str, token: int, ttl_ms: int) -> bool:
        """Extend the lease by `ttl_ms` from now, if `holder` still holds it with `token`; False otherwise."""
        ...

    def release(self, holder: str, token: int) -> bool:
        """Give the lease up at once (a clean stop), if still held with `token`; False otherwise."""
        ...

    def current(self) -> LeaseHolder | None:
        """Who holds the lease now, and with which token; None when it is free (or expired)."""
        ...

    def remember(self, token: int, entries: Sequence[MemoryEntry], keep_ms: int) -> None:
        """Add `entries` to the memory, fenced: NotLeaderError unless `token` holds the lease now. Entries
        older than `keep_ms` are dropped. With no entries, it only checks the fence."""
        ...

    def recall(self) -> list[MemoryEntry]:
        """The memory kept, oldest first (at most MEMORY_LIMIT entries)."""
        ...

    def close(self) -> None: ...


def check_entries(entries: Sequence[MemoryEntry]) -> None:
    """ValueError for an entry a store could not keep faithfully (a kind with '|' or none)."""
    for entry in entries:
        if not entry.kind or "|" in entry.kind:
            raise ValueError(f"memory entry kind must be non-empty and without '|', got {entry.kind!r}")


def check_ttl(ttl_ms: int) -> None:
    if ttl_ms <= 0:
        raise ValueError(f"ttl_ms must be positive, got {ttl_ms}")
