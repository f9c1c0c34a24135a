"""VideoPages against a real emulator: oEmbed metadata, liveness of every kind of video, related links, 429s."""

from __future__ import annotations

import httpx
import pytest

from tests.workloads.sources.conftest import FakeClock, StartEmulator
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import Liveness, RetryPolicy, VideoMeta, VideoPages
from workloads.world import World, WorldVideo

EXPECTED = {
    "alive": Liveness("alive", None),
    "404": Liveness("dead", "404"),
    "410": Liveness("dead", "410"),
    "unavailable": Liveness("dead", "unavailable page"),
}


@pytest.fixture(scope="module")
def one_of_each(world: World) -> dict[str, WorldVideo]:
    """The first video of each status."""
    found: dict[str, WorldVideo] = {}
    for i in range(10_000):
        video = world.video(world.video_id(i))
        assert video is not None
        found.setdefault(video.status, video)
        if len(found) == 4:
            return found
    raise AssertionError("the world lacks a status")


def test_metadata_of_a_live_video_and_none_for_dead_ones(
    emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]
) -> None:
    alive = one_of_each["alive"]
    with VideoPages(emulator.base_url) as pages:
        assert pages.metadata(alive.video_id) == VideoMeta(alive.video_id, alive.title, alive.channel)
        for status in ("404", "410", "unavailable"):
            assert pages.metadata(one_of_each[status].video_id) is None
        assert pages.metadata("dQw4w9WgXcQ") is None  # not a video of this world


def test_check_tells_each_kind_of_video_apart(emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]) -> None:
    with VideoPages(emulator.base_url) as pages:
        verdicts = {status: pages.check(video.video_id) for status, video in one_of_each.items()}
        unknown = pages.check("dQw4w9WgXcQ")
    assert verdicts == EXPECTED
    assert unknown == Liveness("dead", "unavailable page")


def test_the_watch_page_gives_related_ids_and_duration(
    emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]
) -> None:
    alive = one_of_each["alive"]
    with VideoPages(emulator.base_url) as pages:
        page = pages.page(alive.video_id)
        related = pages.related(alive.video_id)
        dead_related = pages.related(one_of_each["404"].video_id)
    assert related == list(alive.related)
    assert (page.title, page.duration_s, page.related) == (alive.title, alive.duration_s, alive.related)
    assert dead_related == []


def test_watch_pages_are_small(emulator: EmulatorServer, one_of_each: dict[str, WorldVideo]) -> None:
    body = httpx.get(f"{emulator.base_url}/watch", params={"v": one_of_each["alive"].video_id}).content
    assert 1000 <= len(body) <= 3000


def test_a_429_is_waited_out_then_the_check_succeeds(
    start_emulator: StartEmulator, fake_clock: FakeClock, one_of_each: dict[str, WorldVideo]
) -> None:
    # given 2 pages per 5 s per client, on a clock the client's sleep moves
    server = start_emulator(limits=RateLimits(video=Limit(requests=2, window_s=5.0)), clock=fake_clock.now)
    with VideoPages(server.base_url, sleep=fake_clock.sleep, clock=fake_clock.now) as pages:
        # when a third check comes within the window
        verdicts = [pages.check(one_of_each[s].video_id) for s in ("alive", "404", "unavailable")]
    # then it waited the advised 5 s and got a real verdict
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
