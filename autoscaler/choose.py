"""Which node types get new nodes, and which nodes go: price per slot, interruptions, failures, spread.

* A spot type is a candidate when its spot price is known and below its on-demand price, it had no
  capacity or price failure lately (or a node of it was launched since), its zone had no launch failure
  lately (`avoid_after_error_s`), and no
  node of it has been launching for longer than `launch_timeout_s` (a cloud that queues a request it cannot
  fill, as Ray's autoscaler does, never reports a capacity failure).
* Candidates are ranked by price per slot, raised by `interruption_penalty` times the type's preemptions
  per node in the last hour, so a cheap type that keeps vanishing loses to a steadier one.
* New nodes go round robin over the best `spread_types` candidates, so one type or zone running dry never
  takes the whole fleet with it. Sizes fall out of the slot arithmetic: when a 4-slot type is out of
  capacity, the next candidate with 2 slots gets twice as many nodes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from autoscaler.config import AutoscalerConfig
from autoscaler.fleet import FleetNode, NodeType
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market

TYPE_ERRORS = ("capacity", "price")  # the type itself cannot be had here now
ZONE_ERRORS = ("launch", "quota")  # launches in that zone fail whatever the type


def live_nodes(snapshot: Snapshot) -> list[FleetNode]:
    """Nodes that count as capacity: running or launching (a draining node is on its way out)."""
    return [node for node in snapshot.nodes if node.state != "draining"]


def per_type(nodes: Iterable[FleetNode]) -> Counter[str]:
    return Counter(node.node_type for node in nodes)


def rank_spot_types(snapshot: Snapshot, config: AutoscalerConfig) -> tuple[list[tuple[float, NodeType]], list[str]]:
    """Healthy spot types with their ranking price per slot, best first, and one reason per type left out."""
    recent = [e for e in snapshot.errors if snapshot.at_s - e.at_s <= config.avoid_after_error_s]
    # a node of the type asked for since its failure (launching or up) says it has capacity again
    newest: dict[str, float] = {}
    for node in snapshot.nodes:
        newest[node.node_type] = max(newest.get(node.node_type, -math.inf), node.since_s)
    failed_types = {
        e.node_type for e in recent if e.kind in TYPE_ERRORS and newest.get(e.node_type, -math.inf) < e.at_s
    }
    failed_zones = {t.zone for e in recent if e.kind in ZONE_ERRORS if (t := snapshot.node_type(e.node_type))}
    running = per_type(n for n in snapshot.nodes if n.state == "running")
    stuck = {
        n.node_type
        for n in snapshot.nodes
        if n.state == "launching" and snapshot.at_s - n.since_s > config.launch_timeout_s
    }
    ranked: list[tuple[float, NodeType]] = []
    skipped: list[str] = []
    for node_type in snapshot.node_types:
        if node_type.market is not Market.SPOT:
            continue
        price = snapshot.spot_prices.get(node_type.name)
        if node_type.name in failed_types:
            skipped.append(f"{node_type.name}: skipped, it failed to launch lately (no capacity or price)")
        elif node_type.name in stuck:
            timeout = config.launch_timeout_s
            skipped.append(f"{node_type.name}: skipped, a node of it is still launching after {timeout:.0f} s")
        elif node_type.zone in failed_zones:
            skipped.append(f"{node_type.name}: skipped, launches in {node_type.zone} failed lately")
        elif price is None or not math.isfinite(price) or price <= 0:
            skipped.append(f"{node_type.name}: skipped, no spot price known")
        elif price >= node_type.ondemand_price:
            skipped.append(f"{node_type.name}: skipped, spot price {price:.4f} >= on-demand {node_type.ondemand_price}")
        else:
            rate = snapshot.preemptions.get(node_type.name, 0) / max(1, running[node_type.name])
            ranked.append((price / node_type.slots * (1 + config.interruption_penalty * rate), node_type))
    ranked.sort(key=lambda pair: (pair[0], pair[1].name))
    return ranked, skipped


def spread_width(ranked: Sequence[tuple[float, NodeType]], config: AutoscalerConfig) -> int:
    """How many of the best types new nodes are spread over: up to `spread_types`, but only those within
    `spread_within` of the best price per slot. Spreading guards against one type running dry, yet
    half a fleet on a type 15% dearer costs 7% on every hour it runs."""
    if not ranked:
        return 1
    best = ranked[0][0]
    close = sum(1 for score, _ in ranked[: config.spread_types] if score <= best * (1 + config.spread_within))
    return max(1, close)


def allocate(slots: float, ranked: Sequence[NodeType], have: Counter[str], spread: int) -> dict[str, int]:
    """Nodes per type covering `slots`: each node goes to the type with the fewest new nodes among the best
    `spread` types that have room (ties: the better ranked).

    The types furthest behind are raised together, many rounds at a time, so a need of a million slots
    costs a few steps, not one per node.
    """
    launches: Counter[str] = Counter()
    remaining = slots
    while remaining > 0:
        open_types = [t for t in ranked if have[t.name] + launches[t.name] < t.max_nodes][:spread]
        if not open_types:
            break
        low = min(launches[t.name] for t in open_types)
        behind = [t for t in open_types if launches[t.name] == low]
        ahead = [launches[t.name] for t in open_types if launches[t.name] > low]
        catch_up = min(ahead, default=low + (1 << 40)) - low  # until they reach the next ones
        fill_up = min(t.max_nodes - have[t.name] - launches[t.name] for t in behind)  # or one is full
        rounds = min(catch_up, fill_up, int(remaining // sum(t.slots for t in behind)))  # or the need is met
        if rounds < 1:  # the last, partial round: one node at a time, best ranked first
            node_type = behind[0]
            launches[node_type.name] += 1
            remaining -= node_type.slots
            continue
        for node_type in behind:
            launches[node_type.name] += rounds
        remaining -= rounds * sum(t.slots for t in behind)
    return dict(launches)


KEEP_HORIZON_S = 3600.0  # a node kept rather than drained runs about this much longer


def per_slot_price(snapshot: Snapshot, node_type: NodeType) -> float:
    """$/hour per slot now: the spot price of a spot type (on-demand when unknown), else on-demand."""
    price = snapshot.spot_prices.get(node_type.name) if node_type.market is Market.SPOT else None
    if price is None or not math.isfinite(price) or price <= 0:
        price = node_type.ondemand_price
    return price / node_type.slots


def drain_cost(node: FleetNode, node_type: NodeType, per_slot: float, best_per_slot: float) -> float:
    """$ that draining this node costs over keeping it: all its slots billed until its last job ends, less
    what an hour of the same slots saves on the best type. inf: busy for a time not known."""
    if node.work_left_s is None:
        waste = 0.0 if node.running_jobs == 0 else math.inf
    else:
        waste = node.work_left_s * per_slot * node_type.slots / 3600
    return waste - max(0.0, per_slot - best_per_slot) * node_type.slots * KEEP_HORIZON_S / 3600


def pick_drains(
    snapshot: Snapshot,
    nodes: Sequence[FleetNode],
    types: dict[str, NodeType],
    surplus: float,
    hourly: bool,
    best_per_slot: float | None = None,
) -> list[FleetNode]:
    """Running nodes to retire while the surplus still covers them, cheapest to retire first: those whose
    jobs end soonest (a draining node bills every slot until its last job ends, so one long job left on it
    costs far more than a few short ones), less what leaving a dear type saves; busy nodes whose jobs'
    ends are unknown go last, fewest jobs first. With hourly billing, those nearest the end of the hour
    already paid for go first."""

    def key(node: FleetNode) -> tuple[float, float, int, str]:
        left_in_hour = 3600 - (snapshot.at_s - node.since_s) % 3600 if hourly else 0.0
        node_type = types[node.node_type]
        per_slot = per_slot_price(snapshot, node_type)
        cost = drain_cost(node, node_type, per_slot, per_slot if best_per_slot is None else best_per_slot)
        # 5-minute steps of the paid hour: close counts as same
        return (left_in_hour // 300, cost, node.running_jobs, node.node_id)

    chosen: list[FleetNode] = []
    for node in sorted((n for n in nodes if n.state == "running"), key=key):
        slots = types[node.node_type].slots
        if surplus >= slots:
            chosen.append(node)
            surplus -= slots
    return chosen
