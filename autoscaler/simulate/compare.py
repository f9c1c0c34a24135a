"""Run several policies over one trace and compare them with the offline lower bound and with two
on-demand yardsticks: a fixed fleet sized for the peak hour (the static peak on-demand baseline: what the
service paid before spot) and an on-demand fleet autoscaled on the same need (what it would pay without spot
today, the honest measure of what spot saves)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from autoscaler.config import AutoscalerConfig, GuardConfig
from autoscaler.simulate.engine import SimConfig, SimPolicy, Simulation
from autoscaler.simulate.market_baselines import OnDemandAutoscaled, UniformProgressBaseline
from autoscaler.simulate.model import Trace
from autoscaler.simulate.policies import DemandBased, Ours, StaticPeak, TargetTracking, peak_slots
from autoscaler.simulate.results import SimResult
from dispatcher.markets import Market

POLICIES = (
    "ours",
    "static-ondemand",
    "static-spot",
    "target-tracking",
    "demand",
    "on-demand-autoscaled",
    "uniform-progress",
)
YARDSTICKS = ("static-ondemand", "on-demand-autoscaled")  # always run: the ratios are taken to them
ACCEPTABLE_WAIT_S = 900.0  # target tracking's acceptable queueing delay (the daily level's horizon)


# The production guard's defaults (50 nodes, $20/h) suit a first deployment, not a week of a million jobs
# (about 480 busy slots on average): the simulation lifts them, keeping every other rule.
SIMULATION_GUARD = GuardConfig(
    max_nodes=2000, budget_per_hour=1000.0, max_launch_per_decision=200, max_launch_per_hour=5000
)


def make_policy(name: str, trace: Trace, config: AutoscalerConfig | None = None) -> SimPolicy:
    if name == "ours":
        return Ours(config or AutoscalerConfig(guard=SIMULATION_GUARD))
    if name == "static-ondemand":
        return StaticPeak(Market.ON_DEMAND, peak_slots(trace))
    if name == "static-spot":
        return StaticPeak(Market.SPOT, peak_slots(trace))
    if name == "target-tracking":
        mean_work = float(trace.arrivals.work_s.mean()) if len(trace.arrivals) else 1.0
        return TargetTracking(ACCEPTABLE_WAIT_S, mean_work)
    if name == "demand":
        return DemandBased()
    if name == "on-demand-autoscaled":
        # an on-demand fleet has no spot market to wait out: it drains what it no longer needs at once
        return OnDemandAutoscaled(config or AutoscalerConfig(guard=SIMULATION_GUARD, ondemand_hold_s=0.0))
    if name == "uniform-progress":
        return UniformProgressBaseline(config or AutoscalerConfig(guard=SIMULATION_GUARD))
    raise ValueError(f"policy {name!r} is not one of {', '.join(POLICIES)} (or 'all')")


def sim_config(name: str, base: SimConfig) -> SimConfig:
    # A fleet of on-demand nodes only must serve every level (there is no spot pool to serve the rest).
    if name in ("static-ondemand", "on-demand-autoscaled"):
        return SimConfig(**{**base.__dict__, "ondemand_all_levels": True})
    return base


@dataclass(frozen=True)
class Comparison:
    results: list[SimResult]
    bound_cost: float | None
    all_ondemand_cost: float | None  # static peak on-demand: what the service paid before spot
    names: tuple[str, ...] = ()  # the policy names asked for, in the order of `results`
    ondemand_autoscaled_cost: float | None = None  # the same need on on-demand only: what spot saves


def compare(
    trace: Trace,
    names: Sequence[str],
    base: SimConfig | None = None,
    config: AutoscalerConfig | None = None,
    bound: Callable[[Trace], float] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Comparison:
    base = base or SimConfig()
    results: dict[str, SimResult] = {}
    wanted = list(dict.fromkeys([*names, *YARDSTICKS]))
    for name in wanted:
        policy = make_policy(name, trace, config)
        report = (lambda share, n=name: progress(n, share)) if progress else None
        started = time.perf_counter()
        results[name] = Simulation(trace, policy, sim_config(name, base)).run(report)
        results[name].wall_s = time.perf_counter() - started
    return Comparison(
        [results[name] for name in names],
        bound(trace) if bound is not None else None,
        results["static-ondemand"].total_cost,
        tuple(names),
        results["on-demand-autoscaled"].total_cost,
    )
