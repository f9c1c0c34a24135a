"""The dispatcher's own books: jobs leased but not started yet, tasks running, and what happened to jobs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from dispatcher.markets import Market
from dispatcher.placement import TaskPlan
from scheduler.job import Lease

StopReason = Literal["time limit", "drain", "no capacity"]


@dataclass(frozen=True, slots=True)
class Held:
    """A leased job waiting in the dispatcher for a slot, since `since` (monotonic seconds)."""

    lease: Lease
    since: float


@dataclass(slots=True)
class RunningTask:
    ref: Any  # ray.ObjectRef of the task's list[JobResult]
    plan: TaskPlan
    started: float
    deadline: float | None  # from the type's time limit
    stop_reason: StopReason | None = None  # set when the dispatcher cancels it


@dataclass(slots=True)
class StoreOutage:
    """A store outage the dispatcher is waiting out (monotonic seconds)."""

    reason: str  # StoreUnavailableError.reason: connection, busy, oom, loading, readonly...
    started: float
    last_seen: float  # when the store last refused


@dataclass(slots=True)
class DispatchCounts:
    leased: int = 0
    tasks: int = 0
    done: int = 0
    retried: int = 0  # failed, will run again after a backoff
    dead: int = 0
    preempted: int = 0  # released because their node (or worker) went away
    timed_out: int = 0
    deferred: int = 0  # given back for a moment: type at its cap
    given_back: int = 0  # given back without running: no slot in time, or a drain
    lost: int = 0  # the lease was gone when the dispatcher reported back (it expired, or a newer run holds it)
    per_market: Counter[Market] = field(default_factory=Counter)  # tasks started per market
    outages: int = 0  # store outages waited out (running jobs kept)
    outage_reasons: Counter[str] = field(default_factory=Counter)  # per StoreUnavailableError.reason (busy, oom...)

    def summary(self) -> str:
        markets = ", ".join(f"{market.value} {n}" for market, n in sorted(self.per_market.items()))
        return (
            f"leased {self.leased}, done {self.done}, retried {self.retried}, dead {self.dead}, "
            f"preempted {self.preempted}, timed out {self.timed_out}, deferred {self.deferred}, "
            f"given back {self.given_back}, lost {self.lost}; tasks {self.tasks} ({markets or 'none'})"
            + (f"; store outages waited out {self.outages} ({self._reasons()})" if self.outages else "")
        )

    def _reasons(self) -> str:
        return ", ".join(f"{reason} {n}" for reason, n in sorted(self.outage_reasons.items()))
