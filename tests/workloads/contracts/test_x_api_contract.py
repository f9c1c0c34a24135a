"""XClient and the emulator's X held to the documented answers in tests/workloads/api_fixtures/x.

For every case: (a) XClient pointed at a ReplayServer serving the fixture's answer makes of it what the fixture's
`expect` says; (b) the emulator, provoked into that case (a tiny window, a spent cap, a revoked token, an access
tier without trends...), answers in the fixture's shape (`assert_same_shape`) and XClient makes the same of it.
A fixture may name cases answered before it (`replay_before`: v2 trends refused, then the v1.1 answer) or after
it (`replay_after`: the page that follows a waited-out 429). Sleeps are a fake clock's, so nothing waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from tests.workloads.api_contract import Answer, Case, ReplayServer, assert_same_shape, case, load_cases
from tests.workloads.sources.conftest import FAKE_START_S, FakeClock
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources import (
    AccessDeniedError,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    UsageCappedError,
    XClient,
)
from workloads.sources.ratelimit import RetryPolicy
from workloads.sources.x import V1_TRENDS, V2_TRENDS
from workloads.world import World, WorldConfig

CASES = load_cases("x")
TOKEN = "x-contract-bearer-token"
WINDOW_S = 900.0  # X's 15-minute window
FAST = RetryPolicy(retries=1, backoff_s=0.01, backoff_cap_s=0.01)
WORLD = World(WorldConfig())
NOW_MS = int(FAKE_START_S * 1000)


@dataclass
class Subject:
    """What a case's call needs: a user with posts (the newest carrying a link), the fake clock, and the reset
    time a throttled answer announces (for checking the wait)."""

    user: str
    newest_id: str
    clock: FakeClock
    reset_s: float = 0.0


def _user_with_linked_posts() -> tuple[str, str]:
    for number in range(1, 500):
        posts = WORLD.posts(str(number), WORLD.config.epoch_ms, NOW_MS)
        if len(posts) > 5 and posts[0].links and WORLD.friends(str(number))[2:]:
            return str(number), str(posts[0].snowflake)
    raise AssertionError("the world has no user with several posts, the newest with a link")


USER, NEWEST_ID = _user_with_linked_posts()


# --- what XClient makes of each case ----------------------------------------------------------------------------


def _page(x: XClient, s: Subject) -> str:
    page = x.following_page(s.user, max_results=2)
    return "page-with-next" if page.items and page.next_cursor else "last-page"


def _posts(x: XClient, s: Subject) -> str:
    posts = x.user_posts(s.user)
    return "posts" if posts and all(p.post_id and p.created_ms for p in posts) else "no-posts"


def _newer_posts(x: XClient, s: Subject) -> str:
    return "posts" if x.user_posts(s.user, since_id=s.newest_id) else "no-posts"


def _missing_user(x: XClient, s: Subject) -> str:
    x.following_page("999999999")
    return "found"


def _trends(x: XClient, s: Subject) -> str:
    trends = x.trends(1)
    endpoint = {V2_TRENDS: "v2", V1_TRENDS: "v1.1"}[x.trends_endpoint or ""]
    return f"trends-from-{endpoint}" if trends and all(t.name and t.query for t in trends) else "no-trends"


def _waited_page(x: XClient, s: Subject) -> str:
    started = s.clock.now()
    page = x.following_page(s.user)
    # one wait, until one second past the announced reset
    waited = s.clock.sleeps == [pytest.approx(s.reset_s + 1 - started)]
    return "waited-until-reset-then-page" if page.items and waited else f"page after sleeps {s.clock.sleeps}"


def _capped(x: XClient, s: Subject) -> str:
    x.following_page(s.user)
    return "page"


CALLS: dict[str, Callable[[XClient, Subject], str]] = {
    "following-page": _page,
    "timeline-page": _posts,
    "timeline-empty": _newer_posts,
    "user-not-found": _missing_user,
    "trends-v2": _trends,
    "trends-v2-refused": _trends,
    "trends-v1": _trends,
    "trends-v1-refused": _trends,
    "rate-limited": _waited_page,
    "usage-capped": _capped,
    "unauthorized": _page,
}


def client(base_url: str, clock: FakeClock) -> XClient:
    """XClient on the fake clock, allowed to wait out a whole window (and the second past its reset)."""
    return XClient(
        base_url, bearer_token=TOKEN, policy=FAST, max_wait_s=WINDOW_S + 60, sleep=clock.sleep, clock=clock.now
    )


def outcome(call: Callable[[XClient, Subject], str], x: XClient, subject: Subject) -> str:
    """The call's result, or the name of the error it raised (a usage cap only if nothing slept on it)."""
    try:
        return call(x, subject)
    except UsageCappedError:
        return "usage-capped" if not subject.clock.sleeps else f"usage-capped after sleeping {subject.clock.sleeps}"
    except RateLimitedError:
        return "rate-limited"
    except NotFoundError:
        return "not-found"
    except AccessDeniedError:
        return "access-denied"
    except BadResponseError:
        return "bad-response"


# --- (a) against the documented answers -------------------------------------------------------------------------


def _replayed(c: Case) -> list[Answer]:
    before = [case("x", name).answer for name in c.extra.get("replay_before", [])]
    after = [case("x", name).answer for name in c.extra.get("replay_after", [])]
    return [*before, c.answer, *after]


def _announced_reset(c: Case) -> float:
    return float(c.answer.headers.get("x-rate-limit-reset", FAKE_START_S))


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_the_adapter_reads_the_documented_answer(c: Case) -> None:
    # given the documented answer (and its neighbours) served by a replay server, and a clock 30 s before the
    # reset it announces
    reset_s = _announced_reset(c)
    clock = FakeClock(reset_s - 30)
    subject = Subject(USER, NEWEST_ID, clock, reset_s)
    # when the adapter makes the case's call
    with ReplayServer(_replayed(c)) as replay, client(replay.base_url, clock) as x:
        got = outcome(CALLS[c.id], x, subject)
    # then it makes of it what the contract says, having sent our token
    assert got == c.expect
    assert replay.seen and all(seen.headers.get("Authorization") == f"Bearer {TOKEN}" for seen in replay.seen)


def test_the_timeline_follows_the_documented_next_token() -> None:
    page = case("x", "timeline-page")
    with (
        ReplayServer([page.answer, case("x", "timeline-empty").answer]) as replay,
        XClient(replay.base_url, bearer_token=TOKEN, policy=FAST) as x,
    ):
        posts = x.user_posts("2244994945")
    token = page.answer.json()["meta"]["next_token"]
    assert [p.links for p in posts] == [("https://www.youtube.com/watch?v=dQw4w9WgXcQ",)]
    assert len(replay.seen) == 2 and f"pagination_token={token}" in replay.seen[1].path


def test_trends_from_v2_are_named_and_quoted_for_search() -> None:
    with ReplayServer(case("x", "trends-v2").answer) as replay, XClient(replay.base_url, bearer_token=TOKEN) as x:
        trends = x.trends(1)
    assert [(t.name, t.query, t.tweet_volume) for t in trends] == [
        ("#AmberAnchor", "#AmberAnchor", 232408),
        ("Copper Lantern", '"Copper Lantern"', 35272),
        ("Quiet Harbor", '"Quiet Harbor"', None),
    ]
    assert replay.seen[0].path.startswith("/2/trends/by/woeid/1?")


# --- (b) the emulator provoked into each case -------------------------------------------------------------------


@dataclass(frozen=True)
class Provoke:
    """How to make the emulator answer a case: its limits and revoked tokens, requests spent before, and the raw
    request whose answer is held to the fixture."""

    path: str
    limits: RateLimits = field(default_factory=RateLimits)
    revoked: frozenset[str] = frozenset()
    spend: int = 0


_TWEETS = f"/2/users/{USER}/tweets"
PROVOKE: dict[str, Provoke] = {
    "following-page": Provoke(f"/2/users/{USER}/following?max_results=2"),
    "timeline-page": Provoke(f"{_TWEETS}?max_results=5&tweet.fields=created_at,author_id,entities"),
    "timeline-empty": Provoke(f"{_TWEETS}?since_id={NEWEST_ID}"),
    "user-not-found": Provoke("/2/users/999999999/following"),
    "trends-v2": Provoke("/2/trends/by/woeid/1?max_trends=50"),
    "trends-v2-refused": Provoke("/2/trends/by/woeid/1", RateLimits(x_trends=())),
    "trends-v1": Provoke("/1.1/trends/place.json?id=1", RateLimits(x_trends=("v1.1",))),
    "trends-v1-refused": Provoke("/1.1/trends/place.json?id=1", RateLimits(x_trends=())),
    "rate-limited": Provoke(f"/2/users/{USER}/following", RateLimits(x=Limit(requests=1, window_s=WINDOW_S)), spend=1),
    "usage-capped": Provoke(f"/2/users/{USER}/following", RateLimits(x=Limit(cap=0))),
    "unauthorized": Provoke(f"/2/users/{USER}/following", revoked=frozenset({TOKEN})),
}


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_the_emulator_answers_as_documented_and_the_adapter_agrees(c: Case) -> None:
    # given an emulator provoked into the case, on a fake clock
    provoke = PROVOKE[c.id]
    clock = FakeClock()
    reset_s = (clock.now() // WINDOW_S + 1) * WINDOW_S
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with EmulatorServer(WorldConfig(), provoke.limits, clock=clock.now, revoked_tokens=provoke.revoked) as server:
        for _ in range(provoke.spend):
            assert httpx.get(server.base_url + provoke.path, headers=headers).status_code == 200
        # when asked raw, then by the adapter
        raw = httpx.get(server.base_url + provoke.path, headers=headers)
        subject = Subject(USER, NEWEST_ID, clock, reset_s)
        with client(server.base_url, clock) as x:
            got = outcome(CALLS[c.id], x, subject)
    # then the raw answer has the documented shape, and the adapter makes the same of it as of the fixture
    assert_same_shape(c, Answer(raw.status_code, dict(raw.headers), raw.content))
    assert got == c.expect


def test_every_fixture_names_its_documentation() -> None:
    assert {c.doc_read for c in CASES} == {"2026-12-08"}
    assert all(c.doc_url.startswith(("https://docs.x.com/", "https://developer.x.com/")) for c in CASES)
    assert set(CALLS) == set(PROVOKE) == {c.id for c in CASES}
