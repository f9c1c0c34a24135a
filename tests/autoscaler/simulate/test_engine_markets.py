"""The engine's markets: on-demand slots serve the levels the decision sends there (beyond the top level's
reserve), checkpoints bound what a reclaim loses, a zone that goes out takes its launches with it, and a
deadline no policy could be sure of is counted apart."""

from __future__ import annotations

import math

import pytest

from autoscaler.decide import Decision
from autoscaler.simulate.engine import SimConfig, Simulation
from autoscaler.simulate.model import Trace
from autoscaler.snapshot import Snapshot
from tests.autoscaler.simulate.small import START, arrivals, market

NO_LAG = SimConfig(startup_lag_s=(0.0, 0.0), warmup_s=0.0)


class Plan:
    """Launches the given nodes at the first tick and always sends the given levels to on-demand."""

    def __init__(self, launches: dict[str, int], levels: tuple[int, ...] = (), reserve: int = 0) -> None:
        self.name = "plan"
        self.launches, self.levels, self.reserve = launches, levels, reserve
        self.seen: list[Snapshot] = []

    def decide(self, snapshot: Snapshot) -> Decision:
        self.seen.append(snapshot)
        first, self.launches = self.launches, {}
        return Decision(launches=first, ondemand_levels=self.levels, ondemand_reserve=self.reserve)


def _started(result_trace: Trace, policy: Plan) -> Simulation:
    simulation = Simulation(result_trace, policy, NO_LAG)
    simulation.run()
    return simulation


def test_a_level_the_decision_sends_to_on_demand_runs_there_beyond_the_reserve() -> None:
    # one on-demand node (4 slots), 1 slot kept for the top level, no spot node: 4 daily jobs of 100 s
    trace = Trace(arrivals([10.0] * 4, [1] * 4, [100.0] * 4), market(), 1000.0, START)
    simulation = _started(trace, Plan({"od-a": 1}, levels=(1,), reserve=1))
    started = simulation.times.started
    assert sorted(started) == pytest.approx([10.0, 10.0, 10.0, 110.0])  # 3 at once, the 4th when one ends
    assert all(level.unfinished == 0 for level in simulation.result.levels)


def test_a_level_the_decision_does_not_list_waits_for_spot() -> None:
    trace = Trace(arrivals([10.0] * 4, [1] * 4, [100.0] * 4), market(), 1000.0, START)
    simulation = _started(trace, Plan({"od-a": 1}, levels=(), reserve=1))
    assert all(math.isnan(t) for t in simulation.times.started)


def test_the_top_level_keeps_its_reserve() -> None:
    # 4 slots, a reserve of 2: two daily jobs start, the other two wait; an urgent job still finds a slot
    trace = Trace(arrivals([10.0] * 4 + [20.0], [1] * 4 + [0], [100.0] * 5), market(), 1000.0, START)
    simulation = _started(trace, Plan({"od-a": 1}, levels=(1,), reserve=2))
    assert simulation.times.started[4] == pytest.approx(20.0)
    assert sorted(simulation.times.started[:4]) == pytest.approx([10.0, 10.0, 110.0, 110.0])


def test_a_reclaim_loses_only_the_work_since_the_last_checkpoint() -> None:
    # 4 jobs of 600 s that checkpoint every 100 s, reclaimed at t=250: each keeps 200 s, loses 50 s
    rows = [(250.0, 0, math.nan, -1, 1.0)]
    trace = Trace(arrivals([0.0] * 4, [3] * 4, [600.0] * 4), market(rows), 3000.0, START, checkpoint_s={"job": 100.0})
    simulation = Simulation(trace, Plan({"spot-a": 1}), NO_LAG)
    result = simulation.run()
    assert result.work_lost_s == pytest.approx(4 * 50.0)
    assert simulation.left == pytest.approx([400.0] * 4)


def test_a_zone_that_goes_out_takes_the_launches_in_flight() -> None:
    # spot-a launched at t=0 with a 200 s start-up; at t=100 its capacity goes and every node is reclaimed
    rows = [(100.0, 0, math.nan, 0, 1.0)]
    trace = Trace(arrivals([0.0], [3], [50.0]), market(rows), 1000.0, START)
    simulation = Simulation(trace, Plan({"spot-a": 1}), SimConfig(startup_lag_s=(200.0, 200.0), warmup_s=0.0))
    result = simulation.run()
    assert result.levels[0].unfinished == 1 and not simulation.nodes


def test_a_reclaim_without_a_capacity_loss_spares_the_launches_in_flight() -> None:
    rows = [(100.0, 0, math.nan, -1, 1.0)]
    trace = Trace(arrivals([0.0], [3], [50.0]), market(rows), 1000.0, START)
    simulation = Simulation(trace, Plan({"spot-a": 1}), SimConfig(startup_lag_s=(200.0, 200.0), warmup_s=0.0))
    assert simulation.run().levels[0].unfinished == 0


def test_a_deadline_sooner_than_the_work_and_the_start_up_is_counted_apart() -> None:
    # two urgent jobs miss: one had 60 s for 60 s of work (only a slot waiting idle could make it), the
    # other 120 s for 10 s of work and a 30 s start-up (any policy could have)
    trace = Trace(arrivals([0.0, 0.0], [0, 0], [60.0, 10.0], [60.0, 120.0]), market(), 5000.0, START)
    policy = Plan({})
    result = Simulation(trace, policy, SimConfig(startup_lag_s=(30.0, 60.0), warmup_s=0.0)).run()
    urgent = result.levels[0]
    assert urgent.deadline_missed == 2 and urgent.missed_impossible == 1
