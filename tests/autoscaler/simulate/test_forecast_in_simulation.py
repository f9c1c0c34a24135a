"""The season's forecast in the simulator: a rise that came yesterday at nine is launched for before nine
today, from the hours the simulation itself has seen (no history is handed to it)."""

from __future__ import annotations

import numpy as np

from autoscaler.config import AutoscalerConfig
from autoscaler.decide import Decision
from autoscaler.simulate.compare import SIMULATION_GUARD
from autoscaler.simulate.engine import SimConfig, Simulation
from autoscaler.simulate.model import Trace
from autoscaler.simulate.policies import Ours
from autoscaler.snapshot import Snapshot
from tests.autoscaler.simulate.small import START, arrivals, market

DAY_S = 86_400.0
NINE = 9 * 3600.0


def stepped_days(days: int = 2) -> Trace:
    """Weekly-level jobs of 60 s: 2 slots' worth all day, 40 from nine to noon, every day."""
    at: list[float] = []
    for day in range(days):
        quiet = np.arange(0.0, DAY_S, 30.0)  # one job every 30 s: 2 slots
        busy = np.arange(NINE, NINE + 3 * 3600.0, 1.5)  # one every 1.5 s from nine to noon: 40 slots
        at += list(day * DAY_S + np.sort(np.concatenate([quiet, busy])))
    n = len(at)
    return Trace(arrivals(at, [2] * n, [60.0] * n), market(), days * DAY_S, START)


class Watching:
    """Our policy, noting what it asked of spot at 08:57 on the second day."""

    def __init__(self, config: AutoscalerConfig) -> None:
        self.inner = Ours(config)
        self.name = self.inner.name
        self.asked: float | None = None

    def decide(self, snapshot: Snapshot) -> Decision:
        decision = self.inner.decide(snapshot)
        if snapshot.at_s - START == DAY_S + NINE - 180:
            self.asked = sum(d.forecast_work_s or 0.0 for d in snapshot.demand)
        return decision


def test_a_rise_seen_yesterday_is_forecast_before_it_comes() -> None:
    config = AutoscalerConfig(guard=SIMULATION_GUARD, startup_lag_s=240.0)
    watching = Watching(config)
    Simulation(stepped_days(), watching, SimConfig(startup_lag_s=(240.0, 240.0), warmup_s=0.0)).run()
    # three minutes before nine the stream is still 2 slots; yesterday's nine o'clock hour was 42: the
    # forecast (bounded at four times the present) asks for more
    assert watching.asked is not None and watching.asked > 3.0


def test_the_forecast_makes_the_rise_wait_less() -> None:
    waits = {}
    for forecast in (False, True):
        config = AutoscalerConfig(guard=SIMULATION_GUARD, startup_lag_s=240.0, forecast=forecast)
        simulation = Simulation(stepped_days(), Ours(config), SimConfig(startup_lag_s=(240.0, 240.0), warmup_s=0.0))
        simulation.run()
        second_nine = (np.array(simulation.arrived) >= DAY_S + NINE) & (
            np.array(simulation.arrived) < DAY_S + NINE + 600
        )
        started = np.array(simulation.times.started)[second_nine]
        waits[forecast] = float(np.mean(started - np.array(simulation.arrived)[second_nine]))
    assert waits[True] < waits[False] * 0.75, waits
