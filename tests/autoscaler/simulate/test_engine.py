"""The simulation engine on small hand-made traces: jobs run on launched nodes, in MLFQ order; reclaimed
nodes lose work and requeue it; unavailable types fail to launch; billing per second or per hour."""

from __future__ import annotations

import math

import pytest

from autoscaler.decide import Decision
from autoscaler.simulate.engine import SimConfig, Simulation
from autoscaler.simulate.model import Trace
from autoscaler.simulate.policies import Ours
from autoscaler.snapshot import Snapshot
from tests.autoscaler.simulate.small import START, arrivals, market, random_day

NO_LAG = SimConfig(startup_lag_s=(0.0, 0.0), warmup_s=0.0)
COLD = SimConfig(warmup_s=0.0)  # these small traces start from nothing: no replay of their end before them


class FixedFleet:
    """Launches the given nodes at the first tick, then nothing; records every snapshot it saw."""

    def __init__(self, launches: dict[str, int]) -> None:
        self.name = "fixed"
        self.launches = launches
        self.seen: list[Snapshot] = []

    def decide(self, snapshot: Snapshot) -> Decision:
        self.seen.append(snapshot)
        first, self.launches = self.launches, {}
        return Decision(launches=first)


def test_jobs_run_in_mlfq_order_on_the_nodes_launched() -> None:
    # one spot node of 4 slots, up at t=20; 8 background jobs then 2 urgent ones of 100 s queued at t=10
    trace = Trace(arrivals([10.0] * 10, [3] * 8 + [0] * 2, [100.0] * 10), market(), 1000.0, START)
    result = Simulation(trace, FixedFleet({"spot-a": 1}), SimConfig(startup_lag_s=(20.0, 20.0), warmup_s=0.0)).run()
    by_level = {summary.level: summary for summary in result.levels}
    assert by_level[0].wait_p99_s == pytest.approx(10.0)  # the urgent ones went first
    assert by_level[3].wait_p50_s == pytest.approx(110.0)  # 2 background jobs at 20, 4 at 120, 2 at 220
    assert by_level[3].wait_p99_s == pytest.approx(210.0, abs=1.0)
    assert all(summary.unfinished == 0 for summary in result.levels)


def test_per_second_and_hourly_billing() -> None:
    trace = Trace(arrivals([0.0], [0], [10.0]), market(), 1800.0, START)  # on-demand slots serve the top level
    per_second = Simulation(trace, FixedFleet({"od-a": 1}), NO_LAG).run()
    hourly = Simulation(trace, FixedFleet({"od-a": 1}), SimConfig(startup_lag_s=(0.0, 0.0), billing="hour", warmup_s=0.0)).run()
    assert per_second.total_cost == pytest.approx(0.192 * 1800 / 3600, rel=0.02)
    assert hourly.total_cost == pytest.approx(0.192)


def test_a_reclaim_wave_requeues_running_jobs_and_counts_the_lost_work() -> None:
    # 4 jobs of 600 s on one spot-a node, which is reclaimed at t=300; the fixed fleet then has nothing left
    trace = Trace(arrivals([0.0] * 4, [3] * 4, [600.0] * 4), market([(300.0, 0, math.nan, -1, 1.0)]), 2000.0, START)
    result = Simulation(trace, FixedFleet({"spot-a": 1}), NO_LAG).run()
    assert result.reclaimed == 1 and result.jobs_preempted == 4
    assert result.work_lost_s == pytest.approx(4 * 300.0)
    assert result.levels[0].unfinished == 4  # nobody replaced the node


def test_our_policy_replaces_reclaimed_capacity_and_finishes_everything() -> None:
    reclaim_b = [(7200.0, 1, math.nan, -1, 1.0), (7200.0, 0, math.nan, -1, 1.0)]
    result = Simulation(random_day(3000, rows=reclaim_b), Ours(), SimConfig(seed=2)).run()
    assert all(summary.unfinished == 0 for summary in result.levels)
    assert result.launches > 1 and result.total_cost > 0


def test_a_launch_into_a_type_without_capacity_fails_and_is_reported() -> None:
    trace = Trace(arrivals([0.0], [3], [10.0]), market([(0.0, 0, math.nan, 0, 0.0)]), 600.0, START)
    policy = FixedFleet({"spot-a": 1})
    result = Simulation(trace, policy, NO_LAG).run()
    assert result.launches == 0
    assert any(error.node_type == "spot-a" and error.kind == "capacity" for error in policy.seen[-1].errors)


def test_the_snapshot_carries_the_queue_and_the_fleet() -> None:
    trace = Trace(arrivals([0.0, 1.0], [0, 3], [100.0, 50.0], [80.0, math.nan]), market(), 200.0, START)
    policy = FixedFleet({})
    Simulation(trace, policy, SimConfig(period_s=30.0, warmup_s=0.0)).run()
    snapshot = policy.seen[1]  # at t=30: both jobs waiting, no node
    assert snapshot.at_s == START + 30
    assert [(d.level, d.pending, d.work_s) for d in snapshot.demand] == [(0, 1, 100.0), (3, 1, 50.0)]
    assert snapshot.demand[0].min_slack_s == pytest.approx(80.0 - 30.0 - 100.0)
    assert snapshot.spot_prices["spot-a"] == pytest.approx(0.064)
