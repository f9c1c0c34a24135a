"""JobStore contract, basics: submit/get, the lease view, ack, retention of done jobs, purge.

Every test runs against each store kind (see tests/conftest.py). Times are explicit now_ms values.
"""

from __future__ import annotations

from dataclasses import replace

from scheduler.ids import new_job_id
from scheduler.job import Job, JobState, LeaseInfo, LeaseRef, SubmitResult
from scheduler.store import QueueStats
from tests.stores import T0, lease_ids, new_job, nonzero

EMPTY_STATS = QueueStats(pending={}, running={}, delayed=0, dead=0, oldest_enqueued_ms={})


def normalized(stats: QueueStats) -> QueueStats:
    return replace(stats, pending=nonzero(stats.pending), running=nonzero(stats.running))


def test_store_reports_its_number_of_levels(store, store_factory):
    # given stores opened with 4 and with 2 levels / then levels says so
    assert store.levels == 4
    assert store_factory(levels=2).levels == 2


def test_submit_then_get_returns_the_whole_job(store):
    # given a job with every optional field set, created a little before it is submitted
    job = new_job(
        tenant="acme",
        level=2,
        type="email",
        payload='{"to": "x@y.z", "n": [1, 2.5, null], "ok": true}',
        key="welcome-1",
        deadline_ms=T0 + 60_000,
        max_attempts=3,
        created_ms=T0 - 5,
        job_class="new-signup",
    )
    # when it is submitted
    results = store.submit([job], now_ms=T0)
    # then it is created and reads back pending at its level, enqueued at the submit time
    assert results == [SubmitResult(job.id, True)]
    assert store.get(job.id) == Job(
        id=job.id,
        type="email",
        tenant="acme",
        job_class="new-signup",
        level=2,
        submitted_level=2,
        payload={"to": "x@y.z", "n": [1, 2.5, None], "ok": True},
        key="welcome-1",
        deadline_ms=T0 + 60_000,
        max_attempts=3,
        attempts=0,
        preemptions=0,
        checkpoint=None,
        error=None,
        created_ms=T0 - 5,
        enqueued_ms=T0,
        state=JobState.PENDING,
        lease=None,
        finished_ms=None,
    )


def test_batch_submit_returns_one_result_per_job_in_order(store):
    # given three jobs without optional fields, at different levels
    jobs = [new_job(level=level, tenant=tenant) for level, tenant in [(0, "a"), (3, "b"), (1, "a")]]
    # when submitted in one batch / then one created result each, in order
    assert store.submit(jobs, now_ms=T0) == [SubmitResult(job.id, True) for job in jobs]
    # and each reads back with no key, no deadline, an empty payload
    for job in jobs:
        got = store.get(job.id)
        assert got is not None
        assert (got.level, got.tenant, got.key, got.deadline_ms, got.payload, got.state) == (
            job.level,
            job.tenant,
            None,
            None,
            {},
            JobState.PENDING,
        )


def test_get_of_an_unknown_id_is_none(store):
    # given an empty store, and one holding another job
    assert store.get(new_job_id()) is None
    store.submit([new_job()], now_ms=T0)
    # then an id never submitted still reads as None
    assert store.get(new_job_id()) is None


def test_lease_hands_out_the_job_and_get_shows_it_running(store):
    # given a pending job
    job = new_job(payload='{"a": 1}')
    store.submit([job], now_ms=T0)
    pending = store.get(job.id)
    assert pending is not None
    # when worker w1 leases it for 30 s
    [lease] = store.lease(1, "w1", ttl_ms=30_000, now_ms=T0 + 100)
    # then the lease names the job and its times, and the job is running under that token
    assert (lease.job.id, lease.leased_ms, lease.expires_ms) == (job.id, T0 + 100, T0 + 30_100)
    assert (lease.job.payload, lease.job.attempts, lease.job.checkpoint) == ({"a": 1}, 0, None)
    assert lease.ref == LeaseRef(job.id, lease.token)
    assert store.get(job.id) == replace(
        pending, state=JobState.RUNNING, lease=LeaseInfo(lease.token, "w1", T0 + 100, T0 + 30_100)
    )


def test_lease_on_an_empty_store_returns_nothing(store):
    # given no jobs / then leases (with or without a level filter) are empty
    assert store.lease(5, "w1", ttl_ms=30_000, now_ms=T0) == []
    assert store.lease(5, "w1", ttl_ms=30_000, now_ms=T0, levels=[0, 1]) == []
    # given jobs only at level 3 / then a lease of levels 0-2 is empty
    store.submit([new_job(level=3)], now_ms=T0)
    assert store.lease(5, "w1", ttl_ms=30_000, now_ms=T0, levels=[0, 1, 2]) == []


def test_lease_of_more_than_there_are_returns_all(store):
    jobs = [new_job() for _ in range(3)]
    store.submit(jobs, now_ms=T0)
    assert lease_ids(store, T0 + 1, n=10) == [job.id for job in jobs]
    assert lease_ids(store, T0 + 2, n=10) == []


def test_ack_finishes_the_job(store):
    # given a running job
    job = new_job()
    store.submit([job], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=30_000, now_ms=T0 + 100)
    running = store.get(job.id)
    assert running is not None
    # when it is acked
    assert store.ack([lease.ref], now_ms=T0 + 600) == [True]
    # then it is done, finished at the ack time, and nothing is queued or running
    done = store.get(job.id)
    assert done == replace(running, state=JobState.DONE, finished_ms=T0 + 600, lease=done.lease if done else None)
    assert normalized(store.stats()) == EMPTY_STATS
    assert store.lease(1, "w1", ttl_ms=30_000, now_ms=T0 + 700) == []


def test_ack_of_a_batch_answers_per_ref(store):
    # given two running jobs
    jobs = [new_job(), new_job()]
    store.submit(jobs, now_ms=T0)
    first, second = store.lease(2, "w1", ttl_ms=30_000, now_ms=T0)
    # when acked together with a stale ref for the second one
    result = store.ack([first.ref, LeaseRef(second.job.id, second.token + 1_000)], now_ms=T0 + 10)
    # then only the first is done; the second still runs under its token
    assert result == [True, False]
    states = [(got.state, got.lease.token if got.lease else None) for got in map(store.get, [j.id for j in jobs])]
    assert states[0][0] == JobState.DONE
    assert states[1] == (JobState.RUNNING, second.token)


def test_done_jobs_are_kept_until_retention_newer_ones_finish(store_factory):
    # given a store that keeps 2 finished jobs, and 5 jobs
    store = store_factory(finished_retention=2)
    jobs = [new_job() for _ in range(5)]
    store.submit(jobs, now_ms=T0)
    for k, job in enumerate(jobs, start=1):
        # when the k-th job is leased and acked
        [lease] = store.lease(1, "w1", ttl_ms=30_000, now_ms=T0 + 10 * k)
        assert lease.job.id == job.id
        assert store.ack([lease.ref], now_ms=T0 + 10 * k + 5) == [True]
        # then the newest 2 acked are readable (done), older ones are gone, later ones still pending
        states = [(got.state if (got := store.get(j.id)) else None) for j in jobs]
        expected = [None] * max(0, k - 2) + [JobState.DONE] * min(k, 2) + [JobState.PENDING] * (5 - k)
        assert states == expected, f"after {k} acks"


def test_purge_empties_everything(store):
    # given jobs in every state, a move, a demotion, history and usage
    pending, running, delayed, dead, done = (new_job(tenant="a", key=f"k{i}") for i in range(5))
    store.submit([running, delayed, dead, done], now_ms=T0)
    leases = {lease.job.id: lease for lease in store.lease(4, "w1", ttl_ms=30_000, now_ms=T0 + 1)}
    store.fail(leases[delayed.id].ref, "boom", now_ms=T0 + 2, retry_at_ms=T0 + 60_000)
    store.fail(leases[dead.id].ref, "boom", now_ms=T0 + 2, retry_at_ms=None)
    store.ack([leases[done.id].ref], now_ms=T0 + 3)
    store.submit([pending], now_ms=T0 + 4)
    store.move([pending.id], to_level=1, reason="aging", now_ms=T0 + 5)
    store.demote_tenant("a", level=1, to_level=2, until_ms=T0 + 600_000, reason="allotment", now_ms=T0 + 6)
    assert store.moves() != [] and store.history(T0) != [] and store.usage(T0) != {}
    # when purged
    store.purge()
    # then nothing is left
    assert [store.get(job.id) for job in (pending, running, delayed, dead, done)] == [None] * 5
    assert normalized(store.stats()) == EMPTY_STATS
    assert store.lease(10, "w1", ttl_ms=30_000, now_ms=T0 + 120_000) == []
    assert store.moves() == []
    assert store.demotions(T0 + 7) == []
    assert store.dead_letters() == []
    assert store.history(0) == []
    assert store.usage(0) == {}
    assert store.waiting(2, T0 + 10**9, 100) == []
    assert store.due(2, T0 + 10**9, 100) == []
    # and the idempotency keys are free again
    again = new_job(tenant="a", key="k0")
    assert store.submit([again], now_ms=T0 + 8) == [SubmitResult(again.id, True)]
