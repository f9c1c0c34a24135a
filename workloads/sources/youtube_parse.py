"""YouTube Data API v3 JSON -> our records and errors. Pure; no HTTP.

search.list answers {"items": [{"id": {"kind", "videoId"}, "snippet": {"title", "channelTitle", ...}}],
"nextPageToken"}, with titles HTML-escaped ("&#39;"). Errors are {"error": {"code", "message", "errors":
[{"message", "domain", "reason"}], "status", "details"}}, and the reason says what happened:
- a key that is not valid: HTTP 400, reason "badRequest" (or "keyInvalid"), with a google.rpc.ErrorInfo detail
  whose reason is API_KEY_INVALID -> AccessDeniedError, like a missing key (403 "forbidden") or a key not allowed
  to use the API (403 "accessNotConfigured", "forbidden");
- the project's daily quota is spent: HTTP 403, reason "quotaExceeded" (domain youtube.quota) -> UsageCappedError,
  which holds until the quota resets at midnight Pacific time; no Retry-After comes with it;
- too many requests in a short time: 403 "rateLimitExceeded" / "userRateLimitExceeded" -> short-term, backed off.
"""

from __future__ import annotations

import html
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from workloads.sources.errors import (
    AccessDeniedError,
    BadResponseError,
    SourceError,
    UsageCappedError,
)
from workloads.sources.types import Page, VideoMeta

_API = "video"
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
SHORT_TERM_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED"})
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")  # the Data API's daily quota resets at midnight Pacific time


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


def error_info_reason(body: Any) -> str | None:
    """The reason of the google.rpc.ErrorInfo detail (e.g. API_KEY_INVALID), None when there is none."""
    try:
        details = body["error"].get("details") or []
        return next(str(d["reason"]) for d in details if isinstance(d, dict) and d.get("@type") == _ERROR_INFO)
    except (KeyError, TypeError, AttributeError, StopIteration):
        return None


def is_short_term(status: int, body: Any) -> bool:
    """A refusal that a short back-off may lift (a per-minute or per-user rate), not a spent daily quota."""
    return status in (403, 429) and error_reason(body) in SHORT_TERM_REASONS


def search_refusal(status: int, body: Any, now_s: float) -> SourceError:
    """The error a non-200 search answer stands for (see the module docstring); `now_s` dates a quota reset."""
    reason, info = error_reason(body), error_info_reason(body)
    if status in (403, 429) and reason in QUOTA_REASONS:
        return UsageCappedError(_API, f"daily quota spent ({reason})", next_quota_reset_s(now_s))
    if status == 400 and (reason in _KEY_REASONS or info in _KEY_REASONS):
        return AccessDeniedError(f"{_API}: search refused the API key (HTTP 400, {info or reason})")
    if status in (401, 403):
        return AccessDeniedError(f"{_API}: search was refused (HTTP {status}, {info or reason})")
    return BadResponseError(f"{_API}: unexpected HTTP {status} from search ({reason})")


def next_quota_reset_s(now_s: float) -> float:
    """The next midnight in Pacific time after `now_s` (epoch seconds), when the daily quota refills."""
    local = datetime.fromtimestamp(now_s, QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), QUOTA_ZONE)
    return midnight.timestamp()


def _video(item: dict[str, Any]) -> VideoMeta:
    snippet = item["snippet"]
    return VideoMeta(
        video_id=str(item["id"]["videoId"]),
        title=html.unescape(str(snippet["title"])),
        channel=html.unescape(str(snippet["channelTitle"])),
    )
