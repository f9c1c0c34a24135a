"""Fixtures for the adapter tests: real EmulatorServers on free ports, stopped at teardown, and a fake clock.

`emulator` is one shared server with generous limits and a frozen clock; `start_emulator(limits=, clock=,
config=)` starts a dedicated one (tiny limits, a fake clock) for a single test.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from workloads.emulator import EmulatorServer, RateLimits
from workloads.world import World, WorldConfig

# 30 days after the world's epoch, at a fractional second (windows must not line up by luck).
FAKE_START_S = WorldConfig().epoch_ms / 1000 + 30 * 86_400 + 0.25

StartEmulator = Callable[..., EmulatorServer]


class FakeClock:
    """A clock the test moves: `sleep` records the wait and advances time instead of waiting."""

    def __init__(self, start_s: float = FAKE_START_S) -> None:
        self.now_s = start_s
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds


@pytest.fixture(scope="session")
def world() -> World:
    return World(WorldConfig())


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorServer]:
    """Frozen at FAKE_START_S, so what it serves "up to now" is exactly what the test computes from the world."""
    with EmulatorServer(WorldConfig(), clock=lambda: FAKE_START_S) as server:
        yield server


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    started: list[EmulatorServer] = []

    def start(
        limits: RateLimits | None = None, clock: Callable[[], float] | None = None, config: WorldConfig | None = None
    ) -> EmulatorServer:
        server = EmulatorServer(config or WorldConfig(), limits, clock=clock or time.time)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
