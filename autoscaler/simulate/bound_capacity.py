"""What the lower bound can buy per step: the cheapest column bought freely per step, the outage chains kept
(those no cheaper are pruned), and the least free price in a window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscaler.simulate.bound_types import F64, I64, Bool

__all__ = [
    "StepCapacity",
    "step_capacity",
    "sum_by",
    "window_argmin",
]


@dataclass(frozen=True)
class StepCapacity:
    """Per step, the cheapest column bought freely (row 0: spot types, row 1: the others; $/slot-hour, inf:
    none), and the chained columns kept (held through an outage: x[k, h] <= x[k, h-1])."""

    cheap_cost: F64  # (2, H)
    cheap_type: I64  # (2, H)
    ch_type: I64
    ch_step: I64
    ch_cost: F64
    ch_start: Bool  # first column of its chain (chains are contiguous, in step order)
    held: Bool  # (H,) steps with a kept chained column


def step_capacity(cost: F64, open_: Bool, spot: Bool, *, open_last: bool, split_top: bool, prune: bool) -> StepCapacity:
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
    return StepCapacity(cheap_cost, cheap_type, ch_type, ch_step, cost[ch_type, ch_step], start[kept], held)


def window_argmin(values: F64, lo: I64, hi: I64) -> I64:
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


def sum_by(index: I64, weights: F64, size: int) -> F64:
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64)
