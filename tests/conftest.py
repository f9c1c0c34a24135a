"""Shared fixtures: `store` is a fresh, empty JobStore of each kind (sqlite, redis)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scheduler.store import JobStore
from tests.stores import (
    KINDS,
    RedisUnavailableError,
    close_store,
    delete_redis_keys,
    leftover_redis_keys,
    new_spec,
    open_spec,
    spec_of,
)

StoreFactory = Callable[..., JobStore]


@pytest.fixture(params=KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(store_kind: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """make(levels=4, finished_retention=10_000) -> a new empty store of this kind; make(same_as=store)
    -> another store object on the same backend. Everything is purged and closed at teardown, and a Redis
    namespace left with keys after purge fails the test."""
    opened: list[JobStore] = []

    def make(levels: int = 4, finished_retention: int = 10_000, same_as: JobStore | None = None) -> JobStore:
        spec = spec_of(same_as) if same_as is not None else new_spec(store_kind, tmp_path, levels, finished_retention)
        unavailable = None
        try:
            store = open_spec(spec)
        except RedisUnavailableError as exc:
            unavailable = str(exc)
        if unavailable is not None:  # fail (never skip) outside the except block: one clear line
            pytest.fail(unavailable, pytrace=False)
        opened.append(store)
        return store

    yield make

    purged: set[object] = set()
    problems: list[str] = []
    for store in reversed(opened):
        spec = spec_of(store)
        try:
            if spec not in purged:
                purged.add(spec)
                store.purge()
        except Exception as exc:  # keep closing the others; report below
            problems.append(f"purge() raised {exc!r}")
        finally:
            close_store(store)
        if spec.kind == "redis" and spec.namespace is not None and (keys := leftover_redis_keys(spec.namespace)):
            problems.append(f"purge() left Redis keys behind in {spec.namespace}: {sorted(keys)[:5]}")
            delete_redis_keys(spec.namespace)
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def store(store_factory: StoreFactory) -> JobStore:
    """A fresh, empty store with 4 levels."""
    return store_factory()
