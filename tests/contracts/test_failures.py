"""JobStore contract: fail (retry later or dead-letter), dead letters and retry_dead, release, checkpoints."""

from __future__ import annotations

import pytest

from scheduler.ids import new_job_id
from scheduler.job import JobState, Lease
from scheduler.store import JobStore
from tests.stores import T0, lease_ids, new_job, nonzero


def lease_one(store: JobStore, now_ms: int, ttl_ms: int = 60_000, levels: list[int] | None = None) -> Lease:
    [lease] = store.lease(1, "w1", ttl_ms=ttl_ms, now_ms=now_ms, levels=levels)
    return lease


def test_fail_with_retry_at_delays_the_job(store):
    # given a tenant's job leased at level 2
    job = new_job(level=2)
    store.submit([job], now_ms=T0)
    lease = lease_one(store, T0 + 10)
    # when it fails with a retry time
    store.fail(lease.ref, "boom: timeout", now_ms=T0 + 20, retry_at_ms=T0 + 5_000)
    # then it is delayed at its level, one attempt counted, the error kept, its enqueue time kept
    got = store.get(job.id)
    assert (got.state, got.level, got.attempts, got.error, got.enqueued_ms) == (
        JobState.DELAYED,
        2,
        1,
        "boom: timeout",
        T0,
    )
    stats = store.stats()
    assert (nonzero(stats.pending), nonzero(stats.running), stats.delayed, stats.dead) == ({}, {}, 1, 0)


def test_a_delayed_job_is_leasable_from_its_retry_time_and_keeps_its_place(store):
    # given a tenant's job that failed until T0+5000, and two newer jobs of that tenant
    job = new_job(level=2)
    store.submit([job], now_ms=T0)
    store.fail(lease_one(store, T0 + 10).ref, "boom", now_ms=T0 + 20, retry_at_ms=T0 + 5_000)
    newer1, newer2 = new_job(level=2), new_job(level=2)
    store.submit([newer1, newer2], now_ms=T0 + 30)
    # when leasing just before the retry time / then the delayed job is not handed out
    assert lease_ids(store, T0 + 4_999) == [newer1.id]
    assert store.get(job.id).state == JobState.DELAYED
    # when leasing at the retry time / then it comes first again (older enqueue time), with its attempt and error
    [again] = store.lease(1, "w2", ttl_ms=60_000, now_ms=T0 + 5_000)
    assert (again.job.id, again.job.attempts, again.job.error, again.job.level) == (job.id, 1, "boom", 2)
    assert lease_ids(store, T0 + 5_001) == [newer2.id]


def test_a_delayed_job_whose_time_has_come_is_made_pending_by_any_lease(store):
    # given a delayed job at level 3
    job = new_job(level=3)
    store.submit([job], now_ms=T0)
    store.fail(lease_one(store, T0).ref, "boom", now_ms=T0 + 1, retry_at_ms=T0 + 100)
    # when a lease that only serves level 0 runs after the retry time
    assert store.lease(1, "w1", ttl_ms=1_000, now_ms=T0 + 200, levels=[0]) == []
    # then the job is pending at level 3 again, keeping its enqueue time
    got = store.get(job.id)
    assert (got.state, got.level, got.enqueued_ms) == (JobState.PENDING, 3, T0)
    assert store.stats().delayed == 0


def test_fail_without_retry_dead_letters_the_job(store):
    # given three running jobs
    jobs = [new_job(tenant=t, key=f"k-{t}") for t in "abc"]
    store.submit(jobs, now_ms=T0)
    leases = store.lease(3, "w1", ttl_ms=60_000, now_ms=T0)
    # when they fail without a retry time, one after another
    for i, lease in enumerate(leases):
        store.fail(lease.ref, f"fatal {i}", now_ms=T0 + 10 * (i + 1), retry_at_ms=None)
    # then each is dead with its error and one attempt, and the dead letters list them newest first
    for i, job in enumerate(jobs):
        got = store.get(job.id)
        assert (got.state, got.attempts, got.error) == (JobState.DEAD, 1, f"fatal {i}")
    newest_first = [job.id for job in reversed(jobs)]
    assert [job.id for job in store.dead_letters()] == newest_first
    assert [job.id for job in store.dead_letters(limit=2)] == newest_first[:2]
    assert [job.id for job in store.dead_letters(limit=1, offset=1)] == newest_first[1:2]
    assert [job.state for job in store.dead_letters()] == [JobState.DEAD] * 3
    assert store.stats().dead == 3
    assert store.lease(5, "w1", ttl_ms=60_000, now_ms=T0 + 100) == []


def test_retry_dead_queues_dead_jobs_again_at_their_submitted_level(store):
    # given a job submitted at level 3, moved to level 1, preempted once and then dead-lettered
    job, pending = new_job(level=3), new_job(level=2)
    store.submit([job, pending], now_ms=T0)
    assert store.move([job.id], to_level=1, reason="aging", now_ms=T0 + 1) == 1
    store.release(lease_one(store, T0 + 2, levels=[1]).ref, "preempted", now_ms=T0 + 3)
    store.fail(lease_one(store, T0 + 4, levels=[1]).ref, "boom", now_ms=T0 + 5, retry_at_ms=None)
    dead = store.get(job.id)
    assert (dead.state, dead.level, dead.attempts, dead.preemptions) == (JobState.DEAD, 1, 1, 1)
    # when retried together with a pending job and an unknown id
    assert store.retry_dead([job.id, pending.id, new_job_id()], now_ms=T0 + 10) == 1
    # then only the dead one changed: pending at its submitted level with counters reset, out of the dead letters
    got = store.get(job.id)
    assert (got.state, got.level, got.submitted_level, got.attempts, got.preemptions) == (JobState.PENDING, 3, 3, 0, 0)
    assert store.get(pending.id).state == JobState.PENDING
    assert store.dead_letters() == []
    assert store.stats().dead == 0
    assert lease_ids(store, T0 + 11, levels=[3]) == [job.id]


def test_release_requeues_at_once_keeping_its_place(store):
    # given a tenant's two jobs, the older one running after one failed attempt
    older, newer = new_job(), new_job()
    store.submit([older], now_ms=T0)
    store.submit([newer], now_ms=T0 + 1)
    store.fail(lease_one(store, T0 + 2).ref, "flaky", now_ms=T0 + 3, retry_at_ms=T0 + 4)
    lease = lease_one(store, T0 + 5)
    assert lease.job.id == older.id
    # when it is released (preempted)
    store.release(lease.ref, "spot reclaimed", now_ms=T0 + 6)
    # then it is pending at once, one preemption counted, attempts unchanged, enqueue time kept
    got = store.get(older.id)
    assert (got.state, got.preemptions, got.attempts, got.enqueued_ms, got.level) == (JobState.PENDING, 1, 1, T0, 3)
    # and it is served again before the tenant's newer job
    assert lease_ids(store, T0 + 6, n=2) == [older.id, newer.id]


def test_release_dead_dead_letters_with_the_reason_as_error(store):
    # given a running job
    job = new_job()
    store.submit([job], now_ms=T0)
    lease = lease_one(store, T0)
    # when released as dead
    store.release(lease.ref, "preempted too often", now_ms=T0 + 10, dead=True)
    # then it is dead with the reason as its error, no attempt counted
    got = store.get(job.id)
    assert (got.state, got.error, got.attempts) == (JobState.DEAD, "preempted too often", 0)
    assert [dead.id for dead in store.dead_letters()] == [job.id]
    assert store.lease(1, "w1", ttl_ms=1_000, now_ms=T0 + 20) == []


def _by_release(store: JobStore, lease: Lease) -> int:
    store.release(lease.ref, "drain", now_ms=T0 + 10)
    return T0 + 11


def _by_expiry(store: JobStore, lease: Lease) -> int:
    return lease.expires_ms + 1


def _by_fail_retry(store: JobStore, lease: Lease) -> int:
    store.fail(lease.ref, "boom", now_ms=T0 + 10, retry_at_ms=T0 + 100)
    return T0 + 100


@pytest.mark.parametrize("comes_back", [_by_release, _by_expiry, _by_fail_retry], ids=["release", "expiry", "retry"])
def test_a_saved_checkpoint_comes_back_with_the_next_lease(store, comes_back):
    # given a running job that saved two checkpoints
    job = new_job()
    store.submit([job], now_ms=T0)
    lease = lease_one(store, T0, ttl_ms=1_000)
    assert lease.job.checkpoint is None
    store.save_checkpoint(lease.ref, '{"step": 1}')
    store.save_checkpoint(lease.ref, '{"step": 2, "done": ["a", "b"]}')
    # then get shows the latest
    assert store.get(job.id).checkpoint == {"step": 2, "done": ["a", "b"]}
    # when the job comes back (released, expired, or failed and retried) and is leased again
    now = comes_back(store, lease)
    again = lease_one(store, now)
    # then the new lease carries the latest checkpoint
    assert (again.job.id, again.job.checkpoint) == (job.id, {"step": 2, "done": ["a", "b"]})
