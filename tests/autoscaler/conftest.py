"""A scheduler on a real SQLite store with a fake clock at `snapshots.T`, for the loop's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.queue import Scheduler
from scheduler.registry import JobTypeRegistry
from scheduler.sqlite_store import SQLiteStore
from tests.autoscaler.snapshots import NOW_MS


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[Scheduler]:
    store = SQLiteStore(tmp_path / "q.db", levels=4)
    yield Scheduler(store, registry=JobTypeRegistry(BUILTIN_TYPES), clock=FakeClock(NOW_MS))
    store.close()
