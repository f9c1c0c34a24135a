"""The closed form with one slot per job: a group whose window meets no held step fills the steps of its window
cheapest first, each up to its cap (capacity is unlimited per step there, so nothing else competes for it).

Bounded in cost: a group whose cheapest step takes all its work (most of them: short jobs, uncapped ones)
costs one range minimum; the others are cut into pieces, one per step of the window for long jobs (work
over a step's cap), and for short ones only the two end steps and the cheapest step between them (every
inner step can take all their work, so only the cheapest matters). The pieces are sorted by group and price
once and filled in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscaler.simulate.bound_capacity import sum_by, window_argmin
from autoscaler.simulate.bound_caps import WindowGroups
from autoscaler.simulate.bound_types import F64, I64, Bool

_ROUNDING = 1e-12  # relative: a group's caps within this of its work reach it (sums of a few hundred terms)

__all__ = [
    "ClosedForm",
    "Filled",
    "Pieces",
    "closed_form",
    "fill_cheapest",
    "window_pieces",
]


@dataclass(frozen=True)
class Pieces:
    """Steps a group may work in, with its cap there (slot-hours), in no particular order."""

    group: I64
    step: I64
    cap: F64


@dataclass(frozen=True)
class Filled:
    """Per piece: slot-hours done there; whether the group's work is reached there (its dearest piece used;
    none if its caps fall short); whether it comes before that piece (filled to its cap, finite price).
    Per group: the largest optimal value of a slot-hour of its work given these prices (inf: none), the
    covering piece's price, or the next one's if the covering piece is full (any value between is optimal)."""

    fill: F64
    covering: Bool
    below: Bool
    highest: F64


@dataclass(frozen=True)
class ClosedForm:
    cost_by: F64  # per node type
    hours_by: F64
    total: float


def closed_form(groups: WindowGroups, prices: F64, kinds: I64, n_types: int) -> ClosedForm:
    """Cost and slot-hours per type of groups whose windows meet no held step. prices, kinds: (2, steps), the
    least free price per step and its type (row 0: any type, row 1: spot only)."""
    row = groups.spot_only.astype(np.int64)
    at = np.empty(len(row), dtype=np.int64)
    for r in (0, 1):
        mask = row == r
        at[mask] = window_argmin(prices[r], groups.arrive[mask], groups.due[mask])
    alone = groups.cap_at(at) >= groups.work_h  # the cheapest step takes it all
    unit, kind = prices[row[alone], at[alone]], kinds[row[alone], at[alone]]
    work = groups.work_h[alone]
    cost_by, hours_by = sum_by(kind, work * unit, n_types), sum_by(kind, work, n_types)
    total = float(np.sum(work * unit))
    rest = groups.subset(~alone)
    if len(rest.arrive):
        pieces = window_pieces(rest, prices, np.zeros(prices.shape[1], dtype=np.bool_))
        piece_row = rest.spot_only[pieces.group].astype(np.int64)
        price, kind = prices[piece_row, pieces.step], kinds[piece_row, pieces.step]
        fill = fill_cheapest(pieces, price, rest.work_h).fill
        used = fill > 0
        cost_by += sum_by(kind[used], fill[used] * price[used], n_types)
        hours_by += sum_by(kind[used], fill[used], n_types)
        total += float(np.sum(fill[used] * price[used]))
    return ClosedForm(cost_by, hours_by, total)


def window_pieces(groups: WindowGroups, prices: F64, skip: Bool) -> Pieces:
    """The pieces of each group's window, leaving out the steps in `skip` (held steps, which the LP prices):
    its end steps; between them, every step for a long group, the cheapest one (by the group's row of
    `prices`, skipped steps included: their free price only bounds the LP's) for a short one."""
    index = np.arange(len(groups.arrive))
    a, b = groups.arrive, groups.due
    ends = b > a
    parts = [(index, a, groups.cap_first, ~skip[a]), (index[ends], b[ends], groups.cap_last[ends], ~skip[b[ends]])]
    inner = b - a >= 2
    short = inner & (groups.cap_mid >= groups.work_h)
    row = groups.spot_only.astype(np.int64)
    for r in (0, 1):
        sel = np.flatnonzero(short & (row == r))
        at = window_argmin(prices[r], a[sel] + 1, b[sel] - 1)
        parts.append((sel, at, groups.cap_mid[sel], np.ones(len(sel), dtype=np.bool_)))
    long_ = np.flatnonzero(inner & ~short)
    length = b[long_] - a[long_] - 1
    owner = np.repeat(long_, length)
    step = a[owner] + 1 + np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    parts.append((owner, step, groups.cap_mid[owner], ~skip[step]))
    keep = np.concatenate([p[3] for p in parts])
    return Pieces(*(np.concatenate([p[i] for p in parts])[keep] for i in range(3)))


def _running_sums(values: F64, start: I64, rank: I64) -> F64:
    """Per segment (starting at `start`), the running sum of `values`. One cumulative sum over all of them
    would carry the earlier segments' total (10^4 slot-hours on a week) and lose 1e-12 to cancellation, more
    than a short job's work is sure to be compared with; the segment totals are taken out as it goes."""
    totals = np.add.reduceat(values, start)
    shifted = values.copy()
    shifted[start[1:]] -= totals[:-1]
    cum = np.cumsum(shifted)
    return cum - (cum[start] - values[start])[rank]


def fill_cheapest(pieces: Pieces, price: F64, work_h: F64) -> Filled:
    """Fill each group's work into its pieces cheapest first, each up to its cap (module docstring)."""
    n = len(pieces.group)
    if n == 0:
        empty = np.zeros(0, dtype=np.bool_)
        return Filled(np.zeros(0), empty, empty, np.full(len(work_h), np.inf))
    order = np.lexsort((price, pieces.group))
    group, price_sorted = pieces.group[order], price[order]
    work = work_h[group]
    cap = np.minimum(pieces.cap[order], work)  # a piece never takes more than the group's work
    new_group = np.concatenate(([True], group[1:] != group[:-1]))
    start = np.flatnonzero(new_group)
    upto = _running_sums(cap, start, np.cumsum(new_group) - 1)  # the group's caps up to this piece
    reached = upto >= work * (1 - _ROUNDING)  # monotone within a group: caps are >= 0
    covering_sorted = reached & (new_group | ~np.concatenate(([False], reached[:-1])))
    finite = np.isfinite(price_sorted)
    fill_sorted = np.where(reached, 0.0, cap)
    fill_sorted[covering_sorted] = (work - (upto - cap))[covering_sorted]
    fill_sorted = np.where(finite, np.maximum(fill_sorted, 0.0), 0.0)
    # the largest optimal u: the covering piece's price, or the next piece's if the covering one is full
    cover = np.flatnonzero(covering_sorted)
    after = np.minimum(cover + 1, n - 1)
    next_price = np.where((cover + 1 < n) & (group[after] == group[cover]), price_sorted[after], np.inf)
    full = fill_sorted[cover] >= cap[cover] * (1 - 1e-12)
    highest = np.full(len(work_h), np.inf)
    highest[group[cover]] = np.where(full, next_price, price_sorted[cover])
    fill, covering, before = np.empty(n), np.empty(n, dtype=np.bool_), np.empty(n, dtype=np.bool_)
    fill[order], covering[order], before[order] = fill_sorted, covering_sorted, ~reached & finite
    return Filled(fill, covering, before, highest)
