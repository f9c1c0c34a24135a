"""The Graph API contract: each documented answer under api_fixtures/graph/ is read by the adapter as its
`expect` says, served as written (ReplayServer), and the emulator, made to produce the same case, answers in the
same shape and is read the same way. A case the emulator cannot produce says why in its fixture, and is skipped
here with that reason."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.workloads.api_contract import Answer, Case, ReplayServer, Seen, assert_same_shape, iter_ids, load_cases
from tests.workloads.sources.conftest import FAKE_START_S
from workloads.emulator import EmulatorServer, Limit, RateLimits
from workloads.sources.errors import (
    AccessDeniedError,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
)
from workloads.sources.facebook import GraphClient
from workloads.sources.ratelimit import RetryPolicy
from workloads.world import World, WorldConfig
from workloads.world.users import graph_app_friends, graph_token

CASES = load_cases("graph")
POLICY = RetryPolicy(max_wait_s=100.0, retries=1, backoff_s=0.01, backoff_cap_s=0.01)
APP_TOKEN = "app-token-of-the-contract"
REVOKED = "EAAG-revoked-token"
GONE = "999999999"
FEED_PARAMS = {"fields": "id,message,created_time,link", "limit": "2"}
_ERRORS: dict[type[SourceError], str] = {
    NotFoundError: "not-found",
    AccessDeniedError: "access-denied",
    RateLimitedError: "rate-limited",
    SourceUnavailableError: "unavailable",
    BadResponseError: "bad-response",
}


@dataclasses.dataclass
class Call:
    """What the adapter is asked in a case: a page of a user's friends, or some friends' feeds."""

    user: str
    friends: list[str]
    token: str | None
    feed_tokens: dict[str, str]
    sleeps: list[float] = dataclasses.field(default_factory=list)


def is_feed(case: Case) -> bool:
    path = str(case.request["path"])
    return "/feed" in path or case.request["method"] == "POST"


def outcome(case: Case, base_url: str, call: Call) -> str:
    """The adapter's reading of whatever `base_url` answers, in the words fixtures' `expect` uses."""
    with GraphClient(base_url, access_token=call.token, policy=POLICY, sleep=call.sleeps.append) as graph:
        try:
            if not is_feed(case):
                page = graph.friends_page(call.user, limit=2)
                return f"friends page, {'more' if page.items and page.next_cursor else 'last'}"
            feeds = graph.feeds(call.friends, since_ms=0, tokens=call.feed_tokens)
        except SourceError as err:
            return next(word for kind, word in _ERRORS.items() if isinstance(err, kind))
    read = sum(1 for posts in feeds.posts.values() if posts)
    return f"feeds: read {read}, gone {len(feeds.gone)}, refused {len(feeds.refused)}"


# --- the adapter against the documented answers -------------------------------------------------------------


def as_batch(answer: Answer, items: int) -> Answer:
    """A single request's answer as Graph gives it inside a batch: the same code, headers and body per item."""
    headers = [{"name": name, "value": value} for name, value in answer.headers.items()]
    body = [{"code": answer.status, "headers": headers, "body": answer.text}] * items
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def batch_items(seen: Seen) -> list[dict[str, Any]]:
    form = dict(parse_qsl(seen.body.decode()))
    items: list[dict[str, Any]] = json.loads(form["batch"])
    return items


def documented_call(case: Case) -> Call:
    friends = ["10158001", "10158003"] if case.request["method"] == "POST" else ["10158001"]
    token = None if case.extra["emulator"].get("token") == "none" else "EAAGapp"  # the missing-token case
    return Call("10157999", friends, token, {friend: f"EAAGfriend{friend}" for friend in friends})


@pytest.mark.parametrize("case", CASES, ids=list(iter_ids(CASES)))
def test_the_adapter_reads_the_documented_answer_as_expected(case: Case) -> None:
    # given the documented answer, served as written
    answers = [case.answer]
    if "then" in case.extra:
        then = case.extra["then"]
        answers.append(Answer(then["status"], then.get("headers", {}), json.dumps(then["body"]).encode()))
    single_feed = is_feed(case) and case.request["method"] == "GET"
    served: list[Seen] = []

    def answer(seen: Seen) -> Answer:
        served.append(seen)
        chosen = answers[min(len(served), len(answers)) - 1]
        return as_batch(chosen, len(batch_items(seen))) if single_feed else chosen

    call = documented_call(case)
    with ReplayServer(answer) as server:
        # when the adapter asks for it
        got = outcome(case, server.base_url, call)
        if case.id.startswith("friends_page"):  # and follows the page it names
            with GraphClient(server.base_url, access_token="EAAGapp") as graph:
                graph.friends_page(call.user, after=graph.friends_page(call.user, limit=2).next_cursor)
    # then it reads it as documented, waiting as the usage headers advise where it is throttled
    assert got == case.expect
    assert call.sleeps == case.extra.get("waits_s", [])
    if case.id.startswith("friends_page"):
        assert_follows_next(case, served[-1])
    if case.id == "feed_page_time_based":
        assert_follows_next_feed(case, served[1], call)


def assert_follows_next(case: Case, seen: Seen) -> None:
    """The next request carries the query of the documented `next` URL, without its access_token."""
    documented = dict(parse_qsl(urlsplit(case.answer.json()["paging"]["next"]).query))
    documented.pop("access_token", None)
    asked = dict(parse_qsl(urlsplit(seen.path).query))
    assert asked == documented
    assert "access_token" not in seen.path


def assert_follows_next_feed(case: Case, seen: Seen, call: Call) -> None:
    """The next batch asks for the page `next` names (until, __paging_token) with the friend's own token."""
    documented = dict(parse_qsl(urlsplit(case.answer.json()["paging"]["next"]).query))
    (item,) = batch_items(seen)
    asked = dict(parse_qsl(urlsplit(item["relative_url"]).query))
    assert (asked["until"], asked["__paging_token"]) == (documented["until"], documented["__paging_token"])
    assert asked["access_token"] == call.feed_tokens[call.friends[0]] != documented["access_token"]


# --- the emulator, made to produce each case ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scene:
    """Who the emulator case is about: a user with friends who use the app, and one of those friends."""

    user: str
    friend: str


@pytest.fixture(scope="module")
def scene() -> Scene:
    world = World(WorldConfig())
    user = world.user_with_degree(120)
    now_ms = int(FAKE_START_S * 1000)
    friends = graph_app_friends(world.config, int(user))
    friend = next(f for f in friends if len(world.posts(f, 0, now_ms)) > 2)
    return Scene(user, friend)


def token_for(spec: str, scene: Scene, subject: str) -> str | None:
    return {
        "owner": graph_token(subject),
        "other": graph_token(scene.user),
        "app": APP_TOKEN,
        "revoked": REVOKED,
        "none": None,
    }[spec]


def raw_answer(case: Case, url: str, scene: Scene) -> Answer:
    """The emulator's own answer to the request the case is about."""
    spec = case.extra["emulator"]
    subject = {"with-app-friends": scene.user, "app-friend": scene.friend, "unknown": GONE}[spec["user"]]
    token = token_for(spec["token"], scene, subject)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if spec["call"] == "batch":
        items = [
            f"v19.0/{f}/feed?{urlencode({**FEED_PARAMS, 'access_token': graph_token(f)})}" for f in (scene.friend, GONE)
        ]
        form = {"batch": json.dumps([{"method": "GET", "relative_url": item} for item in items])}
        response = httpx.post(f"{url}/v19.0/", data=form, headers={"Authorization": f"Bearer {APP_TOKEN}"})
    elif spec["call"] == "feed":
        response = httpx.get(f"{url}/v19.0/{subject}/feed", params=FEED_PARAMS, headers=headers)
    else:
        params = {"fields": "id,name", "limit": str(spec.get("limit", 25))}
        response = httpx.get(f"{url}/v19.0/{subject}/friends", params=params, headers=headers)
    return Answer(response.status_code, dict(response.headers), response.content)


def emulator_call(case: Case, scene: Scene) -> Call:
    spec = case.extra["emulator"]
    subject = {"with-app-friends": scene.user, "app-friend": scene.friend, "unknown": GONE}[spec["user"]]
    token = token_for(spec["token"], scene, subject)
    if spec["call"] == "batch":
        return Call(scene.user, [scene.friend, GONE], APP_TOKEN, {f: graph_token(f) for f in (scene.friend, GONE)})
    if spec["call"] == "feed":
        return Call(scene.user, [scene.friend], APP_TOKEN, {scene.friend: token} if token else {})
    return Call(subject, [], token, {})


def assert_batch_items_alike(case: Case, got: Answer) -> None:
    """Each batch item's body (a JSON string) has the documented item's shape and codes."""
    for documented, served in zip(case.answer.json(), got.json(), strict=True):
        pinned = ("error.code", "error.error_subcode") if documented["code"] != 200 else ()
        item = dataclasses.replace(
            case, answer=Answer(documented["code"], {}, documented["body"].encode()), pinned=pinned, absent_headers=()
        )
        assert_same_shape(item, Answer(served["code"], {}, served["body"].encode()))


@pytest.mark.parametrize("case", CASES, ids=list(iter_ids(CASES)))
def test_the_emulator_answers_the_case_as_documented_and_is_read_alike(case: Case, scene: Scene) -> None:
    spec = case.extra["emulator"]
    if spec.get("produced") is False:
        pytest.skip(f"not produced by the emulator: {spec['why']}")
    # given an emulator set to produce the case (a revoked token, a one-call limit on a frozen clock)
    limits = RateLimits(graph=Limit(requests=1, window_s=3600.0)) if spec.get("limits") else None
    emulator = EmulatorServer(WorldConfig(), limits, clock=lambda: FAKE_START_S, revoked_tokens=frozenset({REVOKED}))
    with emulator:
        if limits is not None:  # the one call the window allows
            raw_answer(case, emulator.base_url, scene)
        # when it is asked what the case asks
        got = raw_answer(case, emulator.base_url, scene)
        call = emulator_call(case, scene)
        read = outcome(case, emulator.base_url, call)
    # then its answer has the documented shape, and the adapter reads it as it reads the documented one
    assert_same_shape(case, got)
    if spec["call"] == "batch":
        assert_batch_items_alike(case, got)
    assert read == case.expect
    assert call.sleeps == case.extra.get("waits_s", [])
