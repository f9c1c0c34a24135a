"""Which caps the held-step LP writes out: row generation, from the uncapped layout to the capped optimum.

Written out in full, the caps of the groups meeting held steps are a row per (group, step) of their windows:
millions on a week where most steps are held, although at the optimum a group works only in its cheapest
steps. So the first LP gives no candidate a row of its own (bound_held: each is written as if its step could
take all the group's work, which drops caps, so the optimum is a bound; the layout is the uncapped LP's).
Then, at that solution's held-step values pi, each group is filled cheapest first with all its caps (free
steps at their prices, held ones at pi), and every candidate it would work in gets a row of its own: those
below u_hi (the largest optimal value of a slot-hour of its work), filled to their caps, and the ties at
u_hi if the budget has room for them (where prices are flat for an hour, ties are most of them); and again.

Exact when no candidate is left to add: every candidate without a row then has price > u_hi strictly, so near
that pi the restriction it stands for (u <= its price) never binds and the restricted dual equals the capped
one; the solution maximises the restricted dual, so it is a local, hence (the dual is concave in pi) global,
maximum of the capped dual. If the rows would pass `MAX_ROWS`, the next LP `MAX_NONZEROS` (it is then not
solved) or the rounds `MAX_ROUNDS`, it stops with the last LP's optimum: a valid bound (some caps dropped),
reported as not exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from autoscaler.simulate.bound_capacity import StepCapacity
from autoscaler.simulate.bound_dual import HeldDualSolution, solve_held_dual
from autoscaler.simulate.bound_fill import fill_cheapest, window_pieces
from autoscaler.simulate.bound_held import HeldGroups, HeldWindows, held_layout
from autoscaler.simulate.bound_types import F64, I64, Bool, Method

__all__ = [
    "MAX_NONZEROS",
    "MAX_ROUNDS",
    "MAX_ROWS",
    "CappedSolution",
    "all_candidates",
    "binding_candidates",
    "solve_capped",
]

MAX_ROWS = 60_000  # candidates with a row of their own, over all rounds
MAX_NONZEROS = 200_000  # in a later round's LP (HiGHS takes seconds from here on); the first always runs
MAX_ROUNDS = 8
_TOLERANCE = 1e-7  # $/slot-hour: a step this close to u_hi counts as used (HiGHS's dual tolerance)


@dataclass(frozen=True)
class CappedSolution:
    lp: HeldDualSolution  # the last round's, with the solve time of all rounds
    rows: HeldGroups  # the last round's layout
    rounds: int
    active: int  # candidates with a row of their own in the last round
    exact: bool  # none left to add: the capped LP's optimum


def solve_capped(
    windows: HeldWindows,
    cap: StepCapacity,
    prices: F64,
    kinds: I64,
    spot: Bool,
    split_top: bool,
    method: Method,
    time_limit_s: float | None,
    generate: bool = True,
) -> CappedSolution:
    """Solve the held-step LP of `windows`, giving rows to the candidates that bind until none is left or the
    budget is spent (module docstring); generate=False: every candidate has its row from the start (the
    whole LP at once, no budget: for small traces, and to check the rounds against)."""
    held_steps = np.flatnonzero(windows.held)
    active = np.zeros(0, dtype=np.int64) if generate else all_candidates(windows)
    solve_s = 0.0
    rows = held_layout(windows, active)
    lp = solve_held_dual(rows, cap, held_steps, prices, kinds, spot, split_top, method, time_limit_s)
    assert lp is not None  # the first LP always runs
    if not generate:
        return CappedSolution(lp, rows, 1, len(active), lp.status == "optimal")
    rounds, exact = 1, False
    while True:
        solve_s += lp.solve_s
        if lp.status != "optimal":
            break
        below, ties = binding_candidates(windows, prices, lp.values, active)
        room = MAX_ROWS - len(active)
        new = np.union1d(below, ties) if len(below) + len(ties) <= room else below
        exact = not len(below) and not len(ties)
        if exact or not len(new) or len(new) > room or rounds == MAX_ROUNDS:
            break
        grown = held_layout(windows, np.union1d(active, new))
        bigger = solve_held_dual(
            grown, cap, held_steps, prices, kinds, spot, split_top, method, time_limit_s, MAX_NONZEROS
        )
        if bigger is None:  # too big to solve: the last round's optimum stands
            break
        active, rows, lp, rounds = np.union1d(active, new), grown, bigger, rounds + 1
    return CappedSolution(replace(lp, solve_s=solve_s), rows, rounds, len(active), exact)


def all_candidates(windows: HeldWindows) -> I64:
    """Every candidate (coded group * steps + step, sorted): free pieces below the covering free price, and
    held steps whose cap is below the group's work."""
    groups, held = windows.groups, windows.held
    steps = len(held)
    free = windows.free
    below = windows.free_price < windows.u_cap[free.group]
    at_held = window_pieces(groups, np.zeros((2, steps)), ~held)
    tight = held[at_held.step] & (at_held.cap < groups.work_h[at_held.group])
    codes = (free.group[below] * steps + free.step[below], at_held.group[tight] * steps + at_held.step[tight])
    return np.unique(np.concatenate(codes))


def binding_candidates(windows: HeldWindows, prices: F64, values: F64, active: I64) -> tuple[I64, I64]:
    """The candidates (coded group * steps + step, sorted) each group would work in if filled cheapest first
    with all its caps at the held-step values `values` (2, held steps: a slot-hour of any type, of spot),
    less those in `active`: those below u_hi (filled to their cap), and the ties at u_hi."""
    groups, held = windows.groups, windows.held
    steps = len(held)
    priced = prices.copy()
    priced[:, held] = values
    pieces = window_pieces(groups, priced, np.zeros(steps, dtype=np.bool_))
    g = pieces.group
    price = priced[groups.spot_only[g].astype(np.int64), pieces.step]
    u_hi = fill_cheapest(pieces, price, groups.work_h).highest[g]
    tight = np.where(held[pieces.step], pieces.cap < groups.work_h[g], price < windows.u_cap[g])
    code = g * steps + pieces.step
    below = tight & (price < u_hi - _TOLERANCE)
    ties = tight & ~below & (price <= u_hi + _TOLERANCE)
    return np.setdiff1d(code[below], active), np.setdiff1d(code[ties], active)
