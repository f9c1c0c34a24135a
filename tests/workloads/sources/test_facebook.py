"""GraphClient against a real emulator: app-using friends page by page, batched feeds read with each friend's own
token, items failing alone, Graph's error codes, throttling by code and usage header, and secret tokens."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from tests.workloads.api_contract import Answer, ReplayServer, case
from tests.workloads.sources.conftest import FAKE_START_S, FakeClock, StartEmulator
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import AccessDeniedError, GraphClient, NotFoundError, RateLimitedError, RetryPolicy
from workloads.sources.errors import BadResponseError, SourceError, SourceUnavailableError
from workloads.sources.graph_parse import error_for, page_params
from workloads.sources.ratelimit import graph_usage_wait_s
from workloads.world import World, WorldConfig
from workloads.world.users import graph_app_friends, graph_token

NOW_MS = int(FAKE_START_S * 1000)
DAY_MS = 86_400_000
TOKEN = "EAAB-super-secret-graph-token-9f8e7d"


def app_friends(world: World, user: str) -> list[str]:
    return list(graph_app_friends(world.config, int(user)))


def own_tokens(friends: list[str]) -> dict[str, str]:
    return {friend: graph_token(friend) for friend in friends}


def test_friends_pages_list_only_the_friends_who_use_the_app(emulator: EmulatorServer, world: World) -> None:
    # given a user with 120 friends, some of whom use the app
    user = world.user_with_degree(120)
    listed = app_friends(world, user)
    assert 10 < len(listed) < 120
    with GraphClient(emulator.base_url, access_token=TOKEN) as graph:
        # when we follow the pages 10 at a time, with the user's own token
        pages = [graph.friends_page(user, limit=10, token=graph_token(user))]
        while pages[-1].next_cursor is not None:
            pages.append(graph.friends_page(user, after=pages[-1].next_cursor, limit=10, token=graph_token(user)))
    # then the pages hold exactly the app-using friends, in order, with names
    assert [len(p.items) for p in pages] == [10] * (len(listed) // 10) + [len(listed) % 10] * (len(listed) % 10 > 0)
    assert [f.id for p in pages for f in p.items] == listed
    assert all(f.name == world.user_name(f.id) for f in pages[0].items)


def test_a_friends_page_counts_every_friend_in_its_summary(emulator: EmulatorServer, world: World) -> None:
    user = world.user_with_degree(120)
    answer = httpx.get(f"{emulator.base_url}/v19.0/{user}/friends", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.json()["summary"] == {"total_count": 120}
    assert len(answer.json()["data"]) == min(25, len(app_friends(world, user)))


def test_feeds_of_more_than_50_friends_come_back_complete_and_since_filtered(
    emulator: EmulatorServer, world: World
) -> None:
    # given more than 50 app-using friends, each with their own token, and a since a week back
    friends = app_friends(world, world.user_with_degree(300))
    assert len(friends) > 50
    since_ms = NOW_MS - 7 * DAY_MS + 123
    with GraphClient(emulator.base_url, access_token=TOKEN, feed_page_limit=3) as graph:
        # when (3 posts a page, so feeds take several time-based pages and batches)
        feeds = graph.feeds(friends, since_ms, tokens=own_tokens(friends))
    # then every friend's feed is exactly the world's posts in that window, newest first, with their links
    assert list(feeds.posts) == friends and (feeds.gone, feeds.refused) == ((), ())
    for friend in friends:
        expected = world.posts(friend, since_ms, NOW_MS)
        assert [(p.post_id, p.text, p.links, p.created_ms) for p in feeds.posts[friend]] == [
            (p.post_id, p.text, p.links, p.created_ms) for p in expected
        ]
    assert sum(len(f) for f in feeds.posts.values()) > 3 * len(friends)  # paging really happened


def test_a_vanished_friend_fails_alone(emulator: EmulatorServer, world: World) -> None:
    # given a friend who uses the app and one whose account is gone (Graph: 400, code 100, subcode 33)
    friend = app_friends(world, "1")[0]
    with GraphClient(emulator.base_url, access_token=TOKEN) as graph:
        feeds = graph.feeds(["999999999", friend], NOW_MS - 30 * DAY_MS, tokens=own_tokens(["999999999", friend]))
    # then the gone one is named and the other's feed is complete
    assert feeds.gone == ("999999999",) and feeds.posts["999999999"] == []
    expected = world.posts(friend, NOW_MS - 30 * DAY_MS, NOW_MS)
    assert [p.post_id for p in feeds.posts[friend]] == [p.post_id for p in expected] != []


def test_a_feed_read_without_its_owners_grant_is_refused_alone(emulator: EmulatorServer, world: World) -> None:
    # given two app-using friends, the second asked with the first one's token
    first, second = app_friends(world, world.user_with_degree(120))[:2]
    with GraphClient(emulator.base_url, access_token=TOKEN) as graph:
        tokens = {first: graph_token(first), second: graph_token(first)}
        feeds = graph.feeds([first, second], NOW_MS - 30 * DAY_MS, tokens=tokens)
    # then Graph's permission error refuses the second alone
    assert feeds.refused == (second,) and feeds.posts[second] == []
    expected = world.posts(first, NOW_MS - 30 * DAY_MS, NOW_MS)
    assert [p.post_id for p in feeds.posts[first]] == [p.post_id for p in expected]


def test_a_user_who_does_not_use_the_app_has_granted_nothing(emulator: EmulatorServer, world: World) -> None:
    outsider = next(f for f in world.friends("1") if f not in app_friends(world, "1"))
    with GraphClient(emulator.base_url, access_token=TOKEN) as graph:
        feeds = graph.feeds([outsider], NOW_MS - DAY_MS, tokens=own_tokens([outsider]))
    assert feeds.refused == (outsider,)


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
    with GraphClient(emulator.base_url, access_token=token) as graph, pytest.raises(AccessDeniedError, match="104"):
        graph.friends_page("1")


def test_a_revoked_token_is_refused() -> None:
    server = EmulatorServer(WorldConfig(), revoked_tokens=frozenset({TOKEN}))
    with (
        server,
        GraphClient(server.base_url, access_token=TOKEN) as graph,
        pytest.raises(AccessDeniedError, match="190"),
    ):
        graph.friends_page("1")


def test_every_graph_answer_reports_usage_and_no_other_rate_headers(emulator: EmulatorServer) -> None:
    answer = httpx.get(f"{emulator.base_url}/v19.0/1/friends", headers={"Authorization": "Bearer usage-probe"})
    usage = json.loads(answer.headers["X-App-Usage"])
    assert set(usage) == {"call_count", "total_cputime", "total_time"} and 0 < usage["call_count"] <= 100
    assert not {"retry-after", "x-rate-limit-limit", "x-rate-limit-remaining"} & {h.lower() for h in answer.headers}


def test_throttling_is_waited_out_as_x_app_usage_advises(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    # given 2 requests per 10 s, on a clock the client's sleep moves
    server = start_emulator(limits=RateLimits(graph=Limit(requests=2, window_s=10.0)), clock=fake_clock.now)
    with GraphClient(server.base_url, access_token=TOKEN, sleep=fake_clock.sleep, clock=fake_clock.now) as graph:
        # when a third request comes within the window (Graph: code 4, X-App-Usage at 100 %, no Retry-After)
        pages = [graph.friends_page("1", limit=5) for _ in range(3)]
    # then it waited the documented back-off for a full window (36 s) and then got its page
    assert fake_clock.sleeps == [36.0]
    assert pages[2] == pages[0]


def test_being_throttled_longer_than_allowed_raises(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    # given 1 request per minute and a client that waits at most 5 s
    server = start_emulator(limits=RateLimits(graph=Limit(requests=1, window_s=60.0)), clock=fake_clock.now)
    policy = RetryPolicy(max_wait_s=5.0)
    with GraphClient(
        server.base_url, access_token=TOKEN, policy=policy, sleep=fake_clock.sleep, clock=fake_clock.now
    ) as graph:
        graph.friends_page("1")
        # when / then: released at once, without sleeping on a wait it could not finish
        with pytest.raises(RateLimitedError):
            graph.friends_page("1")
    assert fake_clock.sleeps == []


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"X-App-Usage": '{"call_count":100,"total_cputime":20,"total_time":30}'}, 36.0),
        ({"x-app-usage": '{"call_count":40,"total_cputime":103,"total_time":30}'}, 144.0),
        ({"X-App-Usage": '{"call_count":12,"total_cputime":5,"total_time":6}'}, 36.0),  # throttled all the same
        ({"X-Business-Use-Case-Usage": '{"9":[{"call_count":100,"estimated_time_to_regain_access":3}]}'}, 180.0),
        ({"X-Page-Usage": '{"call_count":100,"estimated_time_to_regain_access":0}'}, 36.0),
        ({"X-App-Usage": "not json"}, None),
        ({}, None),
    ],
)
def test_the_wait_follows_the_usage_headers(headers: dict[str, str], wait: float | None) -> None:
    assert graph_usage_wait_s(headers) == wait


def graph_error(code: int, subcode: int | None = None) -> dict[str, object]:
    sub = {} if subcode is None else {"error_subcode": subcode}
    return {"error": {"message": "m", "type": "OAuthException", "code": code, **sub, "fbtrace_id": "t"}}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, graph_error(100, 33), NotFoundError),
        (404, graph_error(100, 33), NotFoundError),
        (400, graph_error(803), NotFoundError),
        (400, graph_error(100), BadResponseError),  # an invalid parameter: our bug, not a missing object
        (404, {"message": "no Graph error"}, BadResponseError),  # the status alone decides nothing
        (400, graph_error(190, 463), AccessDeniedError),
        (400, graph_error(190, 460), AccessDeniedError),
        (400, graph_error(104), AccessDeniedError),
        (403, graph_error(10), AccessDeniedError),
        (400, graph_error(200), AccessDeniedError),
        (400, graph_error(4), RateLimitedError),
        (400, graph_error(80004), RateLimitedError),
        (500, graph_error(2), SourceUnavailableError),
    ],
)
def test_graph_errors_are_read_by_their_code(status: int, body: dict[str, object], kind: type[SourceError]) -> None:
    assert type(error_for(status, body, "user 42")) is kind


def test_a_cursor_is_the_next_query_without_any_token() -> None:
    assert page_params("?limit=2&until=17&__paging_token=abc") == {"limit": "2", "until": "17", "__paging_token": "abc"}
    assert page_params("?after=QQ&access_token=secret") == {"after": "QQ"}
    assert page_params("QVFIUmFmdGVy") == {"after": "QVFIUmFmdGVy"}  # a bare cursor, from an older checkpoint


def test_no_token_shows_in_logs_errors_cursors_or_reprs(
    emulator: EmulatorServer, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given every logger at DEBUG, the app's token as a SecretStr and friends' own tokens
    caplog.set_level(logging.DEBUG)
    graph = GraphClient(emulator.base_url, access_token=SecretStr(TOKEN), feed_page_limit=2)
    friends = app_friends(world, world.user_with_degree(120))[:3]
    tokens = {friend: SecretStr(graph_token(friend)) for friend in friends}
    # when it pages, batches, and fails
    page = graph.friends_page(world.user_with_degree(120), limit=2)
    graph.feeds(friends, NOW_MS - 3 * DAY_MS, tokens=tokens)
    with pytest.raises(NotFoundError) as caught:
        graph.friends_page("999999999")
    graph.close()
    # then no token appears anywhere, though the requests themselves were logged
    secrets = [TOKEN, *(graph_token(friend) for friend in friends)]
    assert "/friends" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text and secret not in str(caught.value) and secret not in repr(caught.value)
        assert secret not in (page.next_cursor or "")
    assert TOKEN not in repr(graph)


def test_a_batch_item_graph_did_not_get_to_is_asked_again() -> None:
    # given Graph's documented batch answer, first with its second item null (not done in time)
    documented = case("graph", "batch_one_item_fails").answer
    items = documented.json()
    unfinished = Answer(200, documented.headers, json.dumps([items[0], None]).encode())
    finished = Answer(200, documented.headers, json.dumps([items[1]]).encode())
    sleeps: list[float] = []
    with ReplayServer([unfinished, finished]) as server:
        graph = GraphClient(server.base_url, access_token=TOKEN, sleep=sleeps.append)
        # when both friends' feeds are read
        feeds = graph.feeds(["10158001", "10158003"], since_ms=0)
        graph.close()
        asked_again = [json.loads(dict(httpx.QueryParams(seen.body.decode()))["batch"]) for seen in server.seen]
    # then the null item alone was sent again after a back-off, and read the second time
    assert [len(batch) for batch in asked_again] == [2, 1] and "10158003" in asked_again[1][0]["relative_url"]
    assert sleeps == [RetryPolicy().backoff_s]
    assert feeds.gone == ("10158003",) and [p.post_id for p in feeds.posts["10158001"]] == ["10158001_771"]
