"""Which redirects a liveness check may follow, and what the answer at the end of them proves. Pure.

An answer is evidence about a video only when the video's own site gives it. So a redirect is followed only to
the same origin as the URL checked (scheme, host and port: https → http counts as another host), at most
`MAX_REDIRECTS` times, and never back to a URL already asked. Anything else (another host, which on AWS may be
the instance metadata address 169.254.169.254; a loop; too many hops; no or an unreadable Location) is never
requested and gives "retry": the video is kept and checked again next sweep.

At the end of a same-origin chain, "alive" stands. "Dead" stands only when every hop was permanent (301, 308:
"the video now lives there", so a 404 there is about the video). After a temporary hop (302, 303, 307: a consent
wall, a sign-in page, a "see other" resource) a 404 is about that other page, not the video: "retry".

URLs are yarl URLs, the parser aiohttp connects with, so the host checked here is the host requested.
"""

from __future__ import annotations

from collections.abc import Sequence

from yarl import URL

from workloads.sources.liveness import Liveness

MAX_REDIRECTS = 3  # a canonical-URL hop or two is normal; more is a loop in disguise or a trap
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})


def next_hop(chain: Sequence[URL], location: str | None, max_redirects: int = MAX_REDIRECTS) -> URL | Liveness:
    """Where a redirect answering `chain[-1]` leads (`chain[0]` is the URL checked), or the "retry" verdict."""
    if location is None or not location.strip():
        return Liveness("retry", "redirect without Location")
    try:
        target = chain[-1].join(URL(location.strip())).with_fragment(None)
    except ValueError:  # an out-of-range port, a malformed IPv6 literal
        return Liveness("retry", "unreadable redirect")
    if not _same_origin(target, chain[0]):
        return Liveness("retry", "redirect to another host")
    if any(_key(target) == _key(asked) for asked in chain):
        return Liveness("retry", "redirect loop")
    if len(chain) > max_redirects:
        return Liveness("retry", "too many redirects")
    return target


def after_redirects(verdict: Liveness, statuses: Sequence[int]) -> Liveness:
    """The verdict of the answer at the end of a same-origin chain whose hops answered `statuses`."""
    if verdict.verdict != "dead" or not statuses:
        return verdict
    if all(status in PERMANENT_STATUSES for status in statuses):
        return Liveness("dead", f"{verdict.reason} after a permanent redirect")
    return Liveness("retry", f"{verdict.reason} after a temporary redirect")


def _same_origin(url: URL, origin: URL) -> bool:
    if not url.absolute or url.scheme not in ("http", "https"):
        return False
    return _key(url)[:3] == _key(origin)[:3]


def _key(url: URL) -> tuple[str, str, int | None, str, str]:
    """What makes two URLs the same request: "https://H:443/x" is "https://h/x"."""
    return url.scheme, (url.host or "").lower(), url.port, url.raw_path, url.raw_query_string
