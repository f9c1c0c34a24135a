"""JobStore contract: release without counting and after a delay (giving a job back), and progress reports."""

from __future__ import annotations

import pytest

from scheduler.errors import StaleLeaseError
from scheduler.job import JobState, Lease
from scheduler.store import JobStore
from tests.stores import T0, lease_ids, new_job, nonzero


def lease_one(store: JobStore, now_ms: int, ttl_ms: int = 60_000, levels: list[int] | None = None) -> Lease:
    [lease] = store.lease(1, "w1", ttl_ms=ttl_ms, now_ms=now_ms, levels=levels)
    return lease


def counts_of(store: JobStore, job_id: str) -> tuple[object, ...]:
    got = store.get(job_id)
    assert got is not None
    return got.state, got.attempts, got.preemptions, got.error, got.level, got.enqueued_ms


# -- release: counted or not --------------------------------------------------------------------------------


def test_an_uncounted_release_requeues_at_once_and_counts_nothing(store):
    # given a tenant's two jobs, the older one running after one failed attempt and one counted release
    older, newer = new_job(level=2), new_job(level=2)
    store.submit([older], now_ms=T0)
    store.submit([newer], now_ms=T0 + 1)
    store.fail(lease_one(store, T0 + 2).ref, "flaky", now_ms=T0 + 3, retry_at_ms=T0 + 4)
    store.release(lease_one(store, T0 + 5).ref, "spot reclaimed", now_ms=T0 + 6)
    lease = lease_one(store, T0 + 7)
    assert (lease.job.id, lease.job.attempts, lease.job.preemptions) == (older.id, 1, 1)
    # when it is given back without counting, three times over
    for i in range(3):
        store.release(lease.ref, "type at its cap", now_ms=T0 + 8 + 2 * i, counted=False)
        # then it is pending at once with its counts as they were, its level and enqueue time kept
        assert counts_of(store, older.id) == (JobState.PENDING, 1, 1, "flaky", 2, T0)
        if i < 2:
            lease = lease_one(store, T0 + 9 + 2 * i)
            assert lease.job.id == older.id
    # and it is served again before the tenant's newer job
    assert lease_ids(store, T0 + 20, n=2) == [older.id, newer.id]


@pytest.mark.parametrize("counted", [{}, {"counted": True}], ids=["default", "counted=True"])
def test_a_counted_release_counts_a_preemption(store, counted):
    # given a running job
    job = new_job()
    store.submit([job], now_ms=T0)
    # when it is released twice, counted (the default)
    for i in range(2):
        store.release(lease_one(store, T0 + 10 * i).ref, "preempted", now_ms=T0 + 10 * i + 5, **counted)
    # then two preemptions are counted and no attempt
    assert counts_of(store, job.id) == (JobState.PENDING, 0, 2, None, 3, T0)


def test_an_uncounted_dead_release_dead_letters_without_counting(store):
    job = new_job()
    store.submit([job], now_ms=T0)
    store.release(lease_one(store, T0).ref, "gave up", now_ms=T0 + 10, dead=True, counted=False)
    assert counts_of(store, job.id) == (JobState.DEAD, 0, 0, "gave up", 3, T0)
    assert [dead.id for dead in store.dead_letters()] == [job.id]


# -- release after a delay ------------------------------------------------------------------------------------


@pytest.mark.parametrize("counted", [False, True])
def test_a_release_with_retry_at_delays_the_job_keeping_its_place(store, counted):
    # given a tenant's job at level 2 that failed once, running again
    job = new_job(level=2)
    store.submit([job], now_ms=T0)
    store.fail(lease_one(store, T0 + 1).ref, "flaky", now_ms=T0 + 2, retry_at_ms=T0 + 3)
    lease = lease_one(store, T0 + 4)
    assert lease.job.id == job.id
    # when it is given back until T0+5000
    store.release(lease.ref, "deferred", now_ms=T0 + 10, counted=counted, retry_at_ms=T0 + 5_000)
    # then it is delayed at its level, its attempt and error as they were, a preemption only when counted
    assert counts_of(store, job.id) == (JobState.DELAYED, 1, int(counted), "flaky", 2, T0)
    stats = store.stats()
    assert (nonzero(stats.pending), nonzero(stats.running), stats.delayed, stats.dead) == ({}, {}, 1, 0)
    # when the tenant submits two newer jobs and leases come before the retry time
    newer1, newer2 = new_job(level=2), new_job(level=2)
    store.submit([newer1, newer2], now_ms=T0 + 20)
    # then the delayed job is not handed out
    assert lease_ids(store, T0 + 4_999) == [newer1.id]
    assert store.get(job.id).state == JobState.DELAYED
    # when leasing at the retry time / then it comes first again (older enqueue time), its counts unchanged
    again = lease_one(store, T0 + 5_000)
    assert (again.job.id, again.job.attempts, again.job.preemptions, again.job.level) == (job.id, 1, int(counted), 2)
    assert again.job.enqueued_ms == T0
    assert lease_ids(store, T0 + 5_001) == [newer2.id]


def test_a_delayed_release_is_made_pending_by_any_lease_after_its_time(store):
    # given a job at level 3 given back until T0+100
    job = new_job(level=3)
    store.submit([job], now_ms=T0)
    store.release(lease_one(store, T0).ref, "drain", now_ms=T0 + 1, counted=False, retry_at_ms=T0 + 100)
    # when a lease that serves level 0 only runs before, then after, the retry time
    assert store.lease(1, "w1", ttl_ms=1_000, now_ms=T0 + 99, levels=[0]) == []
    assert store.get(job.id).state == JobState.DELAYED
    assert store.lease(1, "w1", ttl_ms=1_000, now_ms=T0 + 100, levels=[0]) == []
    # then the job is pending at level 3 again, keeping its enqueue time, nothing counted
    assert counts_of(store, job.id) == (JobState.PENDING, 0, 0, None, 3, T0)
    assert store.stats().delayed == 0


def test_dead_with_retry_at_is_refused_before_the_store_is_touched(store):
    # given a running job
    job = new_job()
    store.submit([job], now_ms=T0)
    lease = lease_one(store, T0)
    before = store.get(job.id)
    # when it is released dead and delayed at once / then that is a ValueError
    with pytest.raises(ValueError, match="retry"):
        store.release(lease.ref, "bad", now_ms=T0 + 10, dead=True, retry_at_ms=T0 + 1_000)
    # and nothing changed: it still runs under the same token, which still acks it
    assert store.get(job.id) == before
    assert store.ack([lease.ref], now_ms=T0 + 20) == [True]


@pytest.mark.parametrize(
    "options",
    [{"counted": False}, {"counted": False, "retry_at_ms": T0 + 100_000}, {"retry_at_ms": T0 + 100_000}],
    ids=["uncounted", "uncounted-delayed", "counted-delayed"],
)
def test_a_release_with_a_stale_token_raises_and_changes_nothing(store, options):
    # given a job whose first lease expired and which runs under a second one
    job = new_job()
    store.submit([job], now_ms=T0)
    old = lease_one(store, T0, ttl_ms=1_000)
    new = lease_one(store, T0 + 2_000)
    assert (new.job.id, new.token > old.token) == (job.id, True)
    before, stats = store.get(job.id), store.stats()
    # when the old lease gives the job back / then it is refused
    with pytest.raises(StaleLeaseError):
        store.release(old.ref, "deferred", now_ms=T0 + 3_000, **options)
    # and nothing changed: still running under the new token, nothing delayed or pending
    assert store.get(job.id) == before
    after = store.stats()
    assert (nonzero(after.pending), nonzero(after.running), after.delayed) == (
        nonzero(stats.pending),
        nonzero(stats.running),
        0,
    )
    assert store.ack([new.ref], now_ms=T0 + 3_001) == [True]


# -- progress ------------------------------------------------------------------------------------------------


def test_progress_is_saved_replaced_and_shown_by_get(store):
    # given a running job that has reported nothing yet
    job = new_job()
    store.submit([job], now_ms=T0)
    lease = lease_one(store, T0)
    assert (lease.job.progress, store.get(job.id).progress) == (None, None)
    # when it reports progress twice
    store.save_progress(lease.ref, '{"done": 40, "total": 500, "note": "page 4"}')
    store.save_progress(lease.ref, '{"done": 80, "total": 500, "note": "página 8"}')
    # then get shows the latest report, and the checkpoint is untouched
    got = store.get(job.id)
    assert (got.progress, got.checkpoint, got.state) == (
        {"done": 80, "total": 500, "note": "página 8"},
        None,
        JobState.RUNNING,
    )
    # and a checkpoint saved afterwards leaves the progress as it is (and vice versa)
    store.save_checkpoint(lease.ref, '{"page": 8}')
    got = store.get(job.id)
    assert (got.progress["done"], got.checkpoint) == (80, {"page": 8})


def test_progress_is_fenced(store):
    # given a job that reported progress under its first lease, which then expired; it runs again
    job = new_job()
    store.submit([job], now_ms=T0)
    old = lease_one(store, T0, ttl_ms=1_000)
    store.save_progress(old.ref, '{"done": 1}')
    new = lease_one(store, T0 + 2_000)
    assert new.job.id == job.id
    before = store.get(job.id)
    # when the old lease reports / then it is refused and the progress is as it was
    with pytest.raises(StaleLeaseError):
        store.save_progress(old.ref, '{"done": 99}')
    assert store.get(job.id) == before
    assert before.progress == {"done": 1}
    # when the job is acked, any report is refused, as for a pending job never leased
    store.ack([new.ref], now_ms=T0 + 2_001)
    with pytest.raises(StaleLeaseError):
        store.save_progress(new.ref, '{"done": 100}')
    assert store.get(job.id).progress == {"done": 1}


def test_progress_is_kept_after_ack_and_after_death(store):
    # given two running jobs that reported progress
    done, dead = new_job(tenant="a"), new_job(tenant="b")
    store.submit([done, dead], now_ms=T0)
    leases = {lease.job.id: lease for lease in store.lease(2, "w1", ttl_ms=60_000, now_ms=T0)}
    store.save_progress(leases[done.id].ref, '{"done": 500, "total": 500}')
    store.save_progress(leases[dead.id].ref, '{"done": 7, "total": 500}')
    # when one is acked and the other fails for good
    assert store.ack([leases[done.id].ref], now_ms=T0 + 10) == [True]
    store.fail(leases[dead.id].ref, "fatal", now_ms=T0 + 10, retry_at_ms=None)
    # then both keep their last report, in get and in the dead letters
    assert (store.get(done.id).state, store.get(done.id).progress) == (JobState.DONE, {"done": 500, "total": 500})
    assert (store.get(dead.id).state, store.get(dead.id).progress) == (JobState.DEAD, {"done": 7, "total": 500})
    assert [(job.id, job.progress) for job in store.dead_letters()] == [(dead.id, {"done": 7, "total": 500})]


def test_progress_survives_a_retry_until_overwritten(store):
    # given a job that reported progress, then failed with an error holding a unit separator (free text)
    job = new_job()
    store.submit([job], now_ms=T0)
    lease = lease_one(store, T0)
    store.save_progress(lease.ref, '{"done": 40}')
    store.save_checkpoint(lease.ref, '{"page": 4}')
    store.fail(lease.ref, "boom\x1fmore", now_ms=T0 + 10, retry_at_ms=T0 + 100)
    assert store.get(job.id).progress == {"done": 40}
    # when it is leased again / then the lease carries the last report beside its checkpoint and error
    again = lease_one(store, T0 + 100)
    assert (again.job.id, again.job.progress, again.job.checkpoint, again.job.error, again.job.attempts) == (
        job.id,
        {"done": 40},
        {"page": 4},
        "boom\x1fmore",
        1,
    )
    # when the new run reports / then that replaces the old report
    store.save_progress(again.ref, '{"done": 3, "restarted": true}')
    assert store.get(job.id).progress == {"done": 3, "restarted": True}


def test_progress_of_a_finished_job_is_forgotten_with_it(store_factory):
    # given a store that keeps 2 finished jobs, and 3 jobs that report progress and finish
    store = store_factory(finished_retention=2)
    jobs = [new_job() for _ in range(3)]
    store.submit(jobs, now_ms=T0)
    for k, job in enumerate(jobs, start=1):
        lease = lease_one(store, T0 + 10 * k)
        assert lease.job.id == job.id
        store.save_progress(lease.ref, f'{{"done": {k}}}')
        assert store.ack([lease.ref], now_ms=T0 + 10 * k + 5) == [True]
    # then the oldest is forgotten, progress and all; the newest two keep theirs
    assert store.get(jobs[0].id) is None
    assert [store.get(job.id).progress for job in jobs[1:]] == [{"done": 2}, {"done": 3}]
