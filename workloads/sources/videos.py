"""Video pages adapter: oEmbed metadata, watch pages (liveness and related videos).

oEmbed is the cheap, stable way to a title and channel; it answers 404/401 for videos that are gone or private,
which `metadata` reports as None. The watch page is what a viewer sees, so it is what decides liveness (the
"Video unavailable" page answers 200) and where related links come from.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from workloads.sources.closing import HttpSource
from workloads.sources.errors import BadResponseError, SourceError
from workloads.sources.liveness import Liveness
from workloads.sources.ratelimit import Clock, RetryPolicy, Sleep, send_with_retry
from workloads.sources.types import VideoMeta
from workloads.sources.urls import watch_url
from workloads.sources.watch_page import WatchPage, parse_watch_page

YOUTUBE_URL = "https://www.youtube.com"
_GONE = (401, 403, 404, 410)
_API = "video"


class VideoPages(HttpSource):
    """A client of the video site (or of the emulator serving the same pages at `base_url`)."""

    def __init__(
        self,
        base_url: str = YOUTUBE_URL,
        client: httpx.Client | None = None,
        *,
        policy: RetryPolicy | None = None,
        timeout_s: float = 15.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        super().__init__(client, timeout_s)
        self._policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"VideoPages({self._base_url!r})"

    def metadata(self, video_id: str) -> VideoMeta | None:
        """Title and channel from oEmbed; None when the video is gone (404/410) or hidden (401/403)."""
        # oEmbed only accepts the site's canonical URL, whatever host serves the endpoint.
        params = {"url": watch_url(YOUTUBE_URL, video_id), "format": "json"}
        response = self._get(f"{self._base_url}/oembed", params)
        if response.status_code in _GONE:
            return None
        if response.status_code != 200:
            raise BadResponseError(f"{_API}: unexpected HTTP {response.status_code} from oembed for {video_id}")
        body = self._json(response)
        try:
            return VideoMeta(video_id=video_id, title=str(body["title"]), channel=str(body["author_name"]))
        except (KeyError, TypeError) as err:
            raise BadResponseError(f"{_API}: oembed answer for {video_id} lacks title or author_name") from err

    def page(self, video_id: str) -> WatchPage:
        """Fetch and read the watch page (429s waited out and 5xx retried first)."""
        response = self._get(f"{self._base_url}/watch", {"v": video_id})
        return parse_watch_page(video_id, response.status_code, response.text)

    def related(self, video_id: str) -> list[str]:
        """Ids the watch page links to as related videos (empty when the video is not alive)."""
        return list(self.page(video_id).related)

    def check(self, video_id: str) -> Liveness:
        """("alive", None), ("dead", reason) or ("retry", reason). Throttling or outages that outlast the retry
        policy come back as "retry" rather than raising, so one bad answer does not fail a whole batch."""
        try:
            return self.page(video_id).liveness
        except SourceError as err:
            return Liveness("retry", type(err).__name__)

    def _get(self, url: str, params: dict[str, str]) -> httpx.Response:
        return send_with_retry(
            lambda: self._client.get(url, params=params), _API, self._policy, self._sleep, self._clock
        )

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise BadResponseError(f"{_API}: oembed answer is not JSON") from err
