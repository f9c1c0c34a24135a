"""Video links: the canonical id behind every form people paste, and the watch URL for an id.

One video shows up as watch?v=, youtu.be/, m., shorts/, embed/ and more; the index must store it once, so every
form maps to the same 11-character id. Anything else (other hosts, channel pages, malformed ids) gives None
rather than a guess: a wrong id would be checked, found dead and pollute the index.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_WATCH_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtube-nocookie.com",
     "www.youtube-nocookie.com"}
)  # fmt: skip
_SHORT_HOSTS = frozenset({"youtu.be", "www.youtu.be"})
_PATH_FORMS = frozenset({"shorts", "embed", "live", "v", "e"})
# URLs inside free text: with a scheme, or the bare hosts people type without one.
_URL_IN_TEXT = re.compile(r"(?:https?://|(?<![\w.])(?:www\.|m\.)?youtu(?:be\.com|\.be)/)[^\s<>\"']+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def video_id_from_url(url: str) -> str | None:
    """The video id a link points at, or None when it is not a link to one video."""
    text = url.strip()
    if not text.lower().startswith(("http://", "https://")):
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an invalid port or IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    candidate: str | None = None
    if host in _SHORT_HOSTS:
        candidate = segments[0] if segments else None
    elif host in _WATCH_HOSTS:
        if segments == ["watch"]:
            candidate = parse_qs(parts.query).get("v", [None])[0]
        elif len(segments) >= 2 and segments[0] in _PATH_FORMS:
            candidate = segments[1]
    return candidate if candidate is not None and _ID.fullmatch(candidate) else None


def video_ids_in(text: str, links: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Video ids in a post, each once, in order: its structured links first (they are expanded, unlike t.co
    links in tweet text), then the URLs found in the text."""
    found: dict[str, None] = {}
    candidates = [*links, *(m.group(0).rstrip(_TRAILING_PUNCTUATION) for m in _URL_IN_TEXT.finditer(text))]
    for candidate in candidates:
        vid = video_id_from_url(candidate)
        if vid is not None:
            found[vid] = None
    return list(found)


def watch_url(base_url: str, video_id: str) -> str:
    """The watch page of a video on a site (https://www.youtube.com in production, the emulator in tests)."""
    return f"{base_url.rstrip('/')}/watch?v={video_id}"
