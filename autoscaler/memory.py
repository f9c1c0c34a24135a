"""The autoscaler's memory in the store: what the guard's cooldowns and hourly caps read, kept where the next
leader finds it, so a restart, a restart loop or a failover never starts with a fresh hourly cap.

What is kept: its recent actions (launches and drains, with times and counts), launch failures, nodes that
vanished without a drain (preemptions), and the launch request it last sent to the fleet (the floors per node
type, for a fleet that keeps one: Ray's `request_resources` replaces the previous request, so a new leader
must ask for at least what the old one did). Written under the leader lease with its fencing token
(scheduler.leader): a head that is no longer the leader gets NotLeaderError and adds nothing.

Entries are JSON; one that does not read back (another version, a hand edit) is skipped and logged, never
trusted. decide and guard stay pure: the loop loads this into its own memory, which it puts in the Snapshot.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, get_args, runtime_checkable

from autoscaler.fleet import ErrorKind, FleetError
from autoscaler.snapshot import Action
from scheduler.leader import LeaderLease, MemoryEntry

log = logging.getLogger(__name__)
MEMORY_S = 3600.0  # how long actions, errors and preemptions are remembered


@runtime_checkable
class RequestingFleet(Protocol):
    """A fleet that keeps one standing launch request (Ray's floors per node type)."""

    def floors(self) -> dict[str, int]: ...

    def adopt_floors(self, floors: Mapping[str, int]) -> None: ...


@dataclass
class Remembered:
    actions: list[Action] = field(default_factory=list)
    errors: list[FleetError] = field(default_factory=list)
    vanished: list[tuple[float, str]] = field(default_factory=list)  # (when, node type)
    floors: dict[str, int] | None = None  # the last launch request sent; None: none kept

    def __bool__(self) -> bool:
        return bool(self.actions or self.errors or self.vanished or self.floors is not None)


def to_entries(new: Remembered) -> list[MemoryEntry]:
    entries = [_entry(a.at_s, "action", [a.kind, a.node_type, a.count]) for a in new.actions]
    entries += [_entry(e.at_s, "error", [e.node_type, e.kind, e.message, e.request_id]) for e in new.errors]
    entries += [_entry(at_s, "vanished", [node_type]) for at_s, node_type in new.vanished]
    if new.floors is not None:
        entries.append(_entry(max((e.at_ms / 1000 for e in entries), default=0.0), "floors", new.floors))
    return entries


def from_entries(entries: Iterable[MemoryEntry]) -> Remembered:
    remembered = Remembered()
    for entry in entries:
        try:
            _read(entry, remembered)
        except (ValueError, TypeError, KeyError) as err:
            log.warning("autoscaler memory: skipped an unreadable %s entry (%s)", entry.kind, err)
    return remembered


class GuardMemory:
    """The autoscaler's memory under the leader lease, written with the leader's fencing token `token`."""

    def __init__(self, lease: LeaderLease, token: int, keep_s: float = MEMORY_S) -> None:
        self.lease = lease
        self.token = token
        self.keep_ms = round(keep_s * 1000)

    def load(self) -> Remembered:
        return from_entries(self.lease.recall())

    def save(self, new: Remembered) -> None:
        """Add `new` (nothing: only check the fence); NotLeaderError if this token no longer leads."""
        self.lease.remember(self.token, to_entries(new), self.keep_ms)


def _entry(at_s: float, kind: str, data: Sequence[Any] | Mapping[str, int]) -> MemoryEntry:
    return MemoryEntry(round(at_s * 1000), kind, json.dumps(data))


def _read(entry: MemoryEntry, into: Remembered) -> None:
    data = json.loads(entry.data)
    at_s = entry.at_ms / 1000
    if entry.kind == "action":
        kind, node_type, count = data
        if kind not in ("launch", "drain") or not isinstance(count, int) or count < 0:
            raise ValueError(f"not an action: {data!r}")
        into.actions.append(Action(at_s, kind, str(node_type), count))
    elif entry.kind == "error":
        node_type, kind, message, request_id = data
        if kind not in get_args(ErrorKind):
            raise ValueError(f"not an error kind: {kind!r}")
        into.errors.append(FleetError(str(node_type), kind, at_s, str(message), str(request_id)))
    elif entry.kind == "vanished":
        into.vanished.append((at_s, str(data[0])))
    elif entry.kind == "floors":
        floors = {str(name): int(n) for name, n in data.items()}
        if any(n < 0 or not math.isfinite(n) for n in floors.values()):
            raise ValueError(f"negative floors: {floors}")
        into.floors = floors
    else:
        raise ValueError(f"unknown kind {entry.kind!r}")
