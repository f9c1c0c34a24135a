"""guard: hard limits on every decision, whatever decide or its inputs said. Pure, like decide.

First the hold: inputs that are stale, missing or absurd stop every action (a bad metric must never cause
a launch storm, nor drain a busy fleet). Then the clamps, each recorded with its reason: cooldowns, launches
per decision and per hour, nodes per type, nodes in all, the budget per hour, and the on-demand floor.
Launches are cut from the most expensive end first.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass

from autoscaler.choose import per_type
from autoscaler.config import AutoscalerConfig
from autoscaler.decide import Decision
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market

HOUR_S = 3600.0


def guard(decision: Decision, snapshot: Snapshot, config: AutoscalerConfig) -> Decision:
    hold = _hold_reason(snapshot, config)
    if hold is not None:
        return dataclasses.replace(decision, launches={}, drains=(), hold=hold)
    clamps: list[str] = []
    recent = _Recent.of(snapshot)
    launches = _clamp_launches(decision, snapshot, config, recent, clamps)
    drains = _clamp_drains(decision, snapshot, config, recent, launches, clamps)
    return dataclasses.replace(decision, launches=launches, drains=drains, clamps=tuple(clamps))


def _hold_reason(snapshot: Snapshot, config: AutoscalerConfig) -> str | None:
    limits = config.guard
    age = snapshot.at_s - snapshot.inputs_at_s
    if not math.isfinite(age) or age > limits.stale_after_s:
        return f"hold: queue figures are {age:.0f} s old (limit {limits.stale_after_s:.0f} s)"
    if age < -limits.stale_after_s:
        return f"hold: queue figures are from {-age:.0f} s in the future (a clock is wrong)"
    if not snapshot.node_types:
        return "hold: no node types known"
    for demand in snapshot.demand:
        if demand.pending < 0 or demand.pending > limits.max_sane_pending:
            return f"hold: {demand.job_type} has an absurd pending count {demand.pending}"
        if not math.isfinite(demand.work_s) or demand.work_s < 0 or demand.work_s > limits.max_sane_work_s:
            return f"hold: {demand.job_type} has an absurd queued work {demand.work_s} s"
    if any(n < 0 for n in snapshot.busy_slots.values()):
        return "hold: a negative count of busy slots"
    return None


def _clamp_launches(
    decision: Decision, snapshot: Snapshot, config: AutoscalerConfig, recent: _Recent, clamps: list[str]
) -> dict[str, int]:
    limits = config.guard
    wanted = Counter({name: n for name, n in decision.launches.items() if n > 0})
    known = {t.name for t in snapshot.node_types}
    for name in [name for name in wanted if name not in known]:
        clamps.append(f"launch {name}: not a known node type")
        del wanted[name]
    if not wanted:
        return {}
    last_drain = recent.last_drain
    if snapshot.at_s - last_drain < limits.scale_up_cooldown_s:
        clamps.append(
            f"cooldown: a drain {snapshot.at_s - last_drain:.0f} s ago, "
            f"no launch within {limits.scale_up_cooldown_s:.0f} s of one"
        )
        return {}
    launched_last_hour = recent.launched_last_hour
    have = per_type(snapshot.nodes)
    room = {
        "per decision": limits.max_launch_per_decision,
        "per hour": limits.max_launch_per_hour - launched_last_hour,
        "max nodes": limits.max_nodes - len(snapshot.nodes),
    }
    budget_left = limits.budget_per_hour - _hourly_cost(snapshot)
    kept: Counter[str] = Counter()
    for name in sorted(wanted, key=lambda n: _price(snapshot, n)):
        node_type = snapshot.node_type(name)
        assert node_type is not None
        for _ in range(wanted[name]):
            limit = next((rule for rule, left in room.items() if left <= 0), None)
            if limit is None and have[name] + kept[name] >= node_type.max_nodes:
                limit = f"{name} max_nodes {node_type.max_nodes}"
            if limit is None and _price(snapshot, name) > budget_left:
                limit = f"budget {limits.budget_per_hour}/h"
            if limit is not None:
                clamps.append(f"launch {name}: {wanted[name] - kept[name]} cut by {limit}")
                break
            kept[name] += 1
            budget_left -= _price(snapshot, name)
            room = {rule: left - 1 for rule, left in room.items()}
    return {name: n for name, n in kept.items() if n > 0}


def _clamp_drains(
    decision: Decision,
    snapshot: Snapshot,
    config: AutoscalerConfig,
    recent: _Recent,
    launches: dict[str, int],
    clamps: list[str],
) -> tuple[str, ...]:
    if not decision.drains:
        return ()
    last_launch = recent.last_launch
    if snapshot.at_s - last_launch < config.guard.scale_down_cooldown_s or launches:
        clamps.append(
            f"cooldown: {len(decision.drains)} drains held, a launch was {snapshot.at_s - last_launch:.0f} s ago"
        )
        return ()
    by_id = {node.node_id: node for node in snapshot.nodes}
    ondemand = {t.name for t in snapshot.node_types if t.market is Market.ON_DEMAND}
    ondemand_left = sum(1 for n in snapshot.nodes if n.node_type in ondemand and n.state != "draining")
    kept: list[str] = []
    for node_id in decision.drains:
        node = by_id.get(node_id)
        if node is None or node.state == "draining":
            clamps.append(f"drain {node_id}: not a live node")
            continue
        if node.node_type in ondemand:
            if ondemand_left <= config.min_ondemand_nodes:
                clamps.append(f"drain {node_id}: would go below the on-demand floor of {config.min_ondemand_nodes}")
                continue
            ondemand_left -= 1
        kept.append(node_id)
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class _Recent:
    """The guard's reading of the autoscaler's own recent actions, in one pass (a busy hour holds
    thousands of them, and the guard runs every round)."""

    last_launch: float
    last_drain: float
    launched_last_hour: int

    @classmethod
    def of(cls, snapshot: Snapshot) -> _Recent:
        last_launch = last_drain = -math.inf
        launched = 0
        hour_ago = snapshot.at_s - HOUR_S
        for action in snapshot.actions:
            if action.kind == "drain":
                last_drain = max(last_drain, action.at_s)
                continue
            last_launch = max(last_launch, action.at_s)
            if action.at_s > hour_ago:
                launched += action.count
        return cls(last_launch, last_drain, launched)


def _price(snapshot: Snapshot, name: str) -> float:
    node_type = snapshot.node_type(name)
    if node_type is None:
        return math.inf
    spot = snapshot.spot_prices.get(name) if node_type.market is Market.SPOT else None
    if spot is None or not math.isfinite(spot) or spot < 0:
        return node_type.ondemand_price  # unknown or absurd: count the ceiling, never less
    return spot


def _hourly_cost(snapshot: Snapshot) -> float:
    return sum(_price(snapshot, node.node_type) for node in snapshot.nodes)
