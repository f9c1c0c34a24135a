"""The emulated video site's endpoints: /watch (pages from watch_render) and /oembed, and how the site and its
Data API answer before a handler runs (app.FamilyRules); shaped as the real site's (docs/api-video.md).
"""

from __future__ import annotations

import html
import json
from functools import lru_cache

from aiohttp import web

from workloads.emulator import youtube
from workloads.emulator.ratelimit import Verdict
from workloads.emulator.state import STATE, json_answer
from workloads.emulator.watch_render import LANGS, render_watch
from workloads.sources.urls import video_id_from_url
from workloads.world import World

_HTML = "text/html"
_SITE = "https://www.youtube.com"
_THROTTLED = (
    "<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head><body><h1>Sorry...</h1>"
    "<p>We're sorry... but your computer or network may be sending automated queries. To protect our users, "
    "we can't process your request right now.</p></body></html>"
)


async def handle_watch(request: web.Request) -> web.Response:
    """GET /watch?v=ID"""
    vid = request.query.get("v")
    if not vid:
        return web.Response(status=400, text="Bad Request: missing v", content_type=_HTML)
    state = request.app[STATE]
    status, body = render_watch(state.world, vid, state.page_weight, language(request))
    return web.Response(status=status, body=body, content_type=_HTML, charset="utf-8")


async def handle_oembed(request: web.Request) -> web.Response:
    """GET /oembed?url=<watch url>&format=json: 404 for removed or unknown videos, 403 for private ones."""
    url = request.query.get("url", "")
    vid = video_id_from_url(url)
    if vid is None:
        return web.Response(status=400, text="Bad Request")
    if request.query.get("format", "json") != "json":
        return web.Response(status=501, text="Not Implemented")
    status, body = render_oembed(request.app[STATE].world, vid)
    if status != 200:
        return web.Response(status=status, text="Not Found" if status == 404 else "Forbidden")
    return web.Response(body=body, content_type="application/json")


def language(request: web.Request) -> str:
    """The viewer's language among those the emulator speaks: `hl`, else Accept-Language's first tag."""
    asked = request.query.get("hl") or request.headers.get("Accept-Language") or ""
    tag = asked.split(",")[0].split(";")[0].split("-")[0].strip().lower()
    return tag if tag in LANGS else "en"


@lru_cache(maxsize=65_536)
def render_oembed(world: World, vid: str) -> tuple[int, bytes]:
    video = world.video(vid)
    if video is None or video.status in ("404", "410", "unavailable"):
        return 404, b""
    if video.status == "private":
        return 403, b""
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
    # The site's own "unusual traffic" page: HTML, and no Retry-After (it gives no advice on when to come back).
    return web.Response(status=429, text=_THROTTLED, content_type=_HTML)


def rate_headers(path: str, verdict: Verdict) -> dict[str, str]:
    if path.startswith("/youtube/"):
        return youtube.rate_headers(verdict)
    return {}  # the site sends no rate headers, throttling or not
