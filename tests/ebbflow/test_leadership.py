"""The head's side of the leader lease (ebbflow.leadership), on a real SQLite lease whose clock the test moves
together with the heads' monotonic clocks: who leads, how fast a standby takes over, and that a leader stops
acting before its lease could lapse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ebbflow.config import HeadSettings, Settings, SQLiteSettings, load_settings
from ebbflow.leadership import Leadership
from ebbflow.metrics import HeadMetrics, serve_metrics
from ebbflow.stores import open_leader_lease, open_store
from scheduler.clock import FakeClock
from scheduler.errors import ConfigError
from scheduler.leader import NotLeaderError
from scheduler.leader_sqlite import SQLiteLeaderLease

TTL_S = 15.0
RENEW_S = 5.0
TICK_S = 0.1  # one round of a head


class World:
    """One store clock and one monotonic clock for every head (they only ever move together here)."""

    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock()
        self.path = tmp_path / "q.db"
        self.leases: list[SQLiteLeaderLease] = []
        self.gains: list[tuple[str, int]] = []
        self.losses: list[str] = []

    def now(self) -> float:
        return self.clock.now_ms() / 1000

    def head(self, name: str) -> Leadership:
        lease = SQLiteLeaderLease(self.path, clock=self.clock)
        self.leases.append(lease)
        return Leadership(
            lease,
            name,
            TTL_S,
            RENEW_S,
            on_gain=lambda token: self.gains.append((name, token)),
            on_loss=lambda: self.losses.append(name),
            monotonic=self.now,
        )

    def run(self, heads: list[Leadership], seconds: float) -> None:
        """Every head's round, each TICK_S, for `seconds`; never two leaders at one instant."""
        for _ in range(round(seconds / TICK_S)):
            for head in heads:
                head.step()
            assert sum(head.is_leader for head in heads) <= 1
            self.clock.advance(TICK_S)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path)
    yield made
    for lease in made.leases:
        lease.close()


def test_one_head_leads_and_the_other_stands_by(world: World) -> None:
    a, b = world.head("head-a"), world.head("head-b")
    world.run([a, b], 60)
    assert a.is_leader and not b.is_leader
    assert world.gains == [("head-a", 1)] and world.losses == []


def test_a_standby_takes_over_a_killed_leader_within_the_ttl_and_one_renew_period(world: World) -> None:
    a, b = world.head("head-a"), world.head("head-b")
    world.run([a, b], 7)
    assert a.is_leader
    # when head-a is killed (it neither renews nor releases), head-b takes over
    killed_at = world.now()
    while not b.is_leader:
        world.run([b], TICK_S)
        assert not a.is_leader or not b.is_leader
        assert world.now() - killed_at <= TTL_S + RENEW_S + TICK_S
    takeover_s = world.now() - killed_at
    assert takeover_s >= TTL_S - RENEW_S  # its last renew was at most one renew period before the kill
    assert world.gains == [("head-a", 1), ("head-b", 2)]


def test_a_clean_stop_hands_over_within_one_renew_period(world: World) -> None:
    a, b = world.head("head-a"), world.head("head-b")
    world.run([a, b], 7)
    a.release()
    stopped_at = world.now()
    world.run([b], RENEW_S + TICK_S)
    assert b.is_leader and not a.is_leader
    assert world.gains[-1] == ("head-b", 2)
    assert world.now() - stopped_at <= RENEW_S + TICK_S
    world.run([a, b], 30)  # a stopped head does not take it back
    assert b.is_leader and not a.is_leader


def test_a_leader_that_cannot_renew_stops_before_its_lease_lapses(world: World) -> None:
    a, b = world.head("head-a"), world.head("head-b")
    world.run([a, b], 1)
    assert a.is_leader
    # when its rounds stall (a long step, a paused process): no renew for ttl - renew_every
    world.clock.advance(TTL_S - RENEW_S)
    # then it no longer acts as leader, although the store still says it holds the lease (no one could lead yet)
    assert not a.is_leader
    held = world.leases[0].current()
    assert held is not None and held.holder == "head-a"
    a.step()
    assert world.losses == ["head-a"]


def test_a_refused_fenced_write_deposes_the_leader(world: World) -> None:
    a = world.head("head-a")
    a.step()
    assert a.is_leader

    def refused() -> None:
        raise NotLeaderError("fencing token 1 no longer holds the leader lease")

    a.fenced(refused)()
    assert not a.is_leader and world.losses == ["head-a"] and a.changes == 2


def test_singletons_run_only_while_leading(world: World) -> None:
    a, b = world.head("head-a"), world.head("head-b")
    runs: list[str] = []
    a_hook, b_hook = a.while_leader(lambda: runs.append("a")), b.while_leader(lambda: runs.append("b"))
    for _ in range(3):
        for head, hook in ((a, a_hook), (b, b_hook)):
            head.step()
            hook()
    assert runs == ["a", "a", "a"]


def test_the_metrics_say_whether_this_head_leads(world: World, tmp_path: Path) -> None:
    settings = Settings(sqlite=SQLiteSettings(path=str(world.path)))
    a, b = world.head("head-a"), world.head("head-b")
    world.run([a, b], 1)
    gauges = {}
    for name, head in (("a", a), ("b", b)):
        server = serve_metrics(
            HeadMetrics(lambda: open_store(settings), settings.scheduler, leader=head), "127.0.0.1", 0
        )
        assert server is not None
        try:
            text = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10).text
        finally:
            server.close()
        gauges[name] = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert gauges["a"]["ebbflow_head_is_leader"] == 1 and gauges["b"]["ebbflow_head_is_leader"] == 0
    assert gauges["a"]["ebbflow_head_leadership_changes_total"] == 1
    assert gauges["b"]["ebbflow_head_leadership_changes_total"] == 0


def test_the_configured_store_gives_the_lease(tmp_path: Path) -> None:
    settings = Settings(sqlite=SQLiteSettings(path=str(tmp_path / "q.db")))
    store = open_store(settings)
    lease = open_leader_lease(settings, store)
    try:
        assert isinstance(lease, SQLiteLeaderLease) and lease.acquire("head-a", 1000) == 1
    finally:
        lease.close()
        store.close()


def test_a_renew_period_over_half_the_ttl_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EBBFLOW_HEAD__LEADER_TTL_S", "10")
    monkeypatch.setenv("EBBFLOW_HEAD__LEADER_RENEW_EVERY_S", "6")
    with pytest.raises(ConfigError, match="leader_renew_every_s"):
        load_settings()
    assert (HeadSettings().leader_ttl_s, HeadSettings().leader_renew_every_s) == (TTL_S, RENEW_S)
