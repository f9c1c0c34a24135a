"""Video search: VideoPages.search against the emulator's YouTube Data API route, its errors, limits, daily
quota and key."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from tests.workloads.sources.conftest import FAKE_START_S, FakeClock, StartEmulator
from workloads.emulator import EmulatorServer, Limit, RateLimits, family_of
from workloads.sources import (
    AccessDeniedError,
    BadResponseError,
    RateLimitedError,
    RetryPolicy,
    UsageCappedError,
    VideoMeta,
    VideoPages,
)
from workloads.world import World
from workloads.world import trends as world_trends

NOW_MS = int(FAKE_START_S * 1000)
KEY = "AIzaSyPlanted-secret-video-key-9z8y7x"


def pages_for(server: EmulatorServer, key: str | SecretStr | None = KEY, **kwargs: object) -> VideoPages:
    return VideoPages(server.base_url, api_base_url=server.base_url, api_key=key, **kwargs)  # type: ignore[arg-type]


def metas(world: World, query: str, limit: int) -> list[VideoMeta]:
    return [VideoMeta(v.video_id, v.title, v.channel) for v in world.search_videos(query, limit)]


def test_a_trend_and_its_context_find_the_topics_videos_first(emulator: EmulatorServer, world: World) -> None:
    # given the top worldwide trend and two of its context words, as the hot-topics pack asks
    trend = world.trends(1, NOW_MS)[0]
    context = world_trends.context_terms(world.config, trend.topic)[:2]
    query = " ".join([trend.name.lstrip("#"), *context])
    with pages_for(emulator) as pages:
        found = pages.search(query, max_results=10)
    # then the topic's alive videos lead, most popular first, and the rest is the world's ranking
    topic = sorted(world_trends.topic_videos(world.config, trend.topic))
    alive = [world.video_id(i) for i in topic if world.video(world.video_id(i)).status == "alive"]  # type: ignore[union-attr]
    assert [v.video_id for v in found[: len(alive)]] == alive
    assert found == metas(world, query, 10)


def test_search_pages_through_page_tokens(emulator: EmulatorServer, world: World) -> None:
    with pages_for(emulator) as pages:
        found = pages.search("zephyr lava", max_results=120)  # three pages: 50, 50 and 20
        none = pages.search("zephyr lava", max_results=0)
    assert found == metas(world, "zephyr lava", 120)
    assert len({v.video_id for v in found}) == 120
    assert none == []


def test_the_route_speaks_the_data_apis_shape(emulator: EmulatorServer, world: World) -> None:
    url = f"{emulator.base_url}/youtube/v3/search"
    first = httpx.get(url, params={"part": "snippet", "q": "zephyr", "type": "video", "key": KEY}).json()
    assert first["kind"] == "youtube#searchListResponse"
    assert first["pageInfo"]["resultsPerPage"] == 5 and first["pageInfo"]["totalResults"] > 5
    item = first["items"][0]
    video = world.video(item["id"]["videoId"])
    assert video is not None and item["kind"] == "youtube#searchResult" and item["id"]["kind"] == "youtube#video"
    assert item["snippet"]["title"] == video.title and item["snippet"]["channelTitle"] == video.channel
    assert item["snippet"]["publishedAt"].endswith("Z") and item["snippet"]["description"]
    second = httpx.get(url, params={"part": "id", "q": "zephyr", "key": KEY, "pageToken": first["nextPageToken"]})
    assert "snippet" not in second.json()["items"][0] and second.json()["prevPageToken"]
    channels = httpx.get(url, params={"part": "snippet", "q": "zephyr", "type": "channel", "key": KEY}).json()
    assert channels["items"] == []  # the world has videos only


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"part": "snippet", "q": "zephyr"}, 403, "forbidden"),  # no key
        ({"q": "zephyr", "key": KEY}, 400, "required"),
        ({"part": "contentDetails", "q": "zephyr", "key": KEY}, 400, "unknownPart"),
        ({"part": "snippet", "q": "zephyr", "maxResults": "51", "key": KEY}, 400, "invalidParameter"),
        ({"part": "snippet", "q": "zephyr", "pageToken": "!!", "key": KEY}, 400, "invalidPageToken"),
    ],
)
def test_errors_come_in_googles_shape(
    emulator: EmulatorServer, params: dict[str, str], status: int, reason: str
) -> None:
    answer = httpx.get(f"{emulator.base_url}/youtube/v3/search", params=params)
    error = answer.json()["error"]
    assert (answer.status_code, error["code"], error["errors"][0]["reason"]) == (status, status, reason)
    assert error["message"] and error["status"]


def test_the_key_may_come_as_a_header(emulator: EmulatorServer) -> None:
    answer = httpx.get(
        f"{emulator.base_url}/youtube/v3/search",
        params={"part": "snippet", "q": "zephyr"},
        headers={"X-Goog-Api-Key": KEY},
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("key", [None, ""])
def test_without_a_key_search_is_denied_before_any_request(key: str | None) -> None:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    client = httpx.Client(transport=httpx.MockTransport(record))
    with VideoPages(client=client, api_key=key) as pages, pytest.raises(AccessDeniedError, match="API key"):
        pages.search("anything")
    assert requests == []


KEY_INVALID = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]


@pytest.mark.parametrize(
    ("status", "reason", "details", "error"),
    [
        (403, "keyInvalid", [], AccessDeniedError),
        (400, "badRequest", KEY_INVALID, AccessDeniedError),  # how Google refuses a key it does not know
        (400, "badRequest", [], BadResponseError),  # any other bad request
        (403, "accessNotConfigured", [], AccessDeniedError),
        (403, "quotaExceeded", [], UsageCappedError),
        (403, "rateLimitExceeded", [], RateLimitedError),
    ],
)
def test_refusals_become_source_errors_without_the_key(
    status: int,
    reason: str,
    details: list[dict[str, str]],
    error: type[Exception],
    caplog: pytest.LogCaptureFixture,
    fake_clock: FakeClock,
) -> None:
    # given a Data API that refuses, and every logger at DEBUG
    caplog.set_level(logging.DEBUG)
    body = {"error": {"code": status, "message": "no", "errors": [{"reason": reason, "domain": "global"}]}}
    body["error"]["details"] = details
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(status, json=body)))
    pages = VideoPages(client=client, api_key=SecretStr(KEY), sleep=fake_clock.sleep, clock=fake_clock.now)
    # when / then: the right error (exactly: a quota is not a short-term limit), and the key shows nowhere
    with pytest.raises(error) as caught:
        pages.search("anything")
    assert type(caught.value) is error
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert KEY not in caplog.text and KEY not in repr(pages)


def test_the_key_travels_in_a_header_not_the_url(emulator: EmulatorServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[httpx.Request] = []
    client = httpx.Client(event_hooks={"request": [seen.append]})
    with pages_for(emulator, key=SecretStr(KEY), client=client) as pages:
        assert pages.search("zephyr", max_results=3)
    assert seen and all(KEY not in str(request.url) and request.headers["X-Goog-Api-Key"] == KEY for request in seen)
    assert KEY not in caplog.text
    client.close()


def test_a_short_term_limit_is_backed_off_then_searched(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    # given one video request per 5 s per caller, on a clock the client's sleep moves
    assert family_of("/youtube/v3/search") == "video"
    server = start_emulator(limits=RateLimits(video=Limit(requests=1, window_s=5.0)), clock=fake_clock.now)
    with pages_for(server, sleep=fake_clock.sleep, clock=fake_clock.now) as pages:
        first = pages.search("zephyr", max_results=3)
        # when a second search comes within the window, it backs off (doubling) until the window has passed
        second = pages.search("zephyr", max_results=3)
    assert fake_clock.sleeps == [0.5, 1.0, 2.0, 4.0] and first == second
    # and a throttled answer is Google's 403 rateLimitExceeded, with no Retry-After and no rate headers
    answer = httpx.get(f"{server.base_url}/youtube/v3/search", params={"part": "snippet", "q": "x", "key": KEY})
    assert answer.status_code == 403 and answer.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert not {"retry-after", "x-rate-limit-reset"} & {name.lower() for name in answer.headers}


def test_a_spent_daily_quota_holds_the_key_until_pacific_midnight(
    start_emulator: StartEmulator, fake_clock: FakeClock
) -> None:
    # given a key whose daily quota is two searches
    server = start_emulator(limits=RateLimits(video=Limit(cap=2, cap_period_s=86_400.0)), clock=fake_clock.now)
    with pages_for(server, sleep=fake_clock.sleep, clock=fake_clock.now) as pages:
        pages.search("zephyr", max_results=3)
        pages.search("lava", max_results=3)
        # when a third search comes, then it is refused as capped at once, resetting at midnight Pacific time
        with pytest.raises(UsageCappedError) as caught:
            pages.search("zephyr", max_results=3)
    assert fake_clock.sleeps == []
    reset = datetime.fromtimestamp(caught.value.resets_at_s or 0, ZoneInfo("America/Los_Angeles"))
    assert (reset.hour, reset.minute) == (0, 0)
    assert 0 < (caught.value.resets_at_s or 0) - fake_clock.now() <= 86_400


def test_a_spent_rate_budget_raises(start_emulator: StartEmulator, fake_clock: FakeClock) -> None:
    server = start_emulator(limits=RateLimits(video=Limit(requests=1, window_s=60.0)), clock=fake_clock.now)
    policy = RetryPolicy(max_wait_s=1.0)
    with pages_for(server, policy=policy, sleep=fake_clock.sleep, clock=fake_clock.now) as pages:
        pages.search("zephyr", max_results=3)
        with pytest.raises(RateLimitedError):
            pages.search("zephyr", max_results=3)
