"""decide: a pure function Snapshot x AutoscalerConfig -> Decision. No I/O, no clock, no randomness.

Read as a list of named steps:
1. need (need.py): each level's work in slots (its stream, or the season's forecast, plus its queue over
   its horizon), the urgent reserve on on-demand (Erlang's loss formula), the market each level's work
   goes to (deadlines.py: on-demand for what spot cannot deliver before it is due), and spare slots per
   level (slack.py); never fewer than running jobs hold now.
2. have: slots of nodes running or launching (launching ones arrive within the start-up lag, so they are
   not asked for twice); draining nodes do not count.
3. on-demand: launch up to what need asked for now; drain only what it no longer keeps (spot running must
   have taken the work over) and not within `ondemand_hold_s` of the last on-demand launch.
4. spot: launch the deficit over the best-ranked healthy types (choose.py), spread over the close ones;
   replace nodes of a type whose price spiked; or drain the surplus once nothing is launching, the
   nodes cheapest to retire first.
5. elastic work gets spot slots from the budget per hour the rest leaves, never more.
The decision also says where jobs may run (`ondemand_levels`, `ondemand_reserve`): the dispatcher lets
those levels use the on-demand slots beyond the reserve, so the work bought on-demand runs there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from autoscaler.choose import (
    allocate,
    drain_cost,
    live_nodes,
    per_slot_price,
    per_type,
    pick_drains,
    rank_spot_types,
    spread_width,
)
from autoscaler.config import AutoscalerConfig
from autoscaler.deadlines import SpotOutlook
from autoscaler.fleet import FleetNode, NodeType
from autoscaler.need import Need, plan_need
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market


@dataclass(frozen=True, slots=True)
class Decision:
    launches: Mapping[str, int] = field(default_factory=dict)  # node type -> nodes to add
    drains: tuple[str, ...] = ()  # node ids to retire
    reasons: tuple[str, ...] = ()
    clamps: tuple[str, ...] = ()  # what the guard cut, and why
    hold: str | None = None  # the guard refused to act at all
    need_slots: Mapping[Market, float] = field(default_factory=dict)
    have_slots: Mapping[Market, int] = field(default_factory=dict)
    # where jobs may run until the next decision: levels below the top whose work on-demand takes now
    # (spot cannot make it in time), beyond the on-demand slots kept for the top level
    ondemand_levels: tuple[int, ...] = ()
    ondemand_reserve: int = 0
    ondemand_for: Mapping[int, float] = field(default_factory=dict)  # level -> on-demand slots bought for it

    @property
    def acts(self) -> bool:
        return bool(self.drains) or any(n > 0 for n in self.launches.values())


def decide(snapshot: Snapshot, config: AutoscalerConfig, outlook: SpotOutlook | None = None) -> Decision:
    """`outlook` replaces what spot can deliver (a baseline that trusts spot always); default: observed."""
    reasons: list[str] = []
    need = plan_need(snapshot, config, reasons, outlook)
    have = _have(snapshot)
    launches: dict[str, int] = {}
    drains: list[str] = []
    _ondemand(snapshot, config, need, launches, drains, reasons)
    spot_need = need.spot + _elastic_slots(snapshot, config, need, launches, reasons)
    _spot(snapshot, config, spot_need, have[Market.SPOT], launches, drains, reasons)
    return Decision(
        launches,
        tuple(drains),
        tuple(reasons),
        need_slots={Market.SPOT: spot_need, Market.ON_DEMAND: need.ondemand},
        have_slots=have,
        ondemand_levels=need.ondemand_levels,
        ondemand_reserve=need.reserve,
        ondemand_for={m.level: round(m.ondemand, 2) for m in need.markets if m.ondemand > 0},
    )


def _have(snapshot: Snapshot) -> dict[Market, int]:
    have = dict.fromkeys(Market, 0)
    for node in live_nodes(snapshot):
        node_type = snapshot.node_type(node.node_type)
        if node_type is not None:
            have[node_type.market] += node_type.slots
    return have


def ondemand_actions(
    snapshot: Snapshot, config: AutoscalerConfig, need: Need
) -> tuple[dict[str, int], tuple[str, ...], tuple[str, ...]]:
    """What the on-demand pool alone would do for `need`: launches, drains and reasons (a fleet without
    spot, such as the on-demand autoscaled baseline, is sized by this step only)."""
    launches: dict[str, int] = {}
    drains: list[str] = []
    reasons: list[str] = []
    _ondemand(snapshot, config, need, launches, drains, reasons)
    return launches, tuple(drains), tuple(reasons)


def _ondemand(
    snapshot: Snapshot,
    config: AutoscalerConfig,
    need: Need,
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
    wanted = max(config.min_ondemand_nodes, math.ceil(need.ondemand / cheapest.slots - 1e-9))  # has the floor
    kept = max(wanted, math.ceil(need.ondemand_keep / cheapest.slots - 1e-9))
    # as on spot, a need that wobbles must not launch and drain by turns: the surplus beyond what is kept
    # must also exceed a margin of what is kept above the floor before a node goes
    margin = max(0.0, need.ondemand_keep - config.min_ondemand_nodes * cheapest.slots) * config.drain_margin
    surplus = sum(_slots(snapshot, n.node_type) for n in nodes) - kept * cheapest.slots - margin
    if len(nodes) < wanted:
        launches[cheapest.name] = wanted - len(nodes)
        reasons.append(f"on-demand: {len(nodes)} nodes, {wanted} wanted (floor {config.min_ondemand_nodes})")
    elif len(nodes) > kept and not _bought_lately(snapshot, config, names):
        types_by_name = {t.name: t for t in types}
        for node in pick_drains(snapshot, nodes, types_by_name, surplus, config.hourly_billing):
            drains.append(node.node_id)
            reasons.append(f"on-demand: drain {node.node_id}, more than the {kept} wanted")
    elif len(nodes) > wanted:
        reasons.append(f"on-demand: {len(nodes)} nodes kept, {kept} until spot running takes their work")


def _bought_lately(snapshot: Snapshot, config: AutoscalerConfig, names: set[str]) -> bool:
    """An on-demand launch within `ondemand_hold_s`: a market that just failed may fail again."""
    return any(
        a.kind == "launch" and a.node_type in names and snapshot.at_s - a.at_s < config.ondemand_hold_s
        for a in snapshot.actions
    )


def _elastic_slots(
    snapshot: Snapshot, config: AutoscalerConfig, need: Need, launches: Mapping[str, int], reasons: list[str]
) -> float:
    """Spot slots for elastic work: what the budget per hour leaves once the fleet and the launches it
    asked for are paid, at the best spot price per slot; elastic work never displaces the rest."""
    if need.elastic <= 0:
        return 0.0
    ranked, _ = rank_spot_types(snapshot, config)
    if not ranked:
        return 0.0
    per_slot = per_slot_price(snapshot, ranked[0][1])
    spent = sum(_hourly_price(snapshot, n.node_type) for n in live_nodes(snapshot))
    spent += sum(_hourly_price(snapshot, name) * count for name, count in launches.items())
    other_spot = max(0.0, need.spot - sum(_spot_slots_up(snapshot)))  # still to be launched for the rest
    left = config.guard.budget_per_hour - spent - other_spot * per_slot
    granted = min(need.elastic, max(0.0, left) / per_slot) if per_slot > 0 else 0.0
    reasons.append(
        f"elastic: {need.elastic:.1f} slots of work could run; ${max(0.0, left):.2f}/h of the "
        f"${config.guard.budget_per_hour:.2f}/h budget is left: {granted:.1f} slots"
    )
    return granted


def _spot_slots_up(snapshot: Snapshot) -> list[int]:
    slots = []
    for node in live_nodes(snapshot):
        node_type = snapshot.node_type(node.node_type)
        if node_type is not None and node_type.market is Market.SPOT:
            slots.append(node_type.slots)
    return slots


def _hourly_price(snapshot: Snapshot, name: str) -> float:
    node_type = snapshot.node_type(name)
    if node_type is None:
        return 0.0
    return per_slot_price(snapshot, node_type) * node_type.slots


def _spot(
    snapshot: Snapshot,
    config: AutoscalerConfig,
    need: float,
    have: float,
    launches: dict[str, int],
    drains: list[str],
    reasons: list[str],
) -> None:
    deficit = need - have
    spot_types = {t.name: t for t in snapshot.node_types if t.market is Market.SPOT}
    nodes = [n for n in live_nodes(snapshot) if n.node_type in spot_types]
    ranked, skipped = rank_spot_types(snapshot, config)
    best = per_slot_price(snapshot, ranked[0][1]) if ranked else None
    dear = _to_replace(snapshot, config, nodes, spot_types, best)
    if dear:
        deficit += sum(spot_types[n.node_type].slots for n in dear)
        reasons.append(
            f"spot: {len(dear)} nodes cost over {1 + config.replace_above:.2f}x the best type per slot; replace them"
        )
    if deficit > 0:
        reasons.extend(skipped)
        spread = spread_width(ranked, config)
        added = allocate(deficit, [node_type for _, node_type in ranked], per_type(nodes), spread)
        for name, count in added.items():
            launches[name] = launches.get(name, 0) + count
        nothing = "nothing (every healthy type is at its max_nodes)" if ranked else "nothing (no healthy type)"
        reasons.append(f"spot: {deficit:.1f} slots short; launch {_describe(added) or nothing}")
        return
    if any(n.state == "launching" for n in nodes):
        return  # they were asked for on purpose: let them arrive before judging a surplus
    for node in dear:
        drains.append(node.node_id)
        reasons.append(f"spot: drain {node.node_id}, its replacement is up")
    rest = [n for n in nodes if n not in dear]
    surplus = -deficit - need * config.drain_margin  # a need that wobbles must not launch and drain by turns
    for node in pick_drains(snapshot, rest, spot_types, surplus, config.hourly_billing, best):
        drains.append(node.node_id)
        reasons.append(f"spot: {-deficit:.1f} slots more than needed; drain {node.node_id} ({node.running_jobs} jobs)")


def _to_replace(
    snapshot: Snapshot,
    config: AutoscalerConfig,
    nodes: list[FleetNode],
    types: dict[str, NodeType],
    best_per_slot: float | None,
) -> list[FleetNode]:
    """Running spot nodes whose type now costs over `1 + replace_above` times the best type per slot (a
    price spike) and whose jobs end soon enough that draining them saves money."""
    if best_per_slot is None:
        return []
    dear = []
    for node in nodes:
        node_type = types[node.node_type]
        per_slot = per_slot_price(snapshot, node_type)
        if (
            node.state == "running"
            and per_slot > best_per_slot * (1 + config.replace_above)
            and drain_cost(node, node_type, per_slot, best_per_slot) < 0
        ):
            dear.append(node)
    return dear


def _slots(snapshot: Snapshot, name: str) -> int:
    node_type = snapshot.node_type(name)
    return node_type.slots if node_type is not None else 0


def _describe(launches: Mapping[str, int]) -> str:
    return ", ".join(f"{count} x {name}" for name, count in sorted(launches.items()))
