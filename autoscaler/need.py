"""How many slots the work needs, per market: the first step of decide, pure like it.

Two parts of the load, in slots (work-seconds per second):
* the queue: each level's queued work over its horizon (urgent: its SLA; the wait the oldest job has
  already had and the least deadline slack shorten it; never shorter than the start-up lag, since no new
  node helps sooner); at the top of the hour, the cron work about to arrive over `scheduled_horizon_s`;
* the stream: work arriving per second lately (`Demand.arrival_work_s`), which needs slots of its own
  while the queue is worked off. Busy slots are no measure of it: a fleet with a queue is all busy
  whatever the arrivals, so sizing by busy + queued grows every round, and by max(busy, queued) leaves
  no room for a wave that must be done before the running jobs end.
The target slack goes on top, and the need is never below the slots running jobs hold now.

Where the stream is not known (a Demand without `arrival_work_s`), busy slots stand in for it: the need
is max(busy, queued x slack) (`_with_running`).

The top level has on-demand slots of its own: enough that an urgent job finds one free on arrival with
probability 1 - `urgent_blocking` (Erlang's loss formula on the urgent stream), on top of the slots long
deadline-promoted jobs hold, never fewer than the floor of `min_ondemand_nodes`. Spot is asked only for
the top-level work those cannot take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from autoscaler.config import AutoscalerConfig
from autoscaler.snapshot import Demand, Snapshot
from dispatcher.markets import Market

TOP_LEVEL = 0


@dataclass
class Load:
    """Slots asked for by queued work and by the arrival stream, per market and for the top level."""

    queued: dict[Market, float] = field(default_factory=lambda: dict.fromkeys(Market, 0.0))
    stream: dict[Market, float] = field(default_factory=lambda: dict.fromkeys(Market, 0.0))
    top_queued: float = 0.0  # of queued[SPOT]: top-level work that on-demand slots may take
    top_stream: float = 0.0  # of stream[SPOT]
    streams_known: bool = True


def need_slots(snapshot: Snapshot, config: AutoscalerConfig, reasons: list[str]) -> dict[Market, float]:
    """Slots wanted per market (the on-demand entry: the whole on-demand pool, floor included)."""
    load = _load(snapshot, config, reasons)
    slack = 1 + config.target_slack
    floor = floor_slots(snapshot, config)
    busy = {market: float(snapshot.busy_slots.get(market, 0)) for market in Market}
    od_only = load.queued[Market.ON_DEMAND] + load.stream[Market.ON_DEMAND]
    if load.streams_known:
        # on-demand slots held beyond what the urgent stream keeps busy on average are held by long jobs
        # (a deadline promotion): the urgent headroom comes on top of them
        held = max(0.0, busy[Market.ON_DEMAND] - load.top_stream - od_only)
        urgent = erlang_slots(load.top_stream, config.urgent_blocking) + held
        ondemand = max(floor, urgent + od_only * slack, busy[Market.ON_DEMAND])
        for_top = max(0.0, ondemand - od_only * slack)  # on-demand slots the top level may use
        top_left = max(0.0, load.top_stream + load.top_queued - for_top)  # top-level work left for spot
        spot_load = load.stream[Market.SPOT] + load.queued[Market.SPOT] - load.top_stream - load.top_queued
        spot = max(busy[Market.SPOT], (spot_load + top_left) * slack)
        reasons.append(
            f"spot: {load.stream[Market.SPOT] - load.top_stream:.1f} slots of work arriving, "
            f"{load.queued[Market.SPOT] - load.top_queued:.1f} for the queue, {top_left:.1f} urgent beyond on-demand, "
            f"+{config.target_slack:.0%}; {busy[Market.SPOT]:.0f} busy: need {spot:.1f}"
        )
        if urgent > floor:
            reasons.append(
                f"on-demand: {urgent:.0f} slots keep an urgent job's chance of waiting under "
                f"{config.urgent_blocking:.1%} ({load.top_stream:.1f} slots of urgent work arriving)"
            )
        return {Market.SPOT: spot, Market.ON_DEMAND: ondemand}
    floor_free = max(0.0, floor - load.queued[Market.ON_DEMAND])
    spot_queued = max(0.0, load.queued[Market.SPOT] - min(load.top_queued, floor_free))
    return {
        Market.SPOT: _with_running(busy[Market.SPOT], spot_queued, slack),
        Market.ON_DEMAND: max(floor, _with_running(busy[Market.ON_DEMAND], load.queued[Market.ON_DEMAND], slack)),
    }


def _load(snapshot: Snapshot, config: AutoscalerConfig, reasons: list[str]) -> Load:
    load = Load(streams_known=bool(snapshot.demand))
    for demand in snapshot.demand:
        if not (math.isfinite(demand.work_s) and demand.work_s >= 0):
            reasons.append(f"{demand.job_type}: queued work {demand.work_s} is not a number of seconds; left out")
            continue  # the guard holds on it anyway; decide itself must never fail on a bad input
        queued = demand.work_s / _horizon(demand, config)
        stream = demand.arrival_work_s
        if stream is None or not (math.isfinite(stream) and stream >= 0):
            load.streams_known = False
            stream = 0.0
        cap = demand.spot_cap_slots
        if demand.markets == "spot" and cap is not None and queued + stream > cap:
            reasons.append(f"{demand.job_type}: needs {queued + stream:.1f} spot slots, capped at {cap}")
            queued, stream = cap * queued / (queued + stream), cap * stream / (queued + stream)
        market = Market.ON_DEMAND if demand.markets == "on-demand" else Market.SPOT
        load.queued[market] += queued
        load.stream[market] += stream
        if demand.level == TOP_LEVEL and market is Market.SPOT and demand.markets != "spot":
            load.top_queued += queued
            load.top_stream += stream
    to_hour = 3600 - snapshot.at_s % 3600
    if snapshot.scheduled_work_s > 0 and to_hour <= config.startup_lag_s + config.period_s:
        load.queued[Market.SPOT] += snapshot.scheduled_work_s / config.scheduled_horizon_s
        reasons.append(f"top of the hour in {to_hour:.0f} s: {snapshot.scheduled_work_s:.0f} work-s of cron jobs")
    return load


def _horizon(demand: Demand, config: AutoscalerConfig) -> float:
    horizon = config.horizon_s(demand.level)
    if math.isfinite(demand.oldest_wait_s) and demand.oldest_wait_s > 0:
        # the horizon is a target wait: the oldest job has already used part of it
        horizon = max(horizon - demand.oldest_wait_s, config.min_horizon_s)
    if demand.min_slack_s is not None and math.isfinite(demand.min_slack_s):
        horizon = min(horizon, max(demand.min_slack_s, config.min_horizon_s))
    # A node asked for now takes work only after the start-up lag: sizing for a shorter horizon
    # launches nodes that arrive after the work is gone (the floor and running nodes serve it).
    return max(horizon, config.startup_lag_s)


def _with_running(busy: float, queued: float, slack: float) -> float:
    """Slots wanted without a known arrival stream: the queued work's, with slack, but never fewer than
    the running jobs hold. Not busy + queued: while a queue waits every slot is busy, and each slot takes
    queued work as soon as its job ends, so counting both asks for more capacity every round until the
    queue is gone. With nothing queued, the slack is kept on the running jobs, as headroom."""
    if queued <= 0:
        return busy * slack
    return max(busy, queued * slack)


def floor_slots(snapshot: Snapshot, config: AutoscalerConfig) -> float:
    ondemand = [t for t in snapshot.node_types if t.market is Market.ON_DEMAND]
    return float(config.min_ondemand_nodes * min((t.slots for t in ondemand), default=0))


def erlang_slots(offered: float, blocking: float) -> int:
    """The fewest slots that turn away at most `blocking` of the arrivals of `offered` Erlangs (work
    arriving per second, in slot-seconds) when every slot is busy: Erlang's B formula, by its recurrence
    B(0) = 1, B(n) = a B(n-1) / (n + a B(n-1))."""
    if not (math.isfinite(offered) and offered > 0) or blocking >= 1:
        return 0
    turned_away, slots = 1.0, 0
    while turned_away > blocking and slots < 100_000:
        slots += 1
        turned_away = offered * turned_away / (slots + offered * turned_away)
    return slots
