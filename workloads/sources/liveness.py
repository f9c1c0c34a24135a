"""Is a video still there? A pure reading of one watch-page answer: status code and body in, verdict out.

Only strong evidence makes a video dead (a 404, a 410, or a player status that says the video is gone): the
stale-video pack deletes what this calls dead, so anything unclear (throttling, server errors, odd statuses, a
page cut short, a sign-in wall we cannot place) asks for a retry. Every verdict must settle, though: a video that
is private or whose live recording is gone answers the same way every time, so it is judged, not retried.

The body is judged by the player's own status, never by its words: every watch page embeds
`ytInitialPlayerResponse`, whose `playabilityStatus` object says OK, ERROR, LOGIN_REQUIRED, UNPLAYABLE,
LIVE_STREAM_OFFLINE, CONTENT_CHECK_REQUIRED or AGE_*_REQUIRED whatever the page's language. `judge_player` maps
that object (read with a JSON decoder, a few KB) to a verdict; see docs/api-video.md for each case and why:

    OK                                   alive
    ERROR                                dead "unavailable page" (removed, terminated account, bad id)
    LOGIN_REQUIRED + age-gate marker     alive "age-restricted" (`desktopLegacyAgeGateReason`, as yt-dlp reads it)
    LOGIN_REQUIRED + `messages`, no      dead "private" (the private-video shape: its text sits in `messages`,
      `reason`                             the bot check and the age gate carry a `reason`)
    LOGIN_REQUIRED otherwise             retry "sign-in required" (the "not a bot" check: about us, not the video)
    AGE_VERIFICATION/CHECK_REQUIRED      alive "age-restricted"
    UNPLAYABLE, a live video             dead "recording not available" (a stream that ended without a recording)
    UNPLAYABLE otherwise                 alive "unplayable" (region block, members only: it plays for others)
    LIVE_STREAM_OFFLINE                  alive "live stream offline" (scheduled, not started)
    CONTENT_CHECK_REQUIRED               alive "content check" (plays after a click-through)
    anything else                        retry "player status X"

"A live video" is the player response's `videoDetails.isLiveContent` being true, which comes after the status
object, so only an UNPLAYABLE page is read that far (at most `PLAYER_WINDOW` bytes past the status).

Two readings share these rules. `classify` judges a whole body: the crawl parses the page afterwards, so a live
video's page cut short is "retry" (its related videos would be cut too). `PageScan` + `classify_scan` judge a body
fed chunk by chunk for the stale-video checker, holding a chunk and the player window at most, so a 500 KB real
page is read only up to its player status; both end in `judge_player`, and agree on every whole page.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, NamedTuple

# Where the player status begins, searched as a substring (bytes for the scan).
PLAYER_KEY = '"playabilityStatus":'
# What a removed video's page says, in the shape our older emulator and tests wrote it (kept for callers).
UNAVAILABLE_MARKER = '"playabilityStatus":{"status":"ERROR","reason":"Video unavailable"'
PLAYER_WINDOW = 64 * 1024  # bytes kept after PLAYER_KEY: the status object and, for UNPLAYABLE, videoDetails
_KEY = PLAYER_KEY.encode()
_CARRY = len(_KEY) - 1  # bytes kept so a key split between chunks is found
_TAIL = 64  # the end of a page, where "</html>" says it arrived whole
_DECODER = json.JSONDecoder()
_LIVE = re.compile(r'"isLiveContent":\s*(true|false)')
_PLAYER_END = "</script>"
_AGE_STATUSES = ("AGE_VERIFICATION_REQUIRED", "AGE_CHECK_REQUIRED")
_AGE_MARKERS = ("desktopLegacyAgeGateReason",)

Outcome = Literal["alive", "dead", "retry"]


class Liveness(NamedTuple):
    """A verdict and why: ("dead", "404"), ("retry", "503"), ("alive", None), ("alive", "age-restricted")."""

    verdict: Outcome
    reason: str | None


def judge_player(window: str, final: bool) -> Liveness | None:
    """The verdict of the player status that starts `window` (the text right after PLAYER_KEY); None while more
    of the page is needed and `final` is False (the object, or an UNPLAYABLE page's videoDetails, not read yet)."""
    window = window.lstrip()  # '"playabilityStatus": {' in pretty-printed JSON
    try:
        status_object, end = _DECODER.raw_decode(window)
    except ValueError:
        return Liveness("retry", "unreadable player status") if final else None
    if not isinstance(status_object, dict):
        return Liveness("retry", "unreadable player status")
    status = status_object.get("status")
    if status == "UNPLAYABLE":
        return _unplayable(window[end:], final)
    return _by_player_status(status, status_object)


def _by_player_status(status: Any, found: dict[str, Any]) -> Liveness:
    if status == "OK":
        return Liveness("alive", None)
    if status == "ERROR":
        return Liveness("dead", "unavailable page")
    if status in _AGE_STATUSES or (status == "LOGIN_REQUIRED" and any(m in found for m in _AGE_MARKERS)):
        return Liveness("alive", "age-restricted")
    if status == "LOGIN_REQUIRED":
        if "messages" in found and "reason" not in found:
            return Liveness("dead", "private")
        return Liveness("retry", "sign-in required")
    if status == "LIVE_STREAM_OFFLINE":
        return Liveness("alive", "live stream offline")
    if status == "CONTENT_CHECK_REQUIRED":
        return Liveness("alive", "content check")
    return Liveness("retry", f"player status {str(status)[:40]}")


def _unplayable(rest: str, final: bool) -> Liveness | None:
    """An UNPLAYABLE video is dead only if it is a live stream (whose recording is gone)."""
    end = rest.find(_PLAYER_END)  # the player response's own script: ytInitialData's videos come later
    live = _LIVE.search(rest, 0, end if end >= 0 else len(rest))
    if live is None and not final and end < 0:
        return None  # videoDetails may still come
    if live is not None and live.group(1) == "true":
        return Liveness("dead", "recording not available")
    return Liveness("alive", "unplayable")


def classify(status: int, body: str) -> Liveness:
    """Judge one whole answer of a watch page."""
    by_status = _by_status(status)
    if by_status is not None:
        return by_status
    at = body.find(PLAYER_KEY)
    complete = _ends_page(body[-_TAIL:].encode())
    if at >= 0:
        start = at + len(PLAYER_KEY)
        judged = judge_player(body[start : start + PLAYER_WINDOW], final=True)
        assert judged is not None  # final
        if not complete and (judged.verdict == "alive" or judged.reason == "unreadable player status"):
            return Liveness("retry", "incomplete page")  # the caller reads the rest of the page: it must be whole
        return judged
    if not complete:  # cut short on the way: it proves nothing
        return Liveness("retry", "incomplete page")
    return Liveness("alive", None)


class PageScan:
    """What a body fed chunk by chunk says about liveness; holds a key's length, the player window once the key
    went by (at most PLAYER_WINDOW bytes), and the last 64 bytes."""

    def __init__(self) -> None:
        self.size = 0  # bytes fed so far
        self.judged: Liveness | None = None  # the player status's verdict, once settled
        self.ended = False  # the whole body was fed
        self._carry = b""
        self._window: bytearray | None = None  # bytes after PLAYER_KEY, while the verdict is pending
        self._tail = b""

    @property
    def found(self) -> Outcome | None:
        """The player status's verdict once settled (None before)."""
        return self.judged.verdict if self.judged is not None else None

    def feed(self, chunk: bytes) -> None:
        if self.judged is None:
            self._look(chunk)
        self._tail = (self._tail + chunk[-_TAIL:])[-_TAIL:]
        self.size += len(chunk)

    def end(self) -> None:
        self.ended = True
        self._settle(final=True)

    @property
    def complete(self) -> bool:
        """The body ended, and it ended like an HTML page."""
        return self.ended and _ends_page(self._tail)

    def _look(self, chunk: bytes) -> None:
        if self._window is None:
            window = self._carry + chunk
            at = window.find(_KEY)
            if at < 0:
                self._carry = window[-_CARRY:]
                return
            self._window = bytearray(window[at + len(_KEY) :])
        else:
            self._window += chunk
        self._settle(final=len(self._window) >= PLAYER_WINDOW)

    def _settle(self, final: bool) -> None:
        if self._window is None or self.judged is not None:
            return
        text = bytes(self._window[:PLAYER_WINDOW]).decode("utf-8", errors="replace")
        self.judged = judge_player(text, final)
        if self.judged is not None:
            self._window = None  # settled: nothing more is kept


def classify_scan(status: int, scan: PageScan) -> Liveness:
    """Judge an answer from its status and what a scan of (part of) its body found."""
    by_status = _by_status(status)
    if by_status is not None:
        return by_status
    if scan.judged is not None:
        if scan.judged.reason == "unreadable player status" and scan.ended and not scan.complete:
            return Liveness("retry", "incomplete page")
        return scan.judged
    if scan.complete:
        return Liveness("alive", None)
    if not scan.ended:
        return Liveness("retry", f"page too large ({scan.size} bytes read)")
    return Liveness("retry", "incomplete page")


def _by_status(status: int) -> Liveness | None:
    """The verdict a status alone gives; None for a 2xx, whose body decides."""
    if status in (404, 410):
        return Liveness("dead", str(status))
    if status == 429 or status >= 500:
        return Liveness("retry", str(status))
    if 200 <= status < 300:
        return None
    # 3xx (consent walls, sign-in redirects), 401/403: not proof of anything about the video itself.
    return Liveness("retry", f"unexpected {status}")


def _ends_page(tail: bytes) -> bool:
    return tail.rstrip().lower().endswith(b"</html>")
