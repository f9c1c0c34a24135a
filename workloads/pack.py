"""What a workload pack is: its job types, how parameters become jobs (`plan`), how one job runs (`run`), and
nothing else: a pack whose results are merged queues its own reduce job when its inputs are complete (the
hot-topics map that finishes an hour's set queues the hour's reduce), so a reduce is scheduled, retried and
placed like any other job.

A pack is a plain value. Installed packages list theirs under the `ebbflow.packs` entry point group (see
`workloads.discovery`), so a user adds a pack by installing a package; nothing is imported from a name that
a queued job carries. The head binds each pack's job types to the stores and sources it configured
(`workloads.binding`), and the scheduler only ever sees ordinary `JobType`s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from scheduler.job import JSONValue
from scheduler.registry import CostEstimate, MarketRule

if TYPE_CHECKING:
    from workloads.context import PackContext, PlanContext

PACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")

PackRun = Callable[[JSONValue, "PackContext"], JSONValue]
"""run(payload, ctx) -> a small JSON result."""


@dataclass(frozen=True)
class PackJobType:
    """One kind of job a pack runs; its full type name is `<pack>.<name>` (e.g. `social-graph.fetch`)."""

    name: str
    run: PackRun
    description: str = ""
    payload_schema: Mapping[str, Any] | None = None
    default_class: str | None = None
    markets: MarketRule | None = None
    expected_run_s: float = 1.0
    estimate_s: CostEstimate | None = None  # work-seconds from the payload, for the autoscaler
    max_concurrency: int | None = None
    max_spot_concurrency: int | None = None
    time_limit_s: float | None = None
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """One job a plan asks for; `ebbflow pack submit` validates every one before it stores any."""

    type: str  # the full type name
    payload: JSONValue
    tenant: str
    job_class: str | None = None
    key: str | None = None  # idempotency key: a plan run twice must not queue the same work twice
    deadline_s: float | None = None


PlanFn = Callable[[Any, "PlanContext"], list[PlannedJob]]


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    params: type[BaseModel]  # what `--param k=v` may set, with types and defaults
    job_types: tuple[PackJobType, ...]
    plan: PlanFn

    def __post_init__(self) -> None:
        if not PACK_NAME.fullmatch(self.name):
            raise ValueError(f"pack name {self.name!r} must match {PACK_NAME.pattern}")
        names = [job_type.name for job_type in self.job_types]
        if len(set(names)) != len(names):
            raise ValueError(f"pack {self.name!r}: job type names repeat: {names}")

    def type_name(self, job_type: str) -> str:
        return f"{self.name}.{job_type}"

    def type_names(self) -> list[str]:
        return [self.type_name(job_type.name) for job_type in self.job_types]
