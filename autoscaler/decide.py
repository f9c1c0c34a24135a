"""decide: a pure function Snapshot x AutoscalerConfig -> Decision. No I/O, no clock, no randomness.

Read as a list of named steps:
1. need (need.py): slots for the arrival stream and for each level's queued work within its horizon,
   the cron work about to arrive at the top of the hour, the target slack; on-demand slots for urgent
   work (Erlang's loss formula), never below the floor; never fewer than running jobs hold now.
2. have: slots of nodes running or launching (launching ones arrive within the start-up lag, so they are
   not asked for twice); draining nodes do not count.
3. on-demand: the pool need asked for (the floor, urgent headroom, on-demand-only work).
4. spot: launch the deficit over the best-ranked healthy types (choose.py), spread over the close ones;
   replace nodes of a type whose price spiked; or drain the surplus once nothing is launching, the
   nodes cheapest to retire first.
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
from autoscaler.fleet import FleetNode, NodeType
from autoscaler.need import need_slots
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

    @property
    def acts(self) -> bool:
        return bool(self.drains) or any(n > 0 for n in self.launches.values())


def decide(snapshot: Snapshot, config: AutoscalerConfig) -> Decision:
    reasons: list[str] = []
    need = need_slots(snapshot, config, reasons)
    have = _have(snapshot)
    launches: dict[str, int] = {}
    drains: list[str] = []
    _ondemand(snapshot, config, need[Market.ON_DEMAND], launches, drains, reasons)
    _spot(snapshot, config, need[Market.SPOT], have[Market.SPOT], launches, drains, reasons)
    return Decision(launches, tuple(drains), tuple(reasons), need_slots=need, have_slots=have)


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
    wanted = max(config.min_ondemand_nodes, math.ceil(need / cheapest.slots - 1e-9))  # need has the floor
    if len(nodes) < wanted:
        launches[cheapest.name] = wanted - len(nodes)
        reasons.append(f"on-demand: {len(nodes)} nodes, {wanted} wanted (floor {config.min_ondemand_nodes})")
    elif len(nodes) > wanted:
        surplus = sum(_slots(snapshot, n.node_type) for n in nodes) - wanted * cheapest.slots
        types_by_name = {t.name: t for t in types}
        for node in pick_drains(snapshot, nodes, types_by_name, surplus, config.hourly_billing):
            drains.append(node.node_id)
            reasons.append(f"on-demand: drain {node.node_id}, more than the {wanted} wanted")


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
