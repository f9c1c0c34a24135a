"""An offline lower bound on what serving a trace can cost: an LP relaxation with perfect foresight and no
start-up lag, solved exactly (in closed form where it separates, by HiGHS through `scipy.optimize.linprog`
where it does not).

Why it is a bound
-----------------
Any real schedule, the autoscaler's included, must do every job's work between the job's arrival and its
due time, on slots that existed at that moment and were paid for at that moment's price. Cut time into
steps of `step_s`: such a schedule gives a feasible point of the LP below (per step, the slot-hours each
node type was paid for and the work each job got done then), and the LP prices a slot-hour at the lowest
price its type had anywhere in the step and lets a job use all of its first and last step, so that point
costs the LP no more than the schedule paid. The LP drops only what can raise a real cost: whole nodes and
whole jobs on one slot (integrality), start-up lag, the queue order, work lost to preemption, billing
coarser than a second. So its optimum is at most the cost of any schedule that meets the same due times.
Costs are counted per second whatever `billing` says: an hourly bill is at least the per-second one, so
the figure stays a bound (it is not rounded up to hours).

Due times: a job's deadline if it has one; otherwise arrival + `sla_s[level]` (the level's target wait)
+ the job's work, as a job started within its target wait is done by then; with no (or an infinite)
target, `end_s` (default: the trace end).

Spot capacity follows the simulator (engine.py): every type starts at its on-demand price, available, with
no nodes; `available` gates launches, and running nodes stay until a reclaim wave takes them. With
`outages="hold"` (default), in a step where a type is unavailable throughout, after a step like it, its
slot-hours are at most the step before's (no launches: its node count only falls); a wave that takes every
node (`reclaim` >= 1) empties the type until it is available again, unless the type could launch within
`reclaim_grace_s` before it (the simulator's waves spare nodes still starting); partial waves are ignored
(the bound is optimistic there). `outages="drop"` uses a type only in steps where it is available at some
moment: tighter, but a bound only if outages take the nodes with them.

The LP (H steps, K node types)
------------------------------
x[k, h] >= 0: slot-hours of type k paid in step h, at price[k, h] / slots[k], where the type may have
nodes; z[j, h] >= 0: work of job group j (jobs with the same arrival and due step) done in step h, for h in
its window. Rows: sum_h z[j, h] = work[j]; per step sum_j z[j, h] <= sum_k x[k, h] (with
`ondemand_levels="top"`, as in the simulator's default, also: work below level 0 <= spot x alone); outage
rows x[k, h] <= x[k, h-1]. Objective: min sum price * x. Slots are otherwise interchangeable.

How it is solved, exactly and small: capacity is unlimited per step, so only the cheapest freely bought
type per step (and market) matters, and a group alone would pay work * the least such price in its window.
Groups interact only through outage chains (capacity held, not bought, in that step). A chained column no
cheaper than the free one of its step is dominated, as is a chain's tail after its last cheaper step;
"held steps" are those some remaining chain covers. A group whose window misses every held step costs its
closed-form price (a range minimum over its window: no solver). The others go to HiGHS as the LP's dual,
on held steps only: maximise sum_j work[j] * u[j] with u[j] <= the least free price in j's window and
u[j] <= pi[h] for the held steps h in the window, pi[h] <= the step's free price, and per chain and prefix
sum pi <= sum price (a nonincreasing x is a sum of "held from the chain's start up to m" blocks). The
"u[j] <= pi[h] for every h of a window" family is replaced by a sparse table of range minima
(m[l, i] <= m[l-1, i], m[l-1, i + 2^(l-1)]; u[j] <= two entries), so the LP has O(S log S + G + chains)
variables and rows for S held steps and G distinct (window, price) groups, whatever the number of jobs.
The dual's optimum is the LP's (strong duality); the slot-hours bought come back as its bound marginals.
`decompose=False` skips the closed form and the pruning and sends every group over every step to HiGHS.

Limitations: optimistic within a step (its lowest price; capacity at any moment of it counts for all of
it); partial reclaim waves ignored; no per-type node limit (`max_nodes`) and no on-demand floor; a bound
only for schedules meeting every due time, and jobs without a target wait must finish by `end_s`; a due
time past the trace's last event is moved to the step after it, where held capacity counts as bought
(optimistic, keeps the LP small); the simulator bills a period at the price at its end (up to one
decision period late), so its bill can undercut the bound around a price drop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import linprog

from autoscaler.simulate.model import Market as MarketTrace
from autoscaler.simulate.model import Trace
from dispatcher.markets import Market

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

Billing = Literal["second", "hour"]
Outages = Literal["hold", "drop"]
OndemandLevels = Literal["all", "top"]
Method = Literal["highs", "highs-ds", "highs-ipm"]

DEFAULT_SLA_S = (60.0, 900.0, 3600.0, 21600.0)  # the simulator's target waits per level
# linprog's status for the dual HiGHS solves: it is never infeasible (all zeros is a point of it), and it is
# unbounded exactly when the bound's LP is infeasible (some work has no capacity in its window)
_STATUS = {0: "optimal", 1: "limit reached", 2: "numerical difficulties", 3: "infeasible", 4: "numerical difficulties"}


@dataclass(frozen=True)
class BoundResult:
    """The bound in $, with the slot-hours it buys: per type and per market they add up to the totals."""

    total_cost: float  # $; NaN unless status is "optimal"
    cost_by_market: dict[str, float]  # "spot", "on-demand"
    slot_hours_by_market: dict[str, float]  # slot-hours paid for
    cost_by_type: dict[str, float]  # per node type name
    slot_hours_by_type: dict[str, float]
    work_slot_hours: float  # the trace's work
    status: str  # "optimal", "infeasible", "limit reached", "numerical difficulties"
    message: str
    variables: int  # of the part HiGHS solved (0: everything separated)
    constraints: int
    nonzeros: int
    lp_jobs: int  # jobs whose windows meet a held step
    lp_groups: int  # their distinct (window on held steps, free price) groups
    held_steps: int
    steps: int
    build_s: float
    solve_s: float
    billing: Billing
    why: str

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


@dataclass(frozen=True)
class _Jobs:
    arrive: I64  # step of arrival
    due: I64  # last step it may be worked on
    work_h: F64  # slot-hours
    top: Bool  # level 0


@dataclass(frozen=True)
class _Capacity:
    """Per step, the cheapest column bought freely (row 0: spot types, row 1: the others; $/slot-hour, inf:
    none), and the chained columns kept (held through an outage: x[k, h] <= x[k, h-1])."""

    cheap_cost: F64  # (2, H)
    cheap_type: I64  # (2, H)
    ch_type: I64
    ch_step: I64
    ch_cost: F64
    ch_start: Bool  # first column of its chain (chains are contiguous, in step order)
    held: Bool  # (H,) steps with a kept chained column


@dataclass(frozen=True)
class _Groups:
    """Jobs aggregated for the LP: window on the held steps (indices into them), closed-form price."""

    first: I64
    last: I64
    work_h: F64
    unit: F64  # $/slot-hour: the least free price in the whole window
    kind: I64  # the node type offering it
    spot_only: Bool  # below level 0 with on-demand serving level 0 only


@dataclass(frozen=True)
class _Solved:
    cost_by: F64
    hours_by: F64
    total: float
    status: str
    message: str
    variables: int
    constraints: int
    nonzeros: int
    solve_s: float


def lower_bound(
    trace: Trace,
    *,
    step_s: float = 300.0,
    billing: Billing = "second",
    sla_s: Sequence[float] | None = DEFAULT_SLA_S,
    end_s: float | None = None,
    outages: Outages = "hold",
    reclaim_grace_s: float = 240.0,
    ondemand_levels: OndemandLevels = "all",
    decompose: bool = True,
    method: Method = "highs",
    time_limit_s: float | None = None,
) -> BoundResult:
    """The least any schedule meeting the due times can pay for `trace` (see the module docstring).

    sla_s: per level (the last entry for deeper levels), the target wait: a job without a deadline is due
    at arrival + target + its work; None or inf: due at `end_s` (default: the trace end). ondemand_levels:
    "top" lets on-demand slots serve level 0 only, as the simulator does by default. reclaim_grace_s: a
    reclaim wave spares nodes still starting, as the simulator does; set it to the longest start-up lag (0:
    a full wave empties the type). Raises ValueError on inputs no schedule could meet (a deadline before
    its arrival) or that make no sense.
    """
    started = time.perf_counter()
    _check_options(step_s, billing, sla_s, end_s, outages, ondemand_levels, method)
    if not (reclaim_grace_s >= 0):
        raise ValueError(f"reclaim_grace_s must be >= 0, not {reclaim_grace_s}")
    market = trace.market
    types = market.node_types
    if not types:
        raise ValueError("the trace's market has no node types")
    if any(t.slots <= 0 for t in types):
        raise ValueError(f"node types need slots >= 1: {[t.name for t in types if t.slots <= 0]}")
    n_types = len(types)
    split_top = ondemand_levels == "top"
    jobs, horizon, open_last = _jobs(trace, step_s, sla_s, end_s)
    price, open_ = _type_steps(market, horizon, step_s, outages, reclaim_grace_s)
    slots = np.asarray([t.slots for t in types], dtype=np.float64)
    spot = np.asarray([t.market is Market.SPOT for t in types], dtype=np.bool_)
    cap = _capacity(price / slots[:, None], open_, spot, open_last=open_last, split_top=split_top, prune=decompose)
    held = cap.held if decompose else np.ones(horizon, dtype=np.bool_)
    # per job: the least free price in its window (row 1: spot slots only), and the type offering it
    any_row = np.where(cap.cheap_cost[0] <= cap.cheap_cost[1], 0, 1)
    all_steps = np.arange(horizon)
    prices = np.stack((cap.cheap_cost[any_row, all_steps], cap.cheap_cost[0]))
    kinds = np.stack((cap.cheap_type[any_row, all_steps], cap.cheap_type[0]))
    spot_only = ~jobs.top if split_top else np.zeros(len(jobs.arrive), dtype=np.bool_)
    unit = np.empty(len(jobs.arrive))
    kind = np.empty(len(jobs.arrive), dtype=np.int64)
    for row, mask in enumerate((~spot_only, spot_only)):
        at = _window_argmin(prices[row], jobs.arrive[mask], jobs.due[mask])
        unit[mask], kind[mask] = prices[row][at], kinds[row][at]
    held_before = np.concatenate(([0], np.cumsum(held)))
    first, last = held_before[jobs.arrive], held_before[jobs.due + 1] - 1
    in_lp = first <= last
    free = ~in_lp
    cost_by = _sum_by(kind[free], jobs.work_h[free] * unit[free], n_types)
    hours_by = _sum_by(kind[free], jobs.work_h[free], n_types)
    total = float(np.sum(jobs.work_h[free] * unit[free]))
    status, message = "optimal", "separable: every window's least free price"
    if not np.all(np.isfinite(unit[free])):
        status, message = "infeasible", "a job's window has no capacity"
    groups = _group(first[in_lp], last[in_lp], jobs.work_h[in_lp], unit[in_lp], kind[in_lp], spot_only[in_lp])
    built, solved = time.perf_counter(), 0.0
    sizes = (0, 0, 0)
    if status == "optimal" and len(groups.first):
        lp = _solve_held(groups, cap, np.flatnonzero(held), prices, kinds, spot, split_top, method, time_limit_s)
        status, message, sizes = lp.status, lp.message, (lp.variables, lp.constraints, lp.nonzeros)
        cost_by, hours_by, total = cost_by + lp.cost_by, hours_by + lp.hours_by, total + lp.total
        built, solved = time.perf_counter() - lp.solve_s, lp.solve_s
    if status != "optimal":
        cost_by = hours_by = np.full(n_types, math.nan)
        total = math.nan
    return BoundResult(
        total_cost=total,
        cost_by_market={m.value: float(cost_by[[t.market is m for t in types]].sum()) for m in Market},
        slot_hours_by_market={m.value: float(hours_by[[t.market is m for t in types]].sum()) for m in Market},
        cost_by_type={t.name: float(v) for t, v in zip(types, cost_by, strict=True)},
        slot_hours_by_type={t.name: float(v) for t, v in zip(types, hours_by, strict=True)},
        work_slot_hours=float(jobs.work_h.sum()),
        status=status,
        message=message,
        variables=sizes[0],
        constraints=sizes[1],
        nonzeros=sizes[2],
        lp_jobs=int(in_lp.sum()),
        lp_groups=len(groups.first),
        held_steps=int(held.sum()),
        steps=horizon,
        build_s=built - started,
        solve_s=solved,
        billing=billing,
        why=_why(step_s, billing, outages, ondemand_levels),
    )


def _check_options(
    step_s: float,
    billing: str,
    sla_s: Sequence[float] | None,
    end_s: float | None,
    outages: str,
    ondemand_levels: str,
    method: str,
) -> None:
    if not (math.isfinite(step_s) and step_s > 0):
        raise ValueError(f"step_s must be a positive number of seconds, not {step_s}")
    if billing not in ("second", "hour"):
        raise ValueError(f"billing must be 'second' or 'hour', not {billing!r}")
    if sla_s is not None and (len(sla_s) == 0 or any(not (s >= 0) for s in sla_s)):
        raise ValueError(f"sla_s must be None or a non-empty sequence of waits >= 0 (inf allowed), not {sla_s}")
    if end_s is not None and not (math.isfinite(end_s) and end_s >= 0):
        raise ValueError(f"end_s must be a time >= 0, not {end_s}")
    if outages not in ("hold", "drop"):
        raise ValueError(f"outages must be 'hold' or 'drop', not {outages!r}")
    if ondemand_levels not in ("all", "top"):
        raise ValueError(f"ondemand_levels must be 'all' or 'top', not {ondemand_levels!r}")
    if method not in ("highs", "highs-ds", "highs-ipm"):
        raise ValueError(f"method must be 'highs', 'highs-ds' or 'highs-ipm', not {method!r}")


def _jobs(trace: Trace, step_s: float, sla_s: Sequence[float] | None, end_s: float | None) -> tuple[_Jobs, int, bool]:
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
    return _Jobs(arrive, due, work / 3600.0, level == 0), horizon, open_last


def _first_bad(bad: Bool, values: F64, what: str) -> None:
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(f"{int(bad.sum())} job(s): {what} (first: row {index}, value {values[index]})")


def _type_steps(market: MarketTrace, horizon: int, step_s: float, outages: Outages, grace_s: float) -> tuple[F64, Bool]:
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
        # a wave spares nodes still starting: those launched less than grace_s before it, if it could launch
        open_before = np.concatenate(([-1], last_open[:-1]))
        seg_end = np.concatenate((seg_at[1:], [np.inf]))
        seg_empty &= (open_before < 0) | (seg_end[np.maximum(open_before, 0)] <= seg_at - grace_s)
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


def _capacity(cost: F64, open_: Bool, spot: Bool, *, open_last: bool, split_top: bool, prune: bool) -> _Capacity:
    horizon = cost.shape[1]
    exists = np.isfinite(cost)
    closed = exists & ~open_
    pair = closed[:, 1:] & closed[:, :-1]  # x[k, h+1] <= x[k, h]
    if open_last and horizon > 1:
        pair[:, -1] = False
    chain_in = np.zeros_like(exists)
    chain_in[:, 1:] = pair
    in_chain = chain_in.copy()
    in_chain[:, :-1] |= pair
    free = exists & ~in_chain
    cheap_cost = np.full((2, horizon), np.inf)
    cheap_type = np.zeros((2, horizon), dtype=np.int64)
    for row, of_row in enumerate((spot, ~spot)):
        masked = np.where(free & of_row[:, None], cost, np.inf)
        cheap_type[row] = np.argmin(masked, axis=0)
        cheap_cost[row] = masked[cheap_type[row], np.arange(horizon)]
    flat = in_chain.ravel()
    start = (in_chain & ~chain_in).ravel()
    keep = flat.copy()
    if prune and flat.any():  # keep a chain only up to its last step cheaper than the free columns there
        label = np.cumsum(start) - 1  # row-major: a chain never spans two types
        rival = np.where(
            spot[:, None] & split_top, cheap_cost[0][None, :], np.minimum(cheap_cost[0], cheap_cost[1])[None, :]
        )
        useful = np.flatnonzero((in_chain & (cost < rival)).ravel())
        last_useful = np.full(int(start.sum()), -1, dtype=np.int64)
        np.maximum.at(last_useful, label[useful], useful)
        keep &= np.arange(keep.size) <= last_useful[np.maximum(label, 0)]
    kept = np.flatnonzero(keep)
    ch_type, ch_step = np.divmod(kept, horizon)
    held = np.zeros(horizon, dtype=np.bool_)
    held[ch_step] = True
    return _Capacity(cheap_cost, cheap_type, ch_type, ch_step, cost[ch_type, ch_step], start[kept], held)


def _group(first: I64, last: I64, work_h: F64, unit: F64, kind: I64, spot_only: Bool) -> _Groups:
    """Jobs with the same window on the held steps, the same free price and market share one group."""
    if not len(first):
        return _Groups(first, last, work_h, unit, kind, spot_only)
    _, price_rank = np.unique(unit, return_inverse=True)
    span = int(last.max()) + 1
    key = ((first * span + last) * (int(price_rank.max()) + 1) + price_rank.reshape(-1)) * 2 + spot_only
    _, index, inverse = np.unique(key, return_index=True, return_inverse=True)
    work = _sum_by(inverse.reshape(-1), work_h, len(index))
    return _Groups(first[index], last[index], work, unit[index], kind[index], spot_only[index])


def _window_argmin(values: F64, lo: I64, hi: I64) -> I64:
    """The index of the least of values[lo..hi] (inclusive), per window: a sparse table of range minima."""
    n = len(values)
    table = [np.arange(n)]
    span = 1
    while 2 * span <= n:
        prev = table[-1]
        left, right = prev[: n - 2 * span + 1], prev[span : n - span + 1]
        table.append(np.where(values[right] < values[left], right, left))
        span *= 2
    length = hi - lo + 1
    level = np.floor(np.log2(length)).astype(np.int64)
    level += (np.left_shift(1, level + 1) <= length).astype(np.int64)  # float log2 near powers of two
    level -= (np.left_shift(1, level) > length).astype(np.int64)
    best = np.empty(len(lo), dtype=np.int64)
    for j in np.unique(level):
        sel = level == j
        a = table[j][lo[sel]]
        b = table[j][hi[sel] - (1 << int(j)) + 1]
        best[sel] = np.where(values[b] < values[a], b, a)
    return best


def _solve_held(
    groups: _Groups,
    cap: _Capacity,
    held_steps: I64,
    prices: F64,
    kinds: I64,
    spot: Bool,
    split_top: bool,
    method: Method,
    time_limit_s: float | None,
) -> _Solved:
    """The LP's dual on the held steps (module docstring), and the slot-hours bought, from its marginals."""
    n_held, n_groups, n_ch = len(held_steps), len(groups.first), len(cap.ch_type)
    lp = _DualBuilder()
    # pi: the value of a slot-hour in each held step; rho (split_top): of a spot slot-hour (pi <= rho)
    od = cap.cheap_cost[1, held_steps]
    pi = lp.columns(np.zeros(n_held), od if split_top else prices[0, held_steps])
    rho = lp.columns(np.zeros(n_held), cap.cheap_cost[0, held_steps]) if split_top else pi
    if split_top:
        lp.rows_ub([(pi, 1.0), (rho, -1.0)])
    u = lp.columns(np.zeros(n_groups), groups.unit)  # value of a group's slot-hour: <= its free price
    for values, mask in ((pi, ~groups.spot_only), (rho, groups.spot_only)):
        if mask.any():
            _range_min(lp, values, u[mask], groups.first[mask], groups.last[mask])
    # chains: sum of pi (rho for spot types, with split_top) from a chain's start to m <= its price there
    chain_id = np.cumsum(cap.ch_start) - 1
    chain_first = np.flatnonzero(cap.ch_start)
    cum = np.cumsum(cap.ch_cost)
    budget = cum - (cum - cap.ch_cost)[chain_first][chain_id]
    q = lp.columns(np.zeros(n_ch), budget)
    held_at = np.searchsorted(held_steps, cap.ch_step)
    value = np.where(spot[cap.ch_type] & split_top, rho[held_at], pi[held_at])
    follows = np.flatnonzero(~cap.ch_start)
    lp.rows_eq([(q, 1.0), (value, -1.0)], where=np.arange(n_ch))
    lp.rows_eq([(q[follows - 1], -1.0)], where=follows)  # q[m] = q[m-1] + value[m]
    cost = np.zeros(lp.n_cols)
    cost[u] = -groups.work_h  # maximise
    a_ub, a_eq, bounds = lp.matrices()
    options: dict[str, float | bool] = {"presolve": True}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    built = time.perf_counter()
    res = linprog(
        cost,
        A_ub=a_ub if a_ub.shape[0] else None,
        b_ub=np.zeros(a_ub.shape[0]) if a_ub.shape[0] else None,
        A_eq=a_eq if a_eq.shape[0] else None,
        b_eq=np.zeros(a_eq.shape[0]) if a_eq.shape[0] else None,
        bounds=bounds,
        method=method,
        options=options,
    )
    solve_s = time.perf_counter() - built
    n_types = len(spot)
    sizes = (lp.n_cols, a_ub.shape[0] + a_eq.shape[0], a_ub.nnz + a_eq.nnz)
    status = _STATUS.get(int(res.status), f"status {res.status}")
    if status != "optimal":
        nan = np.full(n_types, math.nan)
        return _Solved(nan, nan, math.nan, status, str(res.message), *sizes, solve_s)
    bought = -np.asarray(res.upper.marginals, dtype=np.float64)  # slot-hours behind each upper bound
    bought = np.maximum(bought, 0.0)
    # chains: a block "held from the start to m" is bought[q[m]]; step h of a chain holds the blocks m >= h
    suffix = np.concatenate((np.cumsum(bought[q][::-1])[::-1], [0.0]))
    chain_end = np.concatenate((chain_first[1:], [n_ch]))
    held_h = suffix[:-1] - suffix[chain_end[chain_id]] if n_ch else np.zeros(0)
    parts = [
        (cap.ch_type, held_h, cap.ch_cost),
        (groups.kind, bought[u], groups.unit),  # bought freely at the window's cheapest step
    ]
    if split_top:
        parts += [
            (cap.cheap_type[1, held_steps], bought[pi], od),
            (cap.cheap_type[0, held_steps], bought[rho], cap.cheap_cost[0, held_steps]),
        ]
    else:
        parts += [(kinds[0, held_steps], bought[pi], prices[0, held_steps])]
    cost_by, hours_by = np.zeros(n_types), np.zeros(n_types)
    for kind, hours, unit in parts:
        used = hours > 0
        cost_by += _sum_by(kind[used], hours[used] * unit[used], n_types)
        hours_by += _sum_by(kind[used], hours[used], n_types)
    return _Solved(cost_by, hours_by, -float(res.fun), status, str(res.message), *sizes, solve_s)


def _range_min(lp: _DualBuilder, values: I64, u: I64, first: I64, last: I64) -> None:
    """u[j] <= min(values[first[j]..last[j]]) as rows, through a sparse table of range minima."""
    table = [values]
    span = 1
    while 2 * span <= len(values):
        prev = table[-1]
        size = len(values) - 2 * span + 1
        level = lp.columns(np.zeros(size), np.full(size, np.inf))
        lp.rows_ub([(level, 1.0), (prev[:size], -1.0)])
        lp.rows_ub([(level, 1.0), (prev[span : span + size], -1.0)])
        table.append(level)
        span *= 2
    length = last - first + 1
    depth = np.floor(np.log2(length)).astype(np.int64)
    depth += (np.left_shift(1, depth + 1) <= length).astype(np.int64)  # float log2 near powers of two
    depth -= (np.left_shift(1, depth) > length).astype(np.int64)
    for j in np.unique(depth):
        sel = depth == j
        left, right = table[j][first[sel]], table[j][last[sel] - (1 << int(j)) + 1]
        lp.rows_ub([(u[sel], 1.0), (left, -1.0)])
        differ = right != left
        lp.rows_ub([(u[sel][differ], 1.0), (right[differ], -1.0)])


class _DualBuilder:
    """Columns with bounds, and rows of the form sum of (+/-1) * column <= 0 or == 0, built in bulk."""

    def __init__(self) -> None:
        self.n_cols = 0
        self._lower: list[F64] = []
        self._upper: list[F64] = []
        self._ub: list[tuple[I64, I64, F64]] = []
        self._eq: list[tuple[I64, I64, F64]] = []
        self._n_ub = 0
        self._n_eq = 0

    def columns(self, lower: F64, upper: F64) -> I64:
        cols = self.n_cols + np.arange(len(lower), dtype=np.int64)
        self.n_cols += len(lower)
        self._lower.append(np.asarray(lower, dtype=np.float64))
        self._upper.append(np.asarray(upper, dtype=np.float64))
        return cols

    def rows_ub(self, terms: list[tuple[I64, float]]) -> None:
        """One new row per position: sum of coefficient * column[position] <= 0."""
        n = len(terms[0][0])
        rows = self._n_ub + np.arange(n, dtype=np.int64)
        self._ub += [(rows, cols, np.full(n, coef)) for cols, coef in terms]
        self._n_ub += n

    def rows_eq(self, terms: list[tuple[I64, float]], where: I64) -> None:
        """Add the terms to equality rows `where` (rows are created up to the largest index)."""
        self._eq += [(where, cols, np.full(len(cols), coef)) for cols, coef in terms]
        self._n_eq = max(self._n_eq, int(where.max()) + 1 if len(where) else 0)

    def matrices(self) -> tuple[sparse.csr_array, sparse.csr_array, F64]:
        shape = self.n_cols
        mats = []
        for parts, n_rows in ((self._ub, self._n_ub), (self._eq, self._n_eq)):
            rows = np.concatenate([r for r, _, _ in parts]) if parts else np.zeros(0, dtype=np.int64)
            cols = np.concatenate([c for _, c, _ in parts]) if parts else np.zeros(0, dtype=np.int64)
            vals = np.concatenate([v for _, _, v in parts]) if parts else np.zeros(0)
            mats.append(sparse.csr_array((vals, (rows, cols)), shape=(n_rows, shape)))
        bounds = np.column_stack((np.concatenate(self._lower), np.concatenate(self._upper)))
        return mats[0], mats[1], bounds


def _sum_by(index: I64, weights: F64, size: int) -> F64:
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64)


def _why(step_s: float, billing: Billing, outages: Outages, ondemand_levels: OndemandLevels) -> str:
    spot = (
        "spot nodes outlive an outage (no launches) until a full reclaim wave, partial waves are ignored"
        if outages == "hold"
        else "spot slots exist only in steps where the type is available, reclaim waves are ignored"
    )
    top = "; on-demand slots serve level 0 only" if ondemand_levels == "top" else ""
    hourly = "; hourly billing only rounds a real bill up, so this per-second figure stays a bound" * (
        billing == "hour"
    )
    return (
        "A lower bound: any schedule, ours included, must do each job's work between its arrival and its due "
        "time (deadline, else arrival + the level's target wait + its work) on slots that existed and cost "
        f"at least these prices. The LP buys slot-hours per {step_s:g}-s step at the lowest price each type "
        "had in the step and drops only what can raise a real cost: whole nodes and whole jobs per slot, "
        "start-up lag, queue order, preemption losses, billing coarser than a second. "
        f"Optimistic where it simplifies: {spot}{top}. Costs are per second{hourly}."
    )
