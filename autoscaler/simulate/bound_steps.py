"""The lower bound's time steps: each job's arrival and due step (from its deadline or its level's target
wait), and each node type's least price and availability per step (from the spot market history)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autoscaler.simulate.bound_types import F64, I64, Bool, Outages
from autoscaler.simulate.model import Market as MarketTrace
from autoscaler.simulate.model import Trace

__all__ = [
    "JobSteps",
    "job_steps",
    "type_steps",
]


@dataclass(frozen=True)
class JobSteps:
    arrive: I64  # step of arrival
    due: I64  # last step it may be worked on
    work_h: F64  # slot-hours
    top: Bool  # level 0
    at_s: F64  # arrival and due time in seconds, for messages
    due_s: F64


def job_steps(
    trace: Trace, step_s: float, sla_s: Sequence[float] | None, end_s: float | None
) -> tuple[JobSteps, int, bool]:
    """Arrival and due step of every job with work, the number of steps, and whether the last step stands
    for all later ones (dues beyond every event are cut to it; no outage row into it then)."""
    arrivals = trace.arrivals
    at, work, deadline = arrivals.at_s, arrivals.work_s, arrivals.deadline_s
    if not (math.isfinite(trace.duration_s) and trace.duration_s >= 0):
        raise ValueError(f"the trace's duration_s must be >= 0, not {trace.duration_s}")
    _first_bad(~(np.isfinite(at) & (at >= 0)), at, "arrival at_s must be finite and >= 0")
    _first_bad(~(np.isfinite(work) & (work >= 0)), work, "work_s must be finite and >= 0")
    _first_bad(deadline < at, deadline, "deadline_s is before the job's arrival (no schedule can meet it)")
    _first_bad(arrivals.level < 0, arrivals.level.astype(np.float64), "level must be >= 0")
    end = trace.duration_s if end_s is None else end_s
    keep = work > 0
    at, work, deadline, level = at[keep], work[keep], deadline[keep], arrivals.level[keep]
    last = np.maximum(at, end)
    if sla_s is None:
        due_s = last
    else:
        waits = np.asarray(sla_s, dtype=np.float64)
        wait = waits[np.minimum(level.astype(np.int64), len(waits) - 1)]
        due_s = np.where(np.isfinite(wait), at + wait + work, last)
    due_s = np.where(np.isfinite(deadline), deadline, due_s)  # NaN and +inf: no deadline
    arrive = np.floor(at / step_s).astype(np.int64)
    due = np.maximum(np.ceil(due_s / step_s).astype(np.int64) - 1, arrive)
    steps = max(1, math.ceil(end / step_s), math.ceil(trace.duration_s / step_s))
    market_at = trace.market.at_s
    last_event = max(
        steps - 1,
        int(arrive.max()) if len(arrive) else 0,
        int(np.floor(market_at.max() / step_s)) if len(market_at) else 0,
    )
    constant_from = last_event + 1  # every step from here on has the same prices and availability
    open_last = bool(len(due)) and int(due.max()) > constant_from
    if open_last:
        due = np.minimum(due, constant_from)
        horizon = constant_from + 1
    else:
        horizon = max(steps, int(due.max()) + 1 if len(due) else 1)
    return JobSteps(arrive, due, work / 3600.0, level == 0, at, due_s), horizon, open_last


def _first_bad(bad: Bool, values: F64, what: str) -> None:
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{int(bad.sum())} job(s): {what} (first: row {index}, value {values[index]})")


def type_steps(market: MarketTrace, horizon: int, step_s: float, outages: Outages, grace_s: float) -> tuple[F64, Bool]:
    """Per node type and step: the lowest $/node-hour at which it may have nodes in the step (inf: none),
    and whether it can be launched at some moment of the step."""
    n_types = len(market.node_types)
    if len(market) and not (np.all(market.node_type >= 0) and np.all(market.node_type < n_types)):
        raise ValueError("market rows name a node type index out of range")
    if np.any(market.price < 0) or any(not (t.ondemand_price >= 0) for t in market.node_types):
        raise ValueError("negative price in the market")
    step_start = np.arange(horizon, dtype=np.float64) * step_s
    price = np.full((n_types, horizon), np.inf)
    open_ = np.zeros((n_types, horizon), dtype=np.bool_)
    order = np.argsort(market.node_type, kind="stable")
    bounds = np.searchsorted(market.node_type[order], np.arange(n_types + 1))
    for k, node_type in enumerate(market.node_types):
        rows = order[bounds[k] : bounds[k + 1]]
        rows = rows[np.argsort(market.at_s[rows], kind="stable")]
        at = np.concatenate(([0.0], np.maximum(market.at_s[rows], 0.0)))
        p = np.concatenate(([node_type.ondemand_price], market.price[rows]))
        avail = np.concatenate(([1], market.available[rows].astype(np.int64)))
        empties = np.concatenate(([True], market.reclaim[rows] >= 1.0))  # no nodes at the start either
        p = p[np.maximum.accumulate(np.where(np.isnan(p), 0, np.arange(len(p))))]
        avail = avail[np.maximum.accumulate(np.where(avail < 0, 0, np.arange(len(avail))))]
        # one segment per distinct time: the state after its last row; emptied if any of its rows empties
        first = np.flatnonzero(np.concatenate(([True], at[1:] != at[:-1])))
        last = np.concatenate((first[1:] - 1, [len(at) - 1]))
        seg_at, seg_p, seg_open = at[first], p[last], avail[last] == 1
        seg_empty = np.maximum.reduceat(empties.astype(np.int64), first) > 0
        idx = np.arange(len(first))
        last_open = np.maximum.accumulate(np.where(seg_open, idx, -1))
        # a wave spares nodes still starting (launched less than grace_s before it, if it could launch), but
        # not at a capacity loss (available before, not after): their launches fail with the capacity
        open_before = np.concatenate(([-1], last_open[:-1]))
        seg_end = np.concatenate((seg_at[1:], [np.inf]))
        loss = ~seg_open & (open_before == idx - 1)
        seg_empty &= loss | (open_before < 0) | (seg_end[np.maximum(open_before, 0)] <= seg_at - grace_s)
        last_empty = np.maximum.accumulate(np.where(seg_empty, idx, -1))
        usable = seg_open if outages == "drop" else last_open >= last_empty  # it may have nodes
        value = np.where(usable, seg_p, np.inf)
        at_start = np.searchsorted(seg_at, step_start, side="right") - 1
        price[k] = value[at_start]
        open_[k] = seg_open[at_start]
        step = np.floor(seg_at / step_s).astype(np.int64)
        inside = (seg_at > step * step_s) & (step < horizon)  # segments starting within a step
        np.minimum.at(price[k], step[inside], value[inside])
        np.logical_or.at(open_[k], step[inside], seg_open[inside])
    return price, open_
