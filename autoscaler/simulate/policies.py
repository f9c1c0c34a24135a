"""Policies the simulator can score, all behind one interface (`decide(snapshot) -> Decision`):

* `Ours`: the production decide + guard, unchanged.
* `StaticPeak`: a fixed fleet sized for the trace's peak hour, on demand or on spot (reclaimed spot nodes
  are replaced, on the cheapest type that has not failed lately).
* `TargetTracking`: AWS-style target tracking on backlog per instance: target = acceptable wait / mean
  processing time (per slot, times the slots of a node); scale out after 3 datapoints above the target,
  scale in after 15 below; one instance type, the next one after a launch failure (as an ASG would).
* `DemandBased`: Ray-style: launch a node for every node's worth of pending jobs, retire a node after 5
  minutes idle; no price or zone awareness (always the first spot type listed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from autoscaler.choose import live_nodes
from autoscaler.config import AutoscalerConfig
from autoscaler.decide import Decision, decide
from autoscaler.fleet import NodeType
from autoscaler.guard import guard
from autoscaler.simulate.model import Trace
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market


@dataclass
class Ours:
    config: AutoscalerConfig = field(default_factory=AutoscalerConfig)
    name: str = "ebbflow"

    def decide(self, snapshot: Snapshot) -> Decision:
        return guard(decide(snapshot, self.config), snapshot, self.config)


def peak_slots(trace: Trace) -> float:
    """Slots the busiest hour of the trace needs: its work over 3,600 s."""
    arrivals = trace.arrivals
    if not len(arrivals):
        return 0.0
    hours = (arrivals.at_s // 3600).astype(np.int64)
    per_hour = np.bincount(hours, weights=arrivals.work_s)
    return float(per_hour.max()) / 3600.0


def _cheapest(types: list[NodeType], snapshot: Snapshot) -> list[NodeType]:
    def per_slot(node_type: NodeType) -> float:
        price = snapshot.spot_prices.get(node_type.name, node_type.ondemand_price)
        return price / node_type.slots

    failed = {e.node_type for e in snapshot.errors if snapshot.at_s - e.at_s < 900}
    return sorted((t for t in types if t.name not in failed), key=per_slot) or types


@dataclass
class StaticPeak:
    market: Market
    slots: float  # peak_slots(trace)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"static peak {self.market.value}"

    def decide(self, snapshot: Snapshot) -> Decision:
        types = [t for t in snapshot.node_types if t.market is self.market]
        if not types:
            return Decision()
        slots = {t.name: t.slots for t in types}
        have = sum(slots.get(n.node_type, 0) for n in live_nodes(snapshot))
        short = self.slots - have
        if short <= 0:
            return Decision()
        best = _cheapest(types, snapshot)[0]
        return Decision(launches={best.name: math.ceil(short / best.slots)})


@dataclass
class TargetTracking:
    acceptable_wait_s: float
    mean_work_s: float
    name: str = "target tracking"
    above: int = 0
    below: int = 0
    type_index: int = 0

    def decide(self, snapshot: Snapshot) -> Decision:
        types = [t for t in snapshot.node_types if t.market is Market.SPOT]
        recent = {e.node_type for e in snapshot.errors if snapshot.at_s - e.at_s < 120}
        if types[self.type_index % len(types)].name in recent:
            self.type_index += 1  # an ASG tries its next instance type
        node_type = types[self.type_index % len(types)]
        nodes = [n for n in live_nodes(snapshot) if snapshot.node_type(n.node_type) in types]
        backlog = sum(d.pending for d in snapshot.demand)
        target = max(1.0, self.acceptable_wait_s / self.mean_work_s * node_type.slots)
        metric = backlog / max(1, len(nodes))
        self.above = self.above + 1 if metric > target else 0
        self.below = self.below + 1 if metric < target else 0
        desired = max(1, math.ceil(backlog / target))
        if self.above >= 3 and desired > len(nodes):
            self.above = 0
            return Decision(launches={node_type.name: desired - len(nodes)})
        if self.below >= 15 and desired < len(nodes):
            self.below = 0
            idle_first = sorted((n for n in nodes if n.state == "running"), key=lambda n: n.running_jobs)
            return Decision(drains=tuple(n.node_id for n in idle_first[: len(nodes) - desired]))
        return Decision()


@dataclass
class DemandBased:
    idle_timeout_s: float = 300.0
    max_nodes: int = 1000
    name: str = "demand based (Ray-style)"
    idle_since: dict[str, float] = field(default_factory=dict)

    def decide(self, snapshot: Snapshot) -> Decision:
        node_type = next(t for t in snapshot.node_types if t.market is Market.SPOT)
        nodes = live_nodes(snapshot)
        launching = sum(1 for n in nodes if n.state == "launching")
        free = sum(node_type.slots - n.running_jobs for n in nodes if n.state == "running")
        pending = sum(d.pending for d in snapshot.demand)
        wanted = math.ceil(max(0, pending - free) / node_type.slots) - launching
        wanted = min(wanted, self.max_nodes - len(nodes))
        drains = []
        for node in nodes:
            if node.state != "running" or node.running_jobs:
                self.idle_since.pop(node.node_id, None)
                continue
            since = self.idle_since.setdefault(node.node_id, snapshot.at_s)
            if snapshot.at_s - since >= self.idle_timeout_s and pending == 0:
                drains.append(node.node_id)
        return Decision(launches={node_type.name: wanted} if wanted > 0 else {}, drains=tuple(drains))
