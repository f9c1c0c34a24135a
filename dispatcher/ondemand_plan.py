"""Which levels below the top may use on-demand slots for now: the autoscaler's word, with an expiry.

The autoscaler buys on-demand capacity for the work of a level that spot cannot deliver before it is due (an
outage of every spot type, say; autoscaler/deadlines.py), and says so in its decision: the levels
(`Decision.ondemand_levels`) and the on-demand slots it keeps for the top level (`Decision.ondemand_reserve`).
Jobs of those levels whose type has no `markets` rule may then use the on-demand slots beyond that reserve
(dispatcher/placement.py); without a plan they stay on spot.

A plan is good for `VALID_PERIODS` autoscaler periods on the dispatcher's clock. Each decision replaces it,
so one late or held round changes nothing; but a head whose autoscaler stopped deciding (inputs gone for
good, a crashed loop) falls back to today's rule within a few periods, and never keeps sending lower levels to
on-demand slots that nobody still means for them. A held round (inputs unavailable, or the guard's hold on
stale or absurd ones) is not a decision about placement: it leaves the plan, and its expiry, as they were.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

TOP_LEVEL = 0
VALID_PERIODS = 3  # a plan outlives this many autoscaler periods (one or two slow rounds change nothing)


class PlacementAdvice(Protocol):
    """What the dispatcher reads of an autoscaler decision (`autoscaler.decide.Decision` has these)."""

    @property
    def hold(self) -> str | None: ...

    @property
    def ondemand_levels(self) -> tuple[int, ...]: ...

    @property
    def ondemand_reserve(self) -> int: ...


@dataclass(frozen=True, slots=True)
class OnDemandPlan:
    levels: frozenset[int] = frozenset()  # levels below the top that may use on-demand beyond the reserve
    reserve: int = 0  # on-demand slots kept for the top level
    until_s: float = -math.inf  # on the dispatcher's clock; from then on the plan counts as none

    @classmethod
    def of(cls, levels: Iterable[int], reserve: int, now_s: float, period_s: float) -> OnDemandPlan:
        """A plan stamped at `now_s` (the dispatcher's clock), good for `VALID_PERIODS` x `period_s`."""
        return cls(frozenset(levels) - {TOP_LEVEL}, max(0, reserve), now_s + VALID_PERIODS * period_s)

    def live(self, now_s: float) -> bool:
        return now_s < self.until_s

    def allows(self, level: int, now_s: float) -> bool:
        """May a job of this level (below the top, no `markets` rule) use on-demand slots beyond the reserve?"""
        return level in self.levels and self.live(now_s)

    def reserve_at(self, now_s: float) -> int:
        return self.reserve if self.live(now_s) else 0


NO_PLAN = OnDemandPlan()


def next_plan(current: OnDemandPlan, advice: PlacementAdvice, now_s: float, period_s: float) -> OnDemandPlan:
    """The plan after a decision: the decision's, stamped now; a hold keeps the current plan as it was."""
    if advice.hold is not None:
        return current
    return OnDemandPlan.of(advice.ondemand_levels, advice.ondemand_reserve, now_s, period_s)
