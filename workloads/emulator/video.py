"""The emulated video site: /oembed and /watch pages.

A watch page is rendered once per video and kept (an lru_cache of encoded bytes), because the stale-video
benchmark checks thousands of pages per second and most of its cost must be HTTP, not templating. Pages are
1-3 KB like trimmed real ones: og:title, a duration meta, the channel, related links <a href="/watch?v=ID">,
and the player status. Dead videos answer 404 or 410, or 200 with the "Video unavailable" player status;
unknown or malformed ids get that unavailable page too, as on the real site.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache

from aiohttp import web

from workloads.emulator import youtube
from workloads.emulator.ratelimit import Verdict
from workloads.emulator.state import STATE, json_answer
from workloads.sources.liveness import UNAVAILABLE_MARKER
from workloads.sources.urls import video_id_from_url
from workloads.world import World

_HTML = "text/html"
_SITE = "https://www.youtube.com"
_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} - YouTube</title>
<meta property="og:site_name" content="YouTube"><meta property="og:url" content="{site}/watch?v={id}">
<meta property="og:title" content="{title}"><meta property="og:type" content="video.other">
<meta property="og:image" content="https://i.ytimg.com/vi/{id}/hqdefault.jpg">
<meta itemprop="duration" content="{duration}"><link rel="canonical" href="{site}/watch?v={id}">
</head><body><div id="player" data-video-id="{id}"></div>
<div id="owner"><a class="channel" href="/@{handle}">{channel}</a></div>
<div id="description">{title}. Uploaded by {channel}. Like and subscribe for more.</div>
<div id="related">
{related}
</div>
<script>var ytInitialPlayerResponse = {{"playabilityStatus":{{"status":"OK","playableInEmbed":true}},\
"videoDetails":{{"videoId":"{id}","lengthSeconds":"{seconds}"}}}};</script></body></html>
"""
_RELATED = '<div class="related-item"><a href="/watch?v={id}" class="related-link">Up next: {id}</a></div>'
_UNAVAILABLE = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>YouTube</title></head>
<body><div id="player"><div class="error">Video unavailable</div>
<div class="reason">This video isn't available anymore</div></div>
<script>var ytInitialPlayerResponse = {{{UNAVAILABLE_MARKER},"errorScreen":{{}}}};</script></body></html>
"""
_GONE = {"404": (404, "<!DOCTYPE html><html><title>404 Not Found</title><body>Not Found</body></html>"),
         "410": (410, "<!DOCTYPE html><html><title>410 Gone</title><body>Gone</body></html>")}  # fmt: skip


async def handle_watch(request: web.Request) -> web.Response:
    """GET /watch?v=ID"""
    vid = request.query.get("v")
    if not vid:
        return web.Response(status=400, text="Bad Request: missing v", content_type=_HTML)
    status, body = render_watch(request.app[STATE].world, vid)
    return web.Response(status=status, body=body, content_type=_HTML, charset="utf-8")


async def handle_oembed(request: web.Request) -> web.Response:
    """GET /oembed?url=<watch url>&format=json; 404 for gone or unknown videos, 401 for unavailable ones."""
    url = request.query.get("url", "")
    vid = video_id_from_url(url)
    if vid is None:
        return web.Response(status=400, text="Bad Request")
    if request.query.get("format", "json") != "json":
        return web.Response(status=501, text="Not Implemented")
    status, body = render_oembed(request.app[STATE].world, vid)
    if status != 200:
        return web.Response(status=status, text="Not Found" if status == 404 else "Unauthorized")
    return web.Response(body=body, content_type="application/json")


@lru_cache(maxsize=131_072)
def render_watch(world: World, vid: str) -> tuple[int, bytes]:
    video = world.video(vid)
    if video is None or video.status == "unavailable":
        return 200, _UNAVAILABLE.encode()
    if video.status in _GONE:
        status, page = _GONE[video.status]
        return status, page.encode()
    minutes, seconds = divmod(video.duration_s, 60)
    hours, minutes = divmod(minutes, 60)
    page = _PAGE.format(
        site=_SITE,
        id=video.video_id,
        title=html.escape(video.title),
        channel=html.escape(video.channel),
        handle=video.channel.replace(" ", ""),
        duration=f"PT{hours}H{minutes}M{seconds}S" if hours else f"PT{minutes}M{seconds}S",
        seconds=video.duration_s,
        related="\n".join(_RELATED.format(id=r) for r in video.related),
    )
    return 200, page.encode()


@lru_cache(maxsize=65_536)
def render_oembed(world: World, vid: str) -> tuple[int, bytes]:
    video = world.video(vid)
    if video is None or video.status in ("404", "410"):
        return 404, b""
    if video.status == "unavailable":
        return 401, b""
    handle = video.channel.replace(" ", "")
    body = {
        "title": video.title,
        "author_name": video.channel,
        "author_url": f"{_SITE}/@{handle}",
        "type": "video",
        "height": 113,
        "width": 200,
        "version": "1.0",
        "provider_name": "YouTube",
        "provider_url": f"{_SITE}/",
        "thumbnail_height": 360,
        "thumbnail_width": 480,
        "thumbnail_url": f"https://i.ytimg.com/vi/{video.video_id}/hqdefault.jpg",
        "html": f'<iframe width="200" height="113" src="{_SITE}/embed/{video.video_id}?feature=oembed" '
        'frameborder="0" allowfullscreen title="' + html.escape(video.title) + '"></iframe>',
    }
    return 200, json.dumps(body).encode()


# How the video site and its Data API answer before a handler runs (app.FamilyRules); the Data API's own
# answers live in youtube.


def unauthorized(path: str) -> web.Response:
    return json_answer(youtube.unregistered())


def token_refused(path: str) -> web.Response:
    return json_answer(youtube.key_invalid())


def throttled(path: str, verdict: Verdict) -> web.Response:
    if path.startswith("/youtube/"):
        return json_answer(youtube.throttled(verdict))
    return web.Response(status=429, text="Too Many Requests")


def rate_headers(path: str, verdict: Verdict) -> dict[str, str]:
    if path.startswith("/youtube/"):
        return youtube.rate_headers(verdict)
    # The site sends no rate headers unless it throttles.
    return {} if verdict.allowed else verdict.headers()
