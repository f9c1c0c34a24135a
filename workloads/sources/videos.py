"""Video adapter: oEmbed metadata, watch pages (liveness and related videos) and the Data API's search.

oEmbed is the cheap, stable way to a title and channel; it answers 404 for videos that are gone, 403 for private
ones (401 where embedding is off), which `metadata` reports as None. The watch page is what a viewer sees, so it
is what decides liveness (every state answers 200; the player's status tells them apart, see
workloads.sources.liveness) and where related videos come from (its embedded data, see watch_page). Search is
only in the YouTube Data API, on another host (`api_base_url`) and behind an API key; the key travels in the
X-Goog-Api-Key header, not in the URL, because httpx logs URLs.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from workloads.sources.closing import HttpSource
from workloads.sources.errors import (
    AccessDeniedError,
    BadResponseError,
    RateLimitedError,
    SourceError,
    SourceUnavailableError,
)
from workloads.sources.liveness import Liveness
from workloads.sources.ratelimit import Clock, RetryPolicy, Sleep, backoff_s, send_with_retry
from workloads.sources.types import Page, Secret, VideoMeta, reveal
from workloads.sources.urls import watch_url
from workloads.sources.watch_page import WatchPage, parse_watch_page
from workloads.sources.youtube_parse import is_short_term, parse_search, search_refusal

YOUTUBE_URL = "https://www.youtube.com"
YOUTUBE_API_URL = "https://www.googleapis.com"
SEARCH_PAGE_MAX = 50  # the Data API's largest maxResults
KEY_HEADER = "X-Goog-Api-Key"
_GONE = (401, 403, 404, 410)
_API = "video"


class VideoPages(HttpSource):
    """A client of the video site and its Data API (or of the emulator, which serves both: give its URL as
    `base_url` and `api_base_url`)."""

    def __init__(
        self,
        base_url: str = YOUTUBE_URL,
        client: httpx.Client | None = None,
        *,
        api_base_url: str = YOUTUBE_API_URL,
        api_key: Secret | None = None,
        policy: RetryPolicy | None = None,
        timeout_s: float = 15.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_base_url = api_base_url.rstrip("/")
        self._api_key = api_key
        super().__init__(client, timeout_s)
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"VideoPages({self._base_url!r})"

    def metadata(self, video_id: str) -> VideoMeta | None:
        """Title and channel from oEmbed; None when the video is gone (404/410), private (403) or not embeddable
        (401)."""
        # oEmbed only accepts the site's canonical URL, whatever host serves the endpoint.
        params = {"url": watch_url(YOUTUBE_URL, video_id), "format": "json"}
        response = self._get(f"{self._base_url}/oembed", params)
        if response.status_code in _GONE:
            return None
        if response.status_code != 200:
            raise BadResponseError(f"{_API}: unexpected HTTP {response.status_code} from oembed for {video_id}")
        body = self._json(response)
        title, channel = (body.get(name) if isinstance(body, dict) else None for name in ("title", "author_name"))
        if not isinstance(title, str) or not isinstance(channel, str):
            raise BadResponseError(f"{_API}: oembed answer for {video_id} lacks a title or author_name string")
        return VideoMeta(video_id=video_id, title=title, channel=channel)

    def page(self, video_id: str) -> WatchPage:
        """Fetch and read the watch page (429s waited out and 5xx retried first)."""
        response = self._get(f"{self._base_url}/watch", {"v": video_id})
        return parse_watch_page(video_id, response.status_code, response.text)

    def related(self, video_id: str) -> list[str]:
        """Ids of the related videos the watch page lists (empty when the video is dead); SourceUnavailableError
        when the page could not be read (throttled, 5xx, cut short): "no related videos" would be a lie."""
        page = self.page(video_id)
        if page.liveness.verdict == "retry":
            raise SourceUnavailableError(f"{_API}: watch page of {video_id} unreadable ({page.liveness.reason})")
        return list(page.related)

    def search(self, query: str, max_results: int = 25) -> list[VideoMeta]:
        """Videos the Data API finds for `query`, best first, up to `max_results` (paging 50 at a time).
        AccessDeniedError without a key or when the key is refused (a 400 API_KEY_INVALID included);
        UsageCappedError, at once, when the key's daily quota is spent; RateLimitedError when short-term rate
        refusals outlast the wait budget."""
        key = reveal(self._api_key)
        if not key:
            raise AccessDeniedError(f"{_API}: search needs a YouTube Data API key and none is configured")
        found: dict[str, VideoMeta] = {}  # pages may repeat a video; keep its first place
        token: str | None = None
        while len(found) < max_results:
            params = {"part": "snippet", "type": "video", "q": query}
            params["maxResults"] = str(min(SEARCH_PAGE_MAX, max_results - len(found)))
            if token is not None:
                params["pageToken"] = token
            page = self._search_page(params, key)
            before = len(found)
            for video in page.items[: max_results - len(found)]:
                found.setdefault(video.video_id, video)
            if page.next_cursor is None or len(found) == before:
                break
            token = page.next_cursor
        return list(found.values())

    def check(self, video_id: str) -> Liveness:
        """("alive", None), ("dead", reason) or ("retry", reason). Throttling or outages that outlast the retry
        policy come back as "retry" rather than raising, so one bad answer does not fail a whole batch."""
        try:
            return self.page(video_id).liveness
        except SourceError as err:
            return Liveness("retry", type(err).__name__)

    def _search_page(self, params: dict[str, str], key: str) -> Page[VideoMeta]:
        """One page of search. A short-term rate refusal (403 rateLimitExceeded; the Data API sends no
        Retry-After) is backed off within the policy's wait budget; anything else that is not a 200 becomes its
        error at once: a spent daily quota UsageCappedError, a refused key AccessDeniedError (youtube_parse)."""
        waited, refusals = 0.0, 0
        while True:
            response = self._get(f"{self._api_base_url}/youtube/v3/search", params, {KEY_HEADER: key})
            body = self._json(response, "search")
            if response.status_code == 200:
                return parse_search(body)
            if not is_short_term(response.status_code, body):
                raise search_refusal(response.status_code, body, self._clock())
            refusals += 1
            delay = backoff_s(refusals, self._policy)
            if waited + delay > self._policy.max_wait_s:
                raise RateLimitedError(_API, waited, delay)
            self._sleep(delay)
            waited += delay

    def _get(self, url: str, params: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        return send_with_retry(
            lambda: self._client.get(url, params=params, headers=headers),
            _API,
            self._policy,
            self._sleep,
            self._clock,
        )

    @staticmethod
    def _json(response: httpx.Response, what: str = "oembed") -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise BadResponseError(f"{_API}: {what} answer (HTTP {response.status_code}) is not JSON") from err
