"""VideoPages against a real emulator: oEmbed metadata, liveness of every kind of video, related links, 429s."""

from __future__ import annotations

import httpx
import pytest

from tests.workloads.sources.conftest import FakeClock, StartEmulator
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.emulator.watch_render import MAX_PAGE_BYTES, MIN_PAGE_BYTES
from workloads.sources import Liveness, RetryPolicy, VideoMeta, VideoPages
from workloads.sources.watch_page import related_ids
from workloads.world import World, WorldConfig, WorldVideo

EXPECTED = {
    "alive": Liveness("alive", None),
    "age-restricted": Liveness("alive", "age-restricted"),
    "region-blocked": Liveness("alive", "unplayable"),
    "404": Liveness("dead", "404"),
    "410": Liveness("dead", "410"),
    "unavailable": Liveness("dead", "unavailable page"),
    "private": Liveness("dead", "private"),
    "recording-unavailable": Liveness("dead", "recording not available"),
}
WATCHABLE = ("alive", "age-restricted", "region-blocked")  # pages with a title and related videos


@pytest.fixture(scope="module")
def one_of_each(world: World) -> dict[str, WorldVideo]:
    """The first video of each kind: its status, or its restriction for a live one."""
    found: dict[str, WorldVideo] = {}
    for i in range(10_000):
        video = world.video(world.video_id(i))
        assert video is not None
        found.setdefault(video.restriction or video.status, video)
        if len(found) == len(EXPECTED):
            return found
    raise AssertionError("the world lacks a kind of video")


def test_metadata_of_a_live_video_and_none_for_dead_ones(
    emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]
) -> None:
    with VideoPages(emulator.base_url) as pages:
        for kind in ("alive", "age-restricted", "region-blocked", "recording-unavailable"):  # the video exists
            video = one_of_each[kind]
            assert pages.metadata(video.video_id) == VideoMeta(video.video_id, video.title, video.channel)
        for kind in ("404", "410", "unavailable", "private"):
            assert pages.metadata(one_of_each[kind].video_id) is None
        assert pages.metadata("dQw4w9WgXcQ") is None  # not a video of this world


def test_check_tells_each_kind_of_video_apart(emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]) -> None:
    with VideoPages(emulator.base_url) as pages:
        verdicts = {kind: pages.check(video.video_id) for kind, video in one_of_each.items()}
        unknown = pages.check("dQw4w9WgXcQ")
    assert verdicts == EXPECTED
    assert unknown == Liveness("dead", "unavailable page")


def test_verdicts_do_not_depend_on_the_pages_language(
    emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]
) -> None:
    # given a client whose viewer reads German (the player's words follow)
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    with httpx.Client(headers=german) as client:
        body = client.get(f"{emulator.base_url}/watch", params={"v": one_of_each["private"].video_id}).text
        with VideoPages(emulator.base_url, client) as pages:
            verdicts = {kind: pages.check(video.video_id) for kind, video in one_of_each.items()}
    assert "Privates Video" in body and "private video" not in body.lower()
    assert verdicts == EXPECTED


@pytest.mark.parametrize("kind", WATCHABLE)
def test_the_watch_page_gives_related_ids_and_duration(
    emulator: EmulatorServer, one_of_each: dict[str, WorldVideo], kind: str
) -> None:
    video = one_of_each[kind]
    with VideoPages(emulator.base_url) as pages:
        page = pages.page(video.video_id)
        related = pages.related(video.video_id)
        dead_related = [pages.related(one_of_each[dead].video_id) for dead in ("404", "private", "unavailable")]
    assert related == list(video.related)
    assert (page.title, page.duration_s, page.related) == (video.title, video.duration_s, video.related)
    assert dead_related == [[], [], []]


def test_realistic_pages_weigh_what_real_ones_do_and_carry_no_related_anchors(
    emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]
) -> None:
    for kind in ("alive", "age-restricted", "unavailable", "private"):
        body = httpx.get(f"{emulator.base_url}/watch", params={"v": one_of_each[kind].video_id}).content
        assert MIN_PAGE_BYTES <= len(body) <= MAX_PAGE_BYTES
        assert b'href="/watch?v=' not in body and b"var ytInitialData = " in body
    # and the same page is the same bytes each time (deterministic per video)
    url = f"{emulator.base_url}/watch?v={one_of_each['alive'].video_id}"
    assert httpx.get(url).content == httpx.get(url).content


def test_light_pages_are_small_and_read_the_same(one_of_each: dict[str, WorldVideo]) -> None:
    with EmulatorServer(WorldConfig(), page_weight="light") as light, VideoPages(light.base_url) as pages:
        body = httpx.get(f"{light.base_url}/watch", params={"v": one_of_each["alive"].video_id}).content
        verdicts = {kind: pages.check(video.video_id) for kind, video in one_of_each.items()}
        related = pages.related(one_of_each["alive"].video_id)
    assert 1000 <= len(body) <= 3000
    assert verdicts == EXPECTED
    assert related == list(one_of_each["alive"].related)


def test_a_429_is_waited_out_then_the_check_succeeds(
    start_emulator: StartEmulator, fake_clock: FakeClock, one_of_each: dict[str, WorldVideo]
) -> None:
    # given 2 pages per 5 s per client, on a clock the client's sleep moves
    server = start_emulator(limits=RateLimits(video=Limit(requests=2, window_s=5.0)), clock=fake_clock.now)
    with VideoPages(server.base_url, sleep=fake_clock.sleep, clock=fake_clock.now) as pages:
        # when a third check comes within the window
        verdicts = [pages.check(one_of_each[s].video_id) for s in ("alive", "404", "unavailable")]
    # then, the site's 429 giving no advice, it waited the policy's 5 s and got a real verdict
    assert fake_clock.sleeps == [5.0]
    assert verdicts == [EXPECTED["alive"], EXPECTED["404"], EXPECTED["unavailable"]]


def test_a_check_still_throttled_after_the_budget_asks_for_a_retry(
    start_emulator: StartEmulator, fake_clock: FakeClock, one_of_each: dict[str, WorldVideo]
) -> None:
    server = start_emulator(limits=RateLimits(video=Limit(requests=1, window_s=60.0)), clock=fake_clock.now)
    policy = RetryPolicy(max_wait_s=1.0)
    with VideoPages(server.base_url, policy=policy, sleep=fake_clock.sleep, clock=fake_clock.now) as pages:
        pages.check(one_of_each["alive"].video_id)
        verdict = pages.check(one_of_each["alive"].video_id)
    assert verdict == Liveness("retry", "RateLimitedError")
    assert fake_clock.sleeps == []


def test_the_emulator_stops_cleanly(start_emulator: StartEmulator) -> None:
    # given a running emulator
    server = start_emulator()
    url = server.base_url
    assert httpx.get(f"{url}/healthz").json() == {"ok": True}
    # when it is stopped
    server.stop()
    # then its port is closed and its thread is gone
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz")
    assert not server.is_running
    server.stop()  # stopping twice is harmless


def test_related_ids_merge_anchors_and_embedded_data_in_page_order() -> None:
    # given a page with an anchor before the data, the data's column (a playlist and the page's own id in it, a
    # repeat), an anchor after it, and videos outside the column (end screen, panels)
    column = (
        '{"lockupViewModel":{"contentId":"bbbbbbbbbbb","contentType":"LOCKUP_CONTENT_TYPE_VIDEO"}},'
        '{"lockupViewModel":{"contentType":"LOCKUP_CONTENT_TYPE_PLAYLIST","contentId":"PLxxxxxxxxx"}},'
        '{"compactVideoRenderer":{"videoId":"ownOwnOwn11"}},{"compactVideoRenderer":{"videoId":"ccccccccccc"}},'
        '{"lockupViewModel":{"contentType":"LOCKUP_CONTENT_TYPE_VIDEO","contentId":"bbbbbbbbbbb"}}'
    )
    body = (
        '<a href="/watch?v=aaaaaaaaaaa">x</a><script>var ytInitialData = {"contents":{"twoColumnWatchNextResults":'
        f'{{"secondaryResults":{{"secondaryResults":{{"results":[{column}]}}}}}}}},"playerOverlays":{{"endScreen":'
        '{"compactVideoRenderer":{"videoId":"eeeeeeeeeee"}}},"engagementPanels":[]};</script>'
        '<a href="https://youtu.be/ddddddddddd">y</a>'
    )
    # then the videos come in page order, each once, never the page's own, nothing outside the column
    assert related_ids("ownOwnOwn11", body) == ("aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc", "ddddddddddd")
    assert related_ids("ownOwnOwn11", body.replace("var ytInitialData = ", "var other = ")) == (
        "aaaaaaaaaaa",
        "ddddddddddd",
    )
