"""Checking many video URLs at once: a bounded connection pool, a cap and a rate limit per host, 429s
honoured, every answer classified by `workloads.sources.liveness.classify_scan`.

The checks run on one event loop per worker process, in a background thread, with one aiohttp session per
set of limits that lives as long as the process: its connector holds at most `concurrency` connections in
all and `per_host` to any one host, and keeps them open from one batch to the next (opening 64 connections
per batch cost a fifth of the throughput in bench/stale_videos.py). An aiolimiter leaky bucket per host,
also kept across batches, spaces the requests when `per_host_rate` is set, so one site is never hammered
however the batches are ordered. `close_checker()` stops the thread and closes the sessions.

Each URL is asked through `fetch.fetch_liveness`: redirects only within the URL's own origin, at most
`max_redirects` hops, and bodies read only up to `max_body_bytes`. A redirect elsewhere, a loop, too many hops or
a page over the bound give "retry" at once: asking again within the sweep would get the same answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiolimiter import AsyncLimiter

from workloads.sources.liveness import Liveness
from workloads.sources.ratelimit import wait_s
from workloads.sources.redirects import MAX_REDIRECTS
from workloads.stale_videos.fetch import MAX_BODY_BYTES, fetch_liveness

T = TypeVar("T")
# The video site's 429 page gives no advice (no Retry-After): back off 1 s, 2 s, 4 s... per attempt instead.
NO_ADVICE_BACKOFF_S = 1.0


@dataclass(frozen=True)
class CheckLimits:
    concurrency: int = 64  # connections in all, and checks in flight
    per_host: int = 32  # connections to one host
    per_host_rate: float = 0.0  # requests per second to one host; 0: no limit beyond per_host
    timeout_s: float = 10.0
    max_rate_wait_s: float = 60.0  # a 429 asking for longer leaves the URL for the next sweep
    attempts: int = 3  # per URL, for 429s, 5xx and connection errors
    max_redirects: int = MAX_REDIRECTS  # same-origin hops followed per URL
    max_body_bytes: int = MAX_BODY_BYTES  # of one 2xx body; memory stays at one chunk however far it is read

    def __post_init__(self) -> None:
        if self.max_redirects < 0:
            raise ValueError(f"max_redirects {self.max_redirects} must be 0 or more (0 follows no redirect)")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes {self.max_body_bytes} must be at least 1024 (a page's end is read)")


@dataclass
class _Pool:
    """What one set of limits keeps between batches: the session, the in-flight gate, the host buckets."""

    session: aiohttp.ClientSession
    gate: asyncio.Semaphore
    rate: float
    limiters: dict[str, AsyncLimiter] = field(default_factory=dict)

    def limiter(self, url: str) -> AsyncLimiter | None:
        if self.rate <= 0:
            return None
        host = urlsplit(url).netloc
        if host not in self.limiters:
            # A bucket of one second's worth: requests are spread out, never sent in bursts above the rate.
            self.limiters[host] = AsyncLimiter(self.rate, 1.0)
        return self.limiters[host]


class _CheckerLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pools: dict[CheckLimits, _Pool] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="ebbflow-url-checker", daemon=True)
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def pool(self, limits: CheckLimits) -> _Pool:  # called on the loop's thread
        if limits not in self.pools:
            connector = aiohttp.TCPConnector(limit=limits.concurrency, limit_per_host=limits.per_host)
            timeout = aiohttp.ClientTimeout(total=limits.timeout_s)
            session = aiohttp.ClientSession(connector=connector, timeout=timeout)
            self.pools[limits] = _Pool(session, asyncio.Semaphore(limits.concurrency), limits.per_host_rate)
        return self.pools[limits]

    def close(self) -> None:
        async def close_sessions() -> None:
            for pool in self.pools.values():
                await pool.session.close()

        self.run(close_sessions())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


_LOOP: _CheckerLoop | None = None
_LOOP_LOCK = threading.Lock()


def _checker() -> _CheckerLoop:
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None:
            _LOOP = _CheckerLoop()
        return _LOOP


def close_checker() -> None:
    """Close the sessions and stop the checker's thread (a worker's shutdown, a test's teardown)."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is not None:
            _LOOP.close()
            _LOOP = None


def check_urls(urls: Mapping[str, str], limits: CheckLimits) -> dict[str, Liveness]:
    """video id → its liveness; `urls` maps each id to the URL to check."""
    checker = _checker()
    return checker.run(_check_all(checker, urls, limits))


async def _check_all(checker: _CheckerLoop, urls: Mapping[str, str], limits: CheckLimits) -> dict[str, Liveness]:
    pool = checker.pool(limits)
    results = await asyncio.gather(*(_check(pool, url, limits) for url in urls.values()))
    return dict(zip(urls, results, strict=True))


async def _check(pool: _Pool, url: str, limits: CheckLimits) -> Liveness:
    # Only `concurrency` checks are in flight at once: a batch queued whole in the connector's wait list
    # costs more than the requests (the plain loop in bench/stale_videos.py ran 1.9x slower that way).
    async with pool.gate:
        return await _check_one(pool, url, limits)


async def _check_one(pool: _Pool, url: str, limits: CheckLimits) -> Liveness:
    result = Liveness("retry", "no answer")
    for attempt in range(limits.attempts):
        try:
            answer = await fetch_liveness(
                pool.session, url, pool.limiter(url), limits.max_redirects, limits.max_body_bytes
            )
        except (aiohttp.ClientError, TimeoutError) as err:
            result = Liveness("retry", f"{type(err).__name__}")
            continue
        result, status = answer.liveness, answer.status
        if result.verdict != "retry" or answer.final:
            return result
        pause = _pause_s(status, answer.headers, attempt)
        if pause > limits.max_rate_wait_s:
            return result
        await asyncio.sleep(pause)
    return result


def _pause_s(status: int, headers: Mapping[str, str], attempt: int) -> float:
    """How long to wait before asking again: a 429's advice, else a backoff; nothing after a 5xx or an error."""
    if status != 429:
        return 0.0
    advised = wait_s(status, headers, time.time())
    return advised if advised is not None else NO_ADVICE_BACKOFF_S * 2**attempt
