"""The Fleet port: the one narrow interface through which the autoscaler acts on machines.

Three implementations: Ray (`request_resources` per node type, `GcsClient.drain_node`), EC2 (boto3 spot
fleets across types and zones) and local (a multi-node Ray cluster on this machine). Each reports failures
as data (`FleetError`, carrying the request id of the call that failed), never by raising for an expected
cloud condition such as a type without spot capacity; an unexpected error may raise, and the autoscaler's
loop logs it and holds.

A node type is one (instance type, zone, market): a launch names exactly one, so the policy, not the cloud,
decides where capacity goes. With Ray, each node type carries a custom resource of its own
(`NodeType.resource`), so a resource request for it launches exactly that type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from dispatcher.markets import Market

NodeState = Literal["launching", "running", "draining"]
ErrorKind = Literal["capacity", "price", "quota", "launch", "other"]


@dataclass(frozen=True, slots=True)
class NodeType:
    name: str  # e.g. "spot-m5xl-a"
    market: Market
    instance_type: str  # e.g. "m5.xlarge"
    zone: str  # e.g. "us-east-1a"
    slots: int  # job slots per node: the amount of its market resource (`spot: 4`)
    ondemand_price: float  # $/hour on demand (for a spot type, the ceiling its spot price is compared with)
    resource: str = ""  # Ray custom resource unique to this node type ("" where the fleet needs none)
    max_nodes: int = 100
    spot_price: float | None = None  # $/hour expected on spot, for a fleet without a price feed (spot_prices.py)


def check_node_types(node_types: Sequence[NodeType]) -> tuple[NodeType, ...]:
    """The node types, if they make a fleet: unique names, at least one slot each, non-negative max_nodes,
    positive prices. ValueError naming the type and the field otherwise (the config and traces both ask)."""
    names = [t.name for t in node_types]
    if len(set(names)) != len(names):
        raise ValueError(f"node type names must be unique, got {names}")
    for t in node_types:
        if t.slots < 1 or t.max_nodes < 0 or not t.ondemand_price > 0:
            raise ValueError(f"{t.name}: slots must be >= 1, max_nodes >= 0 and ondemand_price > 0")
        if t.spot_price is not None and not t.spot_price > 0:
            raise ValueError(f"{t.name}: spot_price must be > 0 (or left out), got {t.spot_price}")
    return tuple(node_types)


@dataclass(frozen=True, slots=True)
class FleetNode:
    node_id: str
    node_type: str
    state: NodeState
    since_s: float  # epoch seconds: when it was asked for (launching) or came up (running, draining)
    running_jobs: int = 0
    # expected seconds until its last running job ends (None: not known, as from the cloud fleets): a node
    # drained with a long job on it bills all its slots until that job is done
    work_left_s: float | None = None


@dataclass(frozen=True, slots=True)
class FleetError:
    node_type: str
    kind: ErrorKind  # capacity: no spot capacity of that type in that zone; price: above the max price
    at_s: float
    message: str
    request_id: str = ""


class Fleet(Protocol):
    """Machines of the node types it was built with. Every call is idempotent under the same request id."""

    def node_types(self) -> list[NodeType]: ...

    def nodes(self) -> list[FleetNode]:
        """Every node not terminated: launching, running or draining."""
        ...

    def launch(self, node_type: str, count: int, request_id: str) -> None:
        """Ask for `count` more nodes of one type; what fails shows up in `poll_errors`."""
        ...

    def drain(self, node_ids: Sequence[str], request_id: str) -> None:
        """Retire these nodes: no new work goes there, running work may finish, then they go away.
        Draining a node that is already gone counts as done."""
        ...

    def poll_errors(self) -> list[FleetError]:
        """Failures since the last call (each reported once)."""
        ...

    def spot_prices(self) -> dict[str, float]:
        """Current spot price in $/hour per spot node type name (a type with no known price is absent)."""
        ...
