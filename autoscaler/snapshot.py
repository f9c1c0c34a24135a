"""What the autoscaler sees at one moment (observe builds it; decide and guard only read it)."""

from __future__ import annotations

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
    scheduled_work_s: float = 0.0  # cron work expected at the next top of the hour
    spot_prices: Mapping[str, float] = field(default_factory=dict)  # $/hour per spot node type
    errors: tuple[FleetError, ...] = ()  # recent launch failures
    preemptions: Mapping[str, int] = field(default_factory=dict)  # per node type, in the last hour
    actions: tuple[Action, ...] = ()  # own actions in the last hour
    _by_name: dict[str, NodeType] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {node_type.name: node_type for node_type in self.node_types})

    def node_type(self, name: str) -> NodeType | None:
        return self._by_name.get(name)
