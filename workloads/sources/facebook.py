"""Facebook Graph API adapter: a user's friends, page by page, and many friends' feeds through batch calls.

What Graph lets an app read (docs/api-graph.md): /{user}/friends lists only the friends who use the app too, and
a friend's feed needs that friend's own token (the app holds one per user who granted it). So `feeds` takes a
token per friend and puts it in that friend's batch item; the client's own token is the batch's fallback.

Feeds go through the batch endpoint (POST /{version}/ with up to 50 requests each) because the social-graph pack
reads hundreds of feeds per user: 50 feeds per round trip instead of one. Every feed's later pages are queued
into the following batches, so one call to `feeds` returns complete feeds. One item failing (a friend gone, a
grant withdrawn) fails alone: the other friends' feeds come back, and `Feeds` says who could not be read.

Throttling is Graph's own: an error code (4, 17, 32, 613, 80001-80014...) with usage headers and no Retry-After.
The client waits as the usage headers suggest while its RetryPolicy's max_wait_s allows, then raises
RateLimitedError so the job is released rather than held.

Tokens travel in the Authorization header or inside the batch's form body, never in a request URL: URLs end up
in httpx's logs and in errors; and a page cursor never keeps the access_token a `next` URL may carry.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from workloads.sources.closing import HttpSource
from workloads.sources.errors import (
    AccessDeniedError,
    BadResponseError,
    NotFoundError,
    RateLimitedError,
    SourceUnavailableError,
)
from workloads.sources.graph_parse import (
    BatchAnswer,
    error_for,
    graph_error,
    page_params,
    parse_batch,
    parse_feed,
    parse_friends,
)
from workloads.sources.ratelimit import Clock, RetryPolicy, Sleep, backoff_s, graph_usage_wait_s, send_with_retry
from workloads.sources.types import Friend, Page, Post, Secret, reveal

log = logging.getLogger(__name__)

GRAPH_URL = "https://graph.facebook.com"
BATCH_LIMIT = 50  # Graph refuses larger batches
FEED_FIELDS = "id,message,created_time,link"
_API = "graph"

_Request = tuple[str, str | None]  # (friend id, cursor of the page to ask for)


@dataclass(frozen=True, slots=True)
class Feeds:
    """What `feeds` read: every friend asked about maps to their posts (newest first, empty when unreadable);
    `gone` are friends Graph says do not exist or are not visible (code 100/33), `refused` those whose feed the
    token given may not read (a permission or token error)."""

    posts: dict[str, list[Post]]
    gone: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


@dataclass
class _Round:
    """Feeds being gathered, and what the last batch left to retry."""

    posts: dict[str, list[Post]]
    gone: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    retry: list[_Request] = field(default_factory=list)
    throttled: Mapping[str, str] | None = None


class GraphClient(HttpSource):
    """A client of the Graph API (or of the emulator serving the same endpoints at `base_url`)."""

    def __init__(
        self,
        base_url: str = GRAPH_URL,
        *,
        access_token: Secret | None,
        version: str = "v19.0",
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        feed_page_limit: int = 100,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        self._root = f"{base_url.rstrip('/')}/{version}"
        self._version = version
        self._token = access_token
        super().__init__(client, timeout_s)
        self._policy = policy if policy is not None else RetryPolicy()
        self._feed_page_limit = feed_page_limit
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"GraphClient({self._root!r})"

    def friends_page(
        self, user_id: str, after: str | None = None, limit: int = 100, *, token: Secret | None = None
    ) -> Page[Friend]:
        """One page of a user's friends who use the app; pass the returned `next_cursor` as `after` for the next
        page. `token` (the user's own, as Graph wants) replaces the client's token for this call."""
        params = {"fields": "id,name", "limit": str(limit), **page_params(after)}
        url = f"{self._root}/{quote(user_id, safe='')}/friends"
        body, _ = self._call("GET", url, f"user {user_id}", token, params=params)
        return parse_friends(body)

    def feeds(self, friend_ids: Sequence[str], since_ms: int, *, tokens: Mapping[str, Secret] | None = None) -> Feeds:
        """Every post since `since_ms` of each friend, newest first, each friend's feed read with `tokens[friend]`
        when given (else the client's token)."""
        gathered = _Round({fid: [] for fid in friend_ids})
        pending: deque[_Request] = deque((fid, None) for fid in gathered.posts)
        failures, waited = 0, 0.0
        while pending:
            chunk = [pending.popleft() for _ in range(min(BATCH_LIMIT, len(pending)))]
            self._feed_round(chunk, since_ms, tokens or {}, gathered, pending)
            if not gathered.retry:
                continue
            pending.extend(gathered.retry)
            if gathered.throttled is not None:
                waited += self._wait_throttled(gathered.throttled, waited)
                continue
            failures += 1
            if failures > self._policy.retries:
                raise SourceUnavailableError(f"{_API}: {len(gathered.retry)} feed requests unanswered after retries")
            self._sleep(backoff_s(failures, self._policy))
        return Feeds(gathered.posts, tuple(gathered.gone), tuple(gathered.refused))

    def _feed_round(
        self,
        chunk: list[_Request],
        since_ms: int,
        tokens: Mapping[str, Secret],
        gathered: _Round,
        pending: deque[_Request],
    ) -> None:
        """Send one batch; file its posts and failures, queue next pages, and note what to try again."""
        urls = [self._feed_url(fid, since_ms // 1000, cursor, tokens.get(fid)) for fid, cursor in chunk]
        fallback = self._token or next((tokens[fid] for fid, _ in chunk if fid in tokens), None)
        body, headers = self._call(
            "POST", f"{self._root}/", f"a batch of {len(urls)}", fallback, data=_batch_form(urls)
        )
        gathered.retry, gathered.throttled = [], None
        for request, answer in zip(chunk, parse_batch(body, len(urls)), strict=True):
            self._file(request, answer, since_ms, gathered, pending)
        if gathered.throttled is not None:  # usage headers come on the batch's answer, or on the item's
            gathered.throttled = {**headers, **gathered.throttled}

    def _file(
        self, request: _Request, answer: BatchAnswer | None, since_ms: int, gathered: _Round, pending: deque[_Request]
    ) -> None:
        fid = request[0]
        if answer is None or answer.status >= 500:  # null: Graph did not get to it in time
            gathered.retry.append(request)
            return
        if answer.status == 200:
            page = parse_feed(answer.body, fid)
            fresh = [post for post in page.items if post.created_ms >= since_ms]
            gathered.posts[fid].extend(fresh)
            if page.next_cursor is not None and fresh and len(fresh) == len(page.items):
                pending.append((fid, page.next_cursor))  # older posts remain, all still within `since`
            return
        error = graph_error(answer.body)
        if error is not None and error.throttled:
            gathered.retry.append(request)
            gathered.throttled = answer.headers
            return
        failure = error_for(answer.status, answer.body, f"the feed of {fid}")
        if isinstance(failure, NotFoundError):
            log.info("graph: %s is gone or not visible; its feed is skipped", fid)
            gathered.gone.append(fid)
        elif isinstance(failure, AccessDeniedError):
            log.info("graph: the feed of %s may not be read with the token given; skipped", fid)
            gathered.refused.append(fid)
        elif isinstance(failure, SourceUnavailableError):
            gathered.retry.append(request)
        else:
            raise failure

    def _feed_url(self, friend_id: str, since_s: int, cursor: str | None, token: Secret | None) -> str:
        params = {"fields": FEED_FIELDS, "since": str(since_s), "limit": str(self._feed_page_limit)}
        params.update(page_params(cursor))
        if token is not None:  # Graph's batch: an item's own token goes in its relative_url (in the form body)
            params["access_token"] = reveal(token)
        return f"{self._version}/{quote(friend_id, safe='')}/feed?{urlencode(params)}"

    def _call(
        self, method: str, url: str, what: str, token: Secret | None, **kwargs: Any
    ) -> tuple[Any, Mapping[str, str]]:
        """Send until Graph answers something other than throttling; the JSON and headers of a 200, else the
        error."""
        waited = 0.0
        while True:
            response = self._send(method, url, token, **kwargs)
            body = self._json(response)
            if response.status_code == 200:
                return body, response.headers
            error = graph_error(body)
            if error is None or not error.throttled:
                raise error_for(response.status_code, body, what)
            waited += self._wait_throttled(response.headers, waited)

    def _wait_throttled(self, headers: Mapping[str, str], waited: float) -> float:
        """Sleep as the usage headers advise and return how long, or raise RateLimitedError when that would
        take the total past the policy's budget (the job is better released than held)."""
        advised = graph_usage_wait_s(headers)
        delay = advised if advised is not None else self._policy.default_429_wait_s
        if waited + delay > self._policy.max_wait_s:
            raise RateLimitedError(_API, waited, delay)
        log.info("graph: throttled; waiting %.0f s as the usage headers advise", delay)
        self._sleep(delay)
        return delay

    def _send(self, method: str, url: str, token: Secret | None, **kwargs: Any) -> httpx.Response:
        value = reveal(token if token is not None else self._token)
        headers = {"Authorization": f"Bearer {value}"} if value else {}
        return send_with_retry(
            lambda: self._client.request(method, url, headers=headers, **kwargs),
            _API,
            self._policy,
            self._sleep,
            self._clock,
        )

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise BadResponseError(f"{_API}: HTTP {response.status_code} answer is not JSON") from err


def _batch_form(relative_urls: list[str]) -> dict[str, str]:
    return {"batch": json.dumps([{"method": "GET", "relative_url": url} for url in relative_urls])}
