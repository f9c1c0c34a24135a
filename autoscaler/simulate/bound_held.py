"""The rows of the held-step LP for the groups whose windows meet a held step, with one slot per job.

In the LP's dual (bound.py's module docstring), u[g] is the value of a slot-hour of group g's work, pi[h] that
of a slot-hour in held step h, and a free step h has pi[h] = its free price p[h]. With caps C[g, h], group g
adds W[g] u[g] - sum_h C[g, h] max(0, u[g] - pi[h]) to the objective: its work at u, less what it would
gain by doing more than its cap in a step dearer than u. Written per step that is a row per (group, step).
Three facts keep only the rows that can matter, without changing the optimum:
- a step whose cap can take all of g's work (C >= W: "roomy") may be written u[g] <= pi[h]: at an optimum
  with u > pi[h], lowering u loses W and gains at least C per unit;
- free steps have known prices: sorted cheapest first, once their caps reach W at price p*, u[g] <= p*
  (above, each unit of u costs at least the caps so far, >= W); only cheaper free steps are candidates;
- the other candidates are the held steps whose cap is below W.
A candidate is either "active", with its own row (free: tau >= p, u <= tau at cost C tau; held: t >= u -
pi[h] at cost C t), or not, and then written as if roomy (u <= p, or u <= pi[h] through the range minima):
that drops its cap, a relaxation of the LP, so the optimum is still a bound. bound_refine chooses which
are active. A group with no active candidate needs only u <= its bound and u <= min pi over its held
steps: such groups are merged by (held range, bound, market), the uncapped LP's layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscaler.simulate.bound_capacity import sum_by, window_argmin
from autoscaler.simulate.bound_caps import WindowGroups
from autoscaler.simulate.bound_fill import Pieces, fill_cheapest, window_pieces
from autoscaler.simulate.bound_types import F64, I64, Bool

__all__ = [
    "HeldGroups",
    "HeldWindows",
    "held_layout",
    "held_windows",
]


@dataclass(frozen=True)
class HeldWindows:
    """The groups meeting a held step, with what does not change between rounds: their free pieces (free
    steps, and a short group's cheapest inner step) with prices, and the covering free price p* (inf:
    none) with its step. Candidates are coded group * steps + step."""

    groups: WindowGroups
    held: Bool
    free: Pieces
    free_price: F64
    u_cap: F64
    u_step: I64
    least: F64  # the least free price anywhere in the window (held steps' free columns too), and its step
    least_step: I64


@dataclass(frozen=True)
class HeldGroups:
    """One round's LP rows. Per u column: work, bound and the step offering it (for what it buys; -1: none),
    market. Then the rows: u <= the minimum of held range first..last; active free pieces; active held
    steps (held index)."""

    work_h: F64
    u_cap: F64
    u_step: I64
    spot_only: Bool
    range_u: I64
    range_first: I64
    range_last: I64
    free_u: I64
    free_step: I64
    free_cap: F64
    free_price: F64
    tight_u: I64
    tight_held: I64
    tight_cap: F64
    jobs: int


def held_windows(groups: WindowGroups, held: Bool, prices: F64) -> HeldWindows:
    """prices: (2, steps), the least free price per step (row 0: any type, row 1: spot only)."""
    n = len(groups.arrive)
    free = window_pieces(groups, prices, held)
    price = prices[groups.spot_only[free.group].astype(np.int64), free.step]
    covering = fill_cheapest(free, price, groups.work_h).covering
    u_cap, u_step = np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    u_cap[free.group[covering]], u_step[free.group[covering]] = price[covering], free.step[covering]
    least_step = np.empty(n, dtype=np.int64)
    for r in (0, 1):
        mask = groups.spot_only == bool(r)
        least_step[mask] = window_argmin(prices[r], groups.arrive[mask], groups.due[mask])
    least = prices[groups.spot_only.astype(np.int64), least_step]
    return HeldWindows(groups, held, free, price, u_cap, u_step, least, least_step)


def held_layout(windows: HeldWindows, active: I64) -> HeldGroups:
    """The LP rows with the candidates `active` (coded group * steps + step, sorted) given rows of their own."""
    groups, held = windows.groups, windows.held
    n, steps = len(groups.arrive), len(held)
    before = np.concatenate(([0], np.cumsum(held)))
    first, last = before[groups.arrive], before[groups.due + 1] - 1
    free = windows.free
    on = np.isin(free.group * steps + free.step, active)
    bound, bound_step = _bound(windows, on)
    act_group, act_step = np.divmod(active, steps)
    at_held = held[act_step]
    tight_group, tight_step = act_group[at_held], act_step[at_held]
    range_group, range_first, range_last = _gaps(first, last, tight_group, before[tight_step])
    plain = np.bincount(act_group, minlength=n) == 0
    # a plain group's bound may as well be the window's least free price: u <= pi[h] <= the free price at a
    # held step h anyway; the same bound as the uncapped LP's, so as many groups merge
    bound = np.where(plain, windows.least, bound)
    bound_step = np.where(plain, windows.least_step, bound_step)
    column = _merge(plain, first, last, bound, groups.spot_only)
    n_u = int(column.max()) + 1 if n else 0
    lead = np.full(n_u, n, dtype=np.int64)
    np.minimum.at(lead, column, np.arange(n))
    ranges = np.unique(np.stack((column[range_group], range_first, range_last)), axis=1)  # merged: one each
    return HeldGroups(
        work_h=sum_by(column, groups.work_h, n_u),
        u_cap=bound[lead],
        u_step=bound_step[lead],
        spot_only=groups.spot_only[lead],
        range_u=ranges[0],
        range_first=ranges[1],
        range_last=ranges[2],
        free_u=column[free.group[on]],
        free_step=free.step[on],
        free_cap=np.minimum(free.cap[on], groups.work_h[free.group[on]]),
        free_price=windows.free_price[on],
        tight_u=column[tight_group],
        tight_held=before[tight_step],
        tight_cap=groups.cap_at(tight_step, tight_group),
        jobs=int(groups.jobs.sum()),
    )


def _bound(windows: HeldWindows, on: Bool) -> tuple[F64, I64]:
    """Per group, u's bound: the covering free price, or an inactive free piece's price if lower."""
    free, price = windows.free, np.where(on, np.inf, windows.free_price)
    bound, step = windows.u_cap.copy(), windows.u_step.copy()
    order = np.lexsort((price, free.group))
    lead = order[np.concatenate(([True], free.group[order][1:] != free.group[order][:-1]))] if len(order) else order
    lower = price[lead] < bound[free.group[lead]]
    bound[free.group[lead][lower]], step[free.group[lead][lower]] = price[lead][lower], free.step[lead][lower]
    return bound, step


def _gaps(first: I64, last: I64, group: I64, cut: I64) -> tuple[I64, I64, I64]:
    """Each group's held range first..last less the held indices `cut` (sorted by group, then index): the
    stretches left, as (group, first, last)."""
    new = np.concatenate(([True], group[1:] != group[:-1])) if len(group) else np.zeros(0, dtype=np.bool_)
    previous = np.where(new, first[group] - 1, np.concatenate(([0], cut[:-1])))
    final = first - 1
    np.maximum.at(final, group, cut)
    lo = np.concatenate((previous + 1, final + 1))
    hi = np.concatenate((cut - 1, last))
    owner = np.concatenate((group, np.arange(len(first))))
    keep = lo <= hi
    return owner[keep], lo[keep], hi[keep]


def _merge(plain: Bool, first: I64, last: I64, bound: F64, spot_only: Bool) -> I64:
    """A column per group: plain groups (no active candidate) with the same range, bound and market share."""
    n = len(plain)
    if not n:
        return np.zeros(0, dtype=np.int64)
    _, rank = np.unique(bound, return_inverse=True)
    key = ((first * (int(last.max()) + 2) + last) * (int(rank.max()) + 1) + rank.reshape(-1)) * 2 + spot_only
    key = np.where(plain, key, -1 - np.arange(n))  # the others stay apart
    _, column = np.unique(key, return_inverse=True)
    return np.asarray(column, dtype=np.int64).reshape(-1)
