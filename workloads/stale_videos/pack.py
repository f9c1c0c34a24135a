"""The stale-videos pack: re-check videos not checked for N days, oldest first; mark dead ones stale and take
them out of every ranking. Background level, spot only.

`ebbflow pack submit stale-videos` plans the batches at once; a cron schedule submits `stale-videos.plan`,
whose job plans them on a worker (so the head never scans the index). A batch is idempotent: it checks only
videos not checked since it was planned, and removes every stale video of the batch from the rankings again
(a no-op when they are gone), so a batch that died between the two steps finishes the job on its re-run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from scheduler.job import JSONValue
from workloads.context import PackContext, PlanContext
from workloads.pack import Pack, PackJobType, PlannedJob

if TYPE_CHECKING:  # the job imports its clients itself, on the worker: every CLI command loads the packs
    from workloads.index import StoredVideo

DAY_MS = 86_400_000
VIDEO_ID = r"[A-Za-z0-9_-]{1,64}"
VIDEO_IDS = rf"^{VIDEO_ID}(,{VIDEO_ID})*$"


class StaleVideosParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    older_than_days: float = Field(default=7.0, ge=0, le=3650, description="re-check videos not checked for this long")
    # About 6 s of work against real sites (64 connections, ~200 ms an answer): short enough that a reclaimed
    # spot node loses little, long enough that the per-job commits (~7 ms) are noise even at emulator speed.
    batch_size: int = Field(default=2000, ge=1, le=5000, description="videos per job")
    max_batches: int = Field(default=200, ge=1, le=100_000, description="jobs per sweep")
    concurrency: int = Field(default=64, ge=1, le=1000, description="connections per job")
    per_host: int = Field(default=32, ge=1, le=1000, description="connections per host per job")
    per_host_rate: float = Field(default=0.0, ge=0, description="requests/s per host per job; 0: no limit")
    tenant: str = Field(default="stale-videos", min_length=1, max_length=100)


def plan(params: StaleVideosParams, ctx: PlanContext) -> list[PlannedJob]:
    before_ms = ctx.now_ms - round(params.older_than_days * DAY_MS)
    due = ctx.resources.index.due_for_check(before_ms, params.batch_size * params.max_batches)
    ids = [video.video_id for video in due]
    limits = params.model_dump(include={"concurrency", "per_host", "per_host_rate"})
    return [
        PlannedJob(
            type="stale-videos.check",
            payload={"videos": ",".join(ids[start : start + params.batch_size]), "planned_ms": ctx.now_ms, **limits},
            tenant=params.tenant,
            job_class="batch",
            # The same batch planned twice (a re-run plan job, two sweeps close together) is queued once.
            key=f"stale-videos:{ids[start]}:{ids[min(start + params.batch_size, len(ids)) - 1]}",
        )
        for start in range(0, len(ids), params.batch_size)
    ]


def run_plan(payload: JSONValue, ctx: PackContext) -> JSONValue:
    params = StaleVideosParams.model_validate(payload or {})
    results = ctx.submit(plan(params, ctx.plan_context()))
    return {"batches": len(results), "new": sum(result.created for result in results)}


def run_check(payload: JSONValue, ctx: PackContext) -> JSONValue:
    from workloads.index import CheckResult
    from workloads.sources.urls import watch_url
    from workloads.stale_videos.checker import CheckLimits, check_urls

    assert isinstance(payload, dict)  # the schema says so; the scheduler checked it at submit
    index, planned_ms = ctx.resources.index, int(payload["planned_ms"])
    video_ids = payload["videos"].split(",")
    stored = index.get(video_ids)
    todo = [video for video in stored.values() if _due(video, planned_ms)]
    limits = CheckLimits(payload["concurrency"], payload["per_host"], payload["per_host_rate"])
    base = ctx.resources.video_base_url
    verdicts = check_urls({video.video_id: watch_url(base, video.video_id) for video in todo}, limits)
    checked_ms = ctx.now_ms()
    results = [
        CheckResult(vid, checked_ms, verdict.verdict, verdict.reason)
        for vid, verdict in verdicts.items()
        if verdict.verdict != "retry"  # unknown (rate limited, 5xx): the next sweep asks again
    ]
    newly_stale = index.record_checks(results)
    # Every stale video of the batch, old or new, leaves the rankings again: a no-op for those already gone,
    # and the end of the job for a run that died between marking and removing.
    stale = [vid for vid, video in stored.items() if video.stale]
    stale += [result.video_id for result in results if result.outcome == "dead"]
    removed = ctx.resources.rankings.remove_everywhere(stale) if stale else 0
    return {
        "checked": len(results),
        "dead": newly_stale,
        "unknown": len(verdicts) - len(results),
        "skipped": len(stored) - len(todo),
        "missing": len(video_ids) - len(stored),
        "removed_from_rankings": removed,
    }


def batch_work_s(payload: JSONValue) -> float:
    """About 3 ms of work per URL: 64 connections, ~200 ms an answer from a real site."""
    return 0.003 * (payload["videos"].count(",") + 1) if isinstance(payload, dict) else 5.0


def _due(video: StoredVideo, planned_ms: int) -> bool:
    return not video.stale and (video.last_checked_ms is None or video.last_checked_ms < planned_ms)


CHECK_SCHEMA = {
    "type": "object",
    "properties": {
        # One comma-separated string, checked by one regular expression: as an array of 2,000 strings the
        # schema check alone took 7.7 ms a job (jsonschema visits each item), a tenth of the job's own work.
        "videos": {"type": "string", "pattern": VIDEO_IDS, "maxLength": 5000 * 65},
        "planned_ms": {"type": "integer", "minimum": 0},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 1000},
        "per_host": {"type": "integer", "minimum": 1, "maximum": 1000},
        "per_host_rate": {"type": "number", "minimum": 0},
    },
    "required": ["videos", "planned_ms", "concurrency", "per_host", "per_host_rate"],
    "additionalProperties": False,
}
PLAN_SCHEMA = {
    "type": ["object", "null"],
    "properties": {name: {} for name in StaleVideosParams.model_fields},  # the params model checks the values
    "additionalProperties": False,
}

PACK = Pack(
    name="stale-videos",
    description="re-check videos not checked for N days; mark dead links stale and drop them from rankings",
    params=StaleVideosParams,
    job_types=(
        PackJobType(
            name="check",
            run=run_check,
            description="check one batch of videos concurrently",
            payload_schema=CHECK_SCHEMA,
            default_class="batch",
            markets="spot",
            expected_run_s=5.0,
            estimate_s=batch_work_s,
            time_limit_s=600.0,
        ),
        PackJobType(
            name="plan",
            run=run_plan,
            description="plan a sweep's batches (what the cron schedule submits)",
            payload_schema=PLAN_SCHEMA,
            default_class="batch",
            markets="spot",
            expected_run_s=1.0,
            time_limit_s=300.0,
        ),
    ),
    plan=plan,
)
