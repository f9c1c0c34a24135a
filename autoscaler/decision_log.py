"""Every decision with its inputs and reasons, one JSON object per line, newest last.

`ebbflow autoscaler log` reads it back. A file (not the job store) so that reading why the fleet changed
never depends on the queue being up, and so that it survives restarts of the head.
"""

from __future__ import annotations

import json
import math
from collections import Counter, deque
from pathlib import Path
from typing import Any

from autoscaler.decide import Decision
from autoscaler.snapshot import Snapshot


def entry(snapshot: Snapshot, decision: Decision, acted: bool) -> dict[str, Any]:
    """What one decision saw and did, small enough to keep a line per minute for weeks."""
    nodes = Counter(f"{n.node_type}:{n.state}" for n in snapshot.nodes)
    return {
        "at": snapshot.at_s,
        "acted": acted,
        "hold": decision.hold,
        "launches": dict(decision.launches),
        "drains": list(decision.drains),
        "reasons": list(decision.reasons),
        "clamps": list(decision.clamps),
        "need_slots": {market.value: round(n, 2) for market, n in decision.need_slots.items()},
        "have_slots": {market.value: n for market, n in decision.have_slots.items()},
        "pending": sum(d.pending for d in snapshot.demand),
        "queued_work_s": round(sum(d.work_s for d in snapshot.demand if d.work_s == d.work_s), 1),
        "arriving_slots": _arriving(snapshot),
        "busy_slots": {market.value: n for market, n in snapshot.busy_slots.items()},
        "nodes": dict(sorted(nodes.items())),
        "spot_prices": dict(snapshot.spot_prices),
        "errors": [f"{e.node_type}: {e.kind}: {e.message}" for e in snapshot.errors],
    }


def _arriving(snapshot: Snapshot) -> float | None:
    """Work-seconds arriving per second in all (slots' worth), or None where any figure is unknown."""
    rates = [d.arrival_work_s for d in snapshot.demand]
    if not rates or any(rate is None or not math.isfinite(rate) for rate in rates):
        return None
    return round(sum(rate for rate in rates if rate is not None), 2)


class DecisionLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as file:
            file.write(json.dumps(record, default=str) + "\n")

    def tail(self, count: int) -> list[dict[str, Any]]:
        """The last `count` entries, oldest first; a line that does not parse is skipped."""
        if not self.path.exists():
            return []
        with self.path.open() as file:
            lines = deque(file, maxlen=count)
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash mid-write
        return records
