"""How many job slots each market has right now: the market resources of alive nodes that are not draining.

A draining node takes no new tasks (Ray keeps them away), so counting its slots would make the dispatcher
lease jobs that then sit in Ray's queue instead of in the MLFQ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ray

from dispatcher.markets import MARKET_RESOURCE, Market


def slots_per_market(nodes: Iterable[Mapping[str, Any]], draining: Iterable[str] = ()) -> dict[Market, int]:
    """Sum each market's resource over `nodes` (as `ray.nodes()` returns them), skipping draining node ids."""
    skip = set(draining)
    slots = dict.fromkeys(Market, 0)
    for node in nodes:
        if not node.get("Alive") or node.get("NodeID") in skip:
            continue
        resources = node.get("Resources", {})
        for market, resource in MARKET_RESOURCE.items():
            slots[market] += int(resources.get(resource, 0))
    return slots


def read_slots() -> dict[Market, int]:
    """The cluster's slots now, from the connected Ray driver."""
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return slots_per_market(nodes, draining_node_ids())


def alive_slots() -> dict[Market, int]:
    """Slots of every alive node, draining or not."""
    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return slots_per_market(nodes)


def busy_slots() -> dict[Market, int]:
    """Slots in use now per market, from Ray's view of the whole cluster (every driver's tasks)."""
    total: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    free: dict[str, float] = ray.available_resources()  # type: ignore[no-untyped-call]
    return {market: int(total.get(res, 0) - free.get(res, 0)) for market, res in MARKET_RESOURCE.items()}


def draining_node_ids() -> set[str]:
    try:
        from ray._private.state import state

        return set(state.get_draining_nodes())
    except Exception:  # a private API (Ray 2.60): without it, draining nodes simply still count
        return set()
