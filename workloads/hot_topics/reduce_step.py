"""`hot-topics.reduce`: one hour. Read every place's map output, merge the contexts per trend, search videos for
each trend with its context, rank them per place and for the world, and write `hot:{woeid}:{hour}` and
`hot:global:{hour}` (each replaced whole, so a reader sees the old list or the new one), the index records of the
videos found, and the archive's `hot` table (the trend and context behind each ranked video, for
`ebbflow hot-topics show`).

Only videos known to be up are ranked: the search returns only those, and the videos the tweets linked that the
search did not return are asked about (oEmbed, which also gives their titles) once they would make a list; the gone
ones are dropped and the lists drawn again. A re-run reads the same archived map outputs and gets the same answers
(unless a video died in between), so it writes the same rankings. A spent search quota (the Data API's daily
quota, UsageCappedError) dead-letters the reduce at once, naming when the quota resets: its inputs stay archived,
so retrying the dead letter then ranks the hour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pyarrow as pa

from dispatcher.context import JobCannotSucceed
from scheduler.job import JSONValue
from workloads.context import PackContext
from workloads.hot_topics import layout
from workloads.hot_topics.hours import label
from workloads.hot_topics.ranking import (
    HotVideo,
    MergedTrend,
    PlaceTrend,
    merge,
    pooled,
    score_place,
    search_query,
    trend_key,
)
from workloads.index import VideoRecord
from workloads.sources.errors import UsageCappedError
from workloads.sources.urls import watch_url

if TYPE_CHECKING:
    from workloads.sources.types import VideoMeta
    from workloads.sources.videos import VideoPages

GLOBAL = "global"
CANONICAL_VIDEO_BASE = "https://www.youtube.com"  # the index keeps the public URL, whatever the sources talk to
SEARCH_THREADS = 8  # searches are network waits; a few at once keep a reduce of ~400 trends short

HOT_SCHEMA = pa.schema(
    [
        ("place", pa.string()),
        ("position", pa.int32()),
        ("video_id", pa.string()),
        ("score", pa.float64()),
        ("trend", pa.string()),
        ("context", pa.string()),
        ("title", pa.string()),
        ("channel", pa.string()),
    ]
)


def run_reduce(payload: JSONValue, ctx: PackContext) -> JSONValue:
    assert isinstance(payload, dict)  # the schema says so; the scheduler checked it at submit
    hour_ms, top = int(payload["hour_ms"]), int(payload["top"])
    planned = [int(part) for part in str(payload["places"]).split(",")]
    places = read_place_trends(ctx, hour_ms, planned)
    merged = merge(places)
    videos = ctx.resources.videos
    try:
        found = search_all(videos, list(merged.values()), int(payload["search_results"]))
    except UsageCappedError as err:  # the key's daily quota: no retry within the hour can help
        raise JobCannotSucceed(f"{err}; {_after_reset(err)}") from None
    searched = {key: [meta.video_id for meta in found[key]] for key in merged}
    metadata = {meta.video_id: meta for metas in found.values() for meta in metas}
    views = {**places, GLOBAL: pooled(places, merged)}
    hot = rank_live_videos(views, searched, merged, top, metadata, lambda ids: lookup_all(videos, ids))
    _save(ctx, hour_ms, hot, metadata)
    return {
        "hour": label(hour_ms),
        "places": len(places),
        "missing": sorted(set(planned) - {int(place) for place in places}),
        "trends": len(merged),
        "videos": len({video.video_id for ranking in hot.values() for video in ranking}),
    }


def _after_reset(err: UsageCappedError) -> str:
    when = "once the quota resets" if err.resets_at_s is None else f"after {label(round(err.resets_at_s * 1000))}:00"
    return f"the maps' outputs are archived, so retry this reduce {when} (UTC)"


def read_place_trends(ctx: PackContext, hour_ms: int, planned: list[int]) -> dict[str, list[PlaceTrend]]:
    """Each planned place's map output that exists, keyed by the WOEID as a string."""
    archive = ctx.resources.archive
    out: dict[str, list[PlaceTrend]] = {}
    for woeid in planned:
        path = layout.contexts(hour_ms, woeid)
        if archive.exists(path):
            out[str(woeid)] = place_trends_of(archive.read_parquet(path))
    return out


def search_all(videos: VideoPages, trends: list[MergedTrend], per_trend: int) -> dict[str, list[VideoMeta]]:
    """Each trend's search results, keyed by trend key, searched a few at a time."""
    with ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="hot-topics-search") as pool:
        answers = pool.map(lambda trend: videos.search(search_query(trend), per_trend), trends)
        return {trend_key(trend.trend): list(answer) for trend, answer in zip(trends, answers, strict=True)}


def rank_live_videos(
    views: Mapping[str, Sequence[PlaceTrend]],
    searched: Mapping[str, Sequence[str]],
    merged: Mapping[str, MergedTrend],
    top: int,
    metadata: dict[str, VideoMeta],
    lookup: Callable[[list[str]], list[VideoMeta | None]],
) -> dict[str, list[HotVideo]]:
    """Each view's `top` videos, none of them gone. `metadata` holds the videos known to be up (the search's); a
    ranked video outside it is looked up (None: gone), and the lists are drawn again until every ranked video is
    known. Each round settles the videos it asks about, so it ends; a dead video's place goes to the next one."""
    gone: set[str] = set()
    while True:
        hot = {view: score_place(rows, searched, merged, top, gone) for view, rows in views.items()}
        unknown = sorted({video.video_id for ranking in hot.values() for video in ranking} - metadata.keys())
        if not unknown:
            return hot
        for video_id, meta in zip(unknown, lookup(unknown), strict=True):
            if meta is None:
                gone.add(video_id)
            else:
                metadata[video_id] = meta


def lookup_all(videos: VideoPages, video_ids: list[str]) -> list[VideoMeta | None]:
    """Each video's metadata (None when it is gone), a few at a time."""
    with ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="hot-topics-lookup") as pool:
        return list(pool.map(lambda video_id: playable_metadata(videos, video_id), video_ids))


def playable_metadata(videos: VideoPages, video_id: str) -> VideoMeta | None:
    """oEmbed's title and channel, unless the video is gone: oEmbed answers 404 or 403 for a removed or private
    video, but 200 for one that can no longer be played (a stream that left no recording), so its watch page has
    the last word when it says "dead". A page that cannot be read now (throttled, cut short) proves nothing and
    keeps the video (docs/api-video.md)."""
    meta = videos.metadata(video_id)
    if meta is None or videos.check(video_id).verdict == "dead":
        return None
    return meta


def place_trends_of(table: pa.Table) -> list[PlaceTrend]:
    """A map's output table (map_step.CONTEXTS_SCHEMA) as the rows the ranking reads."""
    return [
        PlaceTrend(
            row["trend"],
            row["rank"],
            row["tweets"],
            tuple(row["terms"]),
            tuple(row["support"]),
            tuple(zip(row["videos"], row["shares"], strict=True)),
        )
        for row in table.to_pylist()
    ]


def _save(ctx: PackContext, hour_ms: int, hot: dict[str, list[HotVideo]], metadata: dict[str, VideoMeta]) -> None:
    now_ms = ctx.now_ms()
    ranked = sorted({video.video_id for ranking in hot.values() for video in ranking})
    ctx.resources.index.upsert_videos(
        [
            VideoRecord(
                video_id,
                watch_url(CANONICAL_VIDEO_BASE, video_id),
                title=metadata[video_id].title if video_id in metadata else None,
                channel=metadata[video_id].channel if video_id in metadata else None,
                seen_ms=now_ms,
            )
            for video_id in ranked
        ]
    )
    rankings = ctx.resources.rankings
    for place, videos in sorted(hot.items()):
        rankings.replace(layout.ranking_name(place, hour_ms), {video.video_id: video.score for video in videos})
    rows = [
        {
            "place": place,
            "position": position,
            "video_id": video.video_id,
            "score": video.score,
            "trend": video.trend,
            "context": " ".join(video.context),
            "title": metadata[video.video_id].title if video.video_id in metadata else None,
            "channel": metadata[video.video_id].channel if video.video_id in metadata else None,
        }
        for place, videos in sorted(hot.items())
        for position, video in enumerate(videos)
    ]
    ctx.resources.archive.write_parquet(layout.hot(hour_ms), pa.Table.from_pylist(rows, schema=HOT_SCHEMA))
