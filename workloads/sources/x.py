"""X adapter on tweepy: following lists, a user's tweets since an id, trends per WOEID, recent search.

tweepy.Client speaks v2 and tweepy.API v1.1 (trends only exist there). Both honour 429s themselves
(wait_on_rate_limit reads x-rate-limit-reset), bounded here by a wait budget; see x_transport for how requests
reach `base_url`. tweepy's exceptions are translated to ours, and 5xx answers and connection errors are retried
a few times, as the httpx adapters do.
"""

from __future__ import annotations

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
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
)
from workloads.sources.ratelimit import RetryPolicy, Sleep, backoff_s
from workloads.sources.types import Friend, Page, Post, Secret, Trend, reveal
from workloads.sources.x_parse import parse_trends, parse_tweets, parse_users
from workloads.sources.x_transport import RedirectAdapter, WaitBudget, install_log_redaction, mount

X_URL = "https://api.twitter.com"
TWEET_FIELDS = ["created_at", "author_id", "entities"]
_API = "x"
R = TypeVar("R")


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
    ) -> None:
        install_log_redaction()
        token = reveal(bearer_token)
        self._base_url = base_url
        self._budget = WaitBudget(max_wait_s)
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._v2 = tweepy.Client(bearer_token=token, return_type=dict, wait_on_rate_limit=wait_on_rate_limit)
        self._v1 = tweepy.API(
            tweepy.OAuth2BearerHandler(token), wait_on_rate_limit=wait_on_rate_limit, timeout=timeout_s
        )
        # One adapter per session: tweepy.API closes its session (and so its adapters) after every request.
        for session in (self._v2.session, self._v1.session):
            mount(session, X_URL, RedirectAdapter(base_url, self._budget, timeout_s))

    def __repr__(self) -> str:
        return f"XClient({self._base_url!r})"

    def close(self) -> None:
        self._v2.session.close()
        self._v1.session.close()

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
        """The trends of a place (v1.1 trends/place), biggest first."""
        body = self._call(lambda: self._v1.get_place_trends(woeid), f"WOEID {woeid}")
        return parse_trends(body, woeid)

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

    def _call(self, request: Callable[[], R], what: str) -> R:
        """Run one tweepy call with our error tree, retrying 5xx and connection errors with backoff."""
        self._budget.reset()
        failures = 0
        while True:
            try:
                return request()
            except (tweepy.TweepyException, requests.RequestException) as err:
                if not _retryable(err):
                    raise _translate(err, what) from err
                failures += 1
                if failures > self._policy.retries:
                    raise SourceUnavailableError(f"{_API}: {type(err).__name__} for {what} after retries") from err
                self._sleep(backoff_s(failures, self._policy))


def _retryable(err: BaseException) -> bool:
    """5xx answers and connection trouble; tweepy.API hides the latter inside a TweepyException."""
    if isinstance(err, tweepy.TwitterServerError | requests.ConnectionError | requests.Timeout):
        return True
    return isinstance(err, tweepy.TweepyException) and isinstance(
        err.__context__, requests.ConnectionError | requests.Timeout
    )


def _translate(err: Exception, what: str) -> SourceError:
    if isinstance(err.__context__, SourceError):  # tweepy.API wraps what our adapter raised
        return err.__context__
    if isinstance(err, tweepy.NotFound):
        return NotFoundError(f"{_API}: {what} not found")
    if isinstance(err, tweepy.Unauthorized | tweepy.Forbidden):
        return AccessDeniedError(f"{_API}: access to {what} denied")
    if isinstance(err, tweepy.TooManyRequests):
        return RateLimitedError(_API, 0.0, None)
    if isinstance(err, tweepy.BadRequest):  # X says what was wrong with the request (a query, a time)
        return BadResponseError(f"{_API}: HTTP 400 for {what}: {'; '.join(map(str, err.api_messages))}")
    if isinstance(err, tweepy.HTTPException):
        return BadResponseError(f"{_API}: unexpected HTTP {err.response.status_code} for {what}")
    return SourceUnavailableError(f"{_API}: request for {what} failed ({type(err).__name__})")


def _present(**params: Any) -> dict[str, Any]:
    """The parameters that have a value (tweepy would send the others as empty)."""
    return {key: value for key, value in params.items() if value is not None}


def _path_id(user_id: str) -> str:
    """tweepy pastes ids into the path unescaped; escape them so an odd id cannot change the route."""
    return quote(user_id, safe="")
