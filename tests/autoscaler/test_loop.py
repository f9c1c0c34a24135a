"""The autoscaler's loop on a real SQLite store, acting through a fake fleet that records calls."""

from __future__ import annotations

from pathlib import Path

from autoscaler.config import AutoscalerConfig
from autoscaler.decision_log import DecisionLog
from autoscaler.fleet import FleetError, FleetNode
from autoscaler.loop import Autoscaler
from dispatcher.markets import Market
from scheduler.queue import Scheduler
from tests.autoscaler.fake_fleet import FakeFleet
from tests.autoscaler.snapshots import NOW_MS, PRICES, TYPES


def make(scheduler, tmp_path: Path, fleet: FakeFleet, **config) -> Autoscaler:
    return Autoscaler(
        scheduler,
        fleet,
        AutoscalerConfig(**config),
        DecisionLog(tmp_path / "decisions.jsonl"),
        busy_slots=lambda: {Market.SPOT: 0},
        clock=lambda: NOW_MS / 1000,
    )


def queue(scheduler: Scheduler, count: int, seconds: float = 60.0) -> None:
    jobs = [scheduler.prepare("sleep", {"seconds": seconds}, tenant=f"t{i % 4}") for i in range(count)]
    scheduler.submit_many(jobs)


def test_queued_work_launches_and_the_decision_is_logged(scheduler, tmp_path):
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    queue(scheduler, 2000)  # 2000 x 1 s expected (the type's estimate) = 2000 work-s in a 6 h horizon
    autoscaler = make(scheduler, tmp_path, fleet)
    decision = autoscaler.tick()
    assert [(name, count) for name, count, _ in fleet.launched] == [("spot-a", 1)]
    assert fleet.launched[0][2] == f"ebbflow-{NOW_MS // 1000}-spot-a"
    logged = DecisionLog(tmp_path / "decisions.jsonl").tail(5)
    assert len(logged) == 1 and logged[0]["launches"] == {"spot-a": 1} and logged[0]["pending"] == 2000
    assert decision.need_slots[Market.SPOT] > 0


def test_a_dry_run_acts_on_nothing_and_logs_nothing(scheduler, tmp_path):
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    queue(scheduler, 2000)
    decision = make(scheduler, tmp_path, fleet).tick(dry_run=True)
    assert decision.launches == {"spot-a": 1}
    assert fleet.launched == [] and DecisionLog(tmp_path / "decisions.jsonl").tail(5) == []


def test_an_unreadable_fleet_is_a_hold_not_a_crash(scheduler, tmp_path):
    fleet = FakeFleet(TYPES, PRICES, broken=True)
    queue(scheduler, 2000)
    decision = make(scheduler, tmp_path, fleet).tick()
    assert decision.hold is not None and "cloud API unreachable" in decision.hold
    assert fleet.launched == []
    assert DecisionLog(tmp_path / "decisions.jsonl").tail(1)[0]["hold"] == decision.hold


def test_a_failing_launch_is_remembered_and_the_next_round_goes_elsewhere(scheduler, tmp_path):
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)], fail_launch={"spot-a"})
    queue(scheduler, 2000)
    autoscaler = make(scheduler, tmp_path, fleet, guard={"scale_up_cooldown_s": 0})
    autoscaler.tick()
    assert fleet.launched == []
    autoscaler.tick()
    assert [name for name, _, _ in fleet.launched] == ["spot-b"]


def test_reported_capacity_errors_steer_the_choice(scheduler, tmp_path):
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    fleet.pending_errors = [FleetError("spot-a", "capacity", NOW_MS / 1000 - 5, "InsufficientInstanceCapacity")]
    queue(scheduler, 2000)
    make(scheduler, tmp_path, fleet).tick()
    assert [name for name, _, _ in fleet.launched] == ["spot-b"]


def test_a_node_that_vanishes_undrained_counts_as_a_preemption(scheduler, tmp_path):
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0), FleetNode("a1", "spot-a", "running", 0)])
    autoscaler = make(scheduler, tmp_path, fleet)
    autoscaler.observe(NOW_MS / 1000)
    fleet.fleet = [n for n in fleet.fleet if n.node_id != "a1"]
    snapshot = autoscaler.observe(NOW_MS / 1000 + 60)
    assert snapshot.preemptions == {"spot-a": 1}


def test_a_drained_node_going_away_is_not_a_preemption(scheduler, tmp_path):
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0), FleetNode("a1", "spot-a", "running", 0)])
    autoscaler = make(scheduler, tmp_path, fleet)
    decision = autoscaler.tick()  # nothing queued: the idle spot node is drained
    assert decision.drains == ("a1",) and fleet.drained[0][0] == ("a1",)
    assert autoscaler.observe(NOW_MS / 1000 + 60).preemptions == {}


def test_jobs_the_dispatcher_holds_without_a_slot_are_demand(scheduler, tmp_path):
    # given nothing pending in the store, but 2000 jobs leased by the dispatcher in this process that no slot
    # of their markets can take (the spot pool was drained to zero just before they arrived)
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0)])
    background = len(scheduler.config.levels) - 1
    blind = make(scheduler, tmp_path, fleet)
    assert blind.tick().launches == {} and fleet.launched == []  # without them the fleet would never grow back
    seeing = make(scheduler, tmp_path, fleet)
    seeing.unplaced = lambda: {(background, "sleep"): 2000}
    # when the autoscaler decides, it counts them as queued work and launches spot capacity for them
    decision = seeing.tick()
    assert [(name, count) for name, count, _ in fleet.launched] == [("spot-a", 1)]
    assert DecisionLog(tmp_path / "decisions.jsonl").tail(1)[0]["pending"] == 2000
    assert decision.need_slots[Market.SPOT] > 0


def test_ondemand_slots_the_dispatcher_holds_below_the_top_are_not_the_top_levels(scheduler, tmp_path):
    # given an on-demand node whose 4 slots all run jobs below the top level (levels its plan sent there)
    fleet = FakeFleet(TYPES, PRICES, [FleetNode("od-1", "od", "running", 0, running_jobs=4)])
    blind = make(scheduler, tmp_path, fleet)
    blind.busy_slots = lambda: {Market.SPOT: 0, Market.ON_DEMAND: 4}
    # without the dispatcher's word, they count as the top level's and the reserve kept for it grows by them
    assert blind.tick(dry_run=True).ondemand_reserve == 4
    # when the dispatcher in this process says which on-demand slots its lower levels hold, they do not
    seeing = make(scheduler, tmp_path, fleet)
    seeing.busy_slots = blind.busy_slots
    seeing.ondemand_below_top = lambda: 4
    assert seeing.tick(dry_run=True).ondemand_reserve == 0
