"""The video site's contract: for each documented answer (tests/workloads/api_fixtures/video/), the adapter
(`VideoPages`) makes of it what the fixture expects, served by a replay server; and the emulator, asked for a
world video of the same kind, answers in the same shape (status, headers, HTML landmarks or oEmbed fields) and the
adapter makes the same of that. So neither the adapter nor the emulator can drift from the fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.workloads.api_contract import Answer, Case, ReplayServer, assert_same_shape, load_cases
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import RetryPolicy, VideoPages
from workloads.world import World, WorldConfig, WorldVideo

CASES = load_cases("video")
CONFIG = WorldConfig()
WORLD = World(CONFIG)
# A 429 with no advice waits the policy's default (5 s), which is over this budget: one answer, no sleep.
POLICY = RetryPolicy(max_wait_s=1.0, retries=0)


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"the adapter slept {seconds} s")


def outcome(pages: VideoPages, case: Case, video_id: str) -> str:
    """What the adapter made of the answer, in the fixture's words: "meta"/"none", or "verdict[:reason]"."""
    if case.extra["call"] == "metadata":
        return "meta" if pages.metadata(video_id) is not None else "none"
    verdict, reason = pages.check(video_id)
    return verdict if reason is None else f"{verdict}:{reason}"


def world_video(kind: dict[str, Any]) -> WorldVideo:
    """The first video of the world with the fixture's status and restriction."""
    for index in range(20_000):
        video = WORLD.video(WORLD.video_id(index))
        assert video is not None
        if (video.status, video.restriction) == (kind["status"], kind["restriction"]):
            return video
    raise AssertionError(f"the world has no video like {kind}")


@contextmanager
def pages_at(base_url: str, case: Case) -> Iterator[VideoPages]:
    """The adapter at `base_url`, as a viewer of the fixture's language."""
    with (
        httpx.Client(headers=_language(case)) as client,
        VideoPages(base_url, client, policy=POLICY, sleep=no_sleep) as pages,
    ):
        yield pages


def _language(case: Case) -> dict[str, str]:
    return {"Accept-Language": case.extra["language"]} if "language" in case.extra else {}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(CONFIG) as server:
        yield server


@pytest.fixture
def throttled_emulator() -> Iterator[EmulatorServer]:
    """An emulator that serves one page an hour to a caller, whose hour is already spent."""
    with EmulatorServer(CONFIG, RateLimits(video=Limit(requests=1, window_s=3600.0))) as server:
        assert httpx.get(f"{server.base_url}/watch", params={"v": WORLD.video_id(0)}).status_code == 200
        yield server


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_adapter_reads_the_documented_answer(case: Case) -> None:
    video_id = case.extra["video"]
    with ReplayServer(case.answer) as server, pages_at(server.base_url, case) as pages:
        assert outcome(pages, case, video_id) == case.expect
        if "related" in case.extra:
            page = pages.page(video_id)
            assert list(page.related) == case.extra["related"] == pages.related(video_id)
            assert page.title == case.extra["title"]
            assert page.duration_s == case.extra.get("duration_s", page.duration_s)
    assert server.seen and all(seen.method == "GET" for seen in server.seen)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_emulator_answers_as_documented(
    case: Case, emulator: EmulatorServer, request: pytest.FixtureRequest
) -> None:
    # given a world video of the fixture's kind (and a spent allowance for the throttled case)
    server = request.getfixturevalue("throttled_emulator") if case.extra.get("throttled") else emulator
    video = world_video(case.extra["world"])
    # when the emulator is asked as the adapter asks
    raw = _ask(server.base_url, case, video.video_id)
    # then its answer has the documented shape, and the adapter makes the same of it
    assert_same_shape(case, raw)
    with pages_at(server.base_url, case) as pages:
        assert outcome(pages, case, video.video_id) == case.expect
        if "related" in case.extra:
            assert pages.related(video.video_id) == list(video.related)
            assert pages.page(video.video_id).title == video.title


def _ask(base_url: str, case: Case, video_id: str) -> Answer:
    headers = _language(case)
    if case.extra["call"] == "metadata":
        url = f"https://www.youtube.com/watch?v={video_id}"
        response = httpx.get(f"{base_url}/oembed", params={"url": url, "format": "json"}, headers=headers)
    else:
        response = httpx.get(f"{base_url}/watch", params={"v": video_id}, headers=headers)
    return Answer(response.status_code, dict(response.headers), response.content)


def test_every_documented_case_names_its_source_and_date() -> None:
    assert {case.doc_read for case in CASES} == {"2026-12-08"}
    assert all(case.doc_url.startswith("https://") for case in CASES)
    # one fixture per case the adapter handles
    assert {case.expect for case in CASES} >= {
        "alive",
        "alive:age-restricted",
        "alive:unplayable",
        "dead:unavailable page",
        "dead:private",
        "dead:recording not available",
        "dead:404",
        "retry:RateLimitedError",
        "meta",
        "none",
    }
