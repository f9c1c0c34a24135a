"""`hot-topics.map`: one place, one hour. Inputs (fetched and archived, or read back), each trend's context and
the videos its tweets share, written to the archive; the map that completes the hour's set queues the reduce.

Why the last map queues the reduce: every map writes its output before it lists the hour's outputs, so whichever
finishes last sees them all; two maps finishing together both see them and both submit, and the reduce's
idempotency key makes that one job. A place whose map dead-letters holds the hour's reduce back; the next hour's
plan job then queues it anyway (see pack.py), with whatever places made it. The key counts the places a reduce
will find, so a late map's complete reduce is never taken for an earlier partial one that is still queued.
X's usage cap (UsageCappedError) dead-letters the map at once: the cap is monthly, and the hour's trends are gone
by the time it lifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from dispatcher.context import JobCannotSucceed
from scheduler.job import JSONValue
from workloads.context import PackContext
from workloads.hot_topics import layout
from workloads.hot_topics.contexts import infer_contexts, lowered, trend_masks, video_shares
from workloads.hot_topics.hours import label
from workloads.hot_topics.inputs import InputsGone, load_or_fetch
from workloads.hot_topics.places import country_code
from workloads.pack import PlannedJob
from workloads.sources.errors import UsageCappedError

CONTEXTS_SCHEMA = pa.schema(
    [
        ("rank", pa.int32()),
        ("trend", pa.string()),
        ("tweet_volume", pa.int64()),
        ("tweets", pa.int64()),
        ("terms", pa.list_(pa.string())),
        ("support", pa.list_(pa.int64())),
        ("videos", pa.list_(pa.string())),
        ("shares", pa.list_(pa.int64())),
    ]
)
MAX_SHARED_VIDEOS = 20  # per trend: the reduce ranks from search results and the most shared links


@dataclass(frozen=True)
class MapPayload:
    woeid: int
    hour_ms: int
    places: tuple[int, ...]  # every place of the hour's plan: the reduce waits for all of them
    reduce: dict[str, int]  # what the reduce is told (top, search_results)

    @classmethod
    def of(cls, payload: JSONValue) -> MapPayload:
        assert isinstance(payload, dict)  # the schema says so; the scheduler checked it at submit
        places = tuple(int(part) for part in payload["places"].split(","))
        return cls(payload["woeid"], payload["hour_ms"], places, dict(payload["reduce"]))


def run_map(payload: JSONValue, ctx: PackContext) -> JSONValue:
    job = MapPayload.of(payload)
    archive = ctx.resources.archive
    try:
        inputs = load_or_fetch(
            archive,
            ctx.resources.x,
            job.woeid,
            country_code(job.woeid),
            job.hour_ms,
            ctx.now_ms(),
            on_page=lambda tweets: ctx.report_progress({"tweets": tweets}),
        )
    except InputsGone as err:
        raise JobCannotSucceed(str(err)) from None
    except UsageCappedError as err:  # a monthly cap outlasts the hour, and X serves only the current trends
        raise JobCannotSucceed(f"WOEID {job.woeid}: {err}") from None
    table = contexts_table(inputs.trends, inputs.tweets)
    archive.write_parquet(layout.contexts(job.hour_ms, job.woeid), table)
    queued = _queue_reduce_when_complete(ctx, job)
    return {
        "woeid": job.woeid,
        "hour": label(job.hour_ms),
        "tweets": inputs.tweets.num_rows,
        "trends": inputs.trends.num_rows,
        "fetched": inputs.fetched,
        "reduce_queued": queued,
    }


def contexts_table(trends: pa.Table, tweets: pa.Table) -> pa.Table:
    """One row per trend: its context words and the videos its tweets share (CONTEXTS_SCHEMA)."""
    names = [str(name) for name in trends["name"].to_pylist()]
    masks = trend_masks(lowered(tweets["text"]), names)
    contexts = infer_contexts(tweets["text"], names, masks=masks)
    shares = video_shares(tweets["links"], masks, names)
    shared = [shares.get(name, [])[:MAX_SHARED_VIDEOS] for name in names]
    return pa.table(
        {
            "rank": trends["rank"],
            "trend": trends["name"],
            "tweet_volume": trends["tweet_volume"],
            "tweets": [context.tweets for context in contexts],
            "terms": [list(context.terms) for context in contexts],
            "support": [list(context.support) for context in contexts],
            "videos": [[video for video, _ in videos] for videos in shared],
            "shares": [[count for _, count in videos] for videos in shared],
        },
        schema=CONTEXTS_SCHEMA,
    )


def reduce_job(
    hour_ms: int, places: tuple[int, ...], present: int, options: dict[str, int], ctx: PackContext
) -> PlannedJob:
    """The hour's reduce over `places`, of which `present` have written their output."""
    deadline_ms = ctx.job.deadline_ms
    now_ms = ctx.now_ms()
    return PlannedJob(
        type="hot-topics.reduce",
        payload={"hour_ms": hour_ms, "places": ",".join(map(str, places)), **options},
        tenant=ctx.job.tenant,
        job_class=ctx.job.job_class,
        key=f"hot-topics:reduce:{label(hour_ms)}:{present}",
        deadline_s=(deadline_ms - now_ms) / 1000 if deadline_ms is not None and deadline_ms > now_ms + 1000 else None,
    )


def _queue_reduce_when_complete(ctx: PackContext, job: MapPayload) -> bool:
    done = {layout.woeid_of(path) for path in ctx.resources.archive.list(layout.contexts_folder(job.hour_ms))}
    if not set(job.places) <= done:
        return False
    ctx.submit([reduce_job(job.hour_ms, job.places, len(job.places), job.reduce, ctx)])
    return True
