"""JobStore contract: a job whose stored parts no longer decode (written by a hand, a bug or another version)
is dead-lettered with the reason by the lease that reaches it; it never makes a lease, a reap, a move or a
read raise, so it cannot stop every worker that leases after it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from scheduler.job import UNREADABLE_TYPE, JobState
from scheduler.store import JobStore
from tests.stores import T0, new_job, nonzero, overwrite_stored, spec_of

TTL = 1_000


def _reordered(record: str) -> str:
    fields = json.loads(record)
    return json.dumps({"type": fields.pop("type"), **fields})  # valid JSON, but not the head every record has


def _without_class(record: str) -> str:
    fields = json.loads(record)
    del fields["class"]
    return json.dumps(fields, separators=(",", ":"))


SPOILERS: dict[str, Callable[[str], str | None]] = {
    "not JSON": lambda record: "\x00\x17 garbage",
    "cut short after its head": lambda record: record[:-3],
    "a field missing": _without_class,
    "its head reordered": _reordered,
    "JSON of another shape": lambda record: "[1, 2]",
    "another job's id": lambda record: record.replace('"id":"', '"id":"x', 1),
    "missing": lambda record: None,
}


@pytest.fixture(params=list(SPOILERS))
def spoiler(request: pytest.FixtureRequest, store: JobStore) -> Callable[[str], str | None]:
    if request.param == "missing" and spec_of(store).kind == "sqlite":
        pytest.skip("SQLite keeps the record in a NOT NULL column: it cannot go missing on its own")
    return SPOILERS[request.param]


def _spoil(store: JobStore, job_id: str, spoiler: Callable[[str], str | None]) -> None:
    good = store.get(job_id)
    assert good is not None and good.type != UNREADABLE_TYPE
    record = json.dumps(
        {
            "id": good.id,
            "type": good.type,
            "tenant": good.tenant,
            "max_attempts": good.max_attempts,
            "deadline": good.deadline_ms,
            "level": good.submitted_level,
            "class": good.job_class,
            "key": good.key,
            "created": good.created_ms,
            "payload": good.payload,
        },
        separators=(",", ":"),
    )
    overwrite_stored(store, job_id, "record", spoiler(record))


def _assert_dead_as_unreadable(store: JobStore, job_id: str, part: str = "record") -> None:
    got = store.get(job_id)
    assert got is not None and got.state == JobState.DEAD
    assert got.error is not None and f"stored {part}" in got.error and "unreadable" in got.error, got.error
    assert job_id in [job.id for job in store.dead_letters()]


def test_a_lease_dead_letters_an_unreadable_job_and_serves_the_others(store, spoiler):
    # given three jobs of one tenant, the middle one's record spoilt
    first, bad, last = (new_job(level=3) for _ in range(3))
    store.submit([first, bad, last], now_ms=T0)
    _spoil(store, bad.id, spoiler)
    # when a worker leases three
    leases = store.lease(3, "w1", ttl_ms=TTL, now_ms=T0 + 1)
    # then it gets the two readable ones, and the spoilt one is dead with the reason, never leased
    assert [lease.job.id for lease in leases] == [first.id, last.id]
    _assert_dead_as_unreadable(store, bad.id)
    stats = store.stats()
    assert (nonzero(stats.pending), nonzero(stats.running), stats.dead) == ({}, {(3, "noop"): 2}, 1)
    assert store.lease(3, "w1", ttl_ms=TTL, now_ms=T0 + 2) == []


def test_single_leases_step_over_an_unreadable_job(store, spoiler):
    # given a spoilt job at the front of the queue and a readable one behind it
    bad, good = new_job(level=1), new_job(level=1)
    store.submit([bad, good], now_ms=T0)
    _spoil(store, bad.id, spoiler)
    # when a worker leases one job / then it gets the readable one at once, not an empty answer
    assert [lease.job.id for lease in store.lease(1, "w1", ttl_ms=TTL, now_ms=T0 + 1)] == [good.id]
    _assert_dead_as_unreadable(store, bad.id)


def test_reads_show_an_unreadable_job_instead_of_failing(store, spoiler):
    # given a pending job whose record is spoilt
    job = new_job(level=2)
    store.submit([job], now_ms=T0)
    _spoil(store, job.id, spoiler)
    # when it is read / then it is shown pending where it is, as unreadable, with the reason as its error
    got = store.get(job.id)
    assert got is not None and (got.state, got.level, got.type) == (JobState.PENDING, 2, UNREADABLE_TYPE)
    assert got.error is not None and "unreadable" in got.error
    # and the policy's views of waiting jobs do not fail on it either
    store.waiting(2, T0 + 10, limit=10)
    store.due(2, T0 + 10, limit=10)


def test_an_unreadable_job_whose_lease_expired_is_dead_lettered(store, spoiler):
    # given a leased job whose record is spoilt while it runs, and whose worker then vanishes
    job, other = new_job(level=0), new_job(level=0)
    store.submit([job], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=TTL, now_ms=T0)
    _spoil(store, job.id, spoiler)
    store.submit([other], now_ms=T0 + 1)
    # when leases run after its expiry
    got = store.lease(5, "w2", ttl_ms=TTL, now_ms=T0 + TTL + 1)
    # then the readable job is served, the spoilt one is dead, and no lease of it is left
    assert [lease.job.id for lease in got] == [other.id]
    _assert_dead_as_unreadable(store, job.id)
    assert store.heartbeat([lease.ref], ttl_ms=TTL, now_ms=T0 + TTL + 2) == [False]


def test_an_unreadable_delayed_job_is_dead_lettered_when_its_time_comes(store, spoiler):
    # given a job waiting out a retry backoff, spoilt meanwhile
    job = new_job(level=2)
    store.submit([job], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=TTL, now_ms=T0)
    store.fail(lease.ref, "boom", now_ms=T0 + 1, retry_at_ms=T0 + 100)
    _spoil(store, job.id, spoiler)
    # when a lease runs after the retry time / then it is dead, not handed out
    assert store.lease(5, "w1", ttl_ms=TTL, now_ms=T0 + 200) == []
    _assert_dead_as_unreadable(store, job.id)


def test_moves_and_demotions_do_not_fail_on_an_unreadable_job(store, spoiler):
    # given a tenant's three pending jobs at level 2, the middle one spoilt
    first, bad, last = (new_job(tenant="hog", level=2) for _ in range(3))
    store.submit([first, bad, last], now_ms=T0)
    _spoil(store, bad.id, spoiler)
    # when aging moves them all up, and then the tenant is demoted below where it started
    store.move([first.id, bad.id, last.id], 1, "aged", now_ms=T0 + 1)
    store.demote_tenant("hog", 1, 3, until_ms=T0 + 60_000, reason="hog", now_ms=T0 + 2)
    # then the readable jobs are served at level 3 and the spoilt one ends dead, whichever step reached it
    leases = store.lease(5, "w1", ttl_ms=TTL, now_ms=T0 + 3)
    assert [(lease.job.id, lease.job.level) for lease in leases] == [(first.id, 3), (last.id, 3)]
    _assert_dead_as_unreadable(store, bad.id)
    assert (nonzero(store.stats().pending), store.stats().dead) == ({}, 1)


def test_retrying_an_unreadable_dead_job_leaves_it_dead(store, spoiler):
    # given two dead jobs, one of them spoilt
    bad, good = new_job(level=1), new_job(level=1)
    store.submit([bad, good], now_ms=T0)
    for lease in store.lease(2, "w1", ttl_ms=TTL, now_ms=T0):
        store.fail(lease.ref, "boom", now_ms=T0 + 1, retry_at_ms=None)
    _spoil(store, bad.id, spoiler)
    # when both are retried / then only the readable one is queued again
    assert store.retry_dead([bad.id, good.id], now_ms=T0 + 2) == 1
    assert store.get(bad.id).state == JobState.DEAD
    assert [lease.job.id for lease in store.lease(5, "w1", ttl_ms=TTL, now_ms=T0 + 3)] == [good.id]


@pytest.mark.parametrize("part", ["checkpoint", "progress"])
def test_a_lease_dead_letters_a_job_whose_checkpoint_or_progress_is_unreadable(store, part):
    # given a job that saved a checkpoint and progress, was given back, and then had one of them spoilt
    job = new_job(level=2)
    store.submit([job], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=TTL, now_ms=T0)
    store.save_checkpoint(lease.ref, '{"page":3}')
    store.save_progress(lease.ref, '{"done":0.5}')
    store.release(lease.ref, "drained", now_ms=T0 + 1)
    overwrite_stored(store, job.id, part, '{"page":')
    # when it is leased again / then it is dead with the part named, and reads still work
    assert store.lease(1, "w2", ttl_ms=TTL, now_ms=T0 + 2) == []
    _assert_dead_as_unreadable(store, job.id, part)
