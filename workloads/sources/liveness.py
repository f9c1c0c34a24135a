"""Is a video still there? A pure reading of one watch-page answer: status code and body in, verdict out.

Only strong evidence makes a video dead (a 404, a 410, or the page that says it is unavailable): the stale-video
pack deletes what this calls dead, so anything unclear (throttling, server errors, odd statuses, a page cut short)
asks for a retry.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

# What a 200 watch page of a removed or blocked video carries (YouTube's player status), searched as a substring
# so callers with a large body can test for it without parsing HTML.
UNAVAILABLE_MARKER = '"playabilityStatus":{"status":"ERROR","reason":"Video unavailable"'

Outcome = Literal["alive", "dead", "retry"]


class Liveness(NamedTuple):
    """A verdict and why: ("dead", "404"), ("retry", "503"), ("alive", None)."""

    verdict: Outcome
    reason: str | None


def classify(status: int, body: str) -> Liveness:
    """Judge one answer of a watch page."""
    if status in (404, 410):
        return Liveness("dead", str(status))
    if status == 429 or status >= 500:
        return Liveness("retry", str(status))
    if 200 <= status < 300:
        if UNAVAILABLE_MARKER in body:
            return Liveness("dead", "unavailable page")
        if not body[-64:].rstrip().lower().endswith("</html>"):  # cut short on the way: it proves nothing
            return Liveness("retry", "incomplete page")
        return Liveness("alive", None)
    # 3xx (consent walls, sign-in redirects), 401/403: not proof of anything about the video itself.
    return Liveness("retry", f"unexpected {status}")
