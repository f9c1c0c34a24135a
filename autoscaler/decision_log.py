"""Every decision with its inputs and reasons, one JSON object per line, newest last.

`ebbflow autoscaler log`, `ebbflow status`, `ebbflow chart` and `/metrics` read it back, from the end: it is
rotated by size (log_files.py) and read backwards (reverse_lines.py), so a read costs what it reads, not the
log's age. A file (not the job store) so that reading why the fleet changed never depends on the queue being
up, and so that it survives restarts of the head.
Readers take every field but `at` as optional: older lines lack the newer fields, and a round whose inputs
could not be read logs only at, acted and hold.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from autoscaler.decide import Decision
from autoscaler.fleet import NodeState, NodeType
from autoscaler.log_files import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, append_line
from autoscaler.reverse_lines import newest_lines
from autoscaler.snapshot import Snapshot
from dispatcher.markets import Market

# A Fleet reports only nodes not terminated, and each of these states bills or is about to: launching (asked
# for and booting; counting it also shows a launch at once), running, and draining (it bills until its last
# job ends). A node that is gone is simply absent. The set is spelled out so that a state added later (say,
# "terminating") is left out of the counts until someone decides it bills.
COUNTED_STATES: frozenset[NodeState] = frozenset({"launching", "running", "draining"})


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
        # where jobs may run: levels sent to on-demand because spot cannot make their deadlines, and the
        # on-demand slots bought for each (the deadline reasoning is in `reasons`, one line per level)
        "ondemand_levels": list(decision.ondemand_levels),
        "ondemand_reserve": decision.ondemand_reserve,
        "ondemand_for": {str(level): slots for level, slots in decision.ondemand_for.items()},
        "need_slots": {market.value: round(n, 2) for market, n in decision.need_slots.items()},
        "have_slots": {market.value: n for market, n in decision.have_slots.items()},
        "pending": sum(d.pending for d in snapshot.demand),
        "queued_work_s": round(sum(d.work_s for d in snapshot.demand if d.work_s == d.work_s), 1),
        "arriving_slots": _arriving(snapshot),
        "busy_slots": {market.value: n for market, n in snapshot.busy_slots.items()},
        "nodes": dict(sorted(nodes.items())),
        "spot_prices": dict(snapshot.spot_prices),
        "errors": [f"{e.node_type}: {e.kind}: {e.message}" for e in snapshot.errors],
        # for the queue-tracking chart (ebbflow/chart.py); lines written before these fields lack them
        "pending_by_level": _pending_by_level(snapshot),
        "nodes_by_market": _nodes_by_market(snapshot),
        "cost_per_hour": round(sum(_price(snapshot, node_type) for node_type in _counted(snapshot)), 4),
    }


def _pending_by_level(snapshot: Snapshot) -> dict[str, int]:
    """Pending jobs per level index (a string: JSON keys are), every job type together."""
    pending: Counter[int] = Counter()
    for demand in snapshot.demand:
        pending[demand.level] += demand.pending
    return {str(level): pending[level] for level in sorted(pending)}


def _nodes_by_market(snapshot: Snapshot) -> dict[str, int]:
    counts = Counter(node_type.market for node_type in _counted(snapshot))
    return {market.value: counts[market] for market in Market}


def _counted(snapshot: Snapshot) -> list[NodeType]:
    """The type of each node that counts for the chart. A node of a type the config no longer lists is left
    out: neither its market nor its price is known."""
    types = [snapshot.node_type(node.node_type) for node in snapshot.nodes if node.state in COUNTED_STATES]
    return [node_type for node_type in types if node_type is not None]


def _price(snapshot: Snapshot, node_type: NodeType) -> float:
    """$/hour of one node: its spot price when known, else the on-demand price (for a spot type the ceiling
    its price is held to, as the guard's budget counts an unknown price)."""
    if node_type.market is Market.SPOT:
        return snapshot.spot_prices.get(node_type.name, node_type.ondemand_price)
    return node_type.ondemand_price


def _arriving(snapshot: Snapshot) -> float | None:
    """Work-seconds arriving per second in all (slots' worth), or None where any figure is unknown."""
    rates = [d.arrival_work_s for d in snapshot.demand]
    if not rates or any(rate is None or not math.isfinite(rate) for rate in rates):
        return None
    return round(sum(rate for rate in rates if rate is not None), 2)


class DecisionLog:
    """The log at `path` with its rotated files (`path.1` ...: see log_files.py). Only the head's autoscaler
    appends; readers open it with the defaults, which they never use, as only appending rotates."""

    def __init__(self, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str) + "\n"
        append_line(self.path, line.encode(), self.max_bytes, self.backups)

    def newest_first(self) -> Iterator[dict[str, Any]]:
        """Every entry, newest first, across the rotated files, read lazily from the end: a reader pays for
        the entries it takes, not for the log's age. A line that does not parse is skipped."""
        for line in newest_lines(self.path):
            try:
                record = json.loads(line)
            except ValueError:
                continue  # garbled (a disk error, a hand edit); a line cut short is never returned
            if isinstance(record, dict):
                yield record

    def tail(self, count: int) -> list[dict[str, Any]]:
        """The last `count` entries, oldest first."""
        records = list(islice(self.newest_first(), count))
        records.reverse()
        return records
