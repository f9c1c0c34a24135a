"""The emulated site's watch pages, rendered from the world and shaped as the real site's (docs/api-video.md).

A watch page answers 200 whatever the video's state, as the real one does, and says the state in the player's
`ytInitialPlayerResponse.playabilityStatus`: OK, ERROR (removed, or an id that is no video), LOGIN_REQUIRED
(private: its text in `messages`; age-gated: a `reason` and `desktopLegacyAgeGateReason`), UNPLAYABLE (a region
block; a live stream whose recording is gone, `isLiveContent` true). The texts follow the viewer's language (`hl`
or Accept-Language: en, de, fr), so a client that reads words instead of statuses is caught out. Videos whose
link is dead in another way answer 404 or 410.

Two page weights (EmulatorState.page_weight):
- "realistic" (the default): 170-520 KB like real pages: a big head of inline scripts, the player response, then
  `var ytInitialData = {...}` whose `secondaryResults` lists the related videos as `lockupViewModel` and
  `compactVideoRenderer` entries among mixes and playlists, and no related anchors at all. Pages are assembled per
  request from small per-video parts (an lru_cache of a few thousand, ~10 KB each) and one shared filler of
  1 KB script blocks sliced by memoryview, so memory stays bounded whatever the world's size.
- "light": 1-3 KB pages with related `<a href="/watch?v=">` anchors, for speed-only unit tests.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any

from workloads.emulator.state import PageWeight
from workloads.world import World, WorldVideo
from workloads.world.hashing import h64

MIN_PAGE_BYTES, MAX_PAGE_BYTES = 170 * 1024, 520 * 1024
_HTML = "text/html"
_SITE = "https://www.youtube.com"
_BLOCK = 1024  # one filler script block
LANGS = ("en", "de", "fr")
# The player's words per language: (status texts) as the site localizes them.
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "unavailable": "Video unavailable",
        "removed": "This video isn't available anymore",
        "private": "Private video",
        "private_message": "This is a private video. Please sign in to verify that you may see it.",
        "age": "Sign in to confirm your age",
        "age_sub": "This video may be inappropriate for some users.",
        "region": "The uploader has not made this video available in your country",
        "recording": "This live stream recording is not available.",
    },
    "de": {
        "unavailable": "Video nicht verfügbar",
        "removed": "Dieses Video ist nicht mehr verfügbar",
        "private": "Privates Video",
        "private_message": "Dies ist ein privates Video. Melde dich an, um zu bestätigen, dass du es ansehen darfst.",
        "age": "Melde dich an, um dein Alter zu bestätigen",
        "age_sub": "Dieses Video ist möglicherweise für einige Nutzer ungeeignet.",
        "region": "Der Uploader hat dieses Video in deinem Land nicht verfügbar gemacht",
        "recording": "Die Aufzeichnung dieses Livestreams ist nicht verfügbar.",
    },
    "fr": {
        "unavailable": "Vidéo non disponible",
        "removed": "Cette vidéo n'est plus disponible",
        "private": "Vidéo privée",
        "private_message": "Cette vidéo est privée. Veuillez vous connecter pour vérifier que vous pouvez la voir.",
        "age": "Connectez-vous pour confirmer votre âge",
        "age_sub": "Cette vidéo peut être inappropriée pour certains utilisateurs.",
        "region": "L'auteur de l'envoi n'a pas rendu cette vidéo disponible dans votre pays",
        "recording": "L'enregistrement de cette diffusion en direct n'est pas disponible.",
    },
}
_GONE = {"404": (404, "<!DOCTYPE html><html><title>404 Not Found</title><body>Not Found</body></html>"),
         "410": (410, "<!DOCTYPE html><html><title>410 Gone</title><body>Gone</body></html>")}  # fmt: skip


def render_watch(world: World, vid: str, weight: PageWeight = "realistic", lang: str = "en") -> tuple[int, bytes]:
    """(status, body) of /watch?v=vid."""
    video = world.video(vid)
    if video is not None and video.status in _GONE:
        status, page = _GONE[video.status]
        return status, page.encode()
    if weight == "light":
        return 200, _light_page(world, vid, lang)
    head, player, data, blocks = _page_parts(world, vid, lang)
    mid = blocks * 45 // 100
    between = blocks * 15 // 100
    parts = (head, _filler(0, mid), player, _filler(mid, between), data, _filler(mid + between, blocks - mid - between))
    return 200, b"".join((*parts, b"</body></html>\n"))


# --- the player's status --------------------------------------------------------------------------------------


def _kind(video: WorldVideo | None) -> str:
    """What the page shows: ok, removed, private, age-restricted, region-blocked or recording-unavailable."""
    if video is None or video.status == "unavailable":
        return "removed"
    if video.status in ("private", "recording-unavailable"):
        return video.status
    return video.restriction or "ok"


def _error_screen(reason: str, subreason: str | None = None) -> dict[str, Any]:
    screen: dict[str, Any] = {"reason": {"simpleText": reason}, "icon": {"iconType": "ERROR_OUTLINE"}}
    if subreason is not None:
        screen["subreason"] = {"runs": [{"text": subreason}]}
    screen["thumbnail"] = {"thumbnails": [{"url": "//s.ytimg.com/yts/img/meh7-vflGevej7.png", "width": 140}]}
    return {"playerErrorMessageRenderer": screen}


def playability(kind: str, lang: str) -> dict[str, Any]:
    """The `playabilityStatus` object of a page of this kind, in this language."""
    t = _TEXT[lang]
    context = {"contextParams": "Q0FFU0FnZ0I="}
    if kind == "ok":
        return {"status": "OK", "playableInEmbed": True, "miniplayer": {"miniplayerRenderer": {}}, **context}
    if kind == "removed":
        return {
            "status": "ERROR",
            "reason": t["unavailable"],
            "errorScreen": _error_screen(t["unavailable"], t["removed"]),
            **context,
        }
    if kind == "private":
        screen = _error_screen(t["private"])
        return {
            "status": "LOGIN_REQUIRED",
            "messages": [t["private_message"]],
            "errorScreen": screen,
            "playableInEmbed": False,
            **context,
        }
    if kind == "age-restricted":
        screen = _error_screen(t["age"], t["age_sub"])
        return {
            "status": "LOGIN_REQUIRED",
            "reason": t["age"],
            "errorScreen": screen,
            "desktopLegacyAgeGateReason": 1,
            **context,
        }
    if kind == "region-blocked":
        return {
            "status": "UNPLAYABLE",
            "reason": t["unavailable"],
            "errorScreen": _error_screen(t["unavailable"], t["region"]),
            **context,
        }
    return {"status": "UNPLAYABLE", "reason": t["recording"], "errorScreen": _error_screen(t["recording"]), **context}


def _player_response(video: WorldVideo | None, kind: str, lang: str) -> dict[str, Any]:
    player: dict[str, Any] = {
        "responseContext": {"serviceTrackingParams": [{"service": "CSI", "params": [{"key": "c", "value": "WEB"}]}]},
        "playabilityStatus": playability(kind, lang),
    }
    if video is None or kind in ("removed", "private"):  # nothing about the video is shown
        player["trackingParams"] = "CAAQu2kiEwjYv9"
        return player
    if kind == "ok":
        player["streamingData"] = {
            "expiresInSeconds": "21540",
            "formats": [_format(video, 18)],
            "adaptiveFormats": [_format(video, n) for n in (137, 248, 140, 251)],
        }
    player["videoDetails"] = {
        "videoId": video.video_id,
        "title": video.title,
        "lengthSeconds": str(video.duration_s),
        "channelId": _channel_id(video),
        "isOwnerViewing": False,
        "shortDescription": f"{video.title}. Uploaded by {video.channel}.",
        "isCrawlable": True,
        "author": video.channel,
        "isPrivate": False,
        "isLiveContent": kind == "recording-unavailable",
    }
    renderer: dict[str, Any] = {"title": {"simpleText": video.title}, "isFamilySafe": kind != "age-restricted"}
    renderer["availableCountries"] = ["CA", "GB"] if kind == "region-blocked" else ["CA", "GB", "US"]
    player["microformat"] = {"playerMicroformatRenderer": renderer}
    return player


def _format(video: WorldVideo, itag: int) -> dict[str, Any]:
    return {
        "itag": itag,
        "mimeType": 'video/mp4; codecs="avc1.4d401e"',
        "bitrate": 400_000 + itag * 1000,
        "signatureCipher": f"s=AOq0QJ8wRQIh{video.video_id}{itag}&sp=sig&url=https://rr1---sn.googlevideo.com/videoplayback",
        "approxDurationMs": str(video.duration_s * 1000),
    }


def _channel_id(video: WorldVideo) -> str:
    return f"UC{h64(7, 'channel-id', video.channel) % (1 << 120):030x}"[:24]


# --- the related column (ytInitialData) ----------------------------------------------------------------------


def _lockup(world: World, vid: str, n: int) -> dict[str, Any]:
    other = world.video(vid)
    title = other.title if other is not None else vid
    metadata = {"lockupMetadataViewModel": {"title": {"content": title}, "image": {"decoratedAvatarViewModel": {}}}}
    image = {
        "thumbnailViewModel": {
            "image": {"sources": [{"url": f"https://i.ytimg.com/vi/{vid}/hqdefault.jpg", "width": 168}]}
        }
    }
    return {
        "lockupViewModel": {
            "contentImage": image,
            "metadata": metadata,
            "contentId": vid,
            "contentType": "LOCKUP_CONTENT_TYPE_VIDEO",
            "rendererContext": {"loggingContext": {"loggingDirectives": {"trackingParams": f"CK{n}"}}},
        }
    }


def _compact(world: World, vid: str) -> dict[str, Any]:
    other = world.video(vid)
    title, channel = (other.title, other.channel) if other is not None else (vid, "")
    endpoint = {
        "commandMetadata": {"webCommandMetadata": {"url": f"/watch?v={vid}"}},
        "watchEndpoint": {"videoId": vid},
    }
    renderer = {"videoId": vid, "thumbnail": {"thumbnails": [{"url": f"https://i.ytimg.com/vi/{vid}/hqdefault.jpg"}]}}
    renderer |= {
        "title": {"simpleText": title},
        "longBylineText": {"runs": [{"text": channel}]},
        "navigationEndpoint": endpoint,
    }
    return {"compactVideoRenderer": renderer}


def _not_videos(video: WorldVideo) -> list[dict[str, Any]]:
    """Entries of the column that are no related video: a mix, a playlist and the feed's continuation."""
    mix = {"contentId": f"RD{video.video_id}", "contentType": "LOCKUP_CONTENT_TYPE_PLAYLIST", "metadata": {}}
    playlist = {"contentId": f"PL{video.video_id * 3}"[:34], "contentType": "LOCKUP_CONTENT_TYPE_PLAYLIST"}
    radio = {"playlistId": f"RD{video.video_id}", "navigationEndpoint": {"watchEndpoint": {"videoId": video.video_id}}}
    more = {"continuationItemRenderer": {"continuationEndpoint": {"continuationCommand": {"token": "CBQSExIL"}}}}
    return [{"lockupViewModel": mix}, {"lockupViewModel": playlist}, {"compactRadioRenderer": radio}, more]


def _initial_data(world: World, video: WorldVideo | None, vid: str, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {"responseContext": {"webResponseContextExtensionData": {"hasDecorated": True}}}
    if video is None or kind in ("removed", "private"):
        data["contents"] = {"twoColumnWatchNextResults": {"results": {"results": {"contents": []}}}}
        data["currentVideoEndpoint"] = {"watchEndpoint": {"videoId": vid}}
        return data
    entries = [_lockup(world, r, n) if n % 2 == 0 else _compact(world, r) for n, r in enumerate(video.related)]
    others = _not_videos(video)
    entries[2:2] = others[:2]  # a mix and a playlist among the videos, as the real column has
    entries += others[2:]
    primary: list[dict[str, Any]] = [{"videoPrimaryInfoRenderer": {"title": {"runs": [{"text": video.title}]}}}]
    primary.append(
        {
            "videoSecondaryInfoRenderer": {
                "owner": {"videoOwnerRenderer": {"title": {"runs": [{"text": video.channel}]}}}
            }
        }
    )
    autoplay = {
        "autoplay": {"sets": [{"mode": "NORMAL", "autoplayVideo": {"watchEndpoint": {"videoId": video.related[0]}}}]}
    }
    data["contents"] = {
        "twoColumnWatchNextResults": {
            "results": {"results": {"contents": primary}},
            "secondaryResults": {"secondaryResults": {"results": entries}},
            "autoplay": autoplay,
        }
    }
    data["currentVideoEndpoint"] = {"watchEndpoint": {"videoId": video.video_id}}
    end_screen = [{"endScreenVideoRenderer": {"videoId": r}} for r in video.related[:4]]
    data["playerOverlays"] = {
        "playerOverlayRenderer": {"endScreen": {"watchNextEndScreenRenderer": {"results": end_screen}}}
    }
    data["engagementPanels"] = [{"engagementPanelSectionListRenderer": {"panelIdentifier": "comment-item-section"}}]
    return data


# --- assembling pages ---------------------------------------------------------------------------------------


def _head(world: World, video: WorldVideo | None, vid: str, kind: str, lang: str) -> str:
    config = {"HL": lang, "GL": "US", "INNERTUBE_CLIENT_NAME": "WEB", "INNERTUBE_CLIENT_VERSION": "2.20261201.00.00"}
    head = [
        f'<!DOCTYPE html><html style="font-size: 10px;font-family: Roboto, Arial, sans-serif;" lang="{lang}">',
        '<head><script nonce="ebbflowNonce">var ytcfg={d:function(){return window.yt&&yt.config_||ytcfg.data_||'
        f"(ytcfg.data_={{}})}}}};ytcfg.set({json.dumps(config)});</script>",
    ]
    if video is None or kind in ("removed", "private"):
        head.append("<title> - YouTube</title>")
    else:
        title = html.escape(video.title)
        head += [
            f'<title>{title} - YouTube</title><meta name="title" content="{title}">',
            f'<meta property="og:site_name" content="YouTube"><meta property="og:url" content="{_SITE}/watch?v={vid}">',
            f'<meta property="og:title" content="{title}"><meta property="og:type" content="video.other">',
            f'<meta property="og:image" content="https://i.ytimg.com/vi/{vid}/hqdefault.jpg">',
            f'<link rel="alternate" type="application/json+oembed" href="{_SITE}/oembed?format=json&amp;url='
            f'https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3D{vid}" title="{title}">',
            f'<link rel="canonical" href="{_SITE}/watch?v={vid}">',
        ]
    return "\n".join(head) + "\n"


def _microdata(video: WorldVideo | None, kind: str) -> str:
    """The legacy schema.org block real pages keep in the body (the duration's home)."""
    if video is None or kind in ("removed", "private"):
        return ""
    return (
        '<div id="watch7-content" class="watch-main-col" itemscope itemtype="http://schema.org/VideoObject">'
        f'<meta itemprop="name" content="{html.escape(video.title)}">'
        f'<meta itemprop="duration" content="{_iso_duration(video.duration_s)}"></div>\n'
    )


def _iso_duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"PT{hours}H{minutes}M{seconds}S" if hours else f"PT{minutes}M{seconds}S"


def _script(name: str, value: dict[str, Any]) -> str:
    # As the site writes it: "<" escaped inside the JSON, so no "</script>" can end the block early.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script nonce="ebbflowNonce">var {name} = {text};</script>\n'


@lru_cache(maxsize=4096)
def _page_parts(world: World, vid: str, lang: str) -> tuple[bytes, bytes, bytes, int]:
    """A realistic page's own parts (head, player script, data script) and how many filler blocks it takes."""
    video = world.video(vid)
    kind = _kind(video)
    head = (_head(world, video, vid, kind, lang) + '</head><body dir="ltr">\n').encode()
    player = _script("ytInitialPlayerResponse", _player_response(video, kind, lang)) + _microdata(video, kind)
    data = _script("ytInitialData", _initial_data(world, video, vid, kind)).encode()
    size = MIN_PAGE_BYTES + h64(world.config.seed, "page-bytes", vid) % (MAX_PAGE_BYTES - MIN_PAGE_BYTES)
    own = len(head) + len(player.encode()) + len(data)
    return head, player.encode(), data, max(0, size - own) // _BLOCK


def _filler_bytes(blocks: int) -> bytes:
    """`blocks` script blocks of exactly _BLOCK bytes each, standing in for the site's inline player code."""
    out = []
    for n in range(blocks):
        block = f'<script nonce="ebbflowNonce">(function(){{var b{n}="'
        end = f'";window.ytbase_{n}=b{n}.length}})();</script>\n'
        words = f"yt.player.base.{n:06d}.module " * 40
        out.append(block + words[: _BLOCK - len(block) - len(end)] + end)
    return "".join(out).encode()


_FILLER = memoryview(_filler_bytes(MAX_PAGE_BYTES // _BLOCK))


def _filler(first: int, count: int) -> memoryview:
    return _FILLER[first * _BLOCK : (first + count) * _BLOCK]


@lru_cache(maxsize=65_536)
def _light_page(world: World, vid: str, lang: str) -> bytes:
    """A 1-3 KB page: the old trimmed shape, related videos as anchors, the same player status."""
    video = world.video(vid)
    kind = _kind(video)
    player = playability(kind, lang)
    body = [_head(world, video, vid, kind, lang), '</head><body><div id="player"></div>\n', _microdata(video, kind)]
    if video is not None and kind not in ("removed", "private"):
        body.append(
            "".join(f'<div class="related-item"><a href="/watch?v={r}">Up next</a></div>\n' for r in video.related)
        )
        details = {
            "videoId": vid,
            "lengthSeconds": str(video.duration_s),
            "isLiveContent": kind == "recording-unavailable",
        }
        body.append(_script("ytInitialPlayerResponse", {"playabilityStatus": player, "videoDetails": details}))
    else:
        body.append(_script("ytInitialPlayerResponse", {"playabilityStatus": player}))
    return ("".join(body) + "</body></html>\n").encode()
