"""One liveness check over HTTP: same-origin redirects followed by hand, bodies read only up to a bound.

aiohttp's own redirect following is off: it would follow a redirect to any host (the instance metadata address
on AWS) and judge the video by whatever answered there. `workloads.sources.redirects` says which hop to take.

A body is read in chunks through a `PageScan`, never held whole: a 2xx page is scanned until the player status
goes by, then drained unscanned to its end if its Content-Length says it ends within `max_body_bytes` (a real
watch page is 170-520 KB: draining it costs less than a new connection, as bench/stale_videos.py measured, see
docs/api-video.md); any other answer (its status decides) is read only up to `DRAIN_BYTES`, so that
the connection can go back to the pool when the body is small. A body left unread closes its connection instead:
the next request on it would otherwise read the rest of this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import aiohttp
from aiolimiter import AsyncLimiter
from yarl import URL

from workloads.sources.liveness import Liveness, PageScan, classify_scan
from workloads.sources.redirects import MAX_REDIRECTS, REDIRECT_STATUSES, after_redirects, next_hop

MAX_BODY_BYTES = 2 * 1024 * 1024  # real watch pages run to about 1 MB; the player status comes well before the end
DRAIN_BYTES = 64 * 1024  # a body read this far to keep its connection (error pages, redirects, small pages)
_CHUNK_BYTES = 16 * 1024
_DRAIN_CHUNK_BYTES = 256 * 1024  # the rest of a judged page, read only to keep the connection


class Answer(NamedTuple):
    """The verdict on one URL, the last status and headers (for a 429's Retry-After), and whether asking again
    within this sweep could change anything (a redirect elsewhere will not go away in a second)."""

    liveness: Liveness
    status: int
    headers: Mapping[str, str]
    final: bool


async def fetch_liveness(
    session: aiohttp.ClientSession,
    url: str,
    limiter: AsyncLimiter | None,
    max_redirects: int = MAX_REDIRECTS,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Answer:
    """Ask for `url` (and its same-origin redirects); raises aiohttp.ClientError or TimeoutError as a GET does."""
    chain = [URL(url)]
    statuses: list[int] = []  # of the hops taken
    while True:
        if limiter is not None:  # every hop is one more request to the same host
            await limiter.acquire()
        async with session.get(chain[-1], allow_redirects=False) as response:
            if response.status not in REDIRECT_STATUSES:
                return await _judge(response, statuses, max_body_bytes)
            await _read(response, DRAIN_BYTES)
        hop = next_hop(chain, response.headers.get(aiohttp.hdrs.LOCATION), max_redirects)
        if isinstance(hop, Liveness):
            return Answer(hop, response.status, response.headers, True)
        chain.append(hop)
        statuses.append(response.status)


async def _judge(response: aiohttp.ClientResponse, statuses: list[int], max_body_bytes: int) -> Answer:
    """The answer at the end of the chain: its status, and for a 2xx what its body says."""
    page = 200 <= response.status < 300
    scan = await _read(response, max_body_bytes if page else DRAIN_BYTES)
    judged = classify_scan(response.status, scan)
    verdict = after_redirects(judged, statuses)
    # A page over the bound, or a 404 behind a temporary redirect, will be the same in a second.
    final = verdict != judged or (page and not scan.ended and scan.found is None)
    return Answer(verdict, response.status, response.headers, final)


async def _read(response: aiohttp.ClientResponse, limit: int) -> PageScan:
    """Feed the body to a scan until it ends or `limit` bytes were read. Once the scan has settled liveness the
    rest is only drained (not scanned) when the answer says it ends within `limit`: reading 200 KB more costs
    less than a new connection (a new TLS handshake on the real site); a longer or unsized rest is dropped."""
    scan = PageScan()
    while chunk := await response.content.read(_CHUNK_BYTES if scan.found is None else _DRAIN_CHUNK_BYTES):
        scan.feed(chunk)
        if scan.size > limit or (scan.found is not None and not _ends_within(response, limit)):
            response.close()  # the rest stays unread: drop the connection rather than return it to the pool
            return scan
    scan.end()
    return scan


def _ends_within(response: aiohttp.ClientResponse, limit: int) -> bool:
    length = response.content_length
    return length is not None and length <= limit
