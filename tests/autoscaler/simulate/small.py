"""Small hand-made traces for the engine's tests."""

from __future__ import annotations

import numpy as np

from autoscaler.fleet import NodeType
from autoscaler.simulate.model import Arrivals, Market, Trace
from dispatcher.markets import Market as M

SPOT_A = NodeType("spot-a", M.SPOT, "m5.xlarge", "us-east-1a", 4, 0.192)
SPOT_B = NodeType("spot-b", M.SPOT, "c5.xlarge", "us-east-1b", 4, 0.17)
OD = NodeType("od-a", M.ON_DEMAND, "m5.xlarge", "us-east-1a", 4, 0.192)
TYPES = (SPOT_A, SPOT_B, OD)
START = 1_763_251_200.0  # a Monday 00:00 UTC


def arrivals(at_s, level, work_s, deadline_s=None, tenant=None) -> Arrivals:
    n = len(at_s)
    return Arrivals(
        at_s=np.asarray(at_s, dtype=np.float64),
        job_type=np.zeros(n, dtype=np.int32),
        level=np.asarray(level, dtype=np.int8),
        tenant=np.asarray(tenant if tenant is not None else np.arange(n) % 3, dtype=np.int32),
        work_s=np.asarray(work_s, dtype=np.float64),
        deadline_s=np.asarray(deadline_s if deadline_s is not None else [np.nan] * n, dtype=np.float64),
        types=("job",),
        tenants=("t0", "t1", "t2"),
    )


def market(rows=(), types=TYPES) -> Market:
    """rows: (at_s, node type index, price, available, reclaim); prices start near a third of on-demand."""
    base = [(0.0, i, t.ondemand_price / 3, 1, 0.0) for i, t in enumerate(types) if t.market is M.SPOT]
    all_rows = sorted([*base, *rows])
    cols = list(zip(*all_rows, strict=True)) if all_rows else [[], [], [], [], []]
    return Market(
        at_s=np.asarray(cols[0], dtype=np.float64),
        node_type=np.asarray(cols[1], dtype=np.int32),
        price=np.asarray(cols[2], dtype=np.float64),
        available=np.asarray(cols[3], dtype=np.int8),
        reclaim=np.asarray(cols[4], dtype=np.float64),
        node_types=tuple(types),
    )


def random_day(jobs: int = 5000, seed: int = 3, rows=()) -> Trace:
    rng = np.random.default_rng(seed)
    at = np.sort(rng.uniform(0, 86400, jobs))
    level = rng.choice(4, jobs, p=[0.05, 0.25, 0.3, 0.4]).astype(np.int8)
    work = rng.lognormal(3.5, 0.8, jobs)
    deadline = np.where(level == 0, at + 60, np.where(level == 1, at + 900, np.nan))
    return Trace(arrivals(at, level, work, deadline, rng.integers(0, 3, jobs)), market(rows), 86400.0, START)
