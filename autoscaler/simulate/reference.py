"""A yardstick between the lower bound and a policy: the trace's work alone, each job priced at the
cheapest spot slot on offer when it arrives.

The lower bound may also move work to a cheaper hour within its due time; this figure may not, so it
lies above the bound (unless no spot type can be launched for long stretches). A policy's cost over
it is what the policy itself adds: idle slack, start-up lag, draining, dearer types, work lost to
reclaims, on-demand nodes. It is not a bound: a policy can undercut it by waiting for a cheaper hour.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from autoscaler.simulate.model import Trace
from dispatcher.markets import Market


def spot_floor_cost(trace: Trace) -> float:
    """$: sum over jobs of work x the least spot price per slot-hour among the types that can be launched
    at its arrival (when none can, among all spot types: nodes already up may run it). NaN without spot
    types."""
    market = trace.market
    spot = [k for k, t in enumerate(market.node_types) if t.market is Market.SPOT]
    if not spot:
        return math.nan
    slots = np.array([market.node_types[k].slots for k in spot], dtype=np.float64)
    column = {k: i for i, k in enumerate(spot)}
    price = np.array([market.node_types[k].ondemand_price for k in spot], dtype=np.float64)
    available = np.ones(len(spot), dtype=np.bool_)
    times, floors = [-math.inf], [_floor(price, available, slots)]
    order = np.argsort(market.at_s, kind="stable")
    for at, kind, new_price, new_available in zip(
        market.at_s[order], market.node_type[order], market.price[order], market.available[order], strict=True
    ):
        i = column.get(int(kind))
        if i is None:
            continue
        if not math.isnan(new_price):
            price[i] = new_price
        if new_available >= 0:
            available[i] = bool(new_available)
        if at == times[-1]:
            floors[-1] = _floor(price, available, slots)
        else:
            times.append(float(at))
            floors.append(_floor(price, available, slots))
    arrivals = trace.arrivals
    at_arrival = np.asarray(floors)[np.searchsorted(np.asarray(times), arrivals.at_s, side="right") - 1]
    return float(np.sum(arrivals.work_s / 3600 * at_arrival))


def _floor(price: npt.NDArray[np.float64], available: npt.NDArray[np.bool_], slots: npt.NDArray[np.float64]) -> float:
    per_slot = price / slots
    return float(per_slot[available].min() if available.any() else per_slot.min())
