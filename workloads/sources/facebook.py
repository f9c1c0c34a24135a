"""Facebook Graph API adapter: a user's friends, page by page, and many friends' feeds through batch calls.

Feeds go through the batch endpoint (POST /{version}/ with up to 50 requests each) because the social-graph pack
reads hundreds of feeds per user: 50 feeds per round trip instead of one. Every feed's later pages are queued
into the following batches, so one call to `feeds` returns complete feeds.

The token travels in the Authorization header, never in a URL: URLs end up in httpx's logs and in errors.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from workloads.sources.closing import HttpSource
from workloads.sources.errors import BadResponseError, SourceUnavailableError
from workloads.sources.graph_parse import error_for, parse_batch, parse_feed, parse_friends
from workloads.sources.ratelimit import Clock, RetryPolicy, Sleep, backoff_s, send_with_retry
from workloads.sources.types import Friend, Page, Post, Secret, reveal

log = logging.getLogger(__name__)

GRAPH_URL = "https://graph.facebook.com"
BATCH_LIMIT = 50  # Graph refuses larger batches
FEED_FIELDS = "id,message,created_time,link"
_API = "graph"


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

    def friends_page(self, user_id: str, after: str | None = None, limit: int = 100) -> Page[Friend]:
        """One page of a user's friends; pass the returned `next_cursor` as `after` for the next page."""
        params = {"fields": "id,name", "limit": str(limit)}
        if after is not None:
            params["after"] = after
        response = self._send("GET", f"{self._root}/{quote(user_id, safe='')}/friends", params=params)
        body = self._json(response)
        if response.status_code != 200:
            raise error_for(response.status_code, body, f"user {user_id}")
        return parse_friends(body)

    def feeds(self, friend_ids: Sequence[str], since_ms: int) -> dict[str, list[Post]]:
        """Every post since `since_ms` of each friend, newest first; a friend whose account is gone (404) maps
        to an empty list rather than failing the other friends."""
        feeds: dict[str, list[Post]] = {fid: [] for fid in friend_ids}
        pending: deque[tuple[str, str | None]] = deque((fid, None) for fid in feeds)
        failures = 0
        while pending:
            chunk = [pending.popleft() for _ in range(min(BATCH_LIMIT, len(pending)))]
            retry = self._feed_round(chunk, since_ms, feeds, pending)
            if retry:
                failures += 1
                if failures > self._policy.retries:
                    raise SourceUnavailableError(f"{_API}: {len(retry)} feed requests unanswered after retries")
                pending.extend(retry)
                self._sleep(backoff_s(failures, self._policy))
        return feeds

    def _feed_round(
        self,
        chunk: list[tuple[str, str | None]],
        since_ms: int,
        feeds: dict[str, list[Post]],
        pending: deque[tuple[str, str | None]],
    ) -> list[tuple[str, str | None]]:
        """Send one batch; file its posts, queue next pages, and return the requests to try again."""
        answers = self._batch([self._feed_url(fid, since_ms // 1000, after) for fid, after in chunk])
        retry: list[tuple[str, str | None]] = []
        for (fid, after), answer in zip(chunk, answers, strict=True):
            if answer is None or answer[0] == 429 or answer[0] >= 500:
                retry.append((fid, after))
            elif answer[0] == 404:
                log.info("graph: feed of %s not found; treating it as empty", fid)
            elif answer[0] != 200:
                raise error_for(answer[0], answer[1], f"feed of {fid}")
            else:
                page = parse_feed(answer[1], fid)
                feeds[fid].extend(p for p in page.items if p.created_ms >= since_ms)
                if page.next_cursor is not None:
                    pending.append((fid, page.next_cursor))
        return retry

    def _feed_url(self, friend_id: str, since_s: int, after: str | None) -> str:
        params = {"fields": FEED_FIELDS, "since": str(since_s), "limit": str(self._feed_page_limit)}
        if after is not None:
            params["after"] = after
        return f"{self._version}/{quote(friend_id, safe='')}/feed?{urlencode(params)}"

    def _batch(self, relative_urls: list[str]) -> list[tuple[int, Any] | None]:
        requests = [{"method": "GET", "relative_url": url} for url in relative_urls]
        response = self._send("POST", f"{self._root}/", data={"batch": json.dumps(requests)})
        body = self._json(response)
        if response.status_code != 200:
            raise error_for(response.status_code, body, f"a batch of {len(requests)}")
        return parse_batch(body, len(requests))

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        token = reveal(self._token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
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
