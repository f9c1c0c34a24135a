"""The demo's local fleet: its node types, the spot prices it pretends to pay, and spot reclaims.

The node types mirror cluster.yaml (two spot instance types in two zones, one on-demand type) at a size a
2-core machine can hold: every node is a real raylet started by Ray's fake multi-node provider.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import ray

from autoscaler.fleet import NodeType
from dispatcher.local_cluster import node_pids, sigkill_all
from dispatcher.markets import MARKET_RESOURCE, Market

DEMO_NODE_TYPES = (
    NodeType("spot-m5xl-a", Market.SPOT, "m5.xlarge", "us-east-1a", slots=2, ondemand_price=0.192, max_nodes=2),
    NodeType("spot-c5xl-b", Market.SPOT, "c5.xlarge", "us-east-1b", slots=2, ondemand_price=0.17, max_nodes=1),
    NodeType(
        "ondemand-m5xl-a", Market.ON_DEMAND, "m5.xlarge", "us-east-1a", slots=2, ondemand_price=0.192, max_nodes=1
    ),
)
# Spot prices wander within this share of the on-demand price: about where m5/c5 spot sat in us-east-1.
SPOT_SHARE = (0.28, 0.45)
SPOT_STEP = 0.01  # most a price moves (as a share of on-demand) between two readings


class SpotPrices:
    """A seeded random walk per spot type, read once per autoscaler decision (RayFleet's `prices`)."""

    def __init__(self, node_types: Sequence[NodeType], rng: random.Random) -> None:
        self._rng = rng
        self._ceiling = {t.name: t.ondemand_price for t in node_types if t.market is Market.SPOT}
        self._share = {name: rng.uniform(*SPOT_SHARE) for name in self._ceiling}

    def __call__(self) -> dict[str, float]:
        low, high = SPOT_SHARE
        for name, share in self._share.items():
            self._share[name] = min(high, max(low, share + self._rng.uniform(-SPOT_STEP, SPOT_STEP)))
        return self.current()

    def current(self) -> dict[str, float]:
        return {name: round(self._share[name] * ceiling, 4) for name, ceiling in self._ceiling.items()}


def price_per_hour(node_type: NodeType, spot_prices: dict[str, float]) -> float:
    """What a node of this type costs now: its spot price, or on demand."""
    if node_type.market is Market.SPOT:
        return spot_prices.get(node_type.name, node_type.ondemand_price)
    return node_type.ondemand_price


def reclaim_spot_node(rng: random.Random) -> str | None:
    """SIGKILL every process of one alive spot node at once, the way a reclaimed spot VM vanishes (no notice,
    no drain). Returns its node id, or None when no spot node is up."""
    spot = MARKET_RESOURCE[Market.SPOT]
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    alive = [node for node in nodes if node["Alive"] and node["Resources"].get(spot, 0) >= 1]
    if not alive:
        return None
    victim = rng.choice(sorted(alive, key=lambda node: str(node["NodeID"])))  # sorted: the seed picks the same one
    pids = node_pids(victim["RayletSocketName"])
    if not pids:
        return None
    sigkill_all(pids)
    return str(victim["NodeID"])
