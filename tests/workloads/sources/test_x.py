"""XClient (tweepy underneath) against a real emulator: paging, since_id, trends, search, 429s and secrets."""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import SecretStr

from tests.workloads.sources.conftest import FAKE_START_S, StartEmulator
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import AccessDeniedError, NotFoundError, Post, RateLimitedError, XClient
from workloads.world import World, WorldConfig, WorldPost

NOW_MS = int(FAKE_START_S * 1000)
TOKEN = "AAAAAAAAAAAAAAAAAAAAAsecret-x-bearer-1a2b3c"


def as_posts(world_posts: list[WorldPost]) -> list[tuple[str, tuple[str, ...], int]]:
    return [(str(p.snowflake), p.links, p.created_ms) for p in world_posts]


def summary(posts: list[Post]) -> list[tuple[str, tuple[str, ...], int]]:
    return [(p.post_id, p.links, p.created_ms) for p in posts]


def test_following_pages_to_the_end(emulator: EmulatorServer, world: World) -> None:
    # given a user following 1500 accounts
    user = world.user_with_degree(1500)
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        # when we follow next_token 1000 at a time
        first = x.following_page(user)
        second = x.following_page(user, first.next_cursor)
    # then two pages hold the world's list in order, and the last has no next token
    assert (len(first.items), len(second.items), second.next_cursor) == (1000, 500, None)
    assert [f.id for f in first.items + second.items] == world.friends(user)


def test_user_posts_page_through_everything_and_honour_since_id(start_emulator: StartEmulator) -> None:
    # given a world a year old, so an active user has more than one page (100) of tweets
    config = WorldConfig(posts_per_day=1.0)
    now_s = config.epoch_ms / 1000 + 365 * 86_400
    server = start_emulator(config=config, clock=lambda: now_s)
    world, user = World(config), "7"
    expected = world.posts(user, config.epoch_ms, int(now_s * 1000))
    assert len(expected) > 150
    with XClient(server.base_url, bearer_token=TOKEN) as x:
        # when
        everything = x.user_posts(user)
        newer = x.user_posts(user, since_id=str(expected[5].snowflake))
    # then all of them come back newest first with expanded links, and since_id keeps only the newer five
    assert summary(everything) == as_posts(expected)
    assert summary(newer) == as_posts(expected[:5])
    with_link = next(p for p in everything if p.links)
    assert "https://t.co/" in with_link.text and with_link.links[0] not in with_link.text


def test_trends_match_the_world(emulator: EmulatorServer, world: World) -> None:
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        trends = x.trends(23424977)
    expected = world.trends(23424977, NOW_MS)
    assert [(t.name, t.query, t.tweet_volume) for t in trends] == [(t.name, t.query, t.tweet_volume) for t in expected]
    assert any(t.query.startswith('"') for t in trends)  # phrases come back URL-decoded


def test_search_recent_pages_and_since_id(emulator: EmulatorServer, world: World) -> None:
    # given the top worldwide trend
    trend = world.trends(1, NOW_MS)[0]
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        # when we page through its recent tweets 10 at a time
        pages = [x.search_recent(trend.query, max_results=10)]
        while pages[-1].next_cursor is not None:
            pages.append(x.search_recent(trend.query, next_token=pages[-1].next_cursor, max_results=10))
        found = [p for page in pages for p in page.items]
        newer = x.search_recent(trend.query, since_id=found[3].post_id)
    # then several pages of distinct tweets, newest first, all about the trend; since_id keeps the newer ones
    assert len(pages) > 2
    ids = [int(p.post_id) for p in found]
    assert ids == sorted(set(ids), reverse=True)
    assert all(trend.name.lower() in p.text.lower() for p in found)
    assert [p.post_id for p in newer.items] == [p.post_id for p in found[:3]]
    assert any(p.links for p in found)


def test_unknown_user_and_place_are_not_found(emulator: EmulatorServer) -> None:
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        with pytest.raises(NotFoundError, match="999999999"):
            x.following_page("999999999")
        with pytest.raises(NotFoundError):
            x.user_posts("999999999")
        with pytest.raises(NotFoundError):
            x.trends(12345)


@pytest.mark.parametrize("token", ["", None])
def test_a_missing_token_is_refused(emulator: EmulatorServer, token: str | None) -> None:
    with XClient(emulator.base_url, bearer_token=token) as x:
        with pytest.raises(AccessDeniedError):
            x.following_page("1")
        with pytest.raises(AccessDeniedError):
            x.trends(1)


def test_a_429_is_waited_out_by_tweepy(start_emulator: StartEmulator) -> None:
    # given one request per second, on the real clock (tweepy sleeps for real, reading x-rate-limit-reset)
    server = start_emulator(limits=RateLimits(x=Limit(requests=1, window_s=1.0)), clock=time.time)
    with XClient(server.base_url, bearer_token=TOKEN, max_wait_s=5.0) as x:
        first = x.following_page("1", max_results=5)
        started = time.monotonic()
        # when the second request lands in the same window
        second = x.following_page("1", max_results=5)
        waited = time.monotonic() - started
    # then it waited for the window to reset (tweepy adds a second of margin) and then succeeded
    assert second == first
    assert 0.5 <= waited <= 3.0


def test_a_429_beyond_the_wait_budget_raises_at_once(start_emulator: StartEmulator) -> None:
    # given one request a minute and a client allowed to wait 1 s
    server = start_emulator(limits=RateLimits(x=Limit(requests=1, window_s=60.0)))
    with XClient(server.base_url, bearer_token=TOKEN, max_wait_s=1.0) as x:
        x.trends(1)
        started = time.monotonic()
        # when / then, for v2 and v1.1 alike
        with pytest.raises(RateLimitedError):
            x.following_page("1")
        with pytest.raises(RateLimitedError):
            x.trends(1)
    assert time.monotonic() - started < 1.0


def test_the_token_never_shows_in_logs_errors_or_reprs(
    emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    # given every logger at DEBUG (tweepy logs request headers there) and a SecretStr token
    caplog.set_level(logging.DEBUG)
    with XClient(emulator.base_url, bearer_token=SecretStr(TOKEN)) as x:
        # when it succeeds and fails
        x.following_page("1", max_results=5)
        x.trends(1)
        with pytest.raises(NotFoundError) as caught:
            x.following_page("999999999")
        text = repr(x)
    # then tweepy's header log was scrubbed, and nothing else carries the token
    assert "Bearer [redacted]" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert TOKEN not in text
