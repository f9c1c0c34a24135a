"""How many slots the work needs, per market: the first step of decide, pure like it.

1. Each level's load in slots (levels.py): its arrival stream (or the season's forecast, when higher) plus
   its queue over its horizon, split by where its job types may run.
2. The top level has on-demand slots of its own: enough that an urgent job finds one free on arrival with
   probability 1 - `urgent_blocking` (Erlang's loss formula on the urgent stream), on top of the slots long
   deadline-promoted jobs hold, never fewer than the floor of `min_ondemand_nodes`. These are the reserve
   the dispatcher keeps for the top level.
3. The rest of every level's work goes where it can be done in time (deadlines.py): spot when spot can
   deliver it before it is due, on-demand for what it cannot, level by level.
4. Spare slots per level (slack.py), sized from how much its arrivals vary and how long its jobs may wait,
   go with the level's work to its market; `target_slack` adds a flat share on top (0 by default).
The need is never below the slots running jobs hold now. Where the stream is not known (a Demand without
`arrival_work_s`: an observer that has not seen enough rounds yet), busy slots stand in for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from autoscaler.config import AutoscalerConfig
from autoscaler.deadlines import LevelMarkets, SpotOutlook, split_markets, spot_outlook
from autoscaler.levels import LevelLoad, level_loads
from autoscaler.slack import level_slack
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market

TOP_LEVEL = 0


@dataclass(frozen=True, slots=True)
class Need:
    spot: float  # spot slots wanted
    ondemand: float  # on-demand slots wanted now: the floor, the urgent reserve, work spot cannot make
    ondemand_keep: float  # on-demand slots not to give up yet (>= ondemand): spot running cannot take it all
    reserve: int  # on-demand slots kept for the top level
    ondemand_levels: tuple[int, ...] = ()  # levels below the top that may use on-demand beyond the reserve
    elastic: float = 0.0  # spot slots elastic work could use, if the budget leaves room
    markets: tuple[LevelMarkets, ...] = ()

    def slots(self) -> dict[Market, float]:
        return {Market.SPOT: self.spot, Market.ON_DEMAND: self.ondemand}


def need_slots(snapshot: Snapshot, config: AutoscalerConfig, reasons: list[str]) -> dict[Market, float]:
    """Slots wanted per market (the on-demand entry: the whole on-demand pool, floor included)."""
    return plan_need(snapshot, config, reasons).slots()


def plan_need(
    snapshot: Snapshot,
    config: AutoscalerConfig,
    reasons: list[str],
    outlook: SpotOutlook | None = None,
) -> Need:
    """The need per market; `outlook` (what spot can deliver) defaults to the snapshot's own."""
    loads = level_loads(snapshot, config, reasons)
    flat = 1 + config.target_slack
    floor = floor_slots(snapshot, config)
    busy = {market: float(snapshot.busy_slots.get(market, 0)) for market in Market}
    od_only = sum(load.ondemand_only for load in loads.values())
    top = loads.get(TOP_LEVEL)
    top_stream = top.flex_stream if top is not None else 0.0
    # on-demand slots held beyond the urgent stream by top-level jobs are held by long deadline-promoted
    # ones: the urgent headroom comes on top of them
    held = max(0.0, busy[Market.ON_DEMAND] - snapshot.ondemand_busy_below_top - top_stream - od_only)
    urgent = erlang_slots(top_stream, config.urgent_blocking) + held
    base = max(floor, urgent + od_only * flat)
    if top is not None:
        for_top = base - od_only * flat  # on-demand slots the top level has: the urgent pool, the floor
        top.flex = max(0.0, top.flex - for_top)
        top.ondemand_credit = max(0.0, for_top - top.flex_stream)  # beyond its stream's mean use
    split = split_markets(loads.values(), outlook or spot_outlook(snapshot, config))
    spot, ondemand, keep = _by_market(loads, split, config, reasons)
    streams_known = bool(snapshot.demand) and all(load.streams_known for load in loads.values())
    # no stream figure and nothing queued: the running jobs' slots, with the flat share as headroom
    known = streams_known or spot > 0
    spot_need = max(busy[Market.SPOT], spot * flat) if known else busy[Market.SPOT] * flat
    wanted = max(base + ondemand * flat, busy[Market.ON_DEMAND])
    _explain(reasons, busy, spot_need, urgent, floor, top_stream, config)
    return Need(
        spot=spot_need,
        ondemand=wanted,
        ondemand_keep=max(wanted, base + keep * flat),
        reserve=math.ceil(urgent - 1e-9),
        ondemand_levels=tuple(m.level for m in split if m.level != TOP_LEVEL and max(m.ondemand, m.keep) > 0),
        elastic=sum(load.elastic for load in loads.values()),
        markets=tuple(split),
    )


def _by_market(
    loads: dict[int, LevelLoad], split: list[LevelMarkets], config: AutoscalerConfig, reasons: list[str]
) -> tuple[float, float, float]:
    """Slots of work plus slack per market: spot, on-demand bought now, on-demand kept."""
    spot = ondemand = keep = 0.0
    parts = []
    for markets in split:
        load = loads[markets.level]
        total = load.total - load.ondemand_only
        slack = level_slack(load.spread, config.horizon_s(load.level), config) if total > 0 else 0.0
        od_share = min(1.0, markets.ondemand / total) if total > 0 else 0.0  # uniform progress may ask more
        spot += markets.spot + load.spot_only + slack * (1 - od_share)
        ondemand += markets.ondemand + slack * od_share
        keep += markets.keep + slack * (min(1.0, markets.keep / total) if total > 0 else 0.0)
        if markets.spot + load.spot_only > 0:
            on_spot = markets.spot + load.spot_only
            arriving = min(on_spot, load.stream * (1 - od_share))
            parts.append(
                f"level {load.level}: {arriving:.1f} slots of work arriving, {on_spot - arriving:.1f} for the queue"
                f" + {slack * (1 - od_share):.1f} slack"
            )
        if markets.reason:
            reasons.append(markets.reason)
    if parts:
        reasons.append("spot: " + "; ".join(parts))
    return spot, ondemand, keep


def _explain(
    reasons: list[str],
    busy: dict[Market, float],
    spot: float,
    urgent: float,
    floor: float,
    top_stream: float,
    config: AutoscalerConfig,
) -> None:
    flat = f" +{config.target_slack:.0%}" if config.target_slack else ""
    reasons.append(f"spot:{flat} {busy[Market.SPOT]:.0f} busy: need {spot:.1f}")
    if urgent > floor:
        reasons.append(
            f"on-demand: {urgent:.0f} slots keep an urgent job's chance of waiting under "
            f"{config.urgent_blocking:.1%} ({top_stream:.1f} slots of urgent work arriving)"
        )


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
