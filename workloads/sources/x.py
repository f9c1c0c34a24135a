"""X adapter on tweepy: following lists, a user's tweets since an id, trends per WOEID, recent search.

tweepy.Client speaks v2; its generic `request` also reaches the two trend endpoints it has no method for (v2
/2/trends/by/woeid, and v1.1 trends/place as a fallback for access that still has it), through the same session,
so every request goes to `base_url` and through the same waits and log redaction (see x_transport). tweepy's own
rate-limit sleeping is off: an ordinary 429 is waited out here, by x-rate-limit-reset, with the injected sleep
and clock and within `max_wait_s`; a usage-capped 429 raises UsageCappedError at once. tweepy's exceptions are
translated to ours, and 5xx answers and connection errors are retried a few times, as the httpx adapters do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import requests
import tweepy

from workloads.sources.closing import Closing
from workloads.sources.errors import (
    AccessDeniedError,
    BadResponseError,
    NotFoundError,
    SourceError,
    SourceUnavailableError,
)
from workloads.sources.ratelimit import Clock, RetryPolicy, Sleep, backoff_s
from workloads.sources.types import Friend, Page, Post, Secret, Trend, reveal
from workloads.sources.x_parse import parse_trends, parse_trends_v2, parse_tweets, parse_users
from workloads.sources.x_transport import RedirectAdapter, install_log_redaction, mount, rate_wait_s

X_URL = "https://api.twitter.com"
TWEET_FIELDS = ["created_at", "author_id", "entities"]
MAX_TRENDS = 50  # the most /2/trends/by/woeid gives (its default is 20)
V2_TRENDS, V1_TRENDS = "v2 /2/trends/by/woeid", "v1.1 trends/place"
# How X refuses an endpoint the access tier lacks: 403 (client-forbidden; 453 in v1.1), or 404 where it is absent.
_TIER_REFUSALS = (tweepy.Forbidden, tweepy.NotFound)
_API = "x"
R = TypeVar("R")
log = logging.getLogger(__name__)


class XClient(Closing):
    """A client of the X API (or of the emulator serving the same endpoints at `base_url`)."""

    def __init__(
        self,
        base_url: str = X_URL,
        *,
        bearer_token: Secret | None,
        wait_on_rate_limit: bool = True,
        max_wait_s: float = 900.0,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        install_log_redaction()
        self._base_url = base_url
        self._max_wait_s = max_wait_s if wait_on_rate_limit else 0.0
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._trends_endpoint: str | None = None
        self._v2 = tweepy.Client(bearer_token=reveal(bearer_token), return_type=dict, wait_on_rate_limit=False)
        mount(self._v2.session, X_URL, RedirectAdapter(base_url, timeout_s))

    def __repr__(self) -> str:
        return f"XClient({self._base_url!r})"

    @property
    def trends_endpoint(self) -> str | None:
        """Which endpoint answered the last trends call (V2_TRENDS or V1_TRENDS); None before the first."""
        return self._trends_endpoint

    def close(self) -> None:
        self._v2.session.close()

    def following_page(
        self, user_id: str, pagination_token: str | None = None, max_results: int = 1000
    ) -> Page[Friend]:
        """One page of the accounts a user follows (up to 1000 per page)."""
        params = _present(max_results=max_results, pagination_token=pagination_token)
        body = self._call(lambda: self._v2.get_users_following(_path_id(user_id), **params), f"user {user_id}")
        return parse_users(body)

    def user_posts(self, user_id: str, since_id: str | None = None) -> list[Post]:
        """Every tweet of a user newer than `since_id` (all that the API keeps when None), newest first."""
        posts: list[Post] = []
        token: str | None = None
        while True:
            params = _present(since_id=since_id, pagination_token=token, max_results=100, tweet_fields=TWEET_FIELDS)
            body = self._call(partial(self._v2.get_users_tweets, _path_id(user_id), **params), f"user {user_id}")
            page = parse_tweets(body)
            posts.extend(page.items)
            if page.next_cursor is None:
                return posts
            token = page.next_cursor

    def trends(self, woeid: int) -> list[Trend]:
        """The trends of a place, biggest first: from v2, or from v1.1 trends/place when v2 is refused to this
        access (after which v1.1 is asked first). AccessDeniedError when both are refused."""
        what = f"WOEID {woeid}"
        v2 = partial(self._get_json, f"/2/trends/by/woeid/{woeid}", {"max_trends": MAX_TRENDS})
        v1 = partial(self._get_json, "/1.1/trends/place.json", {"id": woeid})
        if self._trends_endpoint != V1_TRENDS:
            try:
                trends = parse_trends_v2(self._call(v2, what, keep=_TIER_REFUSALS), woeid)
            except _TIER_REFUSALS as refused:
                log.info("x: %s refused (HTTP %s); trying %s", V2_TRENDS, _status(refused), V1_TRENDS)
            else:
                self._trends_endpoint = V2_TRENDS
                return trends
        try:
            trends = parse_trends(self._call(v1, what, keep=(tweepy.Forbidden,)), woeid)
        except tweepy.Forbidden as refused:
            codes = ", ".join(map(str, refused.api_codes)) or "none"
            raise AccessDeniedError(f"{_API}: trends of {what} refused by {V1_TRENDS} (codes {codes})") from refused
        if self._trends_endpoint != V1_TRENDS:
            log.info("x: trends come from %s for this access", V1_TRENDS)
        self._trends_endpoint = V1_TRENDS
        return trends

    def search_recent(
        self,
        query: str,
        since_id: str | None = None,
        next_token: str | None = None,
        max_results: int = 100,
        start_time: str | None = None,
        end_time: str | None = None,
    ) -> Page[Post]:
        """One page of recent tweets matching `query`, newest first; `start_time` (inclusive) and `end_time`
        (exclusive) are ISO 8601 instants such as "2026-12-01T05:00:00Z", passed through as X takes them."""
        params = _present(
            since_id=since_id,
            next_token=next_token,
            max_results=max_results,
            start_time=start_time,
            end_time=end_time,
            tweet_fields=TWEET_FIELDS,
        )
        body = self._call(lambda: self._v2.search_recent_tweets(query, **params), f"search {query!r}")
        return parse_tweets(body)

    def _get_json(self, route: str, params: dict[str, Any]) -> Any:
        """GET a route tweepy has no method for, through tweepy (its auth, session, errors); the JSON body."""
        response = self._v2.request("GET", route, params=params)
        try:
            return response.json()
        except ValueError as err:
            raise BadResponseError(f"{_API}: {route.split('/')[1]} answer is not JSON") from err

    def _call(self, request: Callable[[], R], what: str, keep: tuple[type[Exception], ...] = ()) -> R:
        """Run one tweepy call with our error tree: 429s waited out by x-rate-limit-reset within the budget, 5xx
        and connection errors retried with backoff; exceptions of a `keep` type are re-raised as they are."""
        waited = 0.0
        failures = 0
        while True:
            try:
                return request()
            except tweepy.TooManyRequests as err:
                delay = rate_wait_s(err.response.headers, self._clock(), waited, self._max_wait_s)
                self._sleep(delay)
                waited += delay
            except (tweepy.TweepyException, requests.RequestException) as err:
                if isinstance(err, keep):
                    raise
                if not _retryable(err):
                    raise _translate(err, what) from err
                failures += 1
                if failures > self._policy.retries:
                    raise SourceUnavailableError(f"{_API}: {type(err).__name__} for {what} after retries") from err
                self._sleep(backoff_s(failures, self._policy))


def _retryable(err: BaseException) -> bool:
    """5xx answers and connection trouble."""
    return isinstance(err, tweepy.TwitterServerError | requests.ConnectionError | requests.Timeout)


def _translate(err: Exception, what: str) -> SourceError:
    if isinstance(err, tweepy.NotFound):
        return NotFoundError(f"{_API}: {what} not found")
    if isinstance(err, tweepy.Unauthorized | tweepy.Forbidden):
        return AccessDeniedError(f"{_API}: access to {what} denied (HTTP {_status(err)})")
    if isinstance(err, tweepy.BadRequest):  # X says what was wrong with the request (a query, a time)
        return BadResponseError(f"{_API}: HTTP 400 for {what}: {'; '.join(map(str, err.api_messages))}")
    if isinstance(err, tweepy.HTTPException):
        return BadResponseError(f"{_API}: unexpected HTTP {_status(err)} for {what}")
    if isinstance(err, requests.JSONDecodeError):
        return BadResponseError(f"{_API}: the answer for {what} is not JSON")
    return SourceUnavailableError(f"{_API}: request for {what} failed ({type(err).__name__})")


def _status(err: BaseException) -> int | None:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _present(**params: Any) -> dict[str, Any]:
    """The parameters that have a value (tweepy would send the others as empty)."""
    return {key: value for key, value in params.items() if value is not None}


def _path_id(user_id: str) -> str:
    """tweepy pastes ids into the path unescaped; escape them so an odd id cannot change the route."""
    return quote(user_id, safe="")
