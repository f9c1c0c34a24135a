"""An offline lower bound on what serving a trace can cost: an LP relaxation with perfect foresight and no
start-up lag, solved exactly (in closed form where it separates, by HiGHS through `scipy.optimize.linprog`
where it does not).

Why it is a bound
-----------------
Any real schedule, the autoscaler's included, must do every job's work between the job's arrival and its
due time, on slots that existed at that moment and were paid for at that moment's price, and runs each job
on one slot at a time. Cut time into steps of `step_s`: such a schedule gives a feasible point of the LP
below (per step, the slot-hours each node type was paid for and the work each job got done then, which is
at most the part of the step inside the job's window), and the LP prices a slot-hour at the lowest price
its type had anywhere in the step, so that point costs the LP no more than the schedule paid. The LP drops
only what can raise a real cost: whole nodes (integrality); a job on the same slot throughout (only its
work per step is capped, and jobs of a group share their caps); start-up lag; the queue order; work lost
to preemption; billing coarser than a second. So its optimum is at most the cost of any schedule that
meets the same due times. Costs are counted per second whatever `billing` says: an hourly bill is at least
the per-second one, so the figure stays a bound (it is not rounded up to hours).

Due times: a job's deadline if it has one; otherwise arrival + `sla_s[level]` (the level's target wait)
+ the job's work, as a job started within its target wait is done by then; with no (or an infinite)
target, `end_s` (default: the trace end).

No schedule, no bound: a job whose window has no step where a type it may use can have nodes (with
`ondemand_levels="top"`, a job below level 0 with no spot capacity throughout its window) makes
`lower_bound` raise ValueError naming how many and the first (bound_servable), as a deadline before its
arrival does, rather than return a NaN that hides which jobs and which option are at fault. A job whose
window has capacity, but for less time than its work (no schedule meets its due time on one slot), is not
capped: it keeps the relaxation of `one_slot_per_job=False` (bound_caps).

Spot capacity follows the simulator (engine.py): every type starts at its on-demand price, available, with
no nodes; `available` gates launches, and running nodes stay until a reclaim wave takes them. With
`outages="hold"` (default), in a step where a type is unavailable throughout, after a step like it, its
slot-hours are at most the step before's (no launches: its node count only falls). A wave that takes every
node (`reclaim` >= 1) empties the type until it is available again:
- always when it coincides with the type's capacity loss (`available` 1 -> 0 at the same `at_s`, in the
  wave's row or another row of the type): nodes still launching lose their launch with the capacity, so
  none launched just before the loss outlives it. After such losses of every spot type (a market whose
  zone losses reclaim every node), work whose window lies inside the outage is bought on demand, and so is
  the part of a long job's work that cannot wait for the outage's end on one slot;
- otherwise unless the type could launch within `reclaim_grace_s` before it (such a wave spares nodes still
  starting).
A capacity loss without a full wave leaves the nodes running: the bound may hold them through the outage.
Partial waves are ignored: optimistic (the bound may keep nodes a wave took), so still a bound. A wave of
fraction f does not give x[k, h] <= (1 - f) x[k, h-1] (it may fall late in step h, and one without a
capacity loss spares nodes still starting); a sound row would span steps (x[k, h+1] <= (1 - f) x[k, h-1],
once no node can still be starting) and break the chains' "held from the start up to m" blocks the dual
relies on, for little where zone losses reclaim every node.
`outages="drop"` uses a type only in steps where it is available at some moment: tighter, but a bound only
if outages take the nodes with them.

The LP (H steps, K node types)
------------------------------
x[k, h] >= 0: slot-hours of type k paid in step h, at price[k, h] / slots[k], where the type may have nodes;
z[j, h] >= 0: work of job group j done in step h, for h in its window. A group is the jobs with the same
arrival step, due step, work class (floor(log2(work_s)), so a long job does not share a group, and its
caps, with many short ones) and market (spot only or not, with `ondemand_levels="top"`). Rows: sum_h
z[j, h] = work[j]; z[j, h] <= cap[j, h], the sum over its jobs of the time (slot-hours) their windows
spend in step h: the whole step inside a window, from the arrival in the first, up to the due time in the
last (the open last step, which stands for all later ones, has no end); per step sum_j z[j, h] <= sum_k
x[k, h] (with `ondemand_levels="top"`, also: work below level 0 <= spot x alone); outage rows x[k, h] <=
x[k, h-1]. Objective: min sum price * x. Slots are otherwise interchangeable. `one_slot_per_job=False`
drops the caps (and the work classes): the LP as it was, where a group's work may run on any number of
slots at once.

How it is solved, exactly and small: capacity is unlimited per step, so only the cheapest freely bought
type per step (and market) matters. Groups interact only through outage chains (capacity held, not bought,
in that step). A chained column no cheaper than the free one of its step is dominated, as is a chain's tail
after its last cheaper step; "held steps" are those some remaining chain covers. A group whose window
misses every held step fills its window cheapest first, each step up to its cap (bound_fill: one range
minimum for most, a small sort for the rest; no solver). The others go to HiGHS as the LP's dual, on held
steps only: maximise sum_j (work[j] * u[j] - sum_h cap[j, h] * max(0, u[j] - pi[h])), pi[h] the value of
a slot-hour in held step h (<= the step's free price), the free price itself in a free step, with per
chain and prefix sum pi <= sum price (a nonincreasing x is a sum of "held from the chain's start up to m"
blocks). A step whose cap takes all of a group's work is the uncapped LP's u[j] <= pi[h]; those and the
caps' rows left out are written through a sparse table of range minima (m[l, i] <= m[l-1, i],
m[l-1, i + 2^(l-1)]; u[j] <= two entries); groups without cap rows are merged by (held range, least free
price, market). The caps' rows (bound_held) come in by row generation (bound_refine): first none, then
where each group, filled cheapest first at the solution's pi, would work, until none is left (certified
optimal, `exact`) or a budget of rows or rounds is spent. So the LP has O(S log S + G + R + chains)
variables and rows for S held steps, G groups and R cap rows, whatever the number of jobs. Each LP's
optimum is its primal's (strong duality: the primal is feasible, as every capped job's work fits its caps
on steps with capacity, and the dual is bounded); leaving a cap out only relaxes the primal, so every
round's optimum is a bound. The slot-hours bought come back as the dual's bound and row marginals.
`decompose=False` skips the closed form, the pruning and the row generation: every group over every step goes
to HiGHS with every cap written out (the primal's plain bounds z[j, h] <= cap[j, h]; no budget).

Limitations: optimistic within a step (its lowest price; capacity at any moment of it counts for all of it, so
nodes launched in the step of a capacity loss count for that step, and a job's cap there is its time in the
step whenever the capacity was there); a job's work per step is capped, but not which slot does it (it may
hop between types and steps), and jobs of a group share caps (within a factor of 2 of each other's work);
a job whose work exceeds the time its window has capacity is not capped (with `ondemand_levels="top"`, that
counts spot time only, so such a job may make "top" cheaper than "all"); on large weeks with most steps
held (the default market), the row budget (bound_refine.MAX_ROWS, MAX_ROUNDS) may stop before every
binding cap is in: still a bound, `exact` False and the message says so; partial reclaim waves ignored; a
full wave at a capacity loss is taken to end every launch of the type, one without a loss to spare launches
within `reclaim_grace_s` (the simulator's rules; a longer start-up lag needs a larger grace); no per-type
node limit (`max_nodes`) and no on-demand floor; a bound only for schedules meeting every due time, and jobs
without a target wait must finish by `end_s`; a due time past the trace's last event is moved to the step
after it, where held capacity counts as bought (optimistic, keeps the LP small); the simulator bills a
period at the price at its end (up to one decision period late), so its bill can undercut the bound around a
price drop.

Code layout: this module holds the entry point (`lower_bound`, `BoundResult`); `bound_steps` turns the trace
into steps, `bound_servable` refuses jobs no schedule can serve, `bound_capacity` prices capacity per step
and window, `bound_caps` groups the jobs and caps their work per step, `bound_fill` is the closed form,
`bound_held` lays out the held-step LP's rows, `bound_refine` chooses which caps get rows, `bound_dual`
builds and solves that LP (with `bound_lp`'s builder), and `bound_types` holds the shared types.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from autoscaler.simulate.bound_capacity import step_capacity
from autoscaler.simulate.bound_caps import group_windows
from autoscaler.simulate.bound_fill import closed_form
from autoscaler.simulate.bound_held import held_windows
from autoscaler.simulate.bound_refine import solve_capped
from autoscaler.simulate.bound_servable import check_servable
from autoscaler.simulate.bound_steps import job_steps, type_steps
from autoscaler.simulate.bound_types import Billing, Method, OndemandLevels, Outages
from autoscaler.simulate.model import Trace
from dispatcher.markets import Market

DEFAULT_SLA_S = (60.0, 900.0, 3600.0, 21600.0)  # the simulator's target waits per level


@dataclass(frozen=True)
class BoundResult:
    """The bound in $, with the slot-hours it buys: per type and per market they add up to the totals."""

    total_cost: float  # $; NaN unless status is "optimal"
    cost_by_market: dict[str, float]  # "spot", "on-demand"
    slot_hours_by_market: dict[str, float]  # slot-hours paid for
    cost_by_type: dict[str, float]  # per node type name
    slot_hours_by_type: dict[str, float]
    work_slot_hours: float  # the trace's work
    status: str  # "optimal", "limit reached", "numerical difficulties" ("infeasible": only if HiGHS says so)
    message: str
    variables: int  # of the part HiGHS solved (0: everything separated)
    constraints: int
    nonzeros: int
    lp_jobs: int  # jobs whose windows meet a held step
    lp_groups: int  # their groups, as the LP's columns (groups needing no caps merged by range and price)
    lp_rounds: int  # LPs solved, adding long jobs' caps where they bind (bound_refine)
    exact: bool  # the LP's optimum, certified; False: a budget left some caps out (still a bound, maybe lower)
    held_steps: int
    steps: int
    build_s: float
    solve_s: float
    billing: Billing
    why: str

    @property
    def ok(self) -> bool:
        return self.status == "optimal"


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
    one_slot_per_job: bool = True,
    decompose: bool = True,
    method: Method = "highs",
    time_limit_s: float | None = None,
) -> BoundResult:
    """The least any schedule meeting the due times can pay for `trace` (see the module docstring).

    sla_s: per level (the last entry for deeper levels), the target wait: a job without a deadline is due
    at arrival + target + its work; None or inf: due at `end_s` (default: the trace end). ondemand_levels:
    "top" lets on-demand slots serve level 0 only. reclaim_grace_s: a reclaim wave without a capacity
    loss at that moment spares nodes still starting, as the simulator does; set it to the longest start-up
    lag (0: a full wave empties the type); a full wave at a capacity loss empties it whatever this says.
    one_slot_per_job: a job's work in a step is at most its time in the step (the default; False: the looser
    LP where a job may run on any number of slots at once). Raises ValueError on inputs no schedule could
    meet (a deadline before its arrival; a job with no usable capacity in its window, e.g. below level 0
    with "top" and no spot) or that make no sense. `time_limit_s` applies to each HiGHS call.
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
    jobs, horizon, open_last = job_steps(trace, step_s, sla_s, end_s)
    price, open_ = type_steps(market, horizon, step_s, outages, reclaim_grace_s)
    slots = np.asarray([t.slots for t in types], dtype=np.float64)
    spot = np.asarray([t.market is Market.SPOT for t in types], dtype=np.bool_)
    spot_only = ~jobs.top if split_top else np.zeros(len(jobs.arrive), dtype=np.bool_)
    check_servable(price, spot, jobs, spot_only)
    cap = step_capacity(price / slots[:, None], open_, spot, open_last=open_last, split_top=split_top, prune=decompose)
    held = cap.held if decompose else np.ones(horizon, dtype=np.bool_)
    # per step, the least free price (row 1: spot slots only), and the type offering it
    any_row = np.where(cap.cheap_cost[0] <= cap.cheap_cost[1], 0, 1)
    all_steps = np.arange(horizon)
    prices = np.stack((cap.cheap_cost[any_row, all_steps], cap.cheap_cost[0]))
    kinds = np.stack((cap.cheap_type[any_row, all_steps], cap.cheap_type[0]))
    exists = np.isfinite(price)
    usable = np.stack((exists.any(axis=0), exists[spot].any(axis=0)))
    groups = group_windows(jobs, step_s, spot_only, usable, open_last, one_slot_per_job)
    held_before = np.concatenate(([0], np.cumsum(held)))
    in_lp = held_before[groups.due + 1] > held_before[groups.arrive]
    free = closed_form(groups.subset(~in_lp), prices, kinds, n_types)
    cost_by, hours_by, total = free.cost_by, free.hours_by, free.total
    status, message = "optimal", "separable: every window filled cheapest first"  # finite: check_servable
    built, solved = time.perf_counter(), 0.0
    sizes = (0, 0, 0)
    lp_jobs = lp_groups = rounds = 0
    exact = True
    if in_lp.any():
        windows = held_windows(groups.subset(in_lp), held, prices)
        capped = solve_capped(windows, cap, prices, kinds, spot, split_top, method, time_limit_s, decompose)
        lp, exact, rounds = capped.lp, capped.exact, capped.rounds
        if not exact and lp.status == "optimal":
            lp = replace(lp, message=f"{lp.message}; {_budget_note(rounds, capped.active)}")
        lp_jobs, lp_groups = capped.rows.jobs, len(capped.rows.work_h)
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
        lp_jobs=lp_jobs,
        lp_groups=lp_groups,
        lp_rounds=rounds,
        exact=exact,
        held_steps=int(held.sum()),
        steps=horizon,
        build_s=built - started,
        solve_s=solved,
        billing=billing,
        why=_why(step_s, billing, outages, ondemand_levels, one_slot_per_job),
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


def _budget_note(rounds: int, active: int) -> str:
    return (
        f"row budget spent after {rounds} LP round(s) with {active} capped rows: some caps of jobs meeting held "
        "steps were left out, so this is a bound but maybe below the capped LP's optimum"
    )


def _why(step_s: float, billing: Billing, outages: Outages, ondemand_levels: OndemandLevels, one_slot: bool) -> str:
    spot = (
        "spot nodes outlive an outage (no launches) until a full reclaim wave, which at a capacity loss takes "
        "nodes still launching too and otherwise spares them, partial waves are ignored"
        if outages == "hold"
        else "spot slots exist only in steps where the type is available, reclaim waves are ignored"
    )
    top = "; on-demand slots serve level 0 only" if ondemand_levels == "top" else ""
    hourly = "; hourly billing only rounds a real bill up, so this per-second figure stays a bound" * (
        billing == "hour"
    )
    jobs = (
        "A job runs on one slot at a time, so in a step it does at most the part of the step inside its window "
        "(jobs of one work class share their caps; a job whose work cannot fit in the time its window has "
        "capacity is not capped). The LP drops only what can raise a real cost: whole nodes, a job keeping "
        "one slot (it may change slot and type from step to step)"
        if one_slot
        else "The LP drops only what can raise a real cost: whole nodes and whole jobs on one slot (a job's work "
        "may run on many slots at once)"
    )
    return (
        "A lower bound: any schedule, ours included, must do each job's work between its arrival and its due "
        "time (deadline, else arrival + the level's target wait + its work) on slots that existed and cost "
        f"at least these prices. The LP buys slot-hours per {step_s:g}-s step at the lowest price each type "
        f"had in the step. {jobs}, start-up lag, queue order, preemption losses, billing coarser than a second. "
        f"Optimistic where it simplifies: {spot}{top}. Costs are per second{hourly}."
    )


__all__ = [
    "DEFAULT_SLA_S",
    "Billing",
    "BoundResult",
    "Method",
    "OndemandLevels",
    "Outages",
    "lower_bound",
]
