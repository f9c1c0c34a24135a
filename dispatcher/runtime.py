"""Connecting the head to Ray: an address of a running cluster, or a local in-process Ray (the embedded
default) whose one node offers both markets, so every job type can run on a laptop."""

from __future__ import annotations

import os
from collections.abc import Mapping

import ray

from dispatcher.markets import MARKET_RESOURCE, Market


def connect(address: str | None, local_slots: Mapping[Market, int]) -> bool:
    """Join the cluster at `address`, or start a private local Ray when it is None. False (and nothing
    done) when this process is already connected: then the caller must not disconnect it either."""
    if ray.is_initialized():
        return False
    # Ray 2.60 switches token auth on by itself once ~/.ray/auth_token exists (notes §0.1); our clusters
    # run without it unless the operator sets RAY_AUTH_MODE.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address is None:
        resources = {MARKET_RESOURCE[market]: float(n) for market, n in local_slots.items() if n > 0}
        # address="local": never attach to some other cluster that happens to run on this machine.
        ray.init(
            address="local",
            num_cpus=max(1, sum(local_slots.values())),
            resources=resources,
            include_dashboard=False,
            configure_logging=False,
            log_to_driver=False,
        )
    else:
        ray.init(address=address, configure_logging=False, log_to_driver=False)
    return True


def disconnect() -> None:
    if ray.is_initialized():
        ray.shutdown()
