"""Which node types get new nodes, and which nodes go: price per slot, interruptions, failures, spread.

* A spot type is a candidate when its spot price is known and below its on-demand price, it had no
  capacity or price failure lately, and its zone had no launch failure lately (`avoid_after_error_s`).
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


def rank_spot_types(snapshot: Snapshot, config: AutoscalerConfig) -> tuple[list[NodeType], list[str]]:
    """Healthy spot types, best first, and one reason per type left out."""
    recent = [e for e in snapshot.errors if snapshot.at_s - e.at_s <= config.avoid_after_error_s]
    failed_types = {e.node_type for e in recent if e.kind in TYPE_ERRORS}
    failed_zones = {t.zone for e in recent if e.kind in ZONE_ERRORS if (t := snapshot.node_type(e.node_type))}
    running = per_type(n for n in snapshot.nodes if n.state == "running")
    ranked: list[tuple[float, NodeType]] = []
    skipped: list[str] = []
    for node_type in snapshot.node_types:
        if node_type.market is not Market.SPOT:
            continue
        price = snapshot.spot_prices.get(node_type.name)
        if node_type.name in failed_types:
            skipped.append(f"{node_type.name}: skipped, it failed to launch lately (no capacity or price)")
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
    return [node_type for _, node_type in ranked], skipped


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


def pick_drains(
    nodes: Sequence[FleetNode], types: dict[str, NodeType], surplus: float, at_s: float, hourly: bool
) -> list[FleetNode]:
    """Running nodes to retire while the surplus still covers them: least running work first, or with
    hourly billing, those nearest the end of the hour already paid for."""

    def key(node: FleetNode) -> tuple[float, int, str]:
        left_in_hour = 3600 - (at_s - node.since_s) % 3600 if hourly else 0.0
        return (left_in_hour // 300, node.running_jobs, node.node_id)  # 5-minute steps: close counts as same

    chosen: list[FleetNode] = []
    for node in sorted((n for n in nodes if n.state == "running"), key=key):
        slots = types[node.node_type].slots
        if surplus >= slots:
            chosen.append(node)
            surplus -= slots
    return chosen
