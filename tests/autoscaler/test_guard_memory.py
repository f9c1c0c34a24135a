"""The autoscaler's memory in the store (autoscaler.memory): a restart or a failover keeps the guard's hourly cap,
cooldowns and launch failures, and a deposed leader launches nothing. Real stores: the lease lives in the
scheduler's SQLite file, or in a Redis namespace of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.decision_log import DecisionLog
from autoscaler.fleet import FleetNode
from autoscaler.loop import Autoscaler
from autoscaler.memory import GuardMemory, from_entries, to_entries
from dispatcher.markets import Market
from scheduler.leader import LeaderLease, MemoryEntry, NotLeaderError
from scheduler.leader_redis import RedisLeaderLease
from scheduler.leader_sqlite import SQLiteLeaderLease
from scheduler.queue import Scheduler
from tests.autoscaler.fake_fleet import FakeFleet
from tests.autoscaler.snapshots import NOW_MS, PRICES, TYPES
from tests.autoscaler.test_loop import queue
from tests.stores import delete_redis_keys, redis_client

TTL_MS = 60_000
ONE_PER_HOUR = GuardConfig(max_launch_per_hour=1, scale_up_cooldown_s=0)


@pytest.fixture(params=["sqlite", "redis"])
def lease(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LeaderLease]:
    if request.param == "sqlite":
        made = SQLiteLeaderLease(tmp_path / "q.db")  # the scheduler's own file (conftest)
        yield made
        made.close()
        return
    namespace, client = f"t-{uuid.uuid4().hex}", redis_client()
    yield RedisLeaderLease(client, namespace)
    client.close()
    delete_redis_keys(namespace)


def make(scheduler: Scheduler, tmp_path: Path, fleet: FakeFleet, at_s: float = NOW_MS / 1000) -> Autoscaler:
    return Autoscaler(
        scheduler,
        fleet,
        AutoscalerConfig(guard=ONE_PER_HOUR),
        DecisionLog(tmp_path / "decisions.jsonl"),
        busy_slots=lambda: {Market.SPOT: 0},
        clock=lambda: at_s,
    )


def fresh_fleet() -> FakeFleet:
    """The cloud as a restarted head sees it: the node launched before is not listed yet (eventual consistency),
    the very case in which a forgotten hourly cap launches again."""
    return FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])


def leader(lease: LeaderLease, holder: str) -> GuardMemory:
    token = lease.acquire(holder, TTL_MS)
    assert token is not None
    return GuardMemory(lease, token)


def test_the_hourly_cap_survives_a_restart(scheduler: Scheduler, tmp_path: Path, lease: LeaderLease) -> None:
    # given a leader that launched the hourly maximum (one node)
    queue(scheduler, 2000)
    first_fleet = fresh_fleet()
    first = make(scheduler, tmp_path, first_fleet)
    first.take_over(leader(lease, "head-1"))
    first.tick()
    assert [(name, count) for name, count, _ in first_fleet.launched] == [("spot-a", 1)]
    # when the head restarts (a new loop object, a new holder once the old lease is given up) ten minutes later
    assert lease.release("head-1", first.memory.token if first.memory else 0)
    fleet = fresh_fleet()
    restarted = make(scheduler, tmp_path, fleet, at_s=NOW_MS / 1000 + 600)
    restarted.take_over(leader(lease, "head-2"))
    decision = restarted.tick()
    # then the hourly cap still holds: nothing more is launched, and the clamp says why
    assert fleet.launched == []
    assert any("per hour" in clamp for clamp in decision.clamps)


def test_without_the_store_a_restart_would_launch_again(scheduler: Scheduler, tmp_path: Path) -> None:
    # the control: the same restart with the memory in process only forgets the cap
    queue(scheduler, 2000)
    make(scheduler, tmp_path, fresh_fleet()).tick()
    fleet = fresh_fleet()
    make(scheduler, tmp_path, fleet, at_s=NOW_MS / 1000 + 600).tick()
    assert [(name, count) for name, count, _ in fleet.launched] == [("spot-a", 1)]


def test_the_cap_lapses_an_hour_after_the_launch(scheduler: Scheduler, tmp_path: Path, lease: LeaderLease) -> None:
    queue(scheduler, 2000)
    first = make(scheduler, tmp_path, fresh_fleet())
    first.take_over(leader(lease, "head-1"))
    first.tick()
    fleet = fresh_fleet()
    later = make(scheduler, tmp_path, fleet, at_s=NOW_MS / 1000 + 3601)
    later.take_over(GuardMemory(lease, first.memory.token if first.memory else 0))
    later.tick()
    assert [name for name, _, _ in fleet.launched] == ["spot-a"]


def test_a_launch_failure_survives_a_failover(scheduler: Scheduler, tmp_path: Path, lease: LeaderLease) -> None:
    # given a leader whose launch of spot-a failed
    queue(scheduler, 2000)
    failing = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)], fail_launch={"spot-a"})
    first = make(scheduler, tmp_path, failing)
    first.take_over(leader(lease, "head-1"))
    first.tick()
    assert failing.launched == []
    # when another head takes over, its first round goes elsewhere, as the failed leader's next would have
    assert lease.release("head-1", first.memory.token if first.memory else 0)
    fleet = fresh_fleet()
    second = make(scheduler, tmp_path, fleet, at_s=NOW_MS / 1000 + 60)
    second.take_over(leader(lease, "head-2"))
    second.tick()
    assert [name for name, _, _ in fleet.launched] == ["spot-b"]


def test_a_deposed_leader_launches_nothing(scheduler: Scheduler, tmp_path: Path, lease: LeaderLease) -> None:
    # given a loop that took over with a token, and then the lease went to another head
    queue(scheduler, 2000)
    fleet = fresh_fleet()
    deposed = make(scheduler, tmp_path, fleet)
    memory = leader(lease, "head-1")
    deposed.take_over(memory)
    assert lease.release("head-1", memory.token)
    assert lease.acquire("head-2", TTL_MS) is not None
    # when it ticks, its fenced check before acting is refused: nothing launched, nothing written
    with pytest.raises(NotLeaderError):
        deposed.tick()
    assert fleet.launched == []
    assert lease.recall() == []


@dataclass
class RequestingFakeFleet(FakeFleet):
    """A fleet with one standing launch request, as Ray's is (floors per node type)."""

    standing: dict[str, int] = field(default_factory=dict)

    def floors(self) -> dict[str, int]:
        return dict(self.standing)

    def adopt_floors(self, floors: Mapping[str, int]) -> None:
        self.standing = {**self.standing, **floors}

    def launch(self, node_type: str, count: int, request_id: str) -> None:
        super().launch(node_type, count, request_id)
        self.standing[node_type] = self.standing.get(node_type, 0) + count


def test_a_new_leader_stands_on_the_old_leaders_launch_request(
    scheduler: Scheduler, tmp_path: Path, lease: LeaderLease
) -> None:
    queue(scheduler, 2000)
    old_fleet = RequestingFakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    first = make(scheduler, tmp_path, old_fleet)
    first.take_over(leader(lease, "head-1"))
    first.tick()
    assert old_fleet.standing == {"spot-a": 1}
    assert lease.release("head-1", first.memory.token if first.memory else 0)
    new_fleet = RequestingFakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    make(scheduler, tmp_path, new_fleet).take_over(leader(lease, "head-2"))
    assert new_fleet.standing == {"spot-a": 1}


def test_unreadable_entries_are_skipped() -> None:
    good = to_entries(from_entries([MemoryEntry(NOW_MS, "action", '["launch", "spot-a", 2]')]))
    bad = [
        MemoryEntry(NOW_MS, "action", "not json"),
        MemoryEntry(NOW_MS, "action", '["explode", "spot-a", 2]'),
        MemoryEntry(NOW_MS, "error", '["spot-a", "meteor", "x", ""]'),
        MemoryEntry(NOW_MS, "floors", '{"spot-a": -1}'),
        MemoryEntry(NOW_MS, "surprise", "{}"),
    ]
    remembered = from_entries([*bad, *good])
    assert [(a.kind, a.node_type, a.count) for a in remembered.actions] == [("launch", "spot-a", 2)]
    assert remembered.errors == [] and remembered.floors is None


def test_the_ray_fleet_adopts_floors_up_to_max_nodes_and_never_lowers_its_own() -> None:
    import dataclasses

    from autoscaler.memory import RequestingFleet
    from autoscaler.ray_fleet import RayFleet

    small = dataclasses.replace(TYPES[0], max_nodes=2)
    fleet = RayFleet([small, *TYPES[1:]])  # no Ray call until it requests or lists
    assert isinstance(fleet, RequestingFleet)
    fleet.adopt_floors({"spot-a": 5, "spot-b": 1, "gone-type": 3})
    fleet.adopt_floors({"spot-b": 0})
    assert fleet.floors() == {"spot-a": 2, "spot-b": 1, "spot-c": 0, "od": 0}
