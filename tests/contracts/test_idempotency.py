"""JobStore contract: idempotency keys (while active, after the job ends, key_ttl_ms, within a batch)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scheduler.job import JobState, SubmitResult
from scheduler.store import JobStore
from tests.stores import T0, new_job


def job_count(store: JobStore) -> int:
    stats = store.stats()
    return sum(stats.pending.values()) + sum(stats.running.values()) + stats.delayed + stats.dead


def _stay_pending(store: JobStore, job_id: str) -> None:
    pass


def _run(store: JobStore, job_id: str) -> None:
    [lease] = store.lease(1, "w1", ttl_ms=600_000, now_ms=T0 + 1)
    assert lease.job.id == job_id


def _delay(store: JobStore, job_id: str) -> None:
    [lease] = store.lease(1, "w1", ttl_ms=600_000, now_ms=T0 + 1)
    store.fail(lease.ref, "boom", now_ms=T0 + 2, retry_at_ms=T0 + 600_000)


HOLDERS: dict[str, tuple[Callable[[JobStore, str], None], JobState]] = {
    "pending": (_stay_pending, JobState.PENDING),
    "running": (_run, JobState.RUNNING),
    "delayed": (_delay, JobState.DELAYED),
}


@pytest.mark.parametrize("holder", list(HOLDERS))
def test_a_key_of_an_active_job_returns_that_job(store, holder):
    # given a job with key "report-7" that is pending, running or delayed
    first = new_job(key="report-7", payload='{"v": 1}')
    assert store.submit([first], now_ms=T0) == [SubmitResult(first.id, True)]
    make_state, state = HOLDERS[holder]
    make_state(store, first.id)
    # when another job with the same key is submitted (even with another payload and level)
    dup = new_job(key="report-7", payload='{"v": 2}', level=0)
    result = store.submit([dup], now_ms=T0 + 10)
    # then the first job is returned, not created, and nothing is stored
    assert result == [SubmitResult(first.id, False)]
    assert store.get(dup.id) is None
    assert job_count(store) == 1
    got = store.get(first.id)
    assert (got.state, got.payload, got.level) == (state, {"v": 1}, 3)


@pytest.mark.parametrize("ending", ["ack", "dead"])
def test_a_key_is_free_again_once_its_job_is_acked_or_dead(store, ending):
    # given a job with a key that ended (acked, or failed into the dead letters)
    first = new_job(key="k")
    store.submit([first], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 1)
    if ending == "ack":
        assert store.ack([lease.ref], now_ms=T0 + 2) == [True]
    else:
        store.fail(lease.ref, "fatal", now_ms=T0 + 2, retry_at_ms=None)
    # when the key is submitted again / then a new job is created
    second = new_job(key="k")
    assert store.submit([second], now_ms=T0 + 3) == [SubmitResult(second.id, True)]
    assert store.get(second.id).state == JobState.PENDING
    # and that one now holds the key
    third = new_job(key="k")
    assert store.submit([third], now_ms=T0 + 4) == [SubmitResult(second.id, False)]


def test_key_ttl_holds_the_key_after_the_job_ends(store):
    # given a cron tick job with a 60 s key hold, acked 10 ms after it was created
    tick = new_job(key="cron:nightly:28333333", key_ttl_ms=60_000, created_ms=T0)
    store.submit([tick], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0 + 5)
    assert store.ack([lease.ref], now_ms=T0 + 10) == [True]
    # when the same tick is submitted again within the hold / then it is not created again
    again = new_job(key="cron:nightly:28333333", key_ttl_ms=60_000, created_ms=T0 + 30_000)
    assert store.submit([again], now_ms=T0 + 30_000) == [SubmitResult(tick.id, False)]
    assert store.get(again.id) is None
    # when submitted well after the hold ended / then it is created
    later = new_job(key="cron:nightly:28333333", key_ttl_ms=60_000, created_ms=T0 + 70_000)
    assert store.submit([later], now_ms=T0 + 70_000) == [SubmitResult(later.id, True)]


def test_key_ttl_does_not_free_the_key_of_a_job_still_active(store):
    # given a job with a 1 s key hold that is still pending 5 s later
    first = new_job(key="k", key_ttl_ms=1_000)
    store.submit([first], now_ms=T0)
    # when the key is submitted again / then the pending job is returned
    dup = new_job(key="k", key_ttl_ms=1_000, created_ms=T0 + 5_000)
    assert store.submit([dup], now_ms=T0 + 5_000) == [SubmitResult(first.id, False)]


def test_duplicates_within_one_batch_create_one_job(store):
    # given a batch with two jobs sharing a key, one with another key and two without a key
    a, a_dup, b, none1, none2 = (
        new_job(key="a"),
        new_job(key="a"),
        new_job(key="b"),
        new_job(),
        new_job(),
    )
    # when submitted together
    results = store.submit([a, a_dup, b, none1, none2], now_ms=T0)
    # then the duplicate answers with the first job's id, and jobs without a key are never merged
    assert results == [
        SubmitResult(a.id, True),
        SubmitResult(a.id, False),
        SubmitResult(b.id, True),
        SubmitResult(none1.id, True),
        SubmitResult(none2.id, True),
    ]
    assert store.get(a_dup.id) is None
    assert job_count(store) == 4


def test_different_keys_create_different_jobs(store):
    # given jobs with different keys / then all are created
    jobs = [new_job(key=f"k{i}") for i in range(3)]
    assert store.submit(jobs, now_ms=T0) == [SubmitResult(job.id, True) for job in jobs]
    assert job_count(store) == 3
