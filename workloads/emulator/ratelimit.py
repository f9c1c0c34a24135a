"""Rate limits of the emulator: fixed windows per API family and per caller (token, else client IP), and usage caps.

Fixed windows aligned to multiples of the window length, like X's 15-minute windows: the reset time is the same
for everyone and can be announced in x-rate-limit-reset. A usage cap is another thing: a number of requests per
caller over a long period (X's monthly cap of a product, the Data API's daily quota), after which the API says
the cap is spent rather than "come back in a minute". Defaults are generous and uncapped so benchmarks are never
throttled; tests set tiny limits or caps to exercise the adapters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Family = Literal["graph", "x", "video"]
MONTH_S = 30 * 86_400.0


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `requests` per `window_s` seconds per caller; and, when `cap` is set, at most `cap` requests per
    caller in each `cap_period_s` (a usage cap, refilled only when that long period ends)."""

    requests: int = 100_000
    window_s: float = 60.0
    cap: int | None = None
    cap_period_s: float = MONTH_S


@dataclass(frozen=True, slots=True)
class RateLimits:
    """One limit per API family, and which trend endpoints X's access tier serves.

    `x_trends` names the trend endpoints the tier has: "v2" (/2/trends/by/woeid) and "v1.1" (trends/place). The
    default is X's today: v2 only, v1.1 refused with 403 code 453 as the common tiers are; ("v1.1",) is older,
    wider access (to exercise the adapter's fallback), () a tier without trends (v2 answers 403 client-forbidden)."""

    graph: Limit = Limit()
    x: Limit = Limit()
    video: Limit = Limit()
    x_trends: tuple[str, ...] = ("v2",)

    def of(self, family: Family) -> Limit:
        limit: Limit = getattr(self, family)
        return limit


@dataclass(frozen=True, slots=True)
class Verdict:
    """The limiter's answer for one request, with what the rate-limit headers should say. `capped` means the
    caller's usage cap is spent (until `cap_reset_epoch_s`), whatever its window says."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch_s: int
    retry_after_s: int
    capped: bool = False
    cap_reset_epoch_s: int | None = None
    caller: str = ""  # the token (or address) charged: an API may word its refusal by whose limit it is

    def rate_limit_headers(self) -> dict[str, str]:
        """X's three headers, on every answer, throttled or not; X sends no Retry-After."""
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset_epoch_s),
        }

    def headers(self) -> dict[str, str]:
        """The x-rate-limit headers, and a Retry-After on a refusal (for APIs that send one)."""
        headers = self.rate_limit_headers()
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class Limiter:
    """Counts requests per (family, caller) in the current window and cap period; not thread-safe (one event
    loop uses it)."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self._limits = limits
        self._clock = clock
        self._windows: dict[tuple[Family, str], tuple[float, int]] = {}
        self._usage: dict[tuple[Family, str], tuple[float, int]] = {}

    @property
    def limits(self) -> RateLimits:
        return self._limits

    def take(self, family: Family, caller: str, units: int = 1) -> Verdict:
        """Charge `units` requests (a Graph batch counts each item) if they fit in the window and the cap."""
        limit = self._limits.of(family)
        now = self._clock()
        key = (family, caller)
        start, used = _current(self._windows.get(key), now, limit.window_s)
        cap_start, cap_used = _current(self._usage.get(key), now, limit.cap_period_s)
        capped = limit.cap is not None and cap_used + units > limit.cap
        allowed = not capped and used + units <= limit.requests
        if allowed:
            used += units
            cap_used += units
        self._windows[key] = (start, used)
        self._usage[key] = (cap_start, cap_used)
        reset = start + limit.window_s
        return Verdict(
            allowed=allowed,
            limit=limit.requests,
            remaining=max(0, limit.requests - used),
            reset_epoch_s=math.ceil(reset),
            retry_after_s=max(1, math.ceil(reset - now)),
            capped=capped,
            cap_reset_epoch_s=math.ceil(cap_start + limit.cap_period_s) if capped else None,
            caller=caller,
        )


def _current(counted: tuple[float, int] | None, now: float, period_s: float) -> tuple[float, int]:
    """(start, used) of the fixed period holding `now`; a count from an earlier period starts again at 0."""
    start = math.floor(now / period_s) * period_s
    if counted is None or counted[0] != start:
        return start, 0
    return counted
