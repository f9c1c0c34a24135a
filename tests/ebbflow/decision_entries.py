"""Decision-log lines as the autoscaler writes them (through its own `entry()`), for the status and metrics
tests: a short history that launches, holds, idles, is clamped, drains, and launches again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autoscaler.decide import Decision
from autoscaler.decision_log import DecisionLog, entry
from dispatcher.markets import Market
from tests.autoscaler.snapshots import node, snap

FIRST_REASON = "spot: 7.5 slots short; launch 2 x spot-a"
HOLD = "hold: inputs unavailable (ConnectionError: Error 111 connecting to 127.0.0.1:6379)"
CLAMP = "launch spot-b: 2 cut by max_launch_per_hour"
DRAIN_REASON = "spot: 4.0 slots more than needed; drain spot-a-3 (0 jobs)"
LAST_REASON = "spot: 1.6 slots short; launch 1 x spot-b"


def decided(at_s: float, decision: Decision, nodes: tuple[Any, ...] = (), busy: dict[Market, int] | None = None):
    snapshot = snap(at_s=at_s, inputs_at_s=at_s - 2, nodes=nodes, busy_slots=busy or {})
    return entry(snapshot, decision, acted=decision.acts)


def history(now_s: float) -> list[dict[str, Any]]:
    """Six decisions, one a minute up to 30 s ago, oldest first; the last sees the fleet below."""
    fleet = (
        node("od-1", "od"),
        node("spot-a-1"),
        node("spot-a-2"),
        node("spot-a-3", state="draining"),
        node("spot-b-1", "spot-b", state="launching"),
    )
    last = Decision(
        launches={"spot-b": 1},
        reasons=(LAST_REASON,),
        need_slots={Market.SPOT: 9.6, Market.ON_DEMAND: 2.0},
        have_slots={Market.SPOT: 8, Market.ON_DEMAND: 4},
    )
    return [
        decided(now_s - 330, Decision(launches={"spot-a": 2}, reasons=(FIRST_REASON,)), fleet[:2]),
        {"at": now_s - 270, "acted": False, "hold": HOLD},  # what the loop logs when it cannot read its inputs
        decided(now_s - 210, Decision(reasons=("on-demand: 1 nodes, 1 wanted (floor 1)",)), fleet[:4]),
        decided(now_s - 150, Decision(clamps=(CLAMP,)), fleet[:4]),
        decided(now_s - 90, Decision(drains=("spot-a-3",), reasons=(DRAIN_REASON,)), fleet[:4]),
        decided(now_s - 30, last, fleet, busy={Market.SPOT: 5, Market.ON_DEMAND: 1}),
    ]


def write(path: Path, records: list[dict[str, Any]]) -> None:
    log = DecisionLog(path)
    for record in records:
        log.append(record)
