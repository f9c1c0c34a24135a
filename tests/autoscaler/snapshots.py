"""Build snapshots for the policy's table tests: a realistic default, changed field by field."""

from __future__ import annotations

import dataclasses
from typing import Any

from autoscaler.fleet import FleetError, FleetNode, NodeType
from autoscaler.snapshot import Demand, Snapshot
from dispatcher.markets import Market

T = 1_800_000_000.0 + 600  # ten minutes past an hour
NOW_MS = round(T * 1000)
SPOT_A = NodeType("spot-a", Market.SPOT, "m5.xlarge", "us-east-1a", 4, 0.192)
SPOT_B = NodeType("spot-b", Market.SPOT, "c5.xlarge", "us-east-1b", 4, 0.17)
SPOT_C = NodeType("spot-c", Market.SPOT, "m5.large", "us-east-1a", 2, 0.096)
OD = NodeType("od", Market.ON_DEMAND, "m5.xlarge", "us-east-1a", 4, 0.192)
TYPES = (SPOT_A, SPOT_B, SPOT_C, OD)
PRICES = {"spot-a": 0.06, "spot-b": 0.064, "spot-c": 0.034}


def node(
    node_id: str,
    node_type: str = "spot-a",
    state: str = "running",
    since: float = T - 1800,
    jobs: int = 0,
    work_left: float | None = None,
):
    return FleetNode(node_id, node_type, state, since, jobs, work_left)  # type: ignore[arg-type]


def work(level: int, work_s: float, job_type: str = "noop", pending: int = 100, **kw: Any) -> Demand:
    return Demand(level, job_type, pending, work_s, **kw)


def error(node_type: str, kind: str = "capacity", at: float = T - 60) -> FleetError:
    return FleetError(node_type, kind, at, "test")  # type: ignore[arg-type]


def snap(**changes: Any) -> Snapshot:
    base = Snapshot(at_s=T, inputs_at_s=T - 5, node_types=TYPES, nodes=(node("od-1", "od"),), spot_prices=PRICES)
    return dataclasses.replace(base, **changes)
