"""From a pack's job types to the scheduler's: each `run` is bound to the stores and sources the head
configured, so the dispatcher ships a `PackRunner` (a module-level function plus a `ResourcesSource`) to
its workers like any other run function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scheduler.job import JSONValue
from scheduler.registry import JobType
from workloads.context import PackContext, RunContext
from workloads.pack import Pack, PackJobType, PackRun
from workloads.resources import ResourcesSource, resources_for


@dataclass(frozen=True)
class PackRunner:
    pack: str
    run: PackRun
    source: ResourcesSource

    def __call__(self, payload: JSONValue, context: Any) -> JSONValue:
        run_context: RunContext = context
        return self.run(payload, PackContext(run_context, resources_for(self.source), self.pack))


def job_types(pack: Pack, source: ResourcesSource) -> list[JobType]:
    spot_slots = source.settings().max_spot_slots  # the configuration's caps win over the pack's
    return [_job_type(pack, job_type, source, spot_slots) for job_type in pack.job_types]


def _job_type(pack: Pack, job_type: PackJobType, source: ResourcesSource, spot_slots: dict[str, int]) -> JobType:
    name = pack.type_name(job_type.name)
    return JobType(
        name=name,
        payload_schema=job_type.payload_schema,
        default_class=job_type.default_class,
        max_attempts=job_type.max_attempts,
        expected_run_s=job_type.expected_run_s,
        run=PackRunner(pack.name, job_type.run, source),
        description=job_type.description,
        markets=job_type.markets,
        estimate_s=job_type.estimate_s,
        max_concurrency=job_type.max_concurrency,
        max_spot_concurrency=spot_slots.get(name, job_type.max_spot_concurrency),
        time_limit_s=job_type.time_limit_s,
    )
