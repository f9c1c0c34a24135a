"""Building the held-step LP in bulk: columns with bounds, rows of +-1 coefficients, and range minima.

Generic pieces of bound_dual, kept apart so that module reads as the LP itself.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from autoscaler.simulate.bound_types import F64, I64

__all__ = [
    "LpBuilder",
    "range_min",
]


def range_min(lp: LpBuilder, values: I64, u: I64, first: I64, last: I64) -> None:
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


class LpBuilder:
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

    def rows_ub(self, terms: list[tuple[I64, float]]) -> I64:
        """One new row per position: sum of coefficient * column[position] <= 0. Returns the rows' indices."""
        n = len(terms[0][0])
        rows = self._n_ub + np.arange(n, dtype=np.int64)
        self._ub += [(rows, cols, np.full(n, coef)) for cols, coef in terms]
        self._n_ub += n
        return rows

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
