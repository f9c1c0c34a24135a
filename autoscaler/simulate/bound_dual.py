"""The part of the lower bound that does not separate: the LP's dual on the held steps (as bound.py's module
docstring describes it), built in bulk, solved by HiGHS through `scipy.optimize.linprog`, and the slot-hours
bought read back from its marginals."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from autoscaler.simulate.bound_capacity import JobGroups, StepCapacity, sum_by
from autoscaler.simulate.bound_types import F64, I64, Bool, Method

__all__ = [
    "HeldDualSolution",
    "solve_held_dual",
]

# linprog's status for the dual HiGHS solves: it is never infeasible (all zeros is a point of it), and it is
# unbounded exactly when the bound's LP is infeasible (some work has no capacity in its window), which
# bound_servable refuses first
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


def solve_held_dual(
    groups: JobGroups,
    cap: StepCapacity,
    held_steps: I64,
    prices: F64,
    kinds: I64,
    spot: Bool,
    split_top: bool,
    method: Method,
    time_limit_s: float | None,
) -> HeldDualSolution:
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
        return HeldDualSolution(nan, nan, math.nan, status, str(res.message), *sizes, solve_s)
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
        cost_by += sum_by(kind[used], hours[used] * unit[used], n_types)
        hours_by += sum_by(kind[used], hours[used], n_types)
    return HeldDualSolution(cost_by, hours_by, -float(res.fun), status, str(res.message), *sizes, solve_s)


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
