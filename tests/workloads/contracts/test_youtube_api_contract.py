"""VideoPages.search and the emulator's Data API held to the documented answers in
tests/workloads/api_fixtures/youtube.

For every case: (a) VideoPages pointed at a ReplayServer serving the fixture's answer makes of it what the
fixture's `expect` says; (b) the emulator, provoked into that case (a revoked key, a spent daily quota, a window
of no requests, no key at all), answers in the fixture's shape (`assert_same_shape`) and VideoPages makes the same
of it. Sleeps are a fake clock's, so nothing waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest

from tests.workloads.api_contract import Answer, Case, ReplayServer, assert_same_shape, load_cases
from tests.workloads.sources.conftest import FakeClock
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import (
    AccessDeniedError,
    BadResponseError,
    RateLimitedError,
    RetryPolicy,
    UsageCappedError,
    VideoPages,
)
from workloads.sources.youtube_parse import next_quota_reset_s
from workloads.world import WorldConfig

CASES = load_cases("youtube")
KEY = "AIzaSy-contract-video-key"
QUERY = "zephyr"
# Short-term refusals are backed off 0.5 s, then 1 s; the next (2 s) would pass the 2 s budget.
POLICY = RetryPolicy(max_wait_s=2.0, retries=1, backoff_s=0.5, backoff_cap_s=4.0)
BACKOFFS = [0.5, 1.0]


def search(pages: VideoPages, clock: FakeClock) -> str:
    """What the adapter makes of the answer: the videos found, or the name of the error and whether it was
    raised as the contract says (a quota at once and dated to the next Pacific midnight; a short-term rate after
    backing off)."""
    asked_at = clock.now()
    try:
        found = pages.search(QUERY, max_results=2)
    except UsageCappedError as err:
        dated = err.resets_at_s == next_quota_reset_s(asked_at) and not clock.sleeps
        return "usage-capped" if dated else f"usage-capped resetting at {err.resets_at_s}, sleeps {clock.sleeps}"
    except RateLimitedError:
        return "rate-limited" if clock.sleeps == BACKOFFS else f"rate-limited after sleeps {clock.sleeps}"
    except AccessDeniedError:
        return "access-denied"
    except BadResponseError:
        return "bad-response"
    return "videos" if found and all(v.video_id and v.title and v.channel for v in found) else "no-videos"


def pages_for(base_url: str, clock: FakeClock, key: str | None = KEY) -> VideoPages:
    return VideoPages(base_url, api_base_url=base_url, api_key=key, policy=POLICY, sleep=clock.sleep, clock=clock.now)


# --- (a) against the documented answers -------------------------------------------------------------------------


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_the_adapter_reads_the_documented_answer(c: Case) -> None:
    # given the documented answer served by a replay server
    clock = FakeClock()
    with ReplayServer(c.answer) as replay, pages_for(replay.base_url, clock) as pages:
        # when the adapter searches
        got = search(pages, clock)
    # then it makes of it what the contract says, with the key in its header and never in the URL
    assert got == c.expect
    assert replay.seen and all(seen.headers.get("X-Goog-Api-Key") == KEY for seen in replay.seen)
    assert all(KEY not in seen.path and seen.path.startswith("/youtube/v3/search?") for seen in replay.seen)


def test_search_results_are_unescaped_and_a_repeated_page_ends_the_paging() -> None:
    c = next(c for c in CASES if c.id == "search-page")
    clock = FakeClock()
    with ReplayServer(c.answer) as replay, pages_for(replay.base_url, clock) as pages:
        found = pages.search(QUERY, max_results=10)
    assert [(v.video_id, v.title, v.channel) for v in found] == [
        ("dQw4w9WgXcQ", "Amber Anchor & the harbor: what's next", "Harbor News"),
        ("9bZkp7q19f0", "Amber Anchor explained", "Explainers"),
    ]
    assert len(replay.seen) == 2 and "pageToken=CAIQAA" in replay.seen[1].path


# --- (b) the emulator provoked into each case -------------------------------------------------------------------


@dataclass(frozen=True)
class Provoke:
    """How to make the emulator answer a case: its limits and revoked keys, and the key the raw request and the
    adapter carry (None: none at all; the adapter then refuses before asking)."""

    limits: RateLimits = field(default_factory=RateLimits)
    revoked: frozenset[str] = frozenset()
    key: str | None = KEY


PROVOKE: dict[str, Provoke] = {
    "search-page": Provoke(),
    "key-invalid": Provoke(revoked=frozenset({KEY})),
    "quota-exceeded": Provoke(RateLimits(video=Limit(cap=0))),
    "rate-limited": Provoke(RateLimits(video=Limit(requests=0))),
    "missing-key": Provoke(key=None),
}


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_the_emulator_answers_as_documented_and_the_adapter_agrees(c: Case) -> None:
    # given an emulator provoked into the case, on a fake clock
    provoke = PROVOKE[c.id]
    clock = FakeClock()
    params = {"part": "snippet", "type": "video", "q": QUERY, "maxResults": "2"}
    headers = {"X-Goog-Api-Key": provoke.key} if provoke.key else {}
    with EmulatorServer(WorldConfig(), provoke.limits, clock=clock.now, revoked_tokens=provoke.revoked) as server:
        # when asked raw, then by the adapter
        raw = httpx.get(f"{server.base_url}/youtube/v3/search", params=params, headers=headers)
        with pages_for(server.base_url, clock, provoke.key) as pages:
            got = search(pages, clock)
    # then the raw answer has the documented shape, and the adapter makes the same of it as of the fixture
    assert_same_shape(c, Answer(raw.status_code, dict(raw.headers), raw.content))
    assert got == c.expect


def test_every_fixture_names_its_documentation() -> None:
    assert {c.doc_read for c in CASES} == {"2026-12-08"}
    assert all(c.doc_url.startswith("https://developers.google.com/youtube/v3/") for c in CASES)
    assert set(PROVOKE) == {c.id for c in CASES}
