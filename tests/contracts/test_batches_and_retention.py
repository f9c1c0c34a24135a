"""JobStore contract: work that grows with the queue goes in bounded batches (a tenant's demotion, retrying
dead letters), a demotion cut between batches is finished by the next maintain, and retention: dead letters
past their age or count and ended demotion records are forgotten by maintain, leaving no trace of the job."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from scheduler.bounds import DEMOTE_BATCH, LEASE_REAP_LIMIT, PRUNE_BATCH, RETRY_BATCH
from scheduler.builtin_types import BUILTIN_TYPES
from scheduler.clock import FakeClock
from scheduler.config import SchedulerConfig
from scheduler.errors import JobNotFoundError
from scheduler.queue import Scheduler
from scheduler.registry import JobTypeRegistry
from scheduler.store import Demotion, JobStore, Move
from tests.stores import T0, close_store, new_job, nonzero, open_spec, redis_client, spec_of

DAY_S = 86_400


def scheduler_on(store: JobStore, config: SchedulerConfig | None = None, at_ms: int = T0) -> Scheduler:
    return Scheduler(store, config or SchedulerConfig(), JobTypeRegistry(BUILTIN_TYPES), FakeClock(at_ms))


def record_steps(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(take, moved) of every demotion step the store runs (each one script call or one transaction)."""
    steps: list[tuple[int, int]] = []
    real: Callable[..., tuple[int, bool]] = store._demote_step  # type: ignore[attr-defined]

    def step(*args: Any) -> tuple[int, bool]:
        moved, done = real(*args)
        steps.append((args[3], moved))
        return moved, done

    monkeypatch.setattr(store, "_demote_step", step)
    return steps


def submit_pending(store: JobStore, n: int, tenant: str = "hog", level: int = 1) -> list[str]:
    jobs = [new_job(tenant=tenant, level=level) for _ in range(n)]
    store.submit(jobs, now_ms=T0)
    return [job.id for job in jobs]


def bury(store: JobStore, n: int, first_death_ms: int, step_ms: int = 1) -> list[str]:
    """n dead letters, each with a checkpoint and progress, dying one after the other (oldest first)."""
    ids = []
    for k in range(n):
        job = new_job(max_attempts=1, payload='{"blob": "' + "x" * 2000 + '"}')
        store.submit([job], now_ms=first_death_ms - 10)
        [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=first_death_ms - 5)
        store.save_checkpoint(lease.ref, '{"cursor": 7}')
        store.save_progress(lease.ref, '{"done": 1}')
        store.fail(lease.ref, "boom " * 100, now_ms=first_death_ms + k * step_ms, retry_at_ms=None)
        ids.append(job.id)
    return ids


def traces_of(store: JobStore, job_id: str) -> list[str]:
    """Every place the backend still holds the job id: Redis keys, hash fields, set members and list entries
    of the store's namespace; SQLite rows of any table."""
    spec = spec_of(store)
    found: list[str] = []
    if spec.kind == "redis":
        client = redis_client()
        try:
            for key in client.scan_iter(match=f"*{{{spec.namespace}}}*", count=1000):
                kind = client.type(key)
                items: list[Any] = [key]
                if kind == b"hash":
                    items += list(client.hkeys(key))
                elif kind == b"zset":
                    items += client.zrange(key, 0, -1)
                elif kind == b"list":
                    items += client.lrange(key, 0, -1)
                found += [f"{key!r}: {item!r}" for item in items if job_id.encode() in item]
        finally:
            client.close()
        return found
    assert spec.path is not None
    with contextlib.closing(sqlite3.connect(spec.path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):
                found += [f"{table}: {row[:3]}" for value in row if isinstance(value, str) and job_id in value]
    return found


# -- demotions in batches ------------------------------------------------------------------------------


def test_a_demotion_of_more_jobs_than_a_batch_moves_them_all_at_most_a_batch_per_call(store, monkeypatch):
    # given a hog with two and a half batches of pending jobs at level 1, and another tenant there
    hog = submit_pending(store, 2 * DEMOTE_BATCH + DEMOTE_BATCH // 2)
    submit_pending(store, 1, tenant="b")
    steps = record_steps(store, monkeypatch)
    # when the hog is demoted to level 3
    moved = store.demote_tenant("hog", 1, 3, until_ms=T0 + 600_000, reason="allotment", now_ms=T0 + 5)
    # then all of its jobs moved, in three calls of at most a batch each
    assert moved == len(hog)
    assert [moved for _take, moved in steps] == [DEMOTE_BATCH, DEMOTE_BATCH, DEMOTE_BATCH // 2]
    assert all(take <= DEMOTE_BATCH for take, _moved in steps)
    assert nonzero(store.stats().pending) == {(3, "noop"): len(hog), (1, "noop"): 1}
    # and one move entry records the whole demotion
    assert store.moves() == [Move(T0 + 5, None, "hog", 1, 3, "allotment", len(hog))]
    # and the hog's jobs keep their FIFO order at level 3 (the other tenant is served first, at level 1)
    served = [lease.job.id for lease in store.lease(3, "w", ttl_ms=60_000, now_ms=T0 + 6)]
    assert served[1:] == hog[:2]


def test_a_demotion_cut_between_batches_is_finished_by_the_next_maintain(store):
    # given a hog with a batch and 5 more pending jobs at level 1
    hog = submit_pending(store, DEMOTE_BATCH + 5)
    # when the demotion stops after its first batch (as a head that dies there would)
    cut = store.demote_tenant("hog", 1, 3, until_ms=T0 + 600_000, reason="allotment", now_ms=T0, limit=DEMOTE_BATCH)
    assert cut == DEMOTE_BATCH
    # then the demotion is in force already: a new submission goes below, the 5 left wait at level 1
    assert store.demotions(T0 + 1) == [Demotion("hog", 1, 3, T0 + 600_000)]
    store.submit([new_job(tenant="hog", level=1)], now_ms=T0 + 1)
    assert nonzero(store.stats().pending) == {(3, "noop"): DEMOTE_BATCH + 1, (1, "noop"): 5}
    # when maintain runs
    report = scheduler_on(store, at_ms=T0 + 2).maintain()
    # then it moved the rest, and the demotion's one move entry counts all it moved
    assert report.moved == 5
    assert nonzero(store.stats().pending) == {(3, "noop"): len(hog) + 1}
    demotion_moves = [m for m in store.moves() if m.job_id is None and m.reason == "allotment"]
    assert demotion_moves == [Move(T0 + 2, None, "hog", 1, 3, "allotment", len(hog))]
    # and a later maintain has nothing left to finish
    assert scheduler_on(store, at_ms=T0 + 3).maintain().moved == 0


def test_a_cut_demotion_that_ended_meanwhile_moves_no_more(store):
    # given a demotion until T0+60s cut after 10 of 15 jobs
    submit_pending(store, 15)
    assert store.demote_tenant("hog", 1, 3, until_ms=T0 + 60_000, reason="allotment", now_ms=T0, limit=10) == 10
    # when maintain runs after it ended
    report = scheduler_on(store, at_ms=T0 + 60_001).maintain()
    # then the 5 left stay where the hog's new jobs go again, and the entry counts what did move
    assert report.moved == 0
    assert nonzero(store.stats().pending) == {(3, "noop"): 10, (1, "noop"): 5}
    assert store.moves() == [Move(T0 + 60_001, None, "hog", 1, 3, "allotment", 10)]


def test_a_demotion_limit_must_be_positive(store):
    with pytest.raises(ValueError, match="limit must be at least 1"):
        store.demote_tenant("hog", 1, 3, until_ms=T0 + 1, reason="allotment", now_ms=T0, limit=0)


# -- leases take back a bounded number of expired leases and due retries -------------------------------


def test_a_lease_takes_back_a_bounded_number_of_expired_leases_and_due_retries(store):
    # given more expired leases than one lease takes back, and as many due retries
    n = LEASE_REAP_LIMIT + 20
    expired = [new_job(level=2) for _ in range(n)]
    store.submit(expired, now_ms=T0)
    assert len(store.lease(n, "w", ttl_ms=1_000, now_ms=T0 + 1)) == n
    delayed = [new_job(level=3) for _ in range(n)]
    store.submit(delayed, now_ms=T0 + 2)
    for lease in store.lease(n, "w", ttl_ms=60_000, now_ms=T0 + 3, levels=[3]):
        store.fail(lease.ref, "boom", now_ms=T0 + 4, retry_at_ms=T0 + 5)
    # when a lease at level 0 (where nothing waits) runs after both are due
    assert store.lease(1, "w", ttl_ms=60_000, now_ms=T0 + 2_000, levels=[0]) == []
    # then it took back LEASE_REAP_LIMIT of each; the next lease takes the rest
    stats = store.stats()
    assert nonzero(stats.pending) == {(2, "noop"): LEASE_REAP_LIMIT, (3, "noop"): LEASE_REAP_LIMIT}
    assert (nonzero(stats.running), stats.delayed) == ({(2, "noop"): n - LEASE_REAP_LIMIT}, n - LEASE_REAP_LIMIT)
    store.lease(1, "w", ttl_ms=60_000, now_ms=T0 + 2_001, levels=[0])
    stats = store.stats()
    assert (nonzero(stats.pending), stats.delayed) == ({(2, "noop"): n, (3, "noop"): n}, 0)


# -- finished jobs past a lowered retention -----------------------------------------------------------


def test_a_lowered_finished_retention_is_worked_off_over_several_acks(store):
    # given 2,500 finished jobs kept under the default retention
    n = 2_500
    jobs = [new_job() for _ in range(n)]
    store.submit(jobs, now_ms=T0)
    assert all(store.ack([lease.ref for lease in store.lease(n, "w", ttl_ms=60_000, now_ms=T0 + 1)], now_ms=T0 + 2))
    # when the store is opened with a retention of 1 and single jobs are acked
    lowered = open_spec(dataclasses.replace(spec_of(store), finished_retention=1))
    try:
        kept = []
        for k in range(3):
            lowered.submit([new_job()], now_ms=T0 + 10 + k)
            lowered.ack([lease.ref for lease in lowered.lease(1, "w", 60_000, T0 + 10 + k)], now_ms=T0 + 10 + k)
            kept.append(sum(lowered.get(job.id) is not None for job in jobs))
    finally:
        close_store(lowered)
    # then each ack forgot at most 1,000 more than it finished, until only the newest is left
    assert kept == [n - 1_001, n - 2_002, 0]


# -- retrying dead letters in batches ------------------------------------------------------------------


def test_retry_dead_of_more_ids_than_a_batch_queues_them_all(store):
    # given two and a bit batches of dead letters (one attempt each, their leases expired)
    n = 2 * RETRY_BATCH + 3
    jobs = [new_job(max_attempts=1) for _ in range(n)]
    store.submit(jobs, now_ms=T0)
    assert len(store.lease(n, "w", ttl_ms=1_000, now_ms=T0 + 1)) == n
    assert store.reap(T0 + 2_000, limit=n) == n
    assert store.stats().dead == n
    # when every one is retried in one call (plus an id that is not dead)
    ids = [job.id for job in jobs]
    random.Random(3).shuffle(ids)
    assert store.retry_dead([*ids, "not-a-job"], now_ms=T0 + 3_000) == n
    # then all are pending again with fresh counts
    stats = store.stats()
    assert (stats.dead, nonzero(stats.pending)) == (0, {(3, "noop"): n})
    assert {store.get(job_id).attempts for job_id in ids[:5]} == {0}


# -- dead-letter retention -----------------------------------------------------------------------------


def test_dead_letters_beyond_the_count_are_dropped_oldest_first_with_every_record(store):
    # given 5 dead letters with checkpoints and progress, and a retention of 3
    ids = bury(store, 5, first_death_ms=T0)
    config = SchedulerConfig(dead_letter_max_count=3)
    # when maintain runs
    scheduler = scheduler_on(store, config, at_ms=T0 + 1_000)
    report = scheduler.maintain()
    # then the two oldest are gone, counted, with no trace left in the backend
    assert report.dead_dropped == 2
    assert store.stats().dead_dropped == 2
    assert [job.id for job in scheduler.dead_letters()] == ids[:1:-1]
    for job_id in ids[:2]:
        assert store.get(job_id) is None
        assert traces_of(store, job_id) == []
    assert traces_of(store, ids[2]) != []
    # and the dead-letter commands take a dropped one in their stride
    with pytest.raises(JobNotFoundError):
        scheduler.get(ids[0])
    assert scheduler.retry_dead(ids[:3]) == 1
    # and a second pass drops nothing more: the counter stays
    assert scheduler.maintain().dead_dropped == 0
    assert store.stats().dead_dropped == 2


def test_dead_letters_older_than_the_age_are_dropped(store):
    # given dead letters that died at T0, T0+1s, T0+2s, T0+3s; kept one day
    ids = bury(store, 4, first_death_ms=T0, step_ms=1_000)
    config = SchedulerConfig(dead_letter_max_age_s=DAY_S)
    # when maintain runs a day and 1.5 s after the first died
    report = scheduler_on(store, config, at_ms=T0 + DAY_S * 1000 + 1_500).maintain()
    # then the two that died more than a day before are gone, the others kept
    assert report.dead_dropped == 2
    assert [store.get(job_id) is None for job_id in ids] == [True, True, False, False]
    assert store.stats().dead == 2


def test_a_backlog_of_dead_letters_is_dropped_a_batch_per_call(store):
    # given a batch and a half of dead letters (made by expired leases) and a retention of one
    n = PRUNE_BATCH + PRUNE_BATCH // 2
    store.submit([new_job(max_attempts=1) for _ in range(n)], now_ms=T0)
    store.lease(n, "w", ttl_ms=1_000, now_ms=T0 + 1)
    assert store.reap(T0 + 2_000, limit=n) == n
    # when the store is asked to drop them / then each call drops at most its limit, oldest first
    assert store.prune_dead_letters(T0 - 1, keep=1, limit=PRUNE_BATCH) == (PRUNE_BATCH, True)
    assert store.prune_dead_letters(T0 - 1, keep=1, limit=PRUNE_BATCH) == (n - 1 - PRUNE_BATCH, False)
    assert store.prune_dead_letters(T0 - 1, keep=1, limit=PRUNE_BATCH) == (0, False)
    assert (store.stats().dead, store.stats().dead_dropped) == (1, n - 1)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("dead_letter_max_age_s", 0, "greater than 0"),
        ("dead_letter_max_count", 0, "greater than or equal to 1"),
    ],
)
def test_retention_settings_are_validated(field, value, problem):
    with pytest.raises(ValueError, match=problem) as raised:
        SchedulerConfig(**{field: value})
    assert field in str(raised.value)


# -- demotion records ----------------------------------------------------------------------------------


def test_ended_demotion_records_are_forgotten_by_maintain(store):
    # given three tenants demoted until T0+1s and one until a day later
    for tenant in ("a", "b", "c"):
        store.demote_tenant(tenant, 1, 2, until_ms=T0 + 1_000, reason="allotment", now_ms=T0)
    store.demote_tenant("d", 1, 2, until_ms=T0 + DAY_S * 1000, reason="allotment", now_ms=T0)
    # when maintain runs after the first three ended
    scheduler_on(store, at_ms=T0 + 2_000).maintain()
    # then only the one in force is still recorded (asked as of T0, when all four were in force)
    assert store.demotions(T0) == [Demotion("d", 1, 2, T0 + DAY_S * 1000)]
