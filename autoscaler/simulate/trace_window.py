"""A window of a trace: the span from `start_s` for `duration_s`, as a trace of its own that starts at 0.

A real market history is often longer than the arrivals, or one week of a month is the one wanted; and a trace
whose duration overshoots its jobs makes the simulator's warm-up replay an empty hour. `window()` cuts the trace
to the span that matters. Cutting the market rows alone would lose its state: a type whose price last changed
two days before the window would start it at the on-demand price. So the window opens with each type's price
and capacity as of `start_s`, however long before that they were set.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from autoscaler.simulate.model import Arrivals, Market, Trace

__all__ = ["window"]


def window(trace: Trace, start_s: float, duration_s: float | None = None) -> Trace:
    """The part of `trace` from `start_s` for `duration_s` seconds (None: to the trace's end), with every time
    shifted so that `start_s` becomes 0 and `start_epoch_s` moved to match.

    It keeps the jobs that arrive at `start_s` <= at_s < `start_s + duration_s` (deadlines shifted with them, even
    past the window's end) and the market rows in that span, rows at exactly `start_s` as they are (their reclaims
    once). Before those, rows at 0 give each node type the price and capacity in force at `start_s` that no row at
    `start_s` sets; a type never priced nor given capacity before gets none, as in the trace. Job types, tenants
    and node types keep their names and indices, used in the window or not."""
    _check(trace, start_s, duration_s)
    length = trace.duration_s - start_s if duration_s is None else float(duration_s)
    end = start_s + length
    return Trace(
        arrivals=_arrivals(trace.arrivals, start_s, end),
        market=_market(trace.market, start_s, end),
        duration_s=length,
        start_epoch_s=trace.start_epoch_s + start_s,
        checkpoint_s=trace.checkpoint_s,
    )


def _check(trace: Trace, start_s: float, duration_s: float | None) -> None:
    if not (math.isfinite(start_s) and 0 <= start_s < trace.duration_s):
        raise ValueError(
            f"start_s must be a time within the trace, 0 <= start_s < {trace.duration_s:g} (its duration_s), "
            f"got {start_s}; pass a start before the trace's end"
        )
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(
            f"duration_s must be a number of seconds > 0, got {duration_s}; pass None for the rest of the trace"
        )


def _arrivals(arrivals: Arrivals, start_s: float, end_s: float) -> Arrivals:
    first, stop = np.searchsorted(arrivals.at_s, [start_s, end_s], side="left")
    kept = slice(int(first), int(stop))
    return replace(
        arrivals,
        at_s=arrivals.at_s[kept] - start_s,
        job_type=arrivals.job_type[kept].copy(),
        level=arrivals.level[kept].copy(),
        tenant=arrivals.tenant[kept].copy(),
        work_s=arrivals.work_s[kept].copy(),
        deadline_s=arrivals.deadline_s[kept] - start_s,
    )


def _market(market: Market, start_s: float, end_s: float) -> Market:
    before, stop = (int(i) for i in np.searchsorted(market.at_s, [start_s, end_s], side="left"))
    at_start = int(np.searchsorted(market.at_s, start_s, side="right"))
    count = len(market.node_types)
    kind, price, available = market.node_type, market.price, market.available
    # A row at exactly start_s sets its fields itself; the state row gives the rest, as of the rows before.
    now = slice(before, at_start)
    priced = _last(kind[:before], ~np.isnan(price[:before]), count)
    priced[kind[now][~np.isnan(price[now])]] = -1
    known = _last(kind[:before], available[:before] >= 0, count)
    known[kind[now][available[now] >= 0]] = -1
    state = np.flatnonzero((priced >= 0) | (known >= 0))
    state_price = np.where(priced[state] >= 0, price[priced[state]], np.nan)
    state_available = np.where(known[state] >= 0, available[known[state]], -1).astype(np.int8)
    kept = slice(before, stop)
    return replace(
        market,
        at_s=np.concatenate([np.zeros(len(state)), market.at_s[kept] - start_s]),
        node_type=np.concatenate([state.astype(np.int32), kind[kept]]),
        price=np.concatenate([state_price, price[kept]]),
        available=np.concatenate([state_available, available[kept]]),
        reclaim=np.concatenate([np.zeros(len(state)), market.reclaim[kept]]),
    )


def _last(kind: npt.NDArray[np.int32], mask: npt.NDArray[np.bool_], count: int) -> npt.NDArray[np.int64]:
    """Per node type, the index of its last row where `mask` holds (-1: none)."""
    last = np.full(count, -1, np.int64)
    np.maximum.at(last, kind[mask], np.flatnonzero(mask))
    return last
