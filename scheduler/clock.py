"""Clocks: the scheduler reads time only through one, so tests move time instead of sleeping.

In production every time that decides who holds a job (lease expiry, reaping, heartbeats, delays, retention,
idempotency holds) is on the store's clock (`StoreClock`), never on the caller's: a worker host or a second head
whose clock runs 31 s ahead would otherwise reap a lease the head still holds. `SystemClock` is the caller's own
clock, right only where the caller is the store's machine; `FakeClock` is for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from scheduler.errors import StoreUnavailableError

RESYNC_S = 1.0  # how often a StoreClock asks the store for its time again: one round trip a second


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += round(seconds * 1000)


class StoreClock:
    """The store's clock, read from any host: the store's time (`read_store_ms`, e.g. Redis `TIME`) taken once
    every `resync_s` and carried forward between reads on this process's monotonic clock.

    Asking the store at every call would cost a round trip per call, and putting `TIME` inside each script
    would make the scripts' times unmovable by tests; an offset kept this way is off by at most half a round
    trip plus the monotonic clock's drift over `resync_s` (microseconds), against lease TTLs of seconds. The
    caller's wall clock is never read, so its skew cannot matter. Never goes backwards, even when a failover
    brings a store whose clock is behind. A read that fails keeps the last offset (the call that needed the
    time then fails on its own, and is ridden out); only a first read that fails raises.
    """

    def __init__(
        self,
        read_store_ms: Callable[[], int],
        monotonic: Callable[[], float] = time.monotonic,
        resync_s: float = RESYNC_S,
    ) -> None:
        self._read_store_ms = read_store_ms
        self._monotonic = monotonic
        self._resync_s = resync_s
        self._lock = threading.Lock()
        self._base_ms: int | None = None  # the store's time at `_base_at` on the monotonic clock
        self._base_at = 0.0
        self._last_ms = 0

    def now_ms(self) -> int:
        with self._lock:
            at = self._monotonic()
            if self._base_ms is None or at - self._base_at >= self._resync_s:
                self._sync()
                at = self._monotonic()
            assert self._base_ms is not None
            now = max(self._last_ms, self._base_ms + round((at - self._base_at) * 1000))
            self._last_ms = now
            return now

    def _sync(self) -> None:
        before = self._monotonic()
        try:
            store_ms = self._read_store_ms()
        except StoreUnavailableError:
            if self._base_ms is None:
                raise
            return
        after = self._monotonic()
        # the store read its clock somewhere inside the round trip: its middle is the best guess
        self._base_ms, self._base_at = store_ms, (before + after) / 2
