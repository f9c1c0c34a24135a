"""A warm start: the simulation meets the trace's first job with the fleet and queue a running service
would have then, not with no node at all.

A service is never switched on at the first second of a trace: at Monday 00:00 the fleet that served
Sunday night is still up. Starting cold instead makes every policy miss the deadlines of the first
minutes, which says nothing about the policies. So the engine first replays the trace's last `warmup_s`
seconds as the same hours of the week before (times shifted back by the trace's duration), market
included, and measures from t = 0 on: the prelude's jobs are left out of the service figures, and cost,
actions and slot use count from t = 0 (what the prelude's jobs still run after t = 0 is paid, so the
figure errs against the policy, by less than a dollar on the default week).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autoscaler.simulate.model import Trace

MarketRow = tuple[float, int, float, int, float]  # at_s, node type index, price, available, reclaim


@dataclass(frozen=True)
class Prelude:
    """Jobs and market rows before t = 0, in time order (columns as in `Arrivals` and `Market`)."""

    at_s: list[float]
    level: list[int]
    job_type: list[int]
    tenant: list[int]
    work_s: list[float]
    deadline_s: list[float]
    market_rows: list[MarketRow]

    @property
    def jobs(self) -> int:
        return len(self.at_s)


def prelude(trace: Trace, warmup_s: float) -> Prelude:
    """The trace's last `warmup_s` seconds, shifted to end at t = 0 (nothing when warmup_s is 0)."""
    if not (math.isfinite(warmup_s) and warmup_s >= 0):
        raise ValueError(f"warmup_s must be a number of seconds >= 0, not {warmup_s}")
    warmup_s = min(warmup_s, trace.duration_s)
    shift = trace.duration_s
    cut = shift - warmup_s
    arrivals = trace.arrivals
    tail = arrivals.at_s >= cut if warmup_s > 0 else np.zeros(len(arrivals), dtype=np.bool_)
    return Prelude(
        at_s=(arrivals.at_s[tail] - shift).tolist(),
        level=arrivals.level[tail].tolist(),
        job_type=arrivals.job_type[tail].tolist(),
        tenant=arrivals.tenant[tail].tolist(),
        work_s=arrivals.work_s[tail].tolist(),
        deadline_s=(arrivals.deadline_s[tail] - shift).tolist(),
        market_rows=_market_rows(trace, cut, shift) if warmup_s > 0 else [],
    )


def _market_rows(trace: Trace, cut: float, shift: float) -> list[MarketRow]:
    """Each type's price and capacity as of `cut`, at -warmup, then the rows after `cut`, shifted."""
    market = trace.market
    at, kind = market.at_s, market.node_type
    price, available, reclaim = market.price, market.available, market.reclaim
    rows: list[MarketRow] = []
    for index in range(len(market.node_types)):
        mine = (kind == index) & (at <= cut)
        priced = mine & ~np.isnan(price)
        known = mine & (available >= 0)
        last_price = float(price[priced][-1]) if priced.any() else math.nan
        last_available = int(available[known][-1]) if known.any() else -1
        if not math.isnan(last_price) or last_available >= 0:
            rows.append((cut - shift, index, last_price, last_available, 0.0))
    after = np.flatnonzero(at > cut)
    rows += [(float(at[i] - shift), int(kind[i]), float(price[i]), int(available[i]), float(reclaim[i])) for i in after]
    return rows
