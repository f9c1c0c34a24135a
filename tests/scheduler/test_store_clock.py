"""StoreClock: the store's time carried forward on the monotonic clock, resynced, never backwards."""

from __future__ import annotations

import pytest

from scheduler.clock import StoreClock
from scheduler.errors import StoreUnavailableError


class Source:
    """A store's clock and a process's monotonic clock, both moved by the test."""

    def __init__(self, store_ms: int) -> None:
        self.store_ms = store_ms
        self.mono_s = 1_000.0
        self.reads = 0
        self.down = False

    def read(self) -> int:
        self.reads += 1
        if self.down:
            raise StoreUnavailableError("the store is down")
        return self.store_ms

    def monotonic(self) -> float:
        return self.mono_s

    def advance(self, seconds: float) -> None:
        self.mono_s += seconds
        self.store_ms += round(seconds * 1000)


def test_reads_the_store_once_per_resync_and_carries_it_forward() -> None:
    source = Source(store_ms=5_000_000)
    clock = StoreClock(source.read, source.monotonic, resync_s=1.0)
    assert clock.now_ms() == 5_000_000
    source.advance(0.4)
    assert clock.now_ms() == 5_000_400
    assert source.reads == 1
    source.advance(0.7)
    assert clock.now_ms() == 5_001_100
    assert source.reads == 2


def test_never_goes_backwards_when_the_store_clock_steps_back() -> None:
    # given a clock that read 5,000,000 ms, then a failover to a store whose clock is 10 s behind
    source = Source(store_ms=5_000_000)
    clock = StoreClock(source.read, source.monotonic, resync_s=1.0)
    first = clock.now_ms()
    source.advance(2.0)
    source.store_ms -= 10_000
    # then it holds still until the store's time passes what it already said
    assert clock.now_ms() == first
    readings = []
    for _ in range(15):
        source.advance(1.0)
        readings.append(clock.now_ms())
    assert readings == sorted(readings)
    assert readings[-1] == source.store_ms


def test_a_failed_resync_keeps_the_last_offset_and_a_failed_first_read_raises() -> None:
    source = Source(store_ms=7_000_000)
    clock = StoreClock(source.read, source.monotonic, resync_s=1.0)
    clock.now_ms()
    source.down = True
    source.advance(3.0)
    assert clock.now_ms() == 7_003_000
    fresh = StoreClock(source.read, source.monotonic)
    with pytest.raises(StoreUnavailableError):
        fresh.now_ms()
