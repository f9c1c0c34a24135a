"""Is a video still there? A pure reading of one watch-page answer: status code and body in, verdict out.

Only strong evidence makes a video dead (a 404, a 410, or the page that says it is unavailable): the stale-video
pack deletes what this calls dead, so anything unclear (throttling, server errors, odd statuses, a page cut short)
asks for a retry.

Two readings share these rules. `classify` judges a whole body (the crawl parses the page afterwards, so a page
cut short proves nothing). `PageScan` + `classify_scan` judge a body fed chunk by chunk, in memory of one chunk
whatever the page's size, for the stale-video checker, which only asks "alive or dead?": the player's own status
(OK or "Video unavailable") settles that as soon as it goes by, so a 1 MB real watch page need not be read whole.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

# What a 200 watch page of a removed or blocked video carries (YouTube's player status), searched as a substring
# so callers with a large body can test for it without parsing HTML.
UNAVAILABLE_MARKER = '"playabilityStatus":{"status":"ERROR","reason":"Video unavailable"'
# What the watch page of a playable video carries in the same place.
PLAYABLE_MARKER = '"playabilityStatus":{"status":"OK"'
_MARKERS: tuple[tuple[bytes, Literal["alive", "dead"]], ...] = (
    (UNAVAILABLE_MARKER.encode(), "dead"),
    (PLAYABLE_MARKER.encode(), "alive"),
)
_CARRY = max(len(marker) for marker, _ in _MARKERS) - 1  # bytes kept so a marker split between chunks is found
_TAIL = 64  # the end of a page, where "</html>" says it arrived whole

Outcome = Literal["alive", "dead", "retry"]


class Liveness(NamedTuple):
    """A verdict and why: ("dead", "404"), ("retry", "503"), ("alive", None)."""

    verdict: Outcome
    reason: str | None


def classify(status: int, body: str) -> Liveness:
    """Judge one whole answer of a watch page."""
    by_status = _by_status(status)
    if by_status is not None:
        return by_status
    if UNAVAILABLE_MARKER in body:
        return Liveness("dead", "unavailable page")
    if not _ends_page(body[-_TAIL:].encode()):  # cut short on the way: it proves nothing
        return Liveness("retry", "incomplete page")
    return Liveness("alive", None)


class PageScan:
    """What a body fed chunk by chunk says about liveness; holds a marker's length and the last 64 bytes."""

    def __init__(self) -> None:
        self.size = 0  # bytes fed so far
        self.found: Literal["alive", "dead"] | None = None  # the player status, once seen
        self.ended = False  # the whole body was fed
        self._carry = b""
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if self.found is None:
            window = self._carry + chunk
            self.found = next((outcome for marker, outcome in _MARKERS if marker in window), None)
            self._carry = window[-_CARRY:]
        self._tail = (self._tail + chunk[-_TAIL:])[-_TAIL:]
        self.size += len(chunk)

    def end(self) -> None:
        self.ended = True

    @property
    def complete(self) -> bool:
        """The body ended, and it ended like an HTML page."""
        return self.ended and _ends_page(self._tail)


def classify_scan(status: int, scan: PageScan) -> Liveness:
    """Judge an answer from its status and what a scan of (part of) its body found."""
    by_status = _by_status(status)
    if by_status is not None:
        return by_status
    if scan.found == "dead":
        return Liveness("dead", "unavailable page")
    if scan.found == "alive" or scan.complete:
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
