"""What the autoscaler sees at one moment (observe builds it; decide and guard only read it)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from autoscaler.fleet import FleetError, FleetNode, NodeType
from dispatcher.markets import Market
from scheduler.registry import MarketRule


@dataclass(frozen=True, slots=True)
class Demand:
    """Pending work of one job type at one level."""

    level: int
    job_type: str
    pending: int
    work_s: float  # expected work-seconds of those jobs (cost estimates, or measured run times)
    min_slack_s: float | None = None  # least time left before a deadline, minus the run time; None: no deadline
    markets: MarketRule | None = None
    spot_cap_slots: int | None = None  # the type's max_spot_concurrency: more spot never helps it
    oldest_wait_s: float = 0.0  # how long the longest-waiting of these jobs has waited
    # work-seconds of such jobs arriving per second lately (bursts left out: see arrivals.py); None: unknown
    arrival_work_s: float | None = None
    # how much that rate varies from one round to the next (its standard deviation, robust to bursts); None:
    # unknown, and slack.py assumes Poisson arrivals of jobs of `run_s`
    arrival_spread: float | None = None
    run_s: float | None = None  # expected run of one job; None: work_s / pending, else 1 s
    lost_run_s: float | None = None  # work one reclaim loses (the type checkpoints this often); None: a whole run
    # work-seconds per second the season says will arrive over the coming start-up lag (forecast.py); None: none
    forecast_work_s: float | None = None
    elastic: bool = False  # runs only on budget left over (config.elastic_levels, or its type says so)
    # its most pressing queued work, as (seconds until it must start, work-seconds) pairs (a job, or the jobs
    # due to start about then); the rest of `work_s` is due later. None: not known, and the queue is taken to
    # be due evenly over the span of its arrivals
    due: tuple[tuple[float, float], ...] | None = None

    @property
    def mean_run_s(self) -> float:
        if self.run_s is not None and math.isfinite(self.run_s) and self.run_s > 0:
            return self.run_s
        if self.pending > 0 and math.isfinite(self.work_s) and self.work_s > 0:
            return self.work_s / self.pending
        return 1.0

    @property
    def lost_s(self) -> float:
        """Work one reclaim of its node costs a job: the time since its last checkpoint, at most a run."""
        run = self.mean_run_s
        if self.lost_run_s is not None and math.isfinite(self.lost_run_s) and self.lost_run_s >= 0:
            return min(run, self.lost_run_s)
        return run


@dataclass(frozen=True, slots=True)
class Action:
    """Something the autoscaler did (its own recent history: cooldowns and hourly limits read it)."""

    at_s: float
    kind: Literal["launch", "drain"]
    node_type: str
    count: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    at_s: float  # epoch seconds of the decision
    inputs_at_s: float  # when the queue figures were read: older than the guard's limit means hold
    node_types: tuple[NodeType, ...]
    nodes: tuple[FleetNode, ...] = ()
    demand: tuple[Demand, ...] = ()
    busy_slots: Mapping[Market, int] = field(default_factory=dict)  # slots running jobs now
    ondemand_busy_below_top: int = 0  # of the busy on-demand slots: those running jobs below the top level
    scheduled_work_s: float = 0.0  # cron work expected at the next top of the hour
    scheduled_level: int = 1  # the level that work lands at (the highest of the schedules' levels)
    spot_prices: Mapping[str, float] = field(default_factory=dict)  # $/hour per spot node type
    errors: tuple[FleetError, ...] = ()  # recent launch failures
    preemptions: Mapping[str, int] = field(default_factory=dict)  # per node type, in the last hour
    actions: tuple[Action, ...] = ()  # own actions in the last hour
    _by_name: dict[str, NodeType] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {node_type.name: node_type for node_type in self.node_types})

    def node_type(self, name: str) -> NodeType | None:
        return self._by_name.get(name)
