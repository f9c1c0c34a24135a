"""Checking many video URLs at once: a bounded connection pool, a cap and a rate limit per host, 429s
honoured, every answer classified by `workloads.sources.liveness.classify`.

One aiohttp session per batch: the connector holds at most `concurrency` connections in all and
`per_host` to any one host (keep-alive reuses them), and an aiolimiter leaky bucket per host spaces the
requests when `per_host_rate` is set, so one site is never hammered however the batch is ordered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiolimiter import AsyncLimiter

from workloads.sources.liveness import Liveness, classify
from workloads.sources.ratelimit import wait_s


@dataclass(frozen=True)
class CheckLimits:
    concurrency: int = 64  # connections in all
    per_host: int = 32  # connections to one host
    per_host_rate: float = 0.0  # requests per second to one host; 0: no limit beyond per_host
    timeout_s: float = 10.0
    max_rate_wait_s: float = 60.0  # a 429 asking for longer leaves the URL for the next sweep
    attempts: int = 3  # per URL, for 429s, 5xx and connection errors


@dataclass
class _Hosts:
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


def check_urls(urls: Mapping[str, str], limits: CheckLimits) -> dict[str, Liveness]:
    """video id → its liveness; `urls` maps each id to the URL to check. Runs its own event loop."""
    return asyncio.run(_check_all(urls, limits))


async def _check_all(urls: Mapping[str, str], limits: CheckLimits) -> dict[str, Liveness]:
    connector = aiohttp.TCPConnector(limit=limits.concurrency, limit_per_host=limits.per_host)
    timeout = aiohttp.ClientTimeout(total=limits.timeout_s)
    hosts = _Hosts(limits.per_host_rate)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        results = await asyncio.gather(*(_check(session, url, hosts, limits) for url in urls.values()))
    return dict(zip(urls, results, strict=True))


async def _check(session: aiohttp.ClientSession, url: str, hosts: _Hosts, limits: CheckLimits) -> Liveness:
    result = Liveness("retry", "no answer")
    for _attempt in range(limits.attempts):
        limiter = hosts.limiter(url)
        if limiter is not None:
            await limiter.acquire()
        try:
            async with session.get(url, allow_redirects=True) as response:
                body = await response.text(errors="replace")
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as err:
            result = Liveness("retry", f"{type(err).__name__}")
            continue
        result = classify(status, body)
        if result.verdict != "retry":
            return result
        pause = wait_s(status, headers, time.time()) if status == 429 else 0.0
        if pause is not None and pause > limits.max_rate_wait_s:
            return result
        await asyncio.sleep(pause or 0.0)
    return result
