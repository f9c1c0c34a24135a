"""A Fleet that records calls and injects failures, for the loop's tests (a fresh one per test)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from autoscaler.fleet import FleetError, FleetNode, NodeType


@dataclass
class FakeFleet:
    types: Sequence[NodeType]
    prices: dict[str, float] = field(default_factory=dict)
    fleet: list[FleetNode] = field(default_factory=list)
    launched: list[tuple[str, int, str]] = field(default_factory=list)
    drained: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
    pending_errors: list[FleetError] = field(default_factory=list)
    fail_launch: set[str] = field(default_factory=set)  # node types whose launch raises
    broken: bool = False  # nodes() raises, as an unreachable cloud API would
    clock: float = 0.0

    def node_types(self) -> list[NodeType]:
        return list(self.types)

    def nodes(self) -> list[FleetNode]:
        if self.broken:
            raise ConnectionError("cloud API unreachable")
        return list(self.fleet)

    def launch(self, node_type: str, count: int, request_id: str) -> None:
        if node_type in self.fail_launch:
            raise RuntimeError(f"launch of {node_type} refused")
        self.launched.append((node_type, count, request_id))
        for i in range(count):
            self.fleet.append(FleetNode(f"{request_id}-{i}", node_type, "launching", self.clock))

    def drain(self, node_ids: Sequence[str], request_id: str) -> None:
        self.drained.append((tuple(node_ids), request_id))
        self.fleet = [n for n in self.fleet if n.node_id not in node_ids]

    def poll_errors(self) -> list[FleetError]:
        errors, self.pending_errors = self.pending_errors, []
        return errors

    def spot_prices(self) -> dict[str, float]:
        return dict(self.prices)
