"""Which leased jobs start now, in which pool, batched how: a pure function of the dispatcher's state.

Rules (ARCHITECTURE.md, "dispatcher/"):
* Jobs are considered in MLFQ order: level first, then the order the scheduler leased them in.
* A type's `markets` says where its jobs may run. Without one, the top level may use either market
  (on-demand first: that is what the floor is for) and every other level uses spot, except a level the
  autoscaler's live plan lists (ondemand_plan.py: spot cannot deliver its work in time, so on-demand was
  bought for it): spot first, then on-demand.
* The on-demand slots kept for the top level (the reserve: `ondemand_floor_slots`, or the live plan's
  reserve when larger) serve the top level only; the rest serve any job allowed there. A type with
  `markets = "spot"` never leaves spot, whatever the plan says.
* A type at its concurrency cap (all pools, or on spot where spot is its only market) is deferred: handed
  back to the queue for a moment instead of holding a leased job that cannot start.
* A job that finds no free slot in its markets keeps waiting in the dispatcher's small buffer.
* A task carries one type at one level: up to that type's batch size, never past a cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dispatcher.markets import Market
from dispatcher.ondemand_plan import NO_PLAN, TOP_LEVEL, OnDemandPlan
from scheduler.job import Lease
from scheduler.registry import JobType, MarketRule

__all__ = ["TOP_LEVEL", "Placement", "PoolState", "TaskPlan", "markets_for", "place"]


@dataclass(frozen=True, slots=True)
class PoolState:
    """Slots per market: how many exist, how many of them our tasks occupy, and the autoscaler's plan for
    the on-demand ones as of `now_s` (the dispatcher's clock; a plan past its `until_s` counts as none)."""

    capacity: Mapping[Market, int]
    busy: Mapping[Market, int]
    busy_ondemand_below_top: int = 0  # on-demand slots held by tasks of levels below the top
    floor: int = 0  # on-demand slots always kept for the top level
    plan: OnDemandPlan = NO_PLAN
    now_s: float = 0.0

    def free(self, market: Market) -> int:
        return max(0, self.capacity.get(market, 0) - self.busy.get(market, 0))

    def reserve(self) -> int:
        """On-demand slots kept for the top level: the floor, or the live plan's reserve when larger."""
        return max(self.floor, self.plan.reserve_at(self.now_s))

    def ondemand_room_below_top(self) -> int:
        shared = self.capacity.get(Market.ON_DEMAND, 0) - self.reserve()
        return max(0, min(self.free(Market.ON_DEMAND), shared - self.busy_ondemand_below_top))

    def planned(self, level: int) -> bool:
        """Does the live plan let this level (below the top, no `markets` rule) use on-demand slots?"""
        return level != TOP_LEVEL and self.plan.allows(level, self.now_s)

    def planned_levels(self) -> list[int]:
        return sorted(level for level in self.plan.levels if self.planned(level))


@dataclass(frozen=True, slots=True)
class TaskPlan:
    market: Market
    leases: tuple[Lease, ...]

    @property
    def top(self) -> bool:
        return self.leases[0].job.level == TOP_LEVEL


@dataclass(slots=True)
class Placement:
    tasks: list[TaskPlan] = field(default_factory=list)
    deferred: list[Lease] = field(default_factory=list)  # type at its cap: give back for a moment
    waiting: list[Lease] = field(default_factory=list)  # no free slot in its markets yet


def markets_for(rule: MarketRule | None, level: int, planned: bool = False) -> tuple[Market, ...]:
    """The markets a job may use, in the order they are tried; `planned`: the autoscaler's live plan lists
    its level (only a type without a rule heeds it: "spot" stays on spot, "any" may go on-demand anyway)."""
    top = level == TOP_LEVEL
    if rule == "spot":
        return (Market.SPOT,)
    if rule == "on-demand":
        return (Market.ON_DEMAND,)
    if top:
        return (Market.ON_DEMAND, Market.SPOT)
    if rule == "any" or planned:
        return (Market.SPOT, Market.ON_DEMAND)
    return (Market.SPOT,)


@dataclass(slots=True)
class _Book:
    """What this placement has used so far, on top of what was already running."""

    pools: PoolState
    running: Counter[str]
    running_spot: Counter[str]
    used: Counter[Market] = field(default_factory=Counter)
    used_ondemand_below_top: int = 0

    def slot_free(self, market: Market, top: bool) -> bool:
        if self.pools.free(market) - self.used[market] <= 0:
            return False
        if market is Market.ON_DEMAND and not top:
            return self.pools.ondemand_room_below_top() - self.used_ondemand_below_top > 0
        return True

    def room(self, job_type: JobType, market: Market) -> int:
        """How many more jobs of this type may start in this market; a large number when uncapped."""
        room = 1 << 30
        if job_type.max_concurrency is not None:
            room = min(room, job_type.max_concurrency - self.running[job_type.name])
        if market is Market.SPOT and job_type.max_spot_concurrency is not None:
            room = min(room, job_type.max_spot_concurrency - self.running_spot[job_type.name])
        return room

    def take(self, plan: TaskPlan) -> None:
        self.used[plan.market] += 1
        if plan.market is Market.ON_DEMAND and not plan.top:
            self.used_ondemand_below_top += 1
        name = plan.leases[0].job.type
        self.running[name] += len(plan.leases)
        if plan.market is Market.SPOT:
            self.running_spot[name] += len(plan.leases)


def place(
    leases: Sequence[Lease],
    pools: PoolState,
    types: Mapping[str, JobType],
    batch_size: Callable[[JobType], int],
    running: Mapping[str, int] | None = None,
    running_spot: Mapping[str, int] | None = None,
) -> Placement:
    """Decide what starts now. Every lease given comes back exactly once: in a task, deferred or waiting.

    `types` must hold every leased job's type (the dispatcher fails jobs of unknown types before this).
    """
    book = _Book(pools, Counter(running or {}), Counter(running_spot or {}))
    ordered = sorted(range(len(leases)), key=lambda i: (leases[i].job.level, i))
    taken: set[int] = set()
    result = Placement()
    for position, index in enumerate(ordered):
        if index in taken:
            continue
        lease = leases[index]
        job_type = types[lease.job.type]
        market, capped = _choose_market(book, job_type, lease.job.level)
        if market is None:
            (result.deferred if capped else result.waiting).append(lease)
            continue
        limit = min(batch_size(job_type), book.room(job_type, market))
        batch = [index, *_batch_mates(leases, ordered[position + 1 :], taken, lease, limit - 1)]
        taken.update(batch)
        plan = TaskPlan(market, tuple(leases[i] for i in batch))
        book.take(plan)
        result.tasks.append(plan)
    return result


def _choose_market(book: _Book, job_type: JobType, level: int) -> tuple[Market | None, bool]:
    """The first allowed market with a free slot and room under the caps; else (None, whether a cap stopped it)."""
    capped = False
    for market in markets_for(job_type.markets, level, book.pools.planned(level)):
        if book.room(job_type, market) <= 0:
            capped = True
            continue
        if book.slot_free(market, level == TOP_LEVEL):
            return market, False
    return None, capped


def _batch_mates(
    leases: Sequence[Lease], later: Sequence[int], taken: set[int], first: Lease, wanted: int
) -> list[int]:
    mates: list[int] = []
    for index in later:
        if len(mates) >= wanted:
            break
        job = leases[index].job
        if index not in taken and job.type == first.job.type and job.level == first.job.level:
            mates.append(index)
    return mates
