"""A watch page's answer -> what the packs need from it: liveness, title, duration and related videos. Pure.

Regexes rather than an HTML parser: the page is only searched for a few well-known tags, and a check must stay
cheap when the stale-video pack runs thousands per second.
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
    """Ids of the videos a page links to, in page order, each once, never the page's own video."""
    found: dict[str, None] = {}
    for match in _HREF.finditer(body):
        href = html.unescape(match.group(1))
        vid = video_id_from_url(_SITE + href if href.startswith("/") else href)
        if vid is not None and vid != video_id:
            found[vid] = None
    return tuple(found)


def _title(body: str) -> str | None:
    match = _OG_TITLE.search(body)
    return html.unescape(match.group(1)) if match else None


def _duration_s(body: str) -> int | None:
    match = _DURATION.search(body)
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds
