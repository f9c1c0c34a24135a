"""JobStore contract, property: a live queue damaged at random behind the store's back keeps serving.

Keys, fields, rows and index entries are deleted or overwritten with garbage (bench/damage.py) while one
worker keeps submitting, leasing, heartbeating, acking, failing, releasing, reaping, maintaining and reading
(bench/store_damage.py DamageRun). Then no call may have raised but a stale lease's documented refusal, no
job may have been handed out while an earlier lease of it still ran (unless its own state was the damage),
and after a drain every job is done or dead-lettered with a reason, or gone because its own record was
deleted. A few hundred corruptions per store here; `python bench/store_damage.py --corruptions 10000` runs
the long version (docs/store-damage.md).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from bench.damage import Damager, RedisDamager, SQLiteDamager
from bench.store_damage import LEVELS, DamageRun, survive
from scheduler.job import JobState
from scheduler.store import JobStore
from tests.stores import T0, RedisUnavailableError, close_store, make_store, new_job, redis_client, spec_of


def _damager(store: JobStore) -> tuple[Damager, Any]:
    """The damager of a store opened by tests.stores, and the Redis client it holds (None on SQLite)."""
    spec = spec_of(store)
    if spec.kind == "sqlite":
        assert spec.path is not None
        return SQLiteDamager(spec.path), None
    assert spec.namespace is not None
    client = redis_client()
    return RedisDamager(client, spec.namespace), client


# No shrink phase: each example is a few hundred calls against a real store; a violation names the job and
# every damage done to it, and the seed is printed as a note.
@settings(
    max_examples=20,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), corruptions=st.integers(20, 40))
def test_a_damaged_store_keeps_serving_and_accounts_for_every_job(store_kind, tmp_path, seed, corruptions):
    # given a fresh store per example, used by one worker
    unavailable = None
    try:
        store = make_store(store_kind, tmp_path, levels=LEVELS, finished_retention=10**9)
    except RedisUnavailableError as exc:
        unavailable = str(exc)
    if unavailable is not None:
        pytest.fail(unavailable, pytrace=False)
    damager, client = _damager(store)
    note(f"seed {seed}, {corruptions} corruptions")
    try:
        run = DamageRun(store, damager)
        # when it is damaged at random between operations (DamageRun.step raises Violation on a double lease)
        survive(run, random.Random(seed), corruptions)
        # then after a drain every job is done, dead with a reason, or gone with its own record
        ends = run.finish()
        note(f"ends {dict(ends)}; damage done: {run.log}")
        assert sum(ends.values()) == len(run.created)
    finally:
        try:
            store.purge()
        finally:
            close_store(store)
            if client is not None:
                client.close()


def _lose_state(store: JobStore, job_id: str) -> None:
    """Delete a job's state behind the store's back (Redis: its :s field; SQLite: a state that names none)."""
    spec = spec_of(store)
    if spec.kind == "redis":
        from scheduler.redis_keys import Keys

        assert spec.namespace is not None
        client = redis_client()
        try:
            client.hdel(Keys(spec.namespace).jobs, job_id + ":s")
        finally:
            client.close()
        return
    assert spec.path is not None
    with contextlib.closing(sqlite3.connect(spec.path)) as db, db:
        db.execute("UPDATE jobs SET state = 'zzz' WHERE id = ?", (job_id,))


def test_a_running_job_whose_state_was_lost_is_dead_lettered_and_the_queue_keeps_serving(store):
    # given a running job whose state is then lost, and another job waiting behind it
    lost, waiting = new_job(level=1), new_job(level=1)
    store.submit([lost], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=1_000, now_ms=T0)
    _lose_state(store, lost.id)
    store.submit([waiting], now_ms=T0 + 1)
    # when maintenance and leases run after its lease expired (and the audit has swept the store)
    store.reap(now_ms=T0 + 2_000)
    served = store.lease(5, "w2", ttl_ms=1_000, now_ms=T0 + 2_001)
    # then the other job is served, the lost one is dead with the reason, and its old lease is refused
    assert [got.job.id for got in served] == [waiting.id]
    dead = store.get(lost.id)
    assert dead is not None and dead.state == JobState.DEAD and dead.error and "state" in dead.error, dead
    assert lost.id in [job.id for job in store.dead_letters()]
    assert store.heartbeat([lease.ref], ttl_ms=1_000, now_ms=T0 + 2_002) == [False]
    assert store.lease(5, "w2", ttl_ms=1_000, now_ms=T0 + 2_003) == []
