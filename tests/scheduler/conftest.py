"""Fixtures for the Scheduler tests: a FakeClock and a `make_scheduler` over the parametrized `store`."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.config import SchedulerConfig
from scheduler.queue import Scheduler
from scheduler.registry import JobType, JobTypeRegistry
from scheduler.store import JobStore

# `report` picks its own class; `flaky` allows two attempts unless the submit says otherwise
TEST_TYPES = (
    JobType("report", default_class="daily-active", expected_run_s=2.5),
    JobType("flaky", max_attempts=2, expected_run_s=0.5),
)

SchedulerFactory = Callable[..., Scheduler]


def registry() -> JobTypeRegistry:
    return JobTypeRegistry(BUILTIN_TYPES + TEST_TYPES)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_scheduler(store: JobStore, clock: FakeClock) -> SchedulerFactory:
    """make(config=None, on=None, clock=None): a Scheduler over `store` (or `on`) with a seeded Random."""

    def make(config: SchedulerConfig | None = None, on: JobStore | None = None, clock: FakeClock = clock) -> Scheduler:
        return Scheduler(on or store, config or SchedulerConfig(), registry(), clock, random.Random(0))

    return make


@pytest.fixture
def scheduler(make_scheduler: SchedulerFactory) -> Scheduler:
    """A Scheduler with the default configuration over the fresh `store`."""
    return make_scheduler()
