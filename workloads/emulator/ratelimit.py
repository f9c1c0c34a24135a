"""Rate limits of the emulator: fixed windows per API family and per caller (token, else client IP).

Fixed windows aligned to multiples of the window length, like X's 15-minute windows: the reset time is the same
for everyone and can be announced in x-rate-limit-reset. Defaults are generous so benchmarks are never
throttled; tests set tiny limits to exercise the adapters' waiting.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Family = Literal["graph", "x", "video"]


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `requests` per `window_s` seconds per caller."""

    requests: int = 100_000
    window_s: float = 60.0


@dataclass(frozen=True, slots=True)
class RateLimits:
    """One limit per API family."""

    graph: Limit = Limit()
    x: Limit = Limit()
    video: Limit = Limit()

    def of(self, family: Family) -> Limit:
        limit: Limit = getattr(self, family)
        return limit


@dataclass(frozen=True, slots=True)
class Verdict:
    """The limiter's answer for one request, with what the rate-limit headers should say."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch_s: int
    retry_after_s: int

    def headers(self) -> dict[str, str]:
        headers = {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset_epoch_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class Limiter:
    """Counts requests per (family, caller) in the current window; not thread-safe (one event loop uses it)."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._windows: dict[tuple[Family, str], tuple[float, int]] = {}

    def take(self, family: Family, caller: str, units: int = 1) -> Verdict:
        """Charge `units` requests (a Graph batch counts each item) if they fit in the window."""
        limit = self._limits.of(family)
        now = self._clock()
        start = math.floor(now / limit.window_s) * limit.window_s
        window_start, used = self._windows.get((family, caller), (start, 0))
        if window_start != start:
            used = 0
        allowed = used + units <= limit.requests
        if allowed:
            used += units
        self._windows[(family, caller)] = (start, used)
        reset = start + limit.window_s
        return Verdict(
            allowed=allowed,
            limit=limit.requests,
            remaining=max(0, limit.requests - used),
            reset_epoch_s=math.ceil(reset),
            retry_after_s=max(1, math.ceil(reset - now)),
        )
