"""XClient (tweepy underneath) against a real emulator: paging, since_id, trends (v2, and v1.1 as a fallback),
search, 429s, usage caps and secrets."""

from __future__ import annotations

import logging

import pytest
import tweepy
from pydantic import SecretStr

from tests.workloads.sources.conftest import FAKE_START_S, FakeClock, StartEmulator
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import (
    AccessDeniedError,
    NotFoundError,
    Post,
    RateLimitedError,
    UsageCappedError,
    XClient,
)
from workloads.sources.x import V1_TRENDS, V2_TRENDS, X_URL
from workloads.sources.x_transport import RedirectAdapter, mount
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


def test_trends_come_from_v2_and_match_the_world(emulator: EmulatorServer, world: World) -> None:
    with XClient(emulator.base_url, bearer_token=TOKEN) as x:
        trends = x.trends(23424977)
        endpoint = x.trends_endpoint
    expected = world.trends(23424977, NOW_MS)
    assert [(t.name, t.query, t.tweet_volume) for t in trends] == [(t.name, t.query, t.tweet_volume) for t in expected]
    assert any(t.query.startswith('"') for t in trends)  # v2 has names only: phrases are quoted, as v1.1's were
    assert endpoint == V2_TRENDS


def test_trends_fall_back_to_v1_when_the_tier_refuses_v2(
    start_emulator: StartEmulator, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given an access tier that has v1.1 trends/place but not v2 trends
    caplog.set_level(logging.INFO, logger="workloads.sources.x")
    server = start_emulator(limits=RateLimits(x_trends=("v1.1",)), clock=lambda: FAKE_START_S)
    with XClient(server.base_url, bearer_token=TOKEN) as x:
        # when two places' trends are asked for
        us, worldwide = x.trends(23424977), x.trends(1)
        endpoint = x.trends_endpoint
    # then both come from v1.1, the same trends as v2 gives, and v2 was tried (and refused) only once
    for trends, woeid in ((us, 23424977), (worldwide, 1)):
        expected = world.trends(woeid, NOW_MS)
        assert [(t.name, t.query, t.tweet_volume) for t in trends] == [
            (t.name, t.query, t.tweet_volume) for t in expected
        ]
    assert endpoint == V1_TRENDS
    assert caplog.text.count("refused (HTTP 403)") == 1


def test_trends_refused_by_both_endpoints_are_access_denied(start_emulator: StartEmulator) -> None:
    server = start_emulator(limits=RateLimits(x_trends=()), clock=lambda: FAKE_START_S)
    with XClient(server.base_url, bearer_token=TOKEN) as x, pytest.raises(AccessDeniedError, match="453"):
        x.trends(1)


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


def test_a_429_is_waited_out_until_the_announced_reset(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    # given one request per 15-minute window, on a clock the client's sleep moves
    server = start_emulator(limits=RateLimits(x=Limit(requests=1, window_s=900.0)), clock=fake_clock.now)
    with XClient(
        server.base_url, bearer_token=TOKEN, max_wait_s=960.0, sleep=fake_clock.sleep, clock=fake_clock.now
    ) as x:
        first = x.following_page("1", max_results=5)
        # when the second request lands in the same window
        second = x.following_page("1", max_results=5)
    # then it slept once, until a second past the window's end (x-rate-limit-reset), and then succeeded
    reset_s = (FAKE_START_S // 900 + 1) * 900
    assert fake_clock.sleeps == [pytest.approx(reset_s + 1 - FAKE_START_S)]
    assert second == first


def test_a_spent_usage_cap_raises_at_once_without_sleeping(
    start_emulator: StartEmulator, fake_clock: FakeClock
) -> None:
    # given a token whose monthly usage cap is two requests, in a window with plenty of room
    server = start_emulator(limits=RateLimits(x=Limit(cap=2)), clock=fake_clock.now)
    with XClient(server.base_url, bearer_token=TOKEN, sleep=fake_clock.sleep, clock=fake_clock.now) as x:
        x.following_page("1", max_results=5)
        x.trends(1)
        # when / then: the third is refused as capped, with no wait, whatever the call
        with pytest.raises(UsageCappedError, match="Monthly product cap") as caught:
            x.following_page("1", max_results=5)
        with pytest.raises(UsageCappedError):
            x.trends(1)
    assert fake_clock.sleeps == [] and caught.value.waited_s == 0.0


@pytest.mark.timeout(10)
def test_tweepys_own_rate_limit_wait_never_sleeps_on_a_usage_cap(
    start_emulator: StartEmulator, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given tweepy left to wait on 429s itself (it would sleep until x-rate-limit-reset, up to 15 minutes),
    # its sleeps recorded instead of slept
    monkeypatch.setattr(tweepy.client.time, "sleep", fake_clock.sleep)
    server = start_emulator(limits=RateLimits(x=Limit(cap=0, window_s=900.0)))
    client = tweepy.Client(bearer_token=TOKEN, wait_on_rate_limit=True)
    mount(client.session, X_URL, RedirectAdapter(server.base_url, timeout_s=5.0))
    # when / then: the adapter under it raises on the capped answer before tweepy can sleep
    with pytest.raises(UsageCappedError):
        client.get_users_following("1")
    assert fake_clock.sleeps == []
    client.session.close()


def test_a_429_beyond_the_wait_budget_raises_at_once(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    # given one request a minute and a client allowed to wait 1 s
    server = start_emulator(limits=RateLimits(x=Limit(requests=1, window_s=60.0)), clock=fake_clock.now)
    x = XClient(server.base_url, bearer_token=TOKEN, max_wait_s=1.0, sleep=fake_clock.sleep, clock=fake_clock.now)
    with x:
        x.trends(1)
        # when / then, for following and trends alike: refused without a wait
        with pytest.raises(RateLimitedError):
            x.following_page("1")
        with pytest.raises(RateLimitedError):
            x.trends(1)
    assert fake_clock.sleeps == []


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
