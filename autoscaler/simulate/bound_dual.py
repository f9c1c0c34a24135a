"""The part of the lower bound that does not separate: the LP's dual on the held steps (as bound.py's module
docstring describes it, with the cap rows bound_held lays out), built in bulk, solved by HiGHS through
`scipy.optimize.linprog`, and the slot-hours bought read back from its marginals."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, linprog

from autoscaler.simulate.bound_capacity import StepCapacity, sum_by
from autoscaler.simulate.bound_held import HeldGroups
from autoscaler.simulate.bound_lp import LpBuilder, range_min
from autoscaler.simulate.bound_types import F64, I64, Bool, Method

__all__ = [
    "HeldDualSolution",
    "solve_held_dual",
]

# linprog's status for the dual HiGHS solves: it is never infeasible (all zeros is a point of it), and it is
# unbounded exactly when the bound's LP is infeasible (some work has no room in its window), which
# bound_servable refuses first and bound_caps keeps from happening (a job without room has no caps)
_STATUS = {0: "optimal", 1: "limit reached", 2: "numerical difficulties", 3: "infeasible", 4: "numerical difficulties"}


@dataclass(frozen=True)
class HeldDualSolution:
    cost_by: F64
    hours_by: F64
    total: float
    status: str
    message: str
    variables: int
    constraints: int
    nonzeros: int
    solve_s: float
    values: F64  # (2, held steps): pi (a slot-hour of any type), rho (of spot; pi without split_top)


@dataclass(frozen=True)
class _Model:
    """The dual LP and where its columns are: pi, rho (= pi without split_top), u, tau, t, q."""

    lp: LpBuilder
    pi: I64
    rho: I64
    u: I64
    tau: I64
    free_rows: I64  # u <= tau, whose marginals are the work done at each free piece
    t: I64
    q: I64


def solve_held_dual(
    groups: HeldGroups,
    cap: StepCapacity,
    held_steps: I64,
    prices: F64,
    kinds: I64,
    spot: Bool,
    split_top: bool,
    method: Method,
    time_limit_s: float | None,
    max_nonzeros: int | None = None,
) -> HeldDualSolution | None:
    """The LP's dual on the held steps (module docstring), and the slot-hours bought, from its marginals;
    None, unsolved, if it has more than `max_nonzeros` nonzeros."""
    model = _build(groups, cap, held_steps, prices, spot, split_top)
    cost = np.zeros(model.lp.n_cols)
    cost[model.u] = -groups.work_h  # maximise
    cost[model.tau], cost[model.t] = groups.free_cap, groups.tight_cap
    constant = float(np.sum(groups.free_cap * groups.free_price))  # the pieces' cap * (tau - price)
    a_ub, a_eq, bounds = model.lp.matrices()
    if max_nonzeros is not None and a_ub.nnz + a_eq.nnz > max_nonzeros:
        return None
    options: dict[str, float | bool] = {"presolve": True}
    if time_limit_s is not None:
        options["time_limit"] = float(time_limit_s)
    started = time.perf_counter()
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
    solve_s = time.perf_counter() - started
    sizes = (model.lp.n_cols, a_ub.shape[0] + a_eq.shape[0], a_ub.nnz + a_eq.nnz)
    status = _STATUS.get(int(res.status), f"status {res.status}")
    if status != "optimal":
        nan = np.full(len(spot), math.nan)
        return HeldDualSolution(nan, nan, math.nan, status, str(res.message), *sizes, solve_s, np.zeros((2, 0)))
    cost_by, hours_by = _bought(model, res, groups, cap, held_steps, prices, kinds, len(spot), split_top)
    total = -float(res.fun) + constant
    values = np.asarray(res.x, dtype=np.float64)[np.stack((model.pi, model.rho))]
    return HeldDualSolution(cost_by, hours_by, total, status, str(res.message), *sizes, solve_s, values)


def _build(groups: HeldGroups, cap: StepCapacity, held_steps: I64, prices: F64, spot: Bool, split_top: bool) -> _Model:
    n_held, n_ch = len(held_steps), len(cap.ch_type)
    lp = LpBuilder()
    # pi: the value of a slot-hour in each held step; rho (split_top): of a spot slot-hour (pi <= rho)
    od = cap.cheap_cost[1, held_steps]
    pi = lp.columns(np.zeros(n_held), od if split_top else prices[0, held_steps])
    rho = lp.columns(np.zeros(n_held), cap.cheap_cost[0, held_steps]) if split_top else pi
    if split_top:
        lp.rows_ub([(pi, 1.0), (rho, -1.0)])
    u = lp.columns(np.zeros(len(groups.work_h)), groups.u_cap)  # a group's slot-hour: <= its bound
    spot_u = groups.spot_only
    for values, mask in ((pi, ~spot_u[groups.range_u]), (rho, spot_u[groups.range_u])):
        if mask.any():
            range_min(lp, values, u[groups.range_u[mask]], groups.range_first[mask], groups.range_last[mask])
    # active free pieces: tau >= their price, u <= tau, at cost cap * tau
    tau = lp.columns(groups.free_price, np.full(len(groups.free_u), np.inf))
    free_rows = lp.rows_ub([(u[groups.free_u], 1.0), (tau, -1.0)])
    # active held steps: t >= u - pi (rho for spot-only groups), at cost cap * t
    t = lp.columns(np.zeros(len(groups.tight_u)), np.full(len(groups.tight_u), np.inf))
    value = np.where(spot_u[groups.tight_u], rho[groups.tight_held], pi[groups.tight_held])
    lp.rows_ub([(u[groups.tight_u], 1.0), (value, -1.0), (t, -1.0)])
    # chains: sum of pi (rho for spot types, with split_top) from a chain's start to m <= its price there
    chain_id = np.cumsum(cap.ch_start) - 1
    cum = np.cumsum(cap.ch_cost)
    q = lp.columns(np.zeros(n_ch), cum - (cum - cap.ch_cost)[np.flatnonzero(cap.ch_start)][chain_id])
    held_at = np.searchsorted(held_steps, cap.ch_step)
    ch_value = np.where(spot[cap.ch_type] & split_top, rho[held_at], pi[held_at])
    follows = np.flatnonzero(~cap.ch_start)
    lp.rows_eq([(q, 1.0), (ch_value, -1.0)], where=np.arange(n_ch))
    lp.rows_eq([(q[follows - 1], -1.0)], where=follows)  # q[m] = q[m-1] + value[m]
    return _Model(lp, pi, rho, u, tau, free_rows, t, q)


def _bought(
    model: _Model,
    res: OptimizeResult,
    groups: HeldGroups,
    cap: StepCapacity,
    held_steps: I64,
    prices: F64,
    kinds: I64,
    n_types: int,
    split_top: bool,
) -> tuple[F64, F64]:
    """Cost and slot-hours per type of what the LP buys: the primal, read from the dual's marginals."""
    bought = np.maximum(-np.asarray(res.upper.marginals, dtype=np.float64), 0.0)  # behind each upper bound
    done = np.maximum(-np.asarray(res.ineqlin.marginals, dtype=np.float64), 0.0)  # work behind each row
    # chains: a block "held from the start to m" is bought[q[m]]; step h of a chain holds the blocks m >= h
    n_ch = len(cap.ch_type)
    chain_id = np.cumsum(cap.ch_start) - 1
    suffix = np.concatenate((np.cumsum(bought[model.q][::-1])[::-1], [0.0]))
    chain_end = np.concatenate((np.flatnonzero(cap.ch_start)[1:], [n_ch]))
    held_h = suffix[:-1] - suffix[chain_end[chain_id]] if n_ch else np.zeros(0)
    u_row = groups.spot_only.astype(np.int64)
    free_row = u_row[groups.free_u]
    parts = [
        (cap.ch_type, held_h, cap.ch_cost),
        (kinds[u_row, np.maximum(groups.u_step, 0)], bought[model.u], groups.u_cap),  # at the bound's step
        (kinds[free_row, groups.free_step], done[model.free_rows], groups.free_price),  # at active free pieces
    ]
    if split_top:
        parts += [
            (cap.cheap_type[1, held_steps], bought[model.pi], cap.cheap_cost[1, held_steps]),
            (cap.cheap_type[0, held_steps], bought[model.rho], cap.cheap_cost[0, held_steps]),
        ]
    else:
        parts += [(kinds[0, held_steps], bought[model.pi], prices[0, held_steps])]
    cost_by, hours_by = np.zeros(n_types), np.zeros(n_types)
    for kind, hours, unit in parts:
        used = hours > 0
        cost_by += sum_by(kind[used], hours[used] * unit[used], n_types)
        hours_by += sum_by(kind[used], hours[used], n_types)
    return cost_by, hours_by
