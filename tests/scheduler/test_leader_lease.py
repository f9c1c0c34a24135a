"""The leader lease and its fenced memory, on both stores (scheduler.leader_redis, scheduler.leader_sqlite).

SQLite's lease runs on a clock the test moves; Redis's on the server's own (PX expiry), so there the tests use a
short TTL and poll for the condition."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scheduler.clock import FakeClock
from scheduler.leader import MEMORY_LIMIT, LeaderLease, LeaseHolder, MemoryEntry, NotLeaderError
from scheduler.leader_redis import RedisLeaderLease
from scheduler.leader_sqlite import SQLiteLeaderLease
from tests.stores import delete_redis_keys, leftover_redis_keys, redis_client

TTL_MS = 300
HOUR_MS = 3_600_000


@dataclass
class Lab:
    """Lease objects on one store (as separate heads would open them), and the store's notion of time."""

    kind: str
    tmp_path: Path
    clock: FakeClock = field(default_factory=FakeClock)
    namespace: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex}")
    opened: list[tuple[LeaderLease, Any]] = field(default_factory=list)

    def new(self) -> LeaderLease:
        lease: LeaderLease
        if self.kind == "sqlite":
            lease, client = SQLiteLeaderLease(self.tmp_path / "q.db", clock=self.clock), None
        else:
            client = redis_client()
            lease = RedisLeaderLease(client, self.namespace)
        self.opened.append((lease, client))
        return lease

    def now_ms(self) -> int:
        return self.clock.now_ms() if self.kind == "sqlite" else time.time_ns() // 1_000_000

    def wait_for(self, condition: Callable[[], Any], limit_s: float = 5.0) -> tuple[Any, float]:
        """Poll `condition` until it is truthy: its value and the seconds (the store's) it took."""
        started = self.now_ms()
        while not (value := condition()):
            assert self.now_ms() - started < limit_s * 1000, f"not within {limit_s} s"
            if self.kind == "sqlite":
                self.clock.advance(0.01)
            else:
                time.sleep(0.005)  # polling Redis, whose clock the test cannot move
        return value, (self.now_ms() - started) / 1000

    def close(self) -> None:
        for lease, client in self.opened:
            lease.close()
            if client is not None:
                client.close()
        if self.kind == "redis":
            delete_redis_keys(self.namespace)
            assert leftover_redis_keys(self.namespace) == []


@pytest.fixture(params=["sqlite", "redis"])
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    made = Lab(request.param, tmp_path)
    yield made
    made.close()


def test_only_one_of_two_holds_the_lease(lab: Lab) -> None:
    a, b = lab.new(), lab.new()
    token = a.acquire("head-a", TTL_MS)
    assert token is not None and token >= 1
    assert b.acquire("head-b", TTL_MS) is None
    assert b.current() == LeaseHolder("head-a", token)
    # the holder taking it again extends it with the same token
    assert a.acquire("head-a", TTL_MS) == token


def test_a_holder_that_stops_renewing_loses_the_lease_after_the_ttl(lab: Lab) -> None:
    a, b = lab.new(), lab.new()
    first = a.acquire("head-a", TTL_MS)
    assert first is not None
    assert a.renew("head-a", first, TTL_MS)
    taken_at = lab.now_ms()  # the last renew; a stops renewing here
    assert b.acquire("head-b", TTL_MS) is None
    second, _ = lab.wait_for(lambda: b.acquire("head-b", TTL_MS))
    waited_ms = lab.now_ms() - taken_at
    assert second > first  # a new fencing token with the new holder
    assert waited_ms >= TTL_MS - 20  # never before the TTL (Redis: less the round trip)
    assert waited_ms < TTL_MS + 2000
    assert b.current() == LeaseHolder("head-b", second)


def test_a_deposed_leader_cannot_renew_release_or_write(lab: Lab) -> None:
    a, b = lab.new(), lab.new()
    old = a.acquire("head-a", TTL_MS)
    assert old is not None
    a.remember(old, [MemoryEntry(lab.now_ms(), "action", '["launch", "spot-a", 3]')], HOUR_MS)
    new, _ = lab.wait_for(lambda: b.acquire("head-b", TTL_MS))
    assert not a.renew("head-a", old, TTL_MS)
    assert not a.release("head-a", old)
    with pytest.raises(NotLeaderError):
        a.remember(old, [MemoryEntry(lab.now_ms(), "action", '["launch", "spot-a", 99]')], HOUR_MS)
    with pytest.raises(NotLeaderError):
        a.remember(old, [], HOUR_MS)  # the fence alone
    b.remember(new, [MemoryEntry(lab.now_ms(), "action", '["launch", "spot-b", 1]')], HOUR_MS)
    assert [entry.data for entry in b.recall()] == ['["launch", "spot-a", 3]', '["launch", "spot-b", 1]']
    assert b.current() == LeaseHolder("head-b", new)


def test_a_lapsed_lease_refuses_its_old_holders_writes_even_with_nobody_else_holding_it(lab: Lab) -> None:
    a = lab.new()
    token = a.acquire("head-a", TTL_MS)
    assert token is not None
    lab.wait_for(lambda: a.current() is None)
    with pytest.raises(NotLeaderError):
        a.remember(token, [MemoryEntry(lab.now_ms(), "action", "[]")], HOUR_MS)
    assert not a.renew("head-a", token, TTL_MS)


def test_a_released_lease_is_taken_at_once_with_a_larger_token(lab: Lab) -> None:
    a, b = lab.new(), lab.new()
    first = a.acquire("head-a", 60_000)
    assert first is not None and a.release("head-a", first)
    assert a.current() is None
    second = b.acquire("head-b", 60_000)
    assert second is not None and second > first
    assert not a.release("head-a", first)  # a second release is refused, and b keeps it
    assert b.current() == LeaseHolder("head-b", second)


def test_the_memory_keeps_the_last_hour_in_write_order(lab: Lab) -> None:
    a = lab.new()
    token = a.acquire("head-a", 60_000)
    assert token is not None
    now = lab.now_ms()
    old = MemoryEntry(now - 2 * HOUR_MS, "action", '"two hours ago"')
    same_time = [MemoryEntry(now, "error", f'"{i}"') for i in range(12)]  # one ms: write order still kept
    a.remember(token, [old, *same_time], HOUR_MS)
    assert a.recall() == same_time


def test_the_memory_is_capped(lab: Lab) -> None:
    a = lab.new()
    token = a.acquire("head-a", 60_000)
    assert token is not None
    now = lab.now_ms()
    entries = [MemoryEntry(now, "action", f"{i}") for i in range(MEMORY_LIMIT + 5)]
    a.remember(token, entries, HOUR_MS)
    kept = a.recall()
    assert len(kept) == MEMORY_LIMIT and kept[0].data == "5" and kept[-1].data == str(MEMORY_LIMIT + 4)


def test_bad_input_names_the_field(lab: Lab) -> None:
    a = lab.new()
    with pytest.raises(ValueError, match="ttl_ms"):
        a.acquire("head-a", 0)
    token = a.acquire("head-a", 60_000)
    assert token is not None
    with pytest.raises(ValueError, match="kind"):
        a.remember(token, [MemoryEntry(0, "a|b", "{}")], HOUR_MS)
