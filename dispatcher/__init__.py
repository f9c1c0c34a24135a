"""The dispatcher: from the queue onto a Ray cluster of spot and on-demand nodes, losing nothing.

Names are loaded on first use, so importing `dispatcher.markets` or `dispatcher.config` (the CLI does, for
its settings) does not import Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Dispatcher": "dispatcher.dispatcher",
    "DispatchCounts": "dispatcher.inflight",
    "DispatcherConfig": "dispatcher.config",
    "JobInterrupted": "dispatcher.context",
    "JobCannotSucceed": "dispatcher.context",
    "TaskContext": "dispatcher.context",
    "Market": "dispatcher.markets",
    "OnDemandPlan": "dispatcher.ondemand_plan",
    "PoolState": "dispatcher.placement",
    "place": "dispatcher.placement",
    "LocalCluster": "dispatcher.local_cluster",
    "NodeSpec": "dispatcher.local_cluster",
    "drain_node": "dispatcher.drain",
    "connect": "dispatcher.runtime",
}
__all__ = [
    "DispatchCounts",
    "Dispatcher",
    "DispatcherConfig",
    "JobCannotSucceed",
    "JobInterrupted",
    "LocalCluster",
    "Market",
    "NodeSpec",
    "OnDemandPlan",
    "PoolState",
    "TaskContext",
    "connect",
    "drain_node",
    "place",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'dispatcher' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
