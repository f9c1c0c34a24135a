"""GraphClient against a real emulator: paging, batched feeds, since filters, 429s, errors, and a secret token."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from tests.workloads.sources.conftest import FAKE_START_S, FakeClock, StartEmulator
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import AccessDeniedError, GraphClient, NotFoundError, RateLimitedError, RetryPolicy
from workloads.world import World

NOW_MS = int(FAKE_START_S * 1000)
DAY_MS = 86_400_000
TOKEN = "EAAB-super-secret-graph-token-9f8e7d"


def test_friends_page_to_the_end(emulator: EmulatorServer, world: World) -> None:
    # given a user with 120 friends
    user = world.user_with_degree(120)
    with GraphClient(emulator.base_url, access_token=TOKEN) as graph:
        # when we follow the cursors 50 at a time
        pages = [graph.friends_page(user, limit=50)]
        while pages[-1].next_cursor is not None:
            pages.append(graph.friends_page(user, after=pages[-1].next_cursor, limit=50))
    # then three pages hold exactly the world's friends, in order, with names
    assert [len(p.items) for p in pages] == [50, 50, 20]
    assert [f.id for p in pages for f in p.items] == world.friends(user)
    assert all(f.name == world.user_name(f.id) for f in pages[0].items)


def test_feeds_of_more_than_50_friends_come_back_complete_and_since_filtered(
    emulator: EmulatorServer, world: World
) -> None:
    # given 120 friends and a since a week back
    friends = world.friends(world.user_with_degree(120))
    since_ms = NOW_MS - 7 * DAY_MS + 123
    with GraphClient(emulator.base_url, access_token=TOKEN, feed_page_limit=3) as graph:
        # when (3 posts a page, so feeds take several pages and batches)
        feeds = graph.feeds(friends, since_ms)
    # then every friend's feed is exactly the world's posts in that window, newest first, with their links
    assert list(feeds) == friends
    for friend in friends:
        expected = world.posts(friend, since_ms, NOW_MS)
        assert [p.post_id for p in feeds[friend]] == [p.post_id for p in expected]
        assert [(p.text, p.links, p.created_ms) for p in feeds[friend]] == [
            (p.text, p.links, p.created_ms) for p in expected
        ]
    assert sum(len(f) for f in feeds.values()) > 3 * len(friends)  # paging really happened


def test_feeds_treat_a_missing_friend_as_empty(emulator: EmulatorServer, world: World) -> None:
    with GraphClient(emulator.base_url, access_token=TOKEN) as graph:
        feeds = graph.feeds(["999999999", "1"], NOW_MS - 30 * DAY_MS)
    assert feeds["999999999"] == []
    assert [p.post_id for p in feeds["1"]] == [p.post_id for p in world.posts("1", NOW_MS - 30 * DAY_MS, NOW_MS)]


def test_the_emulator_refuses_batches_over_50(emulator: EmulatorServer) -> None:
    # given 51 requests in one batch (which the adapter never sends)
    batch = [{"method": "GET", "relative_url": "v19.0/1/feed"}] * 51
    # when
    response = httpx.post(
        f"{emulator.base_url}/v19.0/", data={"batch": json.dumps(batch)}, headers={"Authorization": "Bearer t"}
    )
    # then Graph's batch error comes back
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "GraphBatchException"


def test_an_unknown_user_is_not_found(emulator: EmulatorServer) -> None:
    with GraphClient(emulator.base_url, access_token=TOKEN) as graph, pytest.raises(NotFoundError, match="999999999"):
        graph.friends_page("999999999")


@pytest.mark.parametrize("token", ["", None])
def test_a_missing_token_is_refused(emulator: EmulatorServer, token: str | None) -> None:
    with GraphClient(emulator.base_url, access_token=token) as graph, pytest.raises(AccessDeniedError):
        graph.friends_page("1")


def test_a_429_is_waited_out_then_the_call_succeeds(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    # given 2 requests per 10 s, on a clock the client's sleep moves
    server = start_emulator(limits=RateLimits(graph=Limit(requests=2, window_s=10.0)), clock=fake_clock.now)
    with GraphClient(server.base_url, access_token=TOKEN, sleep=fake_clock.sleep, clock=fake_clock.now) as graph:
        # when a third request comes within the window
        pages = [graph.friends_page("1", limit=5) for _ in range(3)]
    # then it waited the advised 10 s (to the window's end) and then got its page
    assert fake_clock.sleeps == [10.0]
    assert pages[2] == pages[0]


def test_being_throttled_longer_than_allowed_raises(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    # given 1 request per minute and a client that waits at most 5 s
    server = start_emulator(limits=RateLimits(graph=Limit(requests=1, window_s=60.0)), clock=fake_clock.now)
    policy = RetryPolicy(max_wait_s=5.0)
    with GraphClient(
        server.base_url, access_token=TOKEN, policy=policy, sleep=fake_clock.sleep, clock=fake_clock.now
    ) as graph:
        graph.friends_page("1")
        # when / then
        with pytest.raises(RateLimitedError):
            graph.friends_page("1")
    assert fake_clock.sleeps == []


def test_the_token_never_shows_in_logs_errors_or_reprs(
    emulator: EmulatorServer, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given every logger at DEBUG and a token held as a SecretStr
    caplog.set_level(logging.DEBUG)
    graph = GraphClient(emulator.base_url, access_token=SecretStr(TOKEN))
    # when it succeeds, batches, and fails
    graph.friends_page(world.user_with_degree(120), limit=10)
    graph.feeds(["1", "2"], NOW_MS - DAY_MS)
    with pytest.raises(NotFoundError) as caught:
        graph.friends_page("999999999")
    graph.close()
    # then the token appears nowhere, though the requests themselves were logged
    assert "/friends" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert TOKEN not in repr(graph)
