"""Two heads on one store, each running what `run_head` runs around the dispatcher (the leader lease, and the
autoscaler under it, ebbflow.head), in threads, against one cloud. The cloud never lists the nodes it was asked
for (an eventually consistent API at its worst), so every round the policy wants another node and only the
guard stops it: one head's worth per round, the hourly cap for both heads together, across a failover.

The leader is killed (its thread stops without giving the lease up) and the other head's takeover is timed.
Short lease times (TTL 1 s, renew every 0.25 s) keep the test quick; docs/heads.md has the defaults measured."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.decision_log import DecisionLog
from autoscaler.fleet import FleetError, FleetNode, NodeType
from autoscaler.loop import Autoscaler
from autoscaler.memory import GuardMemory
from dispatcher.markets import Market
from ebbflow.head import Every
from ebbflow.leadership import Leadership
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.leader import LeaderLease
from scheduler.leader_redis import RedisLeaderLease
from scheduler.leader_sqlite import SQLiteLeaderLease
from scheduler.queue import Scheduler
from scheduler.registry import JobTypeRegistry
from scheduler.sqlite_store import SQLiteStore
from tests.autoscaler.snapshots import PRICES, TYPES
from tests.autoscaler.test_loop import queue
from tests.stores import delete_redis_keys, redis_client

pytestmark = pytest.mark.timeout(120)
TTL_S = 1.0
RENEW_S = 0.25
PERIOD_S = 0.05  # the autoscaler's round
PER_DECISION = 1
PER_HOUR = 8
GUARD = GuardConfig(max_launch_per_decision=PER_DECISION, max_launch_per_hour=PER_HOUR, scale_up_cooldown_s=0)


@dataclass
class Cloud:
    """The one cloud both heads act on: it records every launch, by head, and lists none of them."""

    launches: list[tuple[float, str, int]] = field(default_factory=list)  # (monotonic time, head, count)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def launched_by(self, head: str) -> int:
        with self.lock:
            return sum(count for _, who, count in self.launches if who == head)

    def total(self) -> int:
        with self.lock:
            return sum(count for _, _, count in self.launches)


@dataclass
class HeadsFleet:
    """One head's Fleet port onto the cloud."""

    cloud: Cloud
    head: str

    def node_types(self) -> list[NodeType]:
        return list(TYPES)

    def nodes(self) -> list[FleetNode]:
        return [FleetNode("od-1", "od", "running", 0)]

    def launch(self, node_type: str, count: int, request_id: str) -> None:
        with self.cloud.lock:
            self.cloud.launches.append((time.monotonic(), self.head, count))

    def drain(self, node_ids: Sequence[str], request_id: str) -> None:
        raise AssertionError("nothing runs, nothing is drained")

    def poll_errors(self) -> list[FleetError]:
        return []

    def spot_prices(self) -> dict[str, float]:
        return dict(PRICES)


class Head:
    """What run_head runs between dispatcher steps: the lease, then the autoscaler while it leads."""

    def __init__(self, name: str, lease: LeaderLease, store_path: Path, cloud: Cloud, tmp_path: Path) -> None:
        self.name = name
        self.store = SQLiteStore(store_path, levels=4)
        scheduler = Scheduler(self.store, registry=JobTypeRegistry(BUILTIN_TYPES))
        self.autoscaler = Autoscaler(
            scheduler,
            HeadsFleet(cloud, name),
            AutoscalerConfig(period_s=PERIOD_S, guard=GUARD),
            DecisionLog(tmp_path / f"{name}.jsonl"),
            busy_slots=lambda: {Market.SPOT: 0},
        )
        self.lease = lease
        self.leadership = Leadership(
            lease,
            name,
            TTL_S,
            RENEW_S,
            on_gain=lambda token: self.autoscaler.take_over(GuardMemory(lease, token)),
            on_loss=self.autoscaler.step_down,
        )
        tick = self.leadership.fenced(self.autoscaler.tick)
        self.hooks = [self.leadership.step, self.leadership.while_leader(Every(PERIOD_S, tick))]
        self.killed = threading.Event()
        self.led_at: float | None = None  # monotonic time it first led
        self.rounds = 0
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while not self.killed.is_set():
            for hook in self.hooks:
                hook()
            if self.leadership.is_leader and self.led_at is None:
                self.led_at = time.monotonic()
            self.rounds += 1
            self.killed.wait(0.01)  # a dispatcher step

    def close(self) -> None:
        self.killed.set()
        self.thread.join(10)
        self.lease.close()
        self.store.close()


@pytest.fixture(params=["sqlite", "redis"])
def heads(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Head, Head, Cloud]]:
    store_path, cloud = tmp_path / "q.db", Cloud()
    namespace, clients = f"t-{uuid.uuid4().hex}", []

    def lease() -> LeaderLease:
        if request.param == "sqlite":
            return SQLiteLeaderLease(store_path)
        clients.append(redis_client())
        return RedisLeaderLease(clients[-1], namespace)

    store = SQLiteStore(store_path, levels=4)
    queue(Scheduler(store, registry=JobTypeRegistry(BUILTIN_TYPES)), 2000)
    store.close()
    a = Head("head-a", lease(), store_path, cloud, tmp_path)
    b = Head("head-b", lease(), store_path, cloud, tmp_path)
    yield a, b, cloud
    a.close()
    b.close()
    for client in clients:
        client.close()
    if request.param == "redis":
        delete_redis_keys(namespace)


def wait_for(condition: object, limit_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < limit_s, f"{what}: not within {limit_s} s"
        time.sleep(0.005)
    return time.monotonic() - started


def test_two_heads_launch_one_heads_worth_and_the_cap_holds_across_a_failover(
    heads: tuple[Head, Head, Cloud],
) -> None:
    a, b, cloud = heads
    a.thread.start()
    wait_for(lambda: a.leadership.is_leader, 5, "head-a leads")
    b.thread.start()
    # given head-a leading, half the hourly cap launched, head-b standing by
    wait_for(lambda: cloud.total() >= PER_HOUR // 2, 20, "half the hourly cap launched")
    # when head-a is killed: it stops without giving the lease up
    a.killed.set()
    a.thread.join(10)
    killed_at = time.monotonic()
    by_a = cloud.launched_by("head-a")
    wait_for(lambda: b.led_at is not None, TTL_S + RENEW_S + 2, "head-b takes over")
    assert b.led_at is not None
    takeover_s = b.led_at - killed_at
    # then head-b takes over within the TTL and one renew period (and not before the old lease could lapse)
    assert TTL_S - RENEW_S - 0.05 <= takeover_s <= TTL_S + RENEW_S + 0.5, takeover_s
    # and it launches the rest of the hourly cap, and no more, whatever it wants each round
    wait_for(lambda: cloud.total() >= PER_HOUR, 20, "the hourly cap launched")
    rounds_at_cap = b.rounds
    wait_for(lambda: b.rounds >= rounds_at_cap + 10 * PERIOD_S / 0.01, 10, "ten more autoscaler rounds of head-b")
    assert cloud.total() == PER_HOUR
    assert cloud.launched_by("head-b") == PER_HOUR - by_a
    with cloud.lock:
        launches = list(cloud.launches)
    # one head's worth per round: every launch is at most one decision's, and never from both heads at once
    assert all(count <= PER_DECISION for _, _, count in launches)
    assert all(at <= killed_at for at, who, _ in launches if who == "head-a")
    assert all(at >= killed_at for at, who, _ in launches if who == "head-b")
    print(f"takeover after a kill: {takeover_s:.3f} s (TTL {TTL_S} s, renew every {RENEW_S} s)")


def test_a_clean_stop_hands_over_within_one_renew_period(heads: tuple[Head, Head, Cloud]) -> None:
    a, b, _cloud = heads
    a.thread.start()
    wait_for(lambda: a.leadership.is_leader, 5, "head-a leads")
    b.thread.start()
    wait_for(lambda: b.rounds >= 3, 5, "head-b runs")
    assert not b.leadership.is_leader
    a.killed.set()
    a.thread.join(10)
    a.leadership.release()  # what run_head does on SIGTERM
    stopped_at = time.monotonic()
    wait_for(lambda: b.led_at is not None, RENEW_S + 2, "head-b takes over")
    assert b.led_at is not None and b.led_at - stopped_at <= RENEW_S + 0.5
