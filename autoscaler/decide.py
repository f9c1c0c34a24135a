"""decide: a pure function Snapshot x AutoscalerConfig -> Decision. No I/O, no clock, no randomness.

Read as a list of named steps:
1. need: slots to clear each level's queued work within its horizon (urgent: its SLA; the wait the oldest
   job has already had and a closer deadline shorten it; never shorter than the start-up lag, since no new
   node helps sooner), and at the top of the hour the cron work about to arrive; top-level work the
   on-demand floor can take is not asked of spot; then the target slack; never fewer slots than running
   jobs hold now (`_with_running`). A spot-only type with a spot cap (the crawl) never asks past its cap.
2. have: slots of nodes running or launching (launching ones arrive within the start-up lag, so they are
   not asked for twice); draining nodes do not count.
3. on-demand: keep `min_ondemand_nodes`, and enough for on-demand-only work.
4. spot: launch the deficit over the best-ranked healthy types (choose.py), or drain the surplus once
   nothing is launching.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from autoscaler.choose import allocate, live_nodes, per_type, pick_drains, rank_spot_types
from autoscaler.config import AutoscalerConfig
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market

TOP_LEVEL = 0


@dataclass(frozen=True, slots=True)
class Decision:
    launches: Mapping[str, int] = field(default_factory=dict)  # node type -> nodes to add
    drains: tuple[str, ...] = ()  # node ids to retire
    reasons: tuple[str, ...] = ()
    clamps: tuple[str, ...] = ()  # what the guard cut, and why
    hold: str | None = None  # the guard refused to act at all
    need_slots: Mapping[Market, float] = field(default_factory=dict)
    have_slots: Mapping[Market, int] = field(default_factory=dict)

    @property
    def acts(self) -> bool:
        return bool(self.drains) or any(n > 0 for n in self.launches.values())


def decide(snapshot: Snapshot, config: AutoscalerConfig) -> Decision:
    reasons: list[str] = []
    need = _need(snapshot, config, reasons)
    have = _have(snapshot)
    launches: dict[str, int] = {}
    drains: list[str] = []
    _ondemand(snapshot, config, need[Market.ON_DEMAND], launches, drains, reasons)
    _spot(snapshot, config, need[Market.SPOT] - have[Market.SPOT], launches, drains, reasons)
    return Decision(launches, tuple(drains), tuple(reasons), need_slots=need, have_slots=have)


def _need(snapshot: Snapshot, config: AutoscalerConfig, reasons: list[str]) -> dict[Market, float]:
    spot = ondemand = top = 0.0  # slots the queued work needs
    for demand in snapshot.demand:
        if not (math.isfinite(demand.work_s) and demand.work_s >= 0):
            reasons.append(f"{demand.job_type}: queued work {demand.work_s} is not a number of seconds; left out")
            continue  # the guard holds on it anyway; decide itself must never fail on a bad input
        horizon = config.horizon_s(demand.level)
        if math.isfinite(demand.oldest_wait_s) and demand.oldest_wait_s > 0:
            # the horizon is a target wait: the oldest job has already used part of it
            horizon = max(horizon - demand.oldest_wait_s, config.min_horizon_s)
        if demand.min_slack_s is not None and math.isfinite(demand.min_slack_s):
            horizon = min(horizon, max(demand.min_slack_s, config.min_horizon_s))
        # A node asked for now takes work only after the start-up lag: sizing for a shorter horizon
        # launches nodes that arrive after the work is gone (the floor and running nodes serve it).
        horizon = max(horizon, config.startup_lag_s)
        slots = demand.work_s / horizon
        if demand.markets == "spot" and demand.spot_cap_slots is not None and slots > demand.spot_cap_slots:
            reasons.append(f"{demand.job_type}: needs {slots:.1f} spot slots, capped at {demand.spot_cap_slots}")
            slots = demand.spot_cap_slots
        if demand.markets == "on-demand":
            ondemand += slots
        else:
            spot += slots
            top += slots if demand.level == TOP_LEVEL and demand.markets != "spot" else 0.0
    to_hour = 3600 - snapshot.at_s % 3600
    if snapshot.scheduled_work_s > 0 and to_hour <= config.startup_lag_s + config.period_s:
        spot += snapshot.scheduled_work_s / config.scheduled_horizon_s
        reasons.append(f"top of the hour in {to_hour:.0f} s: {snapshot.scheduled_work_s:.0f} work-s of cron jobs")
    floor_free = max(0.0, _floor_slots(snapshot, config) - ondemand)
    spot = max(0.0, spot - min(top, floor_free))  # urgent work the on-demand floor takes
    slack = 1 + config.target_slack
    return {
        market: _with_running(float(snapshot.busy_slots.get(market, 0)), queued, slack)
        for market, queued in ((Market.SPOT, spot), (Market.ON_DEMAND, ondemand))
    }


def _with_running(busy: float, queued: float, slack: float) -> float:
    """Slots wanted: the queued work's, with slack, but never fewer than the running jobs hold.

    Not busy + queued: while a queue waits every slot is busy, and each slot takes queued work as soon as
    its job ends, so counting both (let alone adding slack to the busy ones) asks for more capacity every
    round until the queue is gone (a 10,000-job burst once grew the simulated fleet to 600 nodes). With
    nothing queued, the slack is kept on the running jobs, as headroom for the next arrivals.
    """
    if queued <= 0:
        return busy * slack
    return max(busy, queued * slack)


def _floor_slots(snapshot: Snapshot, config: AutoscalerConfig) -> int:
    ondemand = [t for t in snapshot.node_types if t.market is Market.ON_DEMAND]
    return config.min_ondemand_nodes * min((t.slots for t in ondemand), default=0)


def _have(snapshot: Snapshot) -> dict[Market, int]:
    have = dict.fromkeys(Market, 0)
    for node in live_nodes(snapshot):
        node_type = snapshot.node_type(node.node_type)
        if node_type is not None:
            have[node_type.market] += node_type.slots
    return have


def _ondemand(
    snapshot: Snapshot,
    config: AutoscalerConfig,
    need: float,
    launches: dict[str, int],
    drains: list[str],
    reasons: list[str],
) -> None:
    types = sorted((t for t in snapshot.node_types if t.market is Market.ON_DEMAND), key=lambda t: t.ondemand_price)
    if not types:
        return
    cheapest = types[0]
    names = {t.name for t in types}
    nodes = [n for n in live_nodes(snapshot) if n.node_type in names]
    wanted = max(config.min_ondemand_nodes, math.ceil(need / cheapest.slots - 1e-9))
    if len(nodes) < wanted:
        launches[cheapest.name] = wanted - len(nodes)
        reasons.append(f"on-demand: {len(nodes)} nodes, {wanted} wanted (floor {config.min_ondemand_nodes})")
    elif len(nodes) > wanted:
        surplus = sum(_slots(snapshot, n.node_type) for n in nodes) - wanted * cheapest.slots
        types_by_name = {t.name: t for t in types}
        for node in pick_drains(nodes, types_by_name, surplus, snapshot.at_s, config.hourly_billing):
            drains.append(node.node_id)
            reasons.append(f"on-demand: drain {node.node_id}, more than the {wanted} wanted")


def _spot(
    snapshot: Snapshot,
    config: AutoscalerConfig,
    deficit: float,
    launches: dict[str, int],
    drains: list[str],
    reasons: list[str],
) -> None:
    spot_types = {t.name: t for t in snapshot.node_types if t.market is Market.SPOT}
    nodes = [n for n in live_nodes(snapshot) if n.node_type in spot_types]
    if deficit > 0:
        ranked, skipped = rank_spot_types(snapshot, config)
        reasons.extend(skipped)
        added = allocate(deficit, ranked, per_type(nodes), config.spread_types)
        for name, count in added.items():
            launches[name] = launches.get(name, 0) + count
        reasons.append(f"spot: {deficit:.1f} slots short; launch {_describe(added) or 'nothing (no healthy type)'}")
        return
    if any(n.state == "launching" for n in nodes):
        return  # they were asked for on purpose: let them arrive before judging a surplus
    for node in pick_drains(nodes, spot_types, -deficit, snapshot.at_s, config.hourly_billing):
        drains.append(node.node_id)
        reasons.append(f"spot: {-deficit:.1f} slots more than needed; drain {node.node_id} ({node.running_jobs} jobs)")


def _slots(snapshot: Snapshot, name: str) -> int:
    node_type = snapshot.node_type(name)
    return node_type.slots if node_type is not None else 0


def _describe(launches: Mapping[str, int]) -> str:
    return ", ".join(f"{count} x {name}" for name, count in sorted(launches.items()))
