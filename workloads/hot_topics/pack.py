"""The hot-topics pack: every hour, for each place (about 170 WOEIDs by default), the trends, the context behind
each one and the videos that go with them, ranked into `hot:{woeid}:{hour}` and `hot:global:{hour}`.

The plan makes one `hot-topics.map` job per place, each due a few minutes after the hour; the map that completes
the set queues `hot-topics.reduce` (map_step.py). A cron schedule submits `hot-topics.plan` on the hour (its tick is
the hour), whose job plans the maps on a worker and, when the previous hour's reduce never ran (a place's map
dead-lettered), queues it with the places that made it. Every job has an idempotency key per hour, and every step
reads archived inputs when they exist, so a re-run of an hour queues nothing twice and writes the same rankings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from dispatcher.context import JobCannotSucceed
from scheduler.job import JSONValue
from workloads.context import PackContext, PlanContext
from workloads.hot_topics import layout
from workloads.hot_topics.hours import HOUR_MS, hour_start, label, parse_hour
from workloads.hot_topics.places import DEFAULT_WOEIDS, known
from workloads.pack import Pack, PackJobType, PlannedJob
from workloads.params import problem_of, split_commas

TENANT = "hot-topics"


class HotTopicsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    woeids: Annotated[list[int], BeforeValidator(split_commas)] = Field(
        default=list(DEFAULT_WOEIDS),
        min_length=1,
        max_length=1000,
        description="places (WOEIDs, comma-separated); default: Worldwide and about 170 countries",
    )
    hour: str | None = Field(default=None, description="the hour to rank, e.g. 2026-12-01T05 (UTC); default: now")
    deadline_minutes: float = Field(default=10.0, gt=0, le=60, description="maps are due this long after the hour")
    job_class: str = Field(default="daily-active", min_length=1, description="the class the hour's jobs run as")
    top: int = Field(default=50, ge=1, le=1000, description="videos kept per ranking")
    search_results: int = Field(default=10, ge=1, le=50, description="videos searched per trend")
    tenant: str = Field(default=TENANT, min_length=1, max_length=100)

    @field_validator("woeids")
    @classmethod
    def _known_places(cls, woeids: list[int]) -> list[int]:
        unknown = [woeid for woeid in woeids if not known(woeid)]
        if unknown:
            raise ValueError(f"unknown WOEID {unknown[0]}; `ebbflow hot-topics places` lists the known ones")
        return list(dict.fromkeys(woeids))

    @field_validator("hour")
    @classmethod
    def _hour(cls, hour: str | None) -> str | None:
        return None if hour is None else label(parse_hour(hour))

    def hour_ms(self, now_ms: int) -> int:
        return parse_hour(self.hour) if self.hour is not None else hour_start(now_ms)


# The steps import their clients (tweepy, httpx) when they run, on a worker: every CLI command loads the packs.
def run_map(payload: JSONValue, ctx: PackContext) -> JSONValue:
    from workloads.hot_topics.map_step import run_map as run

    return run(payload, ctx)


def run_reduce(payload: JSONValue, ctx: PackContext) -> JSONValue:
    from workloads.hot_topics.reduce_step import run_reduce as run

    return run(payload, ctx)


def plan(params: HotTopicsParams, ctx: PlanContext) -> list[PlannedJob]:
    hour_ms = params.hour_ms(ctx.now_ms)
    due_ms = hour_ms + round(params.deadline_minutes * 60_000)
    # A past hour's deadline has gone: its re-run takes the class's own deadline.
    deadline_s = (due_ms - ctx.now_ms) / 1000 if due_ms - ctx.now_ms >= 1000 else None
    places = ",".join(map(str, params.woeids))
    reduce_options = {"top": params.top, "search_results": params.search_results}
    return [
        PlannedJob(
            type="hot-topics.map",
            payload={"woeid": woeid, "hour_ms": hour_ms, "places": places, "reduce": reduce_options},
            tenant=params.tenant,
            job_class=params.job_class,
            key=f"hot-topics:map:{label(hour_ms)}:{woeid}",
            deadline_s=deadline_s,
        )
        for woeid in params.woeids
    ]


def run_plan(payload: JSONValue, ctx: PackContext) -> JSONValue:
    """What the hourly cron job runs: plan this hour's maps, and finish the previous hour if it is stuck."""
    values = dict(payload) if isinstance(payload, dict) else {}
    tick_ms = values.pop("tick_ms", None)
    try:
        params = HotTopicsParams.model_validate(values)
    except ValidationError as err:  # a bad cron payload: no retry can fix it
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {problem_of(e)}" for e in err.errors(include_url=False))
        raise JobCannotSucceed(f"hot-topics.plan payload: {problems}") from None
    if tick_ms is not None and params.hour is None:
        params = params.model_copy(update={"hour": label(hour_start(int(tick_ms)))})
    planned = plan(params, ctx.plan_context())
    stuck = _stuck_previous_hour(params, ctx)
    results = ctx.submit(planned + stuck)
    return {
        "hour": params.hour or label(hour_start(ctx.now_ms())),
        "maps": len(planned),
        "new": sum(result.created for result in results),
        "previous_hour_reduced": bool(stuck),
    }


def _stuck_previous_hour(params: HotTopicsParams, ctx: PackContext) -> list[PlannedJob]:
    """The previous hour's reduce, when some of its maps wrote output but no reduce wrote its rankings."""
    from workloads.hot_topics.map_step import reduce_job

    previous_ms = params.hour_ms(ctx.now_ms()) - HOUR_MS
    archive = ctx.resources.archive
    present = archive.list(layout.contexts_folder(previous_ms))
    if archive.exists(layout.hot(previous_ms)) or not present:
        return []
    options = {"top": params.top, "search_results": params.search_results}
    return [reduce_job(previous_ms, tuple(params.woeids), len(present), options, ctx)]


PLACES_PATTERN = r"^[0-9]{1,10}(,[0-9]{1,10}){0,999}$"
REDUCE_OPTIONS = {
    "type": "object",
    "properties": {
        "top": {"type": "integer", "minimum": 1, "maximum": 1000},
        "search_results": {"type": "integer", "minimum": 1, "maximum": 50},
    },
    "required": ["top", "search_results"],
    "additionalProperties": False,
}
MAP_SCHEMA = {
    "type": "object",
    "properties": {
        "woeid": {"type": "integer", "minimum": 1},
        "hour_ms": {"type": "integer", "minimum": 0, "multipleOf": HOUR_MS},
        "places": {"type": "string", "pattern": PLACES_PATTERN},
        "reduce": REDUCE_OPTIONS,
    },
    "required": ["woeid", "hour_ms", "places", "reduce"],
    "additionalProperties": False,
}
REDUCE_SCHEMA = {
    "type": "object",
    "properties": {
        "hour_ms": {"type": "integer", "minimum": 0, "multipleOf": HOUR_MS},
        "places": {"type": "string", "pattern": PLACES_PATTERN},
        **REDUCE_OPTIONS["properties"],  # type: ignore[dict-item]
    },
    "required": ["hour_ms", "places", "top", "search_results"],
    "additionalProperties": False,
}
PLAN_SCHEMA = {
    "type": ["object", "null"],
    # The params model checks the values; tick_ms is what the cron schedule adds (pass_tick = true).
    "properties": {**{name: {} for name in HotTopicsParams.model_fields}, "tick_ms": {"type": "integer"}},
    "additionalProperties": False,
}

PACK = Pack(
    name="hot-topics",
    description="hourly: trends per place, their context from co-occurring words, and the videos to go with them",
    params=HotTopicsParams,
    job_types=(
        PackJobType(
            name="map",
            run=run_map,
            description="one place's trends, tweets and contexts for one hour",
            payload_schema=MAP_SCHEMA,
            default_class="daily-active",
            expected_run_s=2.0,
            time_limit_s=300.0,
        ),
        PackJobType(
            name="reduce",
            run=run_reduce,
            description="merge an hour's contexts, search and rank videos, write hot:{woeid}:{hour}",
            payload_schema=REDUCE_SCHEMA,
            default_class="daily-active",
            expected_run_s=10.0,
            time_limit_s=900.0,
        ),
        PackJobType(
            name="plan",
            run=run_plan,
            description="plan an hour's maps (what the hourly cron schedule submits)",
            payload_schema=PLAN_SCHEMA,
            default_class="daily-active",
            expected_run_s=1.0,
            time_limit_s=300.0,
        ),
    ),
    plan=plan,
)
