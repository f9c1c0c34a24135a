"""The simulated fleet: nodes with slots, their lifecycle (launching, running, draining, gone), billing."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from autoscaler.fleet import FleetNode, NodeState, NodeType
from dispatcher.markets import Market


@dataclass(slots=True)
class SimNode:
    node_id: str
    node_type: NodeType
    launched_at: float
    ready_at: float
    state: NodeState = "launching"
    free: int = 0  # idle slots (running nodes only)
    jobs: set[int] = field(default_factory=set)
    busy_until: float = -math.inf  # when its last running job ends (times run negative in the prelude)
    billed_to: float = 0.0  # per-second billing: cost counted up to here
    paid_until: float = 0.0  # hourly billing: hours paid up to here

    @property
    def market(self) -> Market:
        return self.node_type.market

    def view(self, work_left_s: float) -> FleetNode:
        return FleetNode(self.node_id, self.node_type.name, self.state, self.launched_at, len(self.jobs), work_left_s)


@dataclass(slots=True)
class Billing:
    hourly: bool
    cost: dict[Market, float] = field(default_factory=lambda: dict.fromkeys(Market, 0.0))

    def accrue(self, node: SimNode, now: float, price_per_hour: float) -> None:
        if self.hourly:
            while node.paid_until <= now:
                self.cost[node.market] += price_per_hour
                node.paid_until += 3600.0
        else:
            self.cost[node.market] += price_per_hour * max(0.0, now - node.billed_to) / 3600.0
        node.billed_to = now

    def restart(self, nodes: Iterable[SimNode], now: float, prices: Mapping[str, float]) -> None:
        """Count from `now` on (nodes accrued up to it): with hourly billing, the part of each node's paid
        hour that lies after `now` stays counted."""
        self.cost = dict.fromkeys(Market, 0.0)
        if self.hourly:
            for node in nodes:
                self.cost[node.market] += prices[node.node_type.name] * max(0.0, node.paid_until - now) / 3600

    @property
    def total(self) -> float:
        return sum(self.cost.values())
