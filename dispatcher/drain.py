"""Asking Ray to drain one node: no new tasks go there, running ones go on, jobs that poll
`ctx.stop_requested()` see the notice and checkpoint, and once idle the node shuts itself down.

Uses `GcsClient.drain_node` (verified with Ray 2.60 in ../shared/notes/ray-spot-locally.md §2). Ray does
not kill anything at the deadline; the cloud does that to a spot VM, and the dispatcher then releases the
jobs still running there as preempted.
"""

from __future__ import annotations

import time
from typing import Literal

import ray

DrainReason = Literal["preemption", "idle"]
_REASONS = {"preemption": "DRAIN_NODE_REASON_PREEMPTION", "idle": "DRAIN_NODE_REASON_IDLE_TERMINATION"}


class DrainRefusedError(RuntimeError):
    pass


def drain_node(node_id: str, reason: DrainReason = "preemption", deadline_s: float = 120.0, message: str = "") -> None:
    """Drain `node_id` (hex) of the connected cluster; DrainRefusedError if Ray says no."""
    from ray.core.generated import autoscaler_pb2

    # Neither has type stubs: generated protobuf code and a Cython class.
    gcs = getattr(ray._raylet, "GcsClient")(address=ray.get_runtime_context().gcs_address)  # noqa: B009
    deadline_ms = int((time.time() + deadline_s) * 1000) if deadline_s > 0 else 0
    code = getattr(autoscaler_pb2, "DrainNodeReason").Value(_REASONS[reason])  # noqa: B009
    accepted, refusal = gcs.drain_node(node_id, code, message or f"ebbflow: {reason}", deadline_ms)
    if not accepted:
        raise DrainRefusedError(f"Ray refused to drain node {node_id}: {refusal or 'no reason given'}")
