"""A watch page's answer -> what the packs need from it: liveness, title, duration and related videos. Pure.

Regexes rather than an HTML parser: the page is only searched for a few well-known tags, and a check must stay
cheap when the stale-video pack runs thousands per second.

Related videos: a real watch page renders none as links; its "up next" column is data in `var ytInitialData =
{...};`, under `secondaryResults`, each video an entry of the older `compactVideoRenderer` (whose first key is
its `videoId`) or the newer `lockupViewModel` (`contentId` with `contentType` LOCKUP_CONTENT_TYPE_VIDEO; the same
view model carries playlists and mixes with other content types, which are not videos). Only that stretch of
the page is searched (from `secondaryResults` to the next top-level key or the script's end), so the page's own
id (in `currentVideoEndpoint`), the end screen and the engagement panels never count; a 500 KB page costs a few
`str.find`s and regex scans, no JSON parse. Anchors (`<a href="/watch?v=...">`) are still read where a page has
them (old or trimmed pages). Both lists merge in page order, each id once, never the page's own.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from workloads.sources.liveness import Liveness, classify
from workloads.sources.urls import video_id_from_url

_HREF = re.compile(r'<a\s[^>]*?href="([^"]*?(?:watch\?v=|youtu\.be/|/shorts/)[^"]*)"', re.IGNORECASE)
_OG_TITLE = re.compile(r'<meta\s+property="og:title"\s+content="([^"]*)"', re.IGNORECASE)
_DURATION = re.compile(r'<meta\s+itemprop="duration"\s+content="PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?"', re.IGNORECASE)
_SITE = "https://www.youtube.com"
_INITIAL_DATA = ("var ytInitialData = ", 'window["ytInitialData"] = ')
_SECONDARY = '"secondaryResults":'
# What follows secondaryResults in ytInitialData (or ends its script): the related column stops before them.
_SECONDARY_ENDS = ('"playerOverlays":', '"engagementPanels":', "</script>")
_VIDEO_ID = r"([A-Za-z0-9_-]{11})"
_COMPACT = re.compile(r'"compactVideoRenderer":\{"videoId":"' + _VIDEO_ID + '"')
_LOCKUP = re.compile(r'"lockupViewModel":\{')
_CONTENT_ID = re.compile(r'"contentId":"' + _VIDEO_ID + '"')
_CONTENT_TYPE = re.compile(r'"contentType":"([A-Z_]+)"')


@dataclass(frozen=True, slots=True)
class WatchPage:
    """What one fetch of /watch?v=ID tells; title, duration and related are empty unless the video is alive."""

    video_id: str
    liveness: Liveness
    title: str | None = None
    duration_s: int | None = None
    related: tuple[str, ...] = ()


def parse_watch_page(video_id: str, status: int, body: str) -> WatchPage:
    """Read a watch page answer (any status)."""
    liveness = classify(status, body)
    if liveness.verdict != "alive":
        return WatchPage(video_id, liveness)
    title = _title(body)
    if title is None:  # every watch page has one: this is an error page or a proxy's, not the video's
        return WatchPage(video_id, Liveness("retry", "not a watch page (no og:title)"))
    return WatchPage(video_id, liveness, title, _duration_s(body), related_ids(video_id, body))


def related_ids(video_id: str, body: str) -> tuple[str, ...]:
    """Ids of the related videos a page lists (its embedded data and its anchors), in page order, each once,
    never the page's own video."""
    placed = sorted(_embedded_related(body) + _anchor_related(body))
    found = dict.fromkeys(vid for _, vid in placed if vid != video_id)
    return tuple(found)


def _anchor_related(body: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for match in _HREF.finditer(body):
        href = html.unescape(match.group(1))
        vid = video_id_from_url(_SITE + href if href.startswith("/") else href)
        if vid is not None:
            found.append((match.start(), vid))
    return found


def _embedded_related(body: str) -> list[tuple[int, str]]:
    """(position, id) of each video entry in ytInitialData's secondaryResults."""
    start, end = _secondary_results(body)
    if start < 0:
        return []
    found = [(m.start(), m.group(1)) for m in _COMPACT.finditer(body, start, end)]
    lockups = [m.start() for m in _LOCKUP.finditer(body, start, end)]
    for at, next_at in zip(lockups, [*lockups[1:], end], strict=True):
        content = _CONTENT_ID.search(body, at, next_at)
        kind = _CONTENT_TYPE.search(body, at, next_at)
        if content is not None and kind is not None and kind.group(1) == "LOCKUP_CONTENT_TYPE_VIDEO":
            found.append((at, content.group(1)))
    return found


def _secondary_results(body: str) -> tuple[int, int]:
    """Where the related column's data starts and ends in the page; (-1, -1) when it has none."""
    data = max(body.find(marker) for marker in _INITIAL_DATA)
    start = body.find(_SECONDARY, data) if data >= 0 else -1
    if start < 0:
        return -1, -1
    ends = (body.find(marker, start) for marker in _SECONDARY_ENDS)
    return start, min((at for at in ends if at >= 0), default=len(body))


def _title(body: str) -> str | None:
    match = _OG_TITLE.search(body)
    return html.unescape(match.group(1)) if match else None


def _duration_s(body: str) -> int | None:
    match = _DURATION.search(body)
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
