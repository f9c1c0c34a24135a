"""Recent search as the hot-topics pack uses it: XClient (tweepy) against a real emulator, one OR query per place
with place_country and an hour's window, paged to the end, and X's 400s for bad queries and times."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.workloads.sources.conftest import FAKE_START_S
from workloads.emulator import EmulatorServer
from workloads.sources import BadResponseError, Post, XClient
from workloads.world import PLACES, World, WorldConfig, WorldTweet

NOW_MS = int(FAKE_START_S * 1000)
HOUR_MS = 3_600_000
HOUR = NOW_MS - NOW_MS % HOUR_MS  # the current hour: its trends were tweeted in the hour before
TOKEN = "AAAAAAAAAAAAAAAAAAAAAsecret-x-bearer-4d5e6f"
US, WORLDWIDE = 23424977, 1
CONFIG_VOLUME = WorldConfig().tweets_per_place_hour


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def everything(x: XClient, query: str, **window: str) -> tuple[list[Post], int]:
    """Every page of a search, and how many pages it took."""
    posts: list[Post] = []
    token: str | None = None
    pages = 0
    while True:
        page = x.search_recent(query, next_token=token, max_results=100, **window)
        posts.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            return posts, pages
        token = page.next_cursor


def mentions(text: str, trend_query: str) -> bool:
    """The oracle: a "phrase" anywhere, or a #hashtag not followed by more of a hashtag."""
    lowered, wanted = text.lower(), trend_query.strip('"').lower()
    if wanted.startswith("#"):
        return re.search(re.escape(wanted) + r"(?!\w)", lowered) is not None
    return wanted in lowered


def expected_of(tweets: list[WorldTweet], queries: list[str], start_ms: int, end_ms: int) -> list[tuple[str, int]]:
    chosen = [t for t in tweets if start_ms <= t.created_ms < end_ms and any(mentions(t.text, q) for q in queries)]
    return [(str(t.tweet_id), t.created_ms) for t in sorted(chosen, key=lambda t: t.tweet_id, reverse=True)]


def test_a_places_or_query_returns_exactly_its_matching_tweets_of_the_hour(
    emulator: EmulatorServer, world: World
) -> None:
    # given the US trends and the pack's query for them: one OR group, limited to the country, over the last hour
    queries = [t.query for t in world.trends(US, HOUR)]
    query = f"({' OR '.join(queries)}) place_country:US"
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        # when every page is read
        found, pages = everything(x, query, start_time=iso(HOUR - HOUR_MS), end_time=iso(HOUR))
    # then it is exactly the US and New York tweets of that hour that mention a trend, newest first, across pages
    places = [w for w, p in PLACES.items() if p.country_code == "US"]
    tweets = [t for woeid in places for t in world.tweets(woeid, HOUR)]
    assert [(p.post_id, p.created_ms) for p in found] == expected_of(tweets, queries, HOUR - HOUR_MS, HOUR)
    assert pages > 5 and len(found) > CONFIG_VOLUME  # all of the US's own, and New York's about the same trends
    assert any(p.links for p in found)
    assert all(HOUR - HOUR_MS <= p.created_ms < HOUR for p in found)


def test_a_window_across_an_hour_boundary_with_milliseconds(emulator: EmulatorServer, world: World) -> None:
    # given a window from 20 minutes into the hour before last to 35 minutes into the last hour
    start, end = HOUR - 2 * HOUR_MS + 20 * 60_000, HOUR - HOUR_MS + 35 * 60_000
    queries = [t.query for t in world.trends(23424856, HOUR)[:3]]
    query = f"({' OR '.join(queries)}) place_country:JP"
    window = {"start_time": iso(start).replace("Z", ".000Z"), "end_time": iso(end).replace("Z", "+00:00")}
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        found, _ = everything(x, query, **window)
    # then the tweets behind both hours' trends count, cut at both ends
    tweets = [t for hour in (HOUR - HOUR_MS, HOUR) for t in world.tweets(23424856, hour)]
    assert [(p.post_id, p.created_ms) for p in found] == expected_of(tweets, queries, start, end)
    assert found


def test_a_worldwide_query_pages_cheaply_after_the_first(emulator: EmulatorServer, world: World) -> None:
    # given the top worldwide trend, searched everywhere over the last hour
    trend = world.trends(WORLDWIDE, HOUR)[0]
    window = {"start_time": iso(HOUR - HOUR_MS), "end_time": iso(HOUR)}
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        started = time.perf_counter()
        first = x.search_recent(trend.query, max_results=100, **window)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = x.search_recent(trend.query, next_token=first.next_cursor, max_results=100, **window)
        later_s = time.perf_counter() - started
        found, _ = everything(x, trend.query, **window)
    # then the pages are the world's matches from every place, and later pages cost little
    tweets = [t for woeid in PLACES for t in world.tweets(woeid, HOUR)]
    assert [(p.post_id, p.created_ms) for p in found] == expected_of(tweets, [trend.query], HOUR - HOUR_MS, HOUR)
    assert [p.post_id for p in first.items + second.items] == [p.post_id for p in found[:200]]
    assert later_s < max(0.25, first_s / 2)


def test_without_times_the_window_is_the_two_hours_before_this_one(emulator: EmulatorServer, world: World) -> None:
    trend = world.trends(US, HOUR)[0]
    query = f"{trend.query} place_country:US"
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        found, _ = everything(x, query)
        since_start = x.search_recent(query, start_time=iso(HOUR - 2 * HOUR_MS), max_results=100)
    places = [w for w, p in PLACES.items() if p.country_code == "US"]
    tweets = [t for hour in (HOUR - HOUR_MS, HOUR) for woeid in places for t in world.tweets(woeid, hour)]
    assert [(p.post_id, p.created_ms) for p in found] == expected_of(tweets, [trend.query], HOUR - 2 * HOUR_MS, HOUR)
    # with only start_time the window runs to now, which (0.25 s into the hour) adds nothing yet
    assert [p.post_id for p in since_start.items] == [p.post_id for p in found[:100]]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"query": "(a OR b"}, "query"),
        ({"query": "a has:media"}, "query"),
        ({"query": ""}, "query"),
        ({"query": "a", "start_time": "yesterday"}, "start_time"),
        ({"query": "a", "start_time": "2026-12-01T05:00:00"}, "start_time"),  # no zone
        ({"query": "a", "start_time": iso(NOW_MS - 8 * 24 * HOUR_MS)}, "start_time"),  # beyond 7 days
        ({"query": "a", "end_time": iso(NOW_MS + HOUR_MS)}, "end_time"),  # in the future
        ({"query": "a", "start_time": iso(HOUR), "end_time": iso(HOUR - HOUR_MS)}, "start_time"),
        ({"query": "a", "start_time": iso(NOW_MS - 6 * 24 * HOUR_MS)}, "start_time"),  # too many place-hours
        ({"query": "a", "next_token": "!!"}, "next_token"),
        ({"query": "a", "max_results": "101"}, "max_results"),
    ],
)
def test_bad_queries_and_times_get_xs_400(emulator: EmulatorServer, params: dict[str, str], parameter: str) -> None:
    answer = httpx.get(
        f"{emulator.base_url}/2/tweets/search/recent", params=params, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    body = answer.json()
    assert answer.status_code == 400
    assert body["title"] == "Invalid Request" and body["type"].endswith("/invalid-request")
    assert list(body["errors"][0]["parameters"]) == [parameter] and body["errors"][0]["message"]


def test_the_client_reports_why_a_query_was_refused(emulator: EmulatorServer) -> None:
    with XClient(emulator.base_url, bearer_token=TOKEN) as x, pytest.raises(BadResponseError, match="never closed"):
        x.search_recent("(a OR b")
