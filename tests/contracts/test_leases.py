"""JobStore contract: fencing tokens, stale tokens, lease expiry (lease and reap) and heartbeats."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from scheduler.errors import StaleLeaseError
from scheduler.job import JobState, LeaseRef
from scheduler.store import JobStore
from tests.stores import T0, lease_ids, new_job, nonzero

TTL = 1_000


def test_tokens_strictly_increase_across_every_lease(store):
    # given jobs at several levels and tenants
    jobs = [new_job(tenant=t, level=lvl) for t, lvl in [("a", 0), ("b", 0), ("a", 2), ("c", 3), ("b", 3), ("a", 1)]]
    store.submit(jobs, now_ms=T0)
    # when leased singly, in a batch, from a level filter, and again after an expiry and a release
    leases = store.lease(1, "w1", ttl_ms=TTL, now_ms=T0)
    leases += store.lease(3, "w2", ttl_ms=TTL, now_ms=T0 + 1)
    leases += store.lease(1, "w3", ttl_ms=60_000, now_ms=T0 + 2, levels=[3])
    store.release(leases[-1].ref, "preempted", now_ms=T0 + 3)
    leases += store.lease(1, "w3", ttl_ms=60_000, now_ms=T0 + 4, levels=[3])
    leases += store.lease(10, "w4", ttl_ms=60_000, now_ms=T0 + 5_000)  # the first four expired meanwhile
    tokens = [lease.token for lease in leases]
    # then every token is larger than all granted before it
    assert len(leases) == 1 + 3 + 1 + 1 + 5  # the last batch: 4 expired ones and the level-3 one never leased
    assert all(earlier < later for earlier, later in itertools.pairwise(tokens)), tokens


def test_tokens_increase_across_store_objects_on_one_backend(store, store_factory):
    # given a second store object on the same backend
    other = store_factory(same_as=store)
    store.submit([new_job() for _ in range(4)], now_ms=T0)
    # when both lease in turns / then the tokens still increase
    tokens = [s.lease(1, "w", ttl_ms=TTL, now_ms=T0 + i)[0].token for i, s in enumerate([store, other, store, other])]
    assert tokens == sorted(set(tokens))


Scenario = Callable[[JobStore], LeaseRef]


def _expired_and_leased_again(store: JobStore) -> LeaseRef:
    store.submit([new_job()], now_ms=T0)
    [old] = store.lease(1, "w1", ttl_ms=TTL, now_ms=T0)
    [new] = store.lease(1, "w2", ttl_ms=60_000, now_ms=T0 + 2 * TTL)
    assert new.job.id == old.job.id and new.token > old.token
    return old.ref


def _already_acked(store: JobStore) -> LeaseRef:
    store.submit([new_job()], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0)
    assert store.ack([lease.ref], now_ms=T0 + 10) == [True]
    return lease.ref


def _token_of_another_job(store: JobStore) -> LeaseRef:
    store.submit([new_job(tenant="a"), new_job(tenant="b")], now_ms=T0)
    first, second = store.lease(2, "w1", ttl_ms=60_000, now_ms=T0)
    return LeaseRef(second.job.id, first.token)


def _never_leased(store: JobStore) -> LeaseRef:
    leased, pending = new_job(), new_job()
    store.submit([leased, pending], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0)
    return LeaseRef(pending.id, lease.token)


def _future_token(store: JobStore) -> LeaseRef:
    store.submit([new_job()], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0)
    return LeaseRef(lease.job.id, lease.token + 1)


def _unknown_job(store: JobStore) -> LeaseRef:
    from scheduler.ids import new_job_id

    store.submit([new_job()], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=60_000, now_ms=T0)
    return LeaseRef(new_job_id(), lease.token)


STALE = {
    "expired-and-leased-again": _expired_and_leased_again,
    "already-acked": _already_acked,
    "token-of-another-job": _token_of_another_job,
    "pending-never-leased": _never_leased,
    "future-token": _future_token,
    "unknown-job": _unknown_job,
}

# op name -> (call, what a refusal looks like: a return value or StaleLeaseError)
OPS: dict[str, tuple[Callable[[JobStore, LeaseRef, int], object], object]] = {
    "ack": (lambda s, ref, now: s.ack([ref], now_ms=now), [False]),
    "heartbeat": (lambda s, ref, now: s.heartbeat([ref], ttl_ms=60_000, now_ms=now), [False]),
    "fail-retry": (lambda s, ref, now: s.fail(ref, "boom", now_ms=now, retry_at_ms=now + 5), StaleLeaseError),
    "fail-dead": (lambda s, ref, now: s.fail(ref, "boom", now_ms=now, retry_at_ms=None), StaleLeaseError),
    "release": (lambda s, ref, now: s.release(ref, "drain", now_ms=now), StaleLeaseError),
    "release-dead": (lambda s, ref, now: s.release(ref, "bad", now_ms=now, dead=True), StaleLeaseError),
    "release-uncounted": (lambda s, ref, now: s.release(ref, "cap", now_ms=now, counted=False), StaleLeaseError),
    "release-delayed": (
        lambda s, ref, now: s.release(ref, "cap", now_ms=now, counted=False, retry_at_ms=now + 5),
        StaleLeaseError,
    ),
    "save_checkpoint": (lambda s, ref, now: s.save_checkpoint(ref, '{"step": 9}'), StaleLeaseError),
    "save_progress": (lambda s, ref, now: s.save_progress(ref, '{"done": 9}'), StaleLeaseError),
}


def _snapshot(store: JobStore) -> tuple[object, ...]:
    stats = store.stats()
    return (
        [store.get(job.id) for job in store.dead_letters(1000)],
        nonzero(stats.pending),
        nonzero(stats.running),
        stats.delayed,
        stats.dead,
    )


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("scenario", list(STALE))
def test_a_stale_token_is_refused_and_changes_nothing(store, scenario, op):
    # given a lease ref that does not hold its job
    ref = STALE[scenario](store)
    before = store.get(ref.job_id)
    snapshot = _snapshot(store)
    call, refusal = OPS[op]
    # when the op is tried with it
    if refusal is StaleLeaseError:
        with pytest.raises(StaleLeaseError):
            call(store, ref, T0 + 3 * TTL)
    else:
        assert call(store, ref, T0 + 3 * TTL) == refusal
    # then nothing changed: the job (token, checkpoint, progress, attempts, state) and the counts
    assert store.get(ref.job_id) == before
    assert _snapshot(store) == snapshot


def test_an_expired_lease_is_requeued_by_the_next_lease(store):
    # given a tenant's two jobs, the older one leased for 1 s
    older, newer = new_job(), new_job()
    store.submit([older], now_ms=T0)
    store.submit([newer], now_ms=T0 + 1)
    [first] = store.lease(1, "w1", ttl_ms=TTL, now_ms=T0 + 10)
    # when nothing happens before the expiry / then it stays running
    assert store.reap(now_ms=T0 + 500) == 0
    assert store.get(older.id).state == JobState.RUNNING
    # when a lease comes after the expiry
    [second] = store.lease(1, "w2", ttl_ms=TTL, now_ms=T0 + 2_000)
    # then the expired job is served again first (it kept its place), one attempt counted, with a bigger token
    assert second.job.id == older.id
    assert second.token > first.token
    assert second.job.attempts == 1
    assert "lease expired" in (second.job.error or "")
    got = store.get(older.id)
    assert (got.state, got.level, got.enqueued_ms, got.lease.token) == (JobState.RUNNING, 3, T0, second.token)
    # and the old token can no longer ack
    assert store.ack([first.ref], now_ms=T0 + 2_001) == [False]
    assert store.ack([second.ref], now_ms=T0 + 2_002) == [True]


def test_reap_requeues_expired_leases_up_to_the_limit(store):
    # given three jobs leased for 1 s and one leased for a minute, at level 1
    jobs = [new_job(level=1, tenant=t) for t in "abcd"]
    store.submit(jobs, now_ms=T0)
    short = store.lease(3, "w1", ttl_ms=TTL, now_ms=T0)
    [long] = store.lease(1, "w2", ttl_ms=60_000, now_ms=T0)
    # when reaped after the short ones expired, 2 at most, then again
    assert store.reap(now_ms=T0 + 2_000, limit=2) == 2
    assert store.reap(now_ms=T0 + 2_000) == 1
    assert store.reap(now_ms=T0 + 2_000) == 0
    # then the three are pending at their level with one attempt and the error; the long one still runs
    for lease in short:
        got = store.get(lease.job.id)
        assert (got.state, got.level, got.attempts, got.enqueued_ms) == (JobState.PENDING, 1, 1, T0)
        assert "lease expired" in (got.error or "")
    assert store.get(long.job.id).state == JobState.RUNNING
    stats = store.stats()
    assert (nonzero(stats.pending), nonzero(stats.running)) == ({(1, "noop"): 3}, {(1, "noop"): 1})


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_expiries_up_to_max_attempts_dead_letter_the_job(store, max_attempts):
    # given a job allowed max_attempts attempts
    job = new_job(max_attempts=max_attempts)
    store.submit([job], now_ms=T0)
    now = T0
    for attempt in range(1, max_attempts + 1):
        # when its lease expires (reaped)
        [lease] = store.lease(1, "w1", ttl_ms=TTL, now_ms=now)
        assert lease.job.id == job.id
        now += 2 * TTL
        assert store.reap(now_ms=now) == 1
        got = store.get(job.id)
        # then it is pending again until the last attempt, which dead-letters it
        expected = JobState.DEAD if attempt == max_attempts else JobState.PENDING
        assert (got.state, got.attempts) == (expected, attempt)
        assert "lease expired" in (got.error or "")
    assert [dead.id for dead in store.dead_letters()] == [job.id]
    assert store.lease(1, "w1", ttl_ms=TTL, now_ms=now + 1) == []
    assert store.stats().dead == 1


def test_an_expiry_noticed_by_lease_can_dead_letter_too(store):
    # given a one-attempt job whose lease expired
    job = new_job(max_attempts=1)
    store.submit([job], now_ms=T0)
    store.lease(1, "w1", ttl_ms=TTL, now_ms=T0)
    # when the next lease comes / then it gets nothing and the job is dead
    assert store.lease(1, "w1", ttl_ms=TTL, now_ms=T0 + 2 * TTL) == []
    assert store.get(job.id).state == JobState.DEAD


def test_heartbeat_extends_the_lease(store):
    # given two jobs leased at T0 for 1 s
    jobs = [new_job(tenant="a"), new_job(tenant="b")]
    store.submit(jobs, now_ms=T0)
    kept, dropped = store.lease(2, "w1", ttl_ms=TTL, now_ms=T0)
    # when only the first heartbeats at T0+800 for another second (a stale ref in the same call)
    assert store.heartbeat([kept.ref, LeaseRef(dropped.job.id, dropped.token + 99)], ttl_ms=TTL, now_ms=T0 + 800) == [
        True,
        False,
    ]
    # then its expiry moved to T0+1800, the other's did not
    assert store.get(kept.job.id).lease.expires_ms == T0 + 1_800
    assert store.get(dropped.job.id).lease.expires_ms == T0 + TTL
    # and at T0+1500 only the other is re-queued
    assert store.reap(now_ms=T0 + 1_500) == 1
    assert (store.get(kept.job.id).state, store.get(dropped.job.id).state) == (JobState.RUNNING, JobState.PENDING)
    assert lease_ids(store, T0 + 1_500, n=5) == [dropped.job.id]
    # and the extended lease still acks, after the original expiry
    assert store.ack([kept.ref], now_ms=T0 + 1_600) == [True]


def test_heartbeat_after_expiry_and_reap_is_refused(store):
    store.submit([new_job()], now_ms=T0)
    [lease] = store.lease(1, "w1", ttl_ms=TTL, now_ms=T0)
    assert store.reap(now_ms=T0 + 2 * TTL) == 1
    assert store.heartbeat([lease.ref], ttl_ms=TTL, now_ms=T0 + 2 * TTL) == [False]
    assert store.get(lease.job.id).state == JobState.PENDING
