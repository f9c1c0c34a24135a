"""A map's inputs for one place and hour: its trends and the tweets behind them, as Arrow tables.

Fresh inputs come from X: the place's trends (v2 /2/trends/by/woeid, or v1.1 trends/place where the access level
has only that; either serves the current hour only), then the tweets of the hour before (recent search, one
query ORing every trend, restricted to the place's country), paged and turned into record batches as they
arrive. They are archived before anything is computed from them; a re-run reads the archived copy, so the same
hour always gives the same answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from workloads.archive import Archive
from workloads.hot_topics import layout
from workloads.hot_topics.hours import HOUR_MS
from workloads.sources.types import Post, Trend
from workloads.sources.x import XClient

MAX_QUERY_CHARS = 512  # X's recent search limit for most access levels
PAGE_SIZE = 100

TWEETS_SCHEMA = pa.schema(
    [
        ("tweet_id", pa.int64()),
        ("author_id", pa.string()),
        ("created_at", pa.timestamp("ms", tz="UTC")),
        ("text", pa.string()),
        ("links", pa.list_(pa.string())),
    ]
)
TRENDS_SCHEMA = pa.schema(
    [("rank", pa.int32()), ("name", pa.string()), ("query", pa.string()), ("tweet_volume", pa.int64())]
)


class InputsGone(Exception):
    """The hour's inputs are neither archived nor still served (X only serves the current hour's trends)."""


@dataclass(frozen=True)
class HourInputs:
    trends: pa.Table  # TRENDS_SCHEMA, biggest first
    tweets: pa.Table  # TWEETS_SCHEMA, newest first
    fetched: bool  # False: read back from the archive

    @property
    def trend_names(self) -> list[str]:
        return [str(name) for name in self.trends["name"].to_pylist()]


def load_or_fetch(
    archive: Archive,
    x: XClient,
    woeid: int,
    country_code: str | None,
    hour_ms: int,
    now_ms: int,
    on_page: Callable[[int], None] = lambda tweets: None,
) -> HourInputs:
    archived = _archived(archive, woeid, hour_ms)
    if archived is not None:
        return archived
    if not hour_ms <= now_ms < hour_ms + HOUR_MS:
        raise InputsGone(
            f"WOEID {woeid}: no archived inputs for this hour, and X only serves the current hour's trends"
        )
    trends = x.trends(woeid)
    batches: list[pa.RecordBatch] = []
    for query in trend_queries([trend.query for trend in trends], country_code):
        for batch in _search_batches(x, query, hour_ms):
            batches.append(batch)
            on_page(sum(len(b) for b in batches))
    tweets = _unique_newest_first(pa.Table.from_batches(batches, TWEETS_SCHEMA))
    trends_table = trends_table_of(trends)
    archive.write_parquet(layout.tweets(hour_ms, woeid), tweets)
    archive.write_parquet(layout.trends(hour_ms, woeid), trends_table)  # last: it marks the inputs complete
    return HourInputs(trends_table, tweets, fetched=True)


def trend_queries(queries: Sequence[str], country_code: str | None) -> list[str]:
    """As few search queries as fit X's length limit, each `(q1 OR q2 ...) place_country:XX`."""
    suffix = f" place_country:{country_code}" if country_code else ""
    out: list[str] = []
    group: list[str] = []
    for query in queries:
        candidate = [*group, query]
        if group and len(f"({' OR '.join(candidate)}){suffix}") > MAX_QUERY_CHARS:
            out.append(f"({' OR '.join(group)}){suffix}")
            candidate = [query]
        group = candidate
    if group:
        out.append(f"({' OR '.join(group)}){suffix}")
    return out


def trends_table_of(trends: Sequence[Trend]) -> pa.Table:
    return pa.table(
        {
            "rank": list(range(len(trends))),
            "name": [trend.name for trend in trends],
            "query": [trend.query for trend in trends],
            "tweet_volume": [trend.tweet_volume for trend in trends],
        },
        schema=TRENDS_SCHEMA,
    )


def tweets_batch(posts: Sequence[Post]) -> pa.RecordBatch:
    return pa.record_batch(
        [
            pa.array([int(post.post_id) for post in posts], pa.int64()),
            pa.array([post.author_id for post in posts], pa.string()),
            pa.array([post.created_ms for post in posts], pa.timestamp("ms", tz="UTC")),
            pa.array([post.text for post in posts], pa.string()),
            pa.array([list(post.links) for post in posts], pa.list_(pa.string())),
        ],
        schema=TWEETS_SCHEMA,
    )


def _search_batches(x: XClient, query: str, hour_ms: int) -> Iterator[pa.RecordBatch]:
    window = {"start_time": _iso(hour_ms - HOUR_MS), "end_time": _iso(hour_ms)}
    token: str | None = None
    while True:
        page = x.search_recent(query, next_token=token, max_results=PAGE_SIZE, **window)
        if page.items:
            yield tweets_batch(page.items)
        if page.next_cursor is None:
            return
        token = page.next_cursor


def _archived(archive: Archive, woeid: int, hour_ms: int) -> HourInputs | None:
    if not archive.exists(layout.trends(hour_ms, woeid)):
        return None
    trends = archive.read_parquet(layout.trends(hour_ms, woeid)).cast(TRENDS_SCHEMA)
    tweets = archive.read_parquet(layout.tweets(hour_ms, woeid)).cast(TWEETS_SCHEMA)
    return HourInputs(trends, tweets, fetched=False)


def _unique_newest_first(tweets: pa.Table) -> pa.Table:
    """One row per tweet (a tweet matching two query groups came twice), newest first."""
    if tweets.num_rows == 0:
        return tweets
    first_rows = pa.table({"tweet_id": tweets["tweet_id"], "row": pa.array(range(tweets.num_rows))})
    keep = first_rows.group_by("tweet_id", use_threads=False).aggregate([("row", "min")])["row_min"]
    return tweets.take(keep).sort_by([("tweet_id", "descending")])


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
