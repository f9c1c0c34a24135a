"""The simulation engine on small hand-made traces: jobs run on launched nodes, in MLFQ order; reclaimed
nodes lose work and requeue it; unavailable types fail to launch; billing per second or per hour."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autoscaler.decide import Decision
from autoscaler.simulate.engine import SimConfig, Simulation
from autoscaler.simulate.model import Trace
from autoscaler.simulate.policies import Ours
from autoscaler.simulate.warmup import prelude
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
    hourly = Simulation(
        trace, FixedFleet({"od-a": 1}), SimConfig(startup_lag_s=(0.0, 0.0), billing="hour", warmup_s=0.0)
    ).run()
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


def test_a_warm_start_meets_the_first_jobs_with_a_running_fleet() -> None:
    # two hours of background work with short urgent jobs among it, each due a minute after it arrives
    rng = np.random.default_rng(4)
    at = np.sort(rng.uniform(0, 7200, 2000))
    level = np.where(rng.random(2000) < 0.2, 0, 3)
    deadline = np.where(level == 0, at + 60, np.nan)
    day = Trace(arrivals(at, level, np.where(level == 0, 10.0, 120.0), deadline), market(), 7200.0, START)
    cold = Simulation(day, Ours(), COLD).run()
    warm = Simulation(day, Ours(), SimConfig()).run()
    # started cold, no node is up before the first start-up lag is over: the first urgent jobs miss
    assert cold.levels[0].deadline_missed > 0 and warm.levels[0].deadline_missed == 0
    # the replayed hour before t = 0 is not the trace's: its jobs are not in the figures
    assert sum(level.jobs for level in warm.levels) == len(day.arrivals)
    assert warm.launches < cold.launches + 50 and warm.total_cost > 0


def test_the_prelude_is_the_trace_end_a_duration_earlier() -> None:
    # spot-a is out of capacity from t=80000 and costs 0.1 from t=85000; jobs at 86000 and 86300
    rows = [(80_000.0, 0, math.nan, 0, 0.0), (85_000.0, 0, 0.1, -1, 0.0), (86_300.0, 1, 0.2, -1, 0.5)]
    day = Trace(arrivals([10.0, 86_000.0, 86_300.0], [0, 1, 3], [5.0, 6.0, 7.0]), market(rows), 86_400.0, START)
    before = prelude(day, 1800.0)
    assert before.at_s == [-400.0, -100.0] and before.level == [1, 3] and before.work_s == [6.0, 7.0]
    # spot-a as it stands at t = 84,600 (out of capacity, price unchanged), spot-b's row after the cut
    assert before.market_rows[0][:2] == (-1800.0, 0) and before.market_rows[0][3] == 0
    assert math.isclose(before.market_rows[0][2], 0.064)
    assert before.market_rows[1][:2] == (-1800.0, 1)
    assert before.market_rows[2:] == [(-1400.0, 0, 0.1, -1, 0.0), (-100.0, 1, 0.2, -1, 0.5)]
    assert prelude(day, 0.0).jobs == 0 and prelude(day, 0.0).market_rows == []
    with pytest.raises(ValueError, match="warmup_s"):
        prelude(day, -1.0)


def test_paid_slot_time_is_told_apart_by_use() -> None:
    # a 4-slot spot node starting for 20 s, then 2 jobs of 100 s on it, then idle until the trace ends
    trace = Trace(arrivals([0.0, 0.0], [3, 3], [100.0, 100.0]), market(), 200.0, START)
    config = SimConfig(startup_lag_s=(20.0, 20.0), period_s=10.0, warmup_s=0.0)
    uses = Simulation(trace, FixedFleet({"spot-a": 1}), config).run().slot_s
    assert uses["starting"] == pytest.approx(4 * 10.0)  # sampled at t=10 (launched by the tick at t=0)
    assert uses["busy"] == pytest.approx(2 * 100.0)
    assert uses["idle"] == pytest.approx(2 * 100.0 + 4 * 90.0, abs=40.0)  # up to one period either side
    assert uses["draining idle"] == 0


def test_the_spot_price_premium_is_measured_against_the_cheapest_type_of_the_moment() -> None:
    # spot-a costs 0.064 (0.016 a slot), spot-b 0.17 / 3 (0.01417 a slot): a fleet on spot-a pays 12.9% more
    trace = Trace(arrivals([0.0], [3], [500.0]), market(), 1000.0, START)
    result = Simulation(trace, FixedFleet({"spot-a": 1}), NO_LAG).run()
    assert result.spot_price_premium == pytest.approx(0.064 / (0.17 / 3) - 1, rel=1e-6)


def test_a_job_that_could_not_run_twice_before_its_deadline_waits_at_the_top() -> None:
    # a spot node and an on-demand node; spot-a is reclaimed at t=300. Job 0 (500 s, due at 810) could not
    # survive a reclaim: the scheduler's deadline promotion sends it to the top level, whose on-demand
    # slots no reclaim takes. Job 1 (due at 1,210) starts on spot, loses its run at t=300, is promoted
    # then (410 s of slack < 500 s) and finishes on demand in time.
    reclaim = [(300.0, 0, math.nan, -1, 1.0)]
    trace = Trace(arrivals([10.0, 10.0], [3, 3], [500.0, 500.0], [810.0, 1210.0]), market(reclaim), 2000.0, START)
    result = Simulation(trace, FixedFleet({"spot-a": 1, "od-a": 1}), NO_LAG).run()
    assert result.jobs_preempted == 1 and result.work_lost_s == pytest.approx(290.0)
    background = result.levels[0]
    assert background.level == 3 and background.deadline_missed == 0 and background.unfinished == 0


def test_a_job_longer_than_the_promotion_limit_keeps_its_level() -> None:
    # only on-demand slots: a promoted job runs there, one past promote_max_run_s (1,800 s) never starts
    short = Trace(arrivals([0.0], [3], [600.0], [900.0]), market(), 4000.0, START)
    long = Trace(arrivals([0.0], [3], [2400.0], [3000.0]), market(), 4000.0, START)
    assert Simulation(short, FixedFleet({"od-a": 1}), NO_LAG).run().levels[0].unfinished == 0
    assert Simulation(long, FixedFleet({"od-a": 1}), NO_LAG).run().levels[0].unfinished == 1
