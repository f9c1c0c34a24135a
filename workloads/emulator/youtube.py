"""The emulated YouTube Data API v3: GET /youtube/v3/search, the one call the hot-topics pack makes.

It belongs to the video family (app.family_of), so the video site's rate limit applies, charged per API key.
Answers follow Google: {"kind": "youtube#searchListResponse", "nextPageToken", "pageInfo", "items"} with
HTML-escaped snippet titles, and errors as {"error": {"code", "message", "errors": [{"message", "domain",
"reason"}], "status"}}. A request without a key (the `key` parameter or the X-Goog-Api-Key header) is refused
with 403, as Google refuses unregistered callers; a key that is not valid (EmulatorServer(revoked_tokens=...))
with 400 and an ErrorInfo detail API_KEY_INVALID. The Data API meters a daily quota, not a window: a key whose
usage cap (Limit.cap) is spent gets 403 quotaExceeded, one over its short-term window 403 rateLimitExceeded;
neither carries Retry-After or rate headers, as the real API sends none. Results are `World.search_videos` (see
world.video_search for the ranking), at most RESULT_CAP of them, as YouTube also stops paging after a few
hundred; totalResults is an estimate, as YouTube's is.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from aiohttp import web

from workloads.emulator.paging import decode_cursor, encode_cursor, int_param, iso_seconds
from workloads.emulator.ratelimit import Verdict
from workloads.emulator.state import STATE, Answer, Query, json_answer
from workloads.world import World, WorldVideo

KEY_HEADER = "X-Goog-Api-Key"
MAX_RESULTS = 50
DEFAULT_RESULTS = 5
RESULT_CAP = 500
_PARTS = frozenset({"id", "snippet"})
_QUOTA = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">'
    "quota</a>."
)
_RATE = "Rate Limit Exceeded"
_UNREGISTERED = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def google_error(code: int, message: str, reason: str, status: str, domain: str = "global") -> Answer:
    error = {"message": message, "domain": domain, "reason": reason}
    return code, {"error": {"code": code, "message": message, "errors": [error], "status": status}}


def throttled(verdict: Verdict) -> Answer:
    """The answer when the key's allowance is spent: its daily quota (the cap), or a short-term rate."""
    if verdict.capped:
        return google_error(403, _QUOTA, "quotaExceeded", "PERMISSION_DENIED", "youtube.quota")
    return google_error(403, _RATE, "rateLimitExceeded", "PERMISSION_DENIED", "usageLimits")


def rate_headers(verdict: Verdict) -> dict[str, str]:
    """The Data API sends no rate headers (usage shows in the Cloud console only)."""
    return {}


def unregistered() -> Answer:
    return google_error(403, _UNREGISTERED, "forbidden", "PERMISSION_DENIED")


def key_invalid() -> Answer:
    message = "API key not valid. Please pass a valid API key."
    code, body = google_error(400, message, "badRequest", "INVALID_ARGUMENT")
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "youtube.googleapis.com"},
    }
    body["error"]["details"] = [info]
    return code, body


def search_answer(world: World, query: Query, key: str | None) -> Answer:
    """GET /youtube/v3/search?part=snippet&q=&type=video&maxResults=0..50&pageToken=&key="""
    if not key:
        return unregistered()
    parts = frozenset(query.get("part", "").split(",")) - {""}
    if not parts:
        return google_error(400, "Required parameter: part", "required", "INVALID_ARGUMENT")
    if not parts <= _PARTS:
        return google_error(400, f"'{query['part']}'", "unknownPart", "INVALID_ARGUMENT")
    limit = int_param(query, "maxResults", DEFAULT_RESULTS, 0, MAX_RESULTS)
    if limit is None:
        message = f"Invalid value '{query['maxResults']}'. Values must be within the range: [0, {MAX_RESULTS}]"
        return google_error(400, message, "invalidParameter", "INVALID_ARGUMENT")
    offset = decode_cursor(query["pageToken"]) if query.get("pageToken") else 0
    if offset is None:
        return google_error(400, "The request specifies an invalid page token.", "invalidPageToken", "INVALID_ARGUMENT")
    videos_only = "video" in query.get("type", "video").split(",")  # the world has no channels or playlists
    # Rank only as deep as this page (and one more, to know whether another page follows): ranking 500 costs
    # ~50 ms, one page a few.
    depth = min(RESULT_CAP, offset + limit + 1)
    found = _results(world, query.get("q", ""), depth) if videos_only else ()
    return 200, _listing(found, offset, limit, parts)


async def handle_search(request: web.Request) -> web.Response:
    key = request.headers.get(KEY_HEADER) or request.query.get("key")
    return json_answer(search_answer(request.app[STATE].world, request.query, key))


@lru_cache(maxsize=1024)
def _results(world: World, q: str, depth: int) -> tuple[WorldVideo, ...]:
    """The best `depth` results of a search for `q` (the next page asks again for the same q)."""
    return tuple(world.search_videos(q, depth))


def _listing(found: tuple[WorldVideo, ...], offset: int, limit: int, parts: frozenset[str]) -> dict[str, Any]:
    page = found[offset : offset + limit]
    body: dict[str, Any] = {"kind": "youtube#searchListResponse", "regionCode": "US"}
    if limit and offset + limit < len(found):
        body["nextPageToken"] = encode_cursor(offset + limit)
    if offset > 0:
        body["prevPageToken"] = encode_cursor(max(0, offset - limit))
    # An estimate, as YouTube's is: exact once the results end, else the most this API pages through.
    total = len(found) if len(found) <= offset + limit else RESULT_CAP
    body["pageInfo"] = {"totalResults": total, "resultsPerPage": limit}
    body["items"] = [_item(video, parts) for video in page]
    return body


def _item(video: WorldVideo, parts: frozenset[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "youtube#searchResult", "id": {"kind": "youtube#video", "videoId": video.video_id}}
    if "snippet" in parts:
        published = iso_seconds(video.published_ms, "Z")
        item["snippet"] = {
            "publishedAt": published,
            "title": html.escape(video.title),
            "description": html.escape(f"{video.title}. Uploaded by {video.channel}."),
            "channelTitle": html.escape(video.channel),
            "liveBroadcastContent": "none",
            "publishTime": published,
        }
    return item
