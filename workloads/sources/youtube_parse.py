"""YouTube Data API v3 JSON -> our records. Pure; no HTTP.

search.list answers {"items": [{"id": {"kind", "videoId"}, "snippet": {"title", "channelTitle", ...}}],
"nextPageToken"}, with titles HTML-escaped ("&#39;"); errors are {"error": {"code", "message", "errors":
[{"reason"}]}}, where the reason tells a refused key ("forbidden", "keyInvalid") from a spent quota.
"""

from __future__ import annotations

import html
from typing import Any

from workloads.sources.errors import BadResponseError
from workloads.sources.types import Page, VideoMeta

_API = "video"
# Reasons Google gives for spent quota or too many requests (the Data API says 403 for a spent daily quota).
QUOTA_REASONS = frozenset({"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"})


def parse_search(body: Any) -> Page[VideoMeta]:
    """A page of GET /youtube/v3/search?part=snippet; results that are not videos (channels, playlists) are
    skipped."""
    if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
        raise BadResponseError(f"{_API}: a search answer must be an object with an items list")
    try:
        videos = tuple(_video(item) for item in body.get("items", []) if item["id"]["kind"] == "youtube#video")
    except (KeyError, TypeError) as err:
        raise BadResponseError(f"{_API}: a search result lacks its id, title or channel") from err
    token = body.get("nextPageToken")
    return Page(videos, str(token) if token else None)


def error_reason(body: Any) -> str | None:
    """The first reason of a Google error answer, None when the body is not one."""
    try:
        reason = body["error"]["errors"][0]["reason"]
    except (KeyError, IndexError, TypeError):
        return None
    return str(reason)


def _video(item: dict[str, Any]) -> VideoMeta:
    snippet = item["snippet"]
    return VideoMeta(
        video_id=str(item["id"]["videoId"]),
        title=html.unescape(str(snippet["title"])),
        channel=html.unescape(str(snippet["channelTitle"])),
    )
